"""Observed Jira state: frozen, typed values the planner reads (the adapter builds them).

An issue's category (feature, bug, improvement, breaking change) comes from its type and
labels as the ControllerConfig's `jira.categories` say; done / not done from its status
*category*, never its status name; blockers and critical bugs from priorities and labels.
Purely computational: no I/O, no client library.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum

from controller.manifests.config import IssueCategories


class StatusCategory(StrEnum):
    TODO = "new"
    IN_PROGRESS = "indeterminate"
    DONE = "done"


class IssueCategory(StrEnum):
    BREAKING = "breaking"
    FEATURE = "feature"
    IMPROVEMENT = "improvement"
    BUG = "bug"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class ObservedVersion:
    id: str
    project: str
    name: str
    released: bool = False
    archived: bool = False
    release_date: date | None = None
    start_date: date | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class ObservedIssue:
    key: str
    project: str
    summary: str
    issuetype: str
    status: str
    status_category: StatusCategory
    priority: str
    labels: tuple[str, ...]
    fix_versions: tuple[str, ...]
    updated: datetime
    category: IssueCategory
    blocker: bool
    critical: bool
    internal: bool
    migration_note: str = ""

    @property
    def done(self) -> bool:
        return self.status_category is StatusCategory.DONE


@dataclass(frozen=True)
class JiraObservation:
    """Versions per project and the issues of the versions asked about."""

    versions: Mapping[str, tuple[ObservedVersion, ...]]
    issues: Mapping[str, ObservedIssue]
    observed_at: datetime
    requests: int = 0
    by_version: Mapping[tuple[str, str], tuple[str, ...]] = field(default_factory=dict)
    timezone: str = "UTC"
    """The Jira account's time zone, in which JQL reads date literals."""
    watched: frozenset[tuple[str, str]] = frozenset()
    """(project, version) pairs observed in full: a pass watching a pair not in here
    must observe in full again (an incremental search would miss its older issues)."""

    def version(self, project: str, name: str) -> ObservedVersion | None:
        return next((v for v in self.versions.get(project, ()) if v.name == name), None)

    def issues_of(self, projects: Sequence[str], version: str) -> list[ObservedIssue]:
        """Issues whose fixVersions hold `version` in any of `projects`, ordered by key."""
        keys = [k for p in projects for k in self.by_version.get((p, version), ())]
        return sorted((self.issues[k] for k in set(keys)), key=_key_order)


def _key_order(issue: ObservedIssue) -> tuple[str, int]:
    project, _, number = issue.key.rpartition("-")
    return project, int(number) if number.isdigit() else 0


def index_by_version(issues: Mapping[str, ObservedIssue]) -> dict[tuple[str, str], tuple[str, ...]]:
    index: dict[tuple[str, str], list[str]] = {}
    for issue in issues.values():
        for version in issue.fix_versions:
            index.setdefault((issue.project, version), []).append(issue.key)
    return {k: tuple(sorted(v)) for k, v in index.items()}


def classify(
    issuetype: str, labels: Sequence[str], breaking_field_set: bool, categories: IssueCategories
) -> IssueCategory:
    """The release-notes section of an issue: breaking first, then by type."""
    if breaking_field_set or set(labels) & set(categories.breaking_labels):
        return IssueCategory.BREAKING
    if issuetype in categories.feature:
        return IssueCategory.FEATURE
    if issuetype in categories.bug:
        return IssueCategory.BUG
    if issuetype in categories.improvement:
        return IssueCategory.IMPROVEMENT
    return IssueCategory.OTHER


def is_blocker(priority: str, labels: Sequence[str], categories: IssueCategories) -> bool:
    return priority in categories.blocker_priorities or bool(
        set(labels) & set(categories.blocker_labels)
    )


def is_critical(issuetype: str, priority: str, categories: IssueCategories) -> bool:
    return issuetype in categories.bug and priority in categories.critical_priorities


RELEASE_ANNOTATION = "relctl.dev/release"
"""Annotation on a Deployment: the release that last set one of its images."""
ATTEMPT_ANNOTATION = "relctl.dev/attempt"
"""Annotation on a Deployment: the attempt of that release (absent: 1)."""
PREVIOUS_IMAGE = "relctl.dev/previous-image."
"""Annotation prefix (+ container name): the image the release replaced."""


class RolloutState(StrEnum):
    """How `kubectl rollout status` judges a Deployment."""

    PENDING = "pending"
    """The spec change is not observed yet."""
    PROGRESSING = "progressing"
    COMPLETE = "complete"
    FAILED = "failed"
    """Progressing=False with reason ProgressDeadlineExceeded."""


@dataclass(frozen=True, slots=True)
class ObservedWorkload:
    """A Deployment as the cluster reports it."""

    cluster: str
    namespace: str
    deployment: str
    images: Mapping[str, str]
    """Container name → image."""
    generation: int
    observed_generation: int
    replicas: int
    updated_replicas: int
    ready_replicas: int
    available_replicas: int
    unavailable_replicas: int
    rollout: RolloutState
    message: str
    resource_version: str
    annotations: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class SourceValue:
    """A git-method workload's image as its environment repository holds it, and the
    last commit that changed its file: who, and for which release (its trailer)."""

    image: str | None
    commit: str
    author: str
    release: str
    """"": a person's commit (no Relctl-Release trailer)."""


@dataclass(frozen=True, slots=True)
class ApplicationState:
    """A GitOps agent's status for a component: what it synced or applied, how healthy
    or ready, and why it failed (Argo CD's Application; Flux's Ready condition)."""

    sync: str
    """Synced, OutOfSync, Unknown."""
    revision: str
    health: str
    """Healthy, Progressing, Degraded, Missing, …"""
    phase: str = ""
    """The last operation's phase: Succeeded, Failed, Error, Running."""
    message: str = ""

    def describe(self) -> str:
        failed = self.phase in ("Failed", "Error")
        why = f"; sync {self.phase}: {self.message}" if failed and self.message else ""
        return f"{self.sync} at {self.revision[:12] or '-'}, {self.health}{why}"


def rollout_state(
    generation: int,
    observed_generation: int,
    desired: int,
    replicas: int,
    updated: int,
    available: int,
    progressing_reason: str | None,
) -> tuple[RolloutState, str]:
    """The verdict and message of `kubectl rollout status` for a Deployment."""
    if generation > observed_generation:
        return RolloutState.PENDING, "Waiting for deployment spec update to be observed..."
    if progressing_reason == "ProgressDeadlineExceeded":
        return RolloutState.FAILED, "deployment exceeded its progress deadline"
    if updated < desired:
        return (
            RolloutState.PROGRESSING,
            f"{updated} out of {desired} new replicas have been updated...",
        )
    if replicas > updated:
        return (
            RolloutState.PROGRESSING,
            f"{replicas - updated} old replicas are pending termination...",
        )
    if available < updated:
        return (
            RolloutState.PROGRESSING,
            f"{available} of {updated} updated replicas are available...",
        )
    return RolloutState.COMPLETE, "successfully rolled out"
