"""Pydantic models of the manifest API `relctl.dev/v1alpha1`: the single source of truth.

The JSON Schemas in `schemas/` are generated from these classes, so every field carries a
description for editor completion. Models are frozen and forbid unknown fields. This module
knows nothing about files or positions (see `loading`), nor about time (see `schedule`).
"""

from __future__ import annotations

from typing import Literal

from pydantic import ConfigDict, Field, JsonValue, field_validator, model_validator

from controller.manifests.deploy import Deploy, Locator
from controller.manifests.gates import ApprovalGate as ApprovalGate
from controller.manifests.gates import CompletionGate as CompletionGate
from controller.manifests.gates import CountGate as CountGate
from controller.manifests.gates import Gates as Gates
from controller.manifests.gates import MetricGate as MetricGate
from controller.manifests.gates import SignalGate as SignalGate
from controller.manifests.meta import ApiVersion as ApiVersion
from controller.manifests.meta import Model as Model
from controller.manifests.meta import ObjectMeta as ObjectMeta
from controller.manifests.steps import Steps
from controller.manifests.types import (
    IMAGE_REPOSITORY,
    IMAGE_TAG,
    JIRA_ISSUE_KEY,
    JIRA_PROJECT_KEY,
    AwareDateTime,
    Date,
    DateOrDateTime,
    Duration,
    LocalDateTime,
    Name,
    RelativePath,
    RRule,
    SubdomainName,
    TimeZoneName,
)

# --- Component ---------------------------------------------------------------------------


class Workload(Model):
    """A Kubernetes Deployment container that runs the component."""

    cluster: Name
    """Cluster name, as declared in the ControllerConfig's `clusters`."""
    namespace: Name
    """Namespace of the Deployment."""
    deployment: SubdomainName
    """Name of the Deployment."""
    container: Name
    """Name of the container whose image relctl sets."""
    locator: Locator | None = None
    """With the component's git method: where this workload's image lives in the
    environment repository."""


class ComponentSpec(Model):
    """A deployable service."""

    jira_project: str = Field(pattern=JIRA_PROJECT_KEY)
    """Key of the Jira project that tracks this component's work, e.g. PAY."""
    image: str = Field(pattern=IMAGE_REPOSITORY)
    """Image repository without tag or digest, e.g. registry.example.com/shop/payments."""
    workloads: tuple[Workload, ...] = Field(min_length=1)
    """Where the component runs."""
    owner: str = Field(min_length=1)
    """Owning team or person."""
    depends_on: tuple[Name, ...] = ()
    """Components that must be rolled out before this one."""
    self_heal: bool = False
    """In enforce mode, restore the released image when someone changes it by hand."""
    steps: Steps | None = None
    """Jobs run around every release's rollout of it: migrations, smoke tests."""
    deploy: Deploy = Field(default_factory=Deploy)
    """How its image changes: a patch of the Deployment, or a commit to an environment
    repository that Argo CD or Flux applies."""
    description: str = ""
    """What the component is."""


class Component(Model):
    """A deployable service (kind Component)."""

    api_version: ApiVersion
    kind: Literal["Component"]
    metadata: ObjectMeta
    spec: ComponentSpec


# --- ReleaseTrain ------------------------------------------------------------------------


class TrainSchedule(Model):
    """When the train departs: an RFC 5545 recurrence in the train's time zone."""

    rrule: RRule
    """Recurrence rule, e.g. FREQ=WEEKLY;INTERVAL=2;BYDAY=TU."""
    dtstart: LocalDateTime
    """First departure, wall-clock time in the train's timezone."""

    @field_validator("rrule")
    @classmethod
    def _one_time_a_day(cls, value: str) -> str:
        for part in ("BYHOUR", "BYMINUTE", "BYSECOND"):
            if f"{part}=" in value.upper():
                raise ValueError(
                    f"a train departs at dtstart's time of day: {part} would add departures "
                    "at other times; set the time in 'dtstart' and remove it"
                )
        return value


class Milestones(Model):
    """Milestones as offsets from departure; extra camelCase names are custom milestones."""

    model_config = ConfigDict(extra="allow")
    __pydantic_extra__: dict[str, Duration] = Field(init=False)

    code_freeze: Duration | None = None
    """No new scope after this; readiness is reported from here on. Usually -14d."""
    qa_start: Duration | None = None
    """QA begins. Usually -10d."""
    uat_start: Duration | None = None
    """User acceptance testing begins. Usually -7d."""
    go_no_go: Duration | None = None
    """Go/no-go decision. Usually -2d."""
    monitoring_end: Duration | None = None
    """End of post-release monitoring, when rollback triggers stop. Usually +1d."""


