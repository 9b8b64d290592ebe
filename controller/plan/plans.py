"""The values a plan is made of: what was observed going in, and the actions, findings,
decisions and next recorded state coming out.

An action carries an idempotency key (the same change planned twice has the same key),
a reason a person can read, and a chain: the executor stops a chain at its first failure
and goes on with the others. Pure data: nothing here acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from controller.manifests.signals import SignalValue
from controller.plan.flags import FlagTarget
from controller.plan.observed import JiraObservation, ObservedWorkload
from controller.plan.records import DecisionRecord, ReleaseStatus
from controller.schedule.zones import wall

WorkloadId = tuple[str, str, str]
"""(cluster, namespace, deployment)."""


@dataclass(frozen=True)
class Observed:
    """The actual state a pass saw. `None` means "not observed" (offline), which is not
    the same as "observed empty"."""

    jira: JiraObservation | None = None
    workloads: Mapping[WorkloadId, ObservedWorkload] | None = None
    flags: Mapping[FlagTarget, Mapping[str, Any] | None] | None = None
    """Flagd `flags` map at each target (None: the target holds none yet)."""
    signals: Mapping[str, Mapping[str, SignalValue]] = field(default_factory=dict)
    """Release → signal name → value, as CI committed them under `signals/`."""
    unobserved: Mapping[str, str] = field(default_factory=dict)
    """Cluster → why it could not be observed this pass (its workloads are absent)."""


class ActionKind(StrEnum):
    ENSURE_VERSION = "ensure-version"
    SET_IMAGE = "set-image"
    ROLLBACK_IMAGE = "rollback-image"
    RESTORE_IMAGE = "restore-image"
    RELEASE_VERSION = "release-version"
    COMMENT = "comment"
    APPLY_FLAGS = "apply-flags"

    @property
    def system(self) -> str:
        if self in (ActionKind.ENSURE_VERSION, ActionKind.RELEASE_VERSION, ActionKind.COMMENT):
            return "jira"
        return "kubernetes"


@dataclass(frozen=True)
class ImageChange:
    cluster: str
    namespace: str
    deployment: str
    container: str
    image: str
    """The image to set."""
    current: str
    """The image seen when planning."""

    @property
    def workload(self) -> WorkloadId:
        return self.cluster, self.namespace, self.deployment


@dataclass(frozen=True)
class Action:
    kind: ActionKind
    key: str
    """Idempotency key: the same change always has the same key."""
    reason: str
    chain: str
    """Release name, or `flags` / `drift`: a failure stops the rest of its chain."""
    release: str = ""
    project: str = ""
    version: str = ""
    day: date | None = None
    description: str = ""
    image: ImageChange | None = None
    issue: str = ""
    text: str = ""
    marker: str = ""
    """Text whose presence in an existing comment means the comment was already made."""
    target: FlagTarget | None = None
    document: str = ""
    """Flagd JSON to apply (deterministic text)."""

    def describe(self) -> str:
        if self.image is not None:
            i = self.image
            return (
                f"{self.kind} {i.cluster}/{i.namespace}/{i.deployment} {i.container}: "
                f"{i.current} -> {i.image}"
            )
        if self.target is not None:
            return f"{self.kind} {self.target.describe()}"
        if self.issue:
            return f"{self.kind} {self.issue}"
        return f"{self.kind} {self.project} {self.version}".rstrip()


class FindingKind(StrEnum):
    SCHEDULE = "schedule"
    READINESS = "readiness"
    VERDICT = "verdict"
    BLOCKED = "blocked"
    WAITING = "waiting"
    ROLLOUT = "rollout"
    TRIGGER = "trigger"
    DRIFT = "drift"
    FLAG_STAGE = "flag-stage"
    FLAG_DRIFT = "flag-drift"
    STALE_FLAG = "stale-flag"
    ERROR = "error"


@dataclass(frozen=True)
class Finding:
    kind: FindingKind
    subject: str
    message: str
    until: datetime | None = None
    """For a blocked release: when the window next opens."""


@dataclass(frozen=True)
class Plan:
    at: datetime
    actions: tuple[Action, ...]
    findings: tuple[Finding, ...]
    decisions: tuple[tuple[str, DecisionRecord], ...]
    """New records, (release, record), in the order taken."""
    statuses: Mapping[str, ReleaseStatus]
    """The recorded state after this plan, for every release."""
    notes: Mapping[str, str] = field(default_factory=dict)
    """Release → release notes (Markdown) to write."""
    recorded: Mapping[str, ReleaseStatus] = field(default_factory=dict)
    zones: Mapping[str, str] = field(default_factory=dict)
    """Release → the time zone its times are written in (its train's, or the config's)."""
    timezone: str = "UTC"
    """The ControllerConfig's time zone, for times that belong to no release."""

    def wall(self, instant: datetime, subject: str = "") -> str:
        """An instant as people read it: local time in the subject's zone, named."""
        return wall(instant, self.zones.get(subject, self.timezone))

    def changed(self) -> list[str]:
        """Releases whose recorded state this plan changes."""
        return sorted(
            name for name, status in self.statuses.items() if self.recorded.get(name) != status
        )

    @property
    def converged(self) -> bool:
        return not self.actions and not self.decisions and not self.changed()
