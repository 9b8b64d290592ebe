"""The values a plan is made of: what was observed going in, and the actions, findings,
decisions and next recorded state coming out.

The actions themselves are in `actions`. Pure data: nothing here acts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from controller.manifests.signals import SignalValue
from controller.plan.actions import Action, WorkloadId
from controller.plan.approvals import Verified
from controller.plan.flags import FlagTarget
from controller.plan.measurements import RangeReading, Readings
from controller.plan.observed import (
    ApplicationState,
    JiraObservation,
    ObservedWorkload,
    SourceValue,
)
from controller.plan.records import DecisionRecord, ReleaseStatus
from controller.plan.steps import ObservedJob
from controller.schedule.zones import wall


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
    readings: Mapping[str, Readings] | None = None
    """Analysis measurement key → what Prometheus answered this pass; None: there is no
    Prometheus to ask."""
    ranges: Mapping[str, RangeReading] | None = None
    """Flag stage analysis window key → its values over the window; None: no Prometheus."""
    jobs: Mapping[str, ObservedJob] | None = None
    """`cluster/namespace/name` → a step Job relctl made; None: none were looked for."""
    applications: Mapping[str, ApplicationState] = field(default_factory=dict)
    """Component → the status of the Argo CD Application its deploy names (when read)."""
    sources: Mapping[str, SourceValue] = field(default_factory=dict)
    """Workload key → its image in the environment repository (git-method workloads
    whose repository could be read)."""
    approvals: Mapping[str, tuple[Verified, ...]] | None = None
    """Release → its approvals as verified against the approvers' keys; None: no keys are
    configured (approvals count as declared)."""
    controls: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Release → control field (suspend, abort, attempt) → who set it, from git (commit
    author, commit, signature)."""
    flag_commits: Mapping[FlagTarget, str] = field(default_factory=dict)
    """A flag target kept in an environment repository → the last commit of its file
    and its author (`<sha> by <name> <email>`)."""


if TYPE_CHECKING:
    from controller.plan.conditions import Conditions


class FindingKind(StrEnum):
    SCHEDULE = "schedule"
    READINESS = "readiness"
    VERDICT = "verdict"
    BLOCKED = "blocked"
    WAITING = "waiting"
    ROLLOUT = "rollout"
    TRIGGER = "trigger"
    ANALYSIS = "analysis"
    DRIFT = "drift"
    FLAG_STAGE = "flag-stage"
    FLAG_DRIFT = "flag-drift"
    STALE_FLAG = "stale-flag"
    NOTIFICATION = "notification"
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
    conditions: Conditions | None = None
    """The conditions and their outbox after this plan (None: not kept this pass)."""
    recorded_conditions: Conditions | None = None
    documents: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    """Release → its go/no-go documents written this pass: path under the status
    folder → Markdown."""

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