STANDARD_MILESTONES: dict[str, str] = {
    str(field.alias): name for name, field in Milestones.model_fields.items()
}
"""camelCase milestone name → attribute of `Milestones` (codeFreeze → code_freeze, ...)."""


class ReleaseTrainSpec(Model):
    """A release cadence."""

    timezone: TimeZoneName
    """IANA time zone of the schedule; departures keep their wall-clock time across DST."""
    schedule: TrainSchedule
    """When the train departs."""
    version_format: str = Field(default="{year}.{seq}", min_length=1)
    """Version name of a departure: {year}, {seq} (per year, from 1), {month}, {day}."""
    components: tuple[Name, ...] = ()
    """Components riding the train."""
    projects: tuple[str, ...] = ()
    """Jira project keys riding the train."""
    milestones: Milestones = Field(default_factory=Milestones)
    """Milestones relative to departure."""
    gates: Gates | None = None
    """Default go/no-go criteria for the train's releases."""
    capacity: int | None = Field(default=None, ge=1)
    """Most releases one departure carries."""
    description: str = ""
    """What the train is for."""


class ReleaseTrain(Model):
    """A release cadence (kind ReleaseTrain)."""

    api_version: ApiVersion
    kind: Literal["ReleaseTrain"]
    metadata: ObjectMeta
    spec: ReleaseTrainSpec


# --- Release -----------------------------------------------------------------------------


class ReleaseComponent(Model):
    """A component shipped by the release."""

    name: Name
    """Component name."""
    version: str = Field(min_length=1, max_length=128)
    """Version of the component; the image tag unless `tag` is set."""
    tag: str | None = Field(default=None, pattern=IMAGE_TAG)
    """Image tag, when it differs from `version`."""
    steps: Steps | None = None
    """Steps for this release, each list given replacing the component's."""


class Approval(Model):
    """An approval, added by a commit (`relctl approve` makes it). With approvers' keys in
    relctl.yaml, it counts only if the commit that added it is signed by a key allowed
    for its role, and then its time is that commit's."""

    role: Name
    """Role approving, e.g. qa-lead."""
    by: str = Field(min_length=1)
    """Who approved (the signer's principal when signatures are verified)."""
    at: AwareDateTime | None = None
    """When (unsigned approvals only: a signed approval's time is its commit's)."""


class UnavailableTrigger(Model):
    """Roll back when too many replicas are unavailable for too long."""

    above_percent: float = Field(ge=0, le=100)
    """Unavailable replicas, as a percentage of desired replicas."""
    for_: Duration = Field(alias="for")
    """How long the threshold must be exceeded."""


class RollbackTriggers(Model):
    """What counts as a failed release until monitoringEnd."""

    rollout_failed: bool = True
    """The rollout failed (ProgressDeadlineExceeded)."""
    unavailable_replicas: UnavailableTrigger | None = None
    """Unavailable replicas above a threshold for a duration."""
    analysis: tuple[Name, ...] = ()
    """Analyses measured on every workload of the release from its rollout's start until
    monitoringEnd: a Failed one fires; an Inconclusive or Error one holds the release."""
    inconclusive_grace: Duration | None = None
    """How long after monitoringEnd an Inconclusive analysis (no data, too little traffic)
    still holds the release; then it is released, and its record says so. Without it,
    held until a measurement settles it. An analysis in Error holds it regardless."""


class Rollback(Model):
    """Rollback policy."""

    auto: bool = False
    """Roll back automatically; otherwise record ROLLBACK_RECOMMENDED."""
    partial: bool = False
    """Roll back only the affected components."""
    triggers: RollbackTriggers = Field(default_factory=RollbackTriggers)
    """What triggers a rollback."""


class Notes(Model):
    """Release notes settings."""

    audience: Literal["customers", "internal"] = "internal"
    """`customers` hides issues labelled internal."""
    audiences: list[Literal["customers", "internal", "operations"]] = Field(
        default_factory=list, max_length=3
    )
    """More notes, one file each (`notes/<release>.<audience>.md`): customers (plain,
    no Jira keys), internal (every issue, linked), operations (images before and after,
    flags, steps, the rollback plan)."""
    summary: str = ""
    """Opening paragraph."""
    extra: str = ""
    """Text appended at the end."""


class Override(Model):
    """Break-glass passage through a blackout window; recorded every time it is used."""

    reason: str = Field(min_length=1)
    """Why the window must be passed."""
    by: str = Field(min_length=1)
    """Who takes responsibility."""
    expires: AwareDateTime
    """After this the override no longer applies."""


class ReleaseSpec(Model):
    """What ships, and when."""

    version: str = Field(min_length=1)
    """Jira fixVersion name, created in every Jira project of the components."""
    train: Name | None = None
    """Train the release rides; give `train` or `date`."""
    departure: DateOrDateTime | None = None
    """Which departure of the train (its date); the next one when omitted."""
    date: DateOrDateTime | None = None
    """Explicit release date or date-time, for releases off the train."""
    type: Literal["regular", "hotfix"] = "regular"
    """A hotfix skips the train and passes windows that allow hotfixes."""
    components: tuple[ReleaseComponent, ...] = Field(min_length=1)
    """Components and versions shipped."""
    flags: tuple[Name, ...] = ()
    """Feature flags whose rollout this release advances."""
    gates: Gates | None = None
    """Go/no-go criteria, overriding the train's."""
    approvals: tuple[Approval, ...] = ()
    """Approvals given."""
    rollback: Rollback = Field(default_factory=Rollback)
    """Rollback policy."""
    notes: Notes = Field(default_factory=Notes)
    """Release notes settings."""
    override: Override | None = None
    """Break-glass passage through blackout windows."""
    on_no_go: Literal["delay", "hold"] = "delay"
    """Not GO at departure: `delay` to the next departure, or `hold` in place."""
    description: str = ""
    """What the release is about."""
    suspend: bool = False
    """Take no action for this release (no rollout, rollback or Jira write) until it is
    removed; recorded SUSPENDED, then RESUMED. `relctl suspend` / `relctl resume`."""
    abort: bool = False
    """During a rollout: roll out nothing more; the rollback policy decides what happens to
    the components already rolled out. Recorded ABORTED; needs `reason`. `relctl abort`."""
    reason: str = Field(default="", max_length=500)
    """Why the release is suspended or aborted."""
    attempt: int = Field(default=1, ge=1, le=1000)
    """Which attempt this is: raise it to try a release again once it was rolled back,
    aborted or held. A new attempt needs a fresh GO; its decisions are kept apart.
    `relctl retry`."""

    @model_validator(mode="after")
    def _when(self) -> ReleaseSpec:
        if self.train is None and self.date is None:
            raise ValueError("a release needs a 'train' or a 'date'")
        if self.train is not None and self.date is not None:
            raise ValueError("give either 'train' or 'date', not both")
        if self.departure is not None and self.train is None:
            raise ValueError("'departure' chooses a departure of a 'train'; set 'train' too")
        if self.type == "hotfix" and self.train is not None:
            raise ValueError("a hotfix skips the train: give it a 'date' instead of 'train'")
        if self.abort and not self.reason.strip():
            raise ValueError("'abort' needs a 'reason': say why the rollout is stopped")
        return self


class Release(Model):
    """What ships, and when (kind Release)."""

    api_version: ApiVersion
    kind: Literal["Release"]
    metadata: ObjectMeta
    spec: ReleaseSpec


# --- FeatureFlag -------------------------------------------------------------------------


class FlagTarget(Model):
    """Where the flag's flagd JSON is applied."""

    kind: Literal["FeatureFlag", "ConfigMap"] = "FeatureFlag"
    """An OpenFeature Operator FeatureFlag resource, or a ConfigMap holding flagd JSON."""
    cluster: Name
    """Cluster name from the ControllerConfig."""
    namespace: Name
    """Namespace of the resource."""
    name: SubdomainName
    """Name of the resource."""
    key: str = Field(default="flags.flagd.json", pattern=r"^[-._a-zA-Z0-9]+$")
    """ConfigMap key holding the JSON (ConfigMap targets only)."""
    environment: Name | None = None
    """Deploy the GitOps way: the environment repository (relctl.yaml's environments)
    where relctl commits the flags, for the cluster's GitOps agent to apply."""
    file: RelativePath | None = None
    """With environment: the file there holding the resource (a FeatureFlag or ConfigMap
    manifest in YAML), or flagd's JSON itself when the name ends in .json."""

    @model_validator(mode="after")
    def _git(self) -> FlagTarget:
        if (self.environment is None) != (self.file is None):
            raise ValueError("'environment' and 'file' go together: where in which repository")
        return self


class RolloutStage(Model):
    """From `at` on, `percent` of targeting keys get the rollout variant."""

    percent: float = Field(ge=0, le=100)
    """Share of targeting keys, in percent."""
    at: AwareDateTime
    """When the stage starts."""
    analysis: Name | None = None
    """An Analysis measured while this stage is live (arguments: cluster, namespace, flag).
    The next stage starts only once it passed over the whole stage; a failed metric sends
    the flag back to the previous stage (0% before the first); no data or errors hold it."""


class Rollout(Model):
    """A staged percentage rollout."""

    variant: str = Field(min_length=1)
    """Variant being rolled out; the rest get the default variant."""
    stages: tuple[RolloutStage, ...] = Field(min_length=1)
    """Stages in time order with non-decreasing percentages."""
    after_release: Name | None = None
    """Stages advance only once this release is RELEASED."""


class FeatureFlagSpec(Model):
    """A feature flag and its lifecycle."""

    description: str = ""
    """What the flag switches."""
    owner: str = Field(min_length=1)
    """Owning team or person."""
    jira_issue: str | None = Field(default=None, pattern=JIRA_ISSUE_KEY)
    """Issue tracking the flag, e.g. PAY-123."""
    variants: dict[str, JsonValue] = Field(min_length=1)
    """Variant name to value; all values of one type (boolean, string, number or object)."""
    default_variant: str = Field(min_length=1)
    """Variant served when no rule matches."""
    state: Literal["ENABLED", "DISABLED"] = "ENABLED"
    """flagd state of the flag."""
    rollout: Rollout | None = None
    """Staged rollout."""
    target: FlagTarget
    """Where the flag is applied."""
    remove_by: Date | None = None
    """Date by which the flag should be removed from code; past it the flag is stale."""
    depends_on: tuple[Name, ...] = ()
    """Flags that must be fully rolled out first."""


class FeatureFlag(Model):
    """A feature flag and its lifecycle (kind FeatureFlag)."""

    api_version: ApiVersion
    kind: Literal["FeatureFlag"]
    metadata: ObjectMeta
    spec: FeatureFlagSpec


# --- BlackoutWindow ----------------------------------------------------------------------


class WindowScope(Model):
    """What a window applies to; an empty list matches everything."""

    clusters: tuple[Name, ...] = ()
    """Cluster names."""
    components: tuple[Name, ...] = ()
    """Component names."""
    projects: tuple[str, ...] = ()
    """Jira project keys."""


class BlackoutWindowSpec(Model):
    """A deny or allow window, absolute or recurring."""

    kind: Literal["deny", "allow"] = "deny"
    """deny: no deploys while active. allow: when any allow window matches, deploys only
    while one is active."""
    start: LocalDateTime | None = None
    """Start of an absolute window."""
    end: LocalDateTime | None = None
    """End of an absolute window (exclusive)."""
    rrule: RRule | None = None
    """Recurrence of a recurring window."""
    dtstart: LocalDateTime | None = None
    """First occurrence of a recurring window."""
    duration: Duration | None = None
    """Length of each occurrence of a recurring window."""
    timezone: TimeZoneName = "UTC"
    """IANA time zone of times written without an offset."""
    scope: WindowScope = Field(default_factory=WindowScope)
    """What the window applies to."""
    allow_hotfixes: bool = False
    """Hotfix releases pass this deny window."""
    reason: str = Field(min_length=1)
    """Why the window exists; shown in every blocked finding."""

    @model_validator(mode="after")
    def _shape(self) -> BlackoutWindowSpec:
        absolute = self.start is not None or self.end is not None
        recurring = self.rrule is not None or self.dtstart is not None or self.duration is not None
        if absolute and recurring:
            raise ValueError("give either 'start'/'end' or 'rrule'/'dtstart'/'duration', not both")
        if absolute and (self.start is None or self.end is None):
            raise ValueError("an absolute window needs both 'start' and 'end'")
        if recurring and (self.rrule is None or self.dtstart is None or self.duration is None):
            raise ValueError("a recurring window needs 'rrule', 'dtstart' and 'duration'")
        if not absolute and not recurring:
            raise ValueError("a window needs 'start'/'end' or 'rrule'/'dtstart'/'duration'")
        if self.duration is not None and self.duration.total_seconds() <= 0:
            raise ValueError("'duration' must be positive")
        return self


class BlackoutWindow(Model):
    """A deny or allow window (kind BlackoutWindow)."""

    api_version: ApiVersion
    kind: Literal["BlackoutWindow"]
    metadata: ObjectMeta
    spec: BlackoutWindowSpec
