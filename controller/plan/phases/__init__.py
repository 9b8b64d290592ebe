"""A release's life as ordered phase steps (the planner holds the order).

Each step is `step(context, status) -> Step`: it reads the pass's facts (`Context`, with
the cross-release `Fleet`) and the release's status as the steps before it left it, and
returns the actions, findings and decisions it takes, the status after it, and whether
the release stops there this pass (it waits: for a verdict, a window, a rollout, a
person). A step that does not apply to the release's phase returns the status as it
was. Steps are pure: no clock, no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from controller.manifests.models import Release, ReleaseSpec, ReleaseTrainSpec
from controller.plan import readiness
from controller.plan.actions import Action
from controller.plan.approvals import Verified
from controller.plan.fleet import Fleet
from controller.plan.plans import Finding, FindingKind
from controller.plan.readiness import Criterion
from controller.plan.records import DecisionKind, DecisionRecord, Evidence, ReleaseStatus
from controller.schedule import departures, windows
from controller.schedule.departures import Hold
from controller.schedule.zones import wall


@dataclass(frozen=True)
class Judged:
    """The go/no-go verdict judged this pass; None: it could not be (Jira unobserved)."""

    verdict: DecisionKind | None


@dataclass(frozen=True)
class Context:
    """One release in one pass: its manifest, its train, its milestones (once scheduled)
    and the fleet's facts."""

    fleet: Fleet
    name: str
    release: Release
    train: ReleaseTrainSpec | None
    timezone: str
    projects: tuple[str, ...]
    milestones: Mapping[str, datetime] = field(default_factory=dict)
    judged: Judged | None = None
    """This pass's verdict, once a step judged it: judged once a pass."""
    attempt: int = 1
    """The release's attempt under way (its step Jobs are named by it)."""

    @classmethod
    def of(cls, fleet: Fleet, name: str) -> Context:
        desired = fleet.desired
        release = desired.releases[name].model
        train = desired.trains.get(release.spec.train) if release.spec.train else None
        spec = train.model.spec if train is not None else None
        timezone = spec.timezone if spec is not None else desired.config.spec.timezone
        projects = tuple(readiness.projects_of(desired, release))
        return cls(fleet, name, release, spec, timezone, projects)

    @property
    def spec(self) -> ReleaseSpec:
        return self.release.spec

    @property
    def now(self) -> datetime:
        return self.fleet.now

    @property
    def approvals(self) -> tuple[Verified, ...] | None:
        """The release's approvals as verified (None: as declared, no keys configured)."""
        found = self.fleet.observed.approvals
        return None if found is None else found.get(self.name, ())

    def milestone(self, name: str) -> datetime:
        return self.milestones.get(name, self.milestones["departure"])

    @property
    def departure(self) -> datetime:
        return self.milestones["departure"]

    def monitoring_end(self, status: ReleaseStatus) -> datetime:
        """monitoringEnd, or as long after the rollout finished if it finished late (a
        window held it): a release is always watched for the whole monitoring span."""
        planned = self.milestone("monitoringEnd")
        deployed = status.last(DecisionKind.DEPLOYED)
        finished = deployed.at if deployed is not None else self.now
        return max(planned, finished + (planned - self.departure))

    def local(self, instant: datetime) -> str:
        return wall(instant, self.timezone)

    def describe(self, held: Hold) -> str:
        specs = {n: m.model.spec for n, m in self.fleet.desired.windows.items()}
        return held.describe(specs)

    def passed_over(self, passed: tuple[Hold, ...]) -> str:
        """ "departure 2026-12-22 09:00 Europe/Berlin falls inside 'holiday-freeze' (…)
        until 2027-01-04 00:00 Europe/Berlin", for each departure passed over."""
        return "; ".join(
            f"departure {self.local(h.at)} falls {self.describe(h)}"
            + (f" until {self.local(h.opens)}" if h.opens is not None else "")
            for h in passed
        )

    @property
    def exceptions(self) -> windows.Exceptions:
        return departures.exceptions_of(self.release)

    def window_verdicts(
        self, at: datetime, where: list[windows.Target] | None = None
    ) -> list[windows.Verdict]:
        """The windows' verdicts for the release's targets (or `where`) at `at`."""
        targets = departures.targets(self.fleet.desired, self.release) if where is None else where
        return [self.fleet.evaluator.evaluate(t, at, self.exceptions) for t in targets]


@dataclass(frozen=True)
class Step:
    """What one step made of a release: its status after, and what it took."""

    status: ReleaseStatus
    actions: tuple[Action, ...] = ()
    findings: tuple[Finding, ...] = ()
    decisions: tuple[DecisionRecord, ...] = ()
    notes: str | None = None
    """Release notes (Markdown) to write."""
    stop: bool = False
    """The release waits here this pass: the steps after this one do not run."""
    judged: Judged | None = None
    milestones: Mapping[str, datetime] | None = None
    """Set by scheduling: the release's milestones at its effective departure."""


PhaseStep = Callable[[Context, ReleaseStatus], Step]


class Draft:
    """A step's work in progress: what it records, finds and acts on, returned as a
    `Step` at the end."""

    def __init__(self, context: Context, status: ReleaseStatus) -> None:
        self.context = context
        self.status = status
        self.actions: list[Action] = []
        self.findings: list[Finding] = []
        self.decisions: list[DecisionRecord] = []
        self.notes: str | None = None
        self.judged: Judged | None = None
        self.milestones: Mapping[str, datetime] | None = None

    def record(
        self,
        kind: DecisionKind,
        rationale: str,
        evidence: Evidence | None = None,
        criteria: tuple[Criterion, ...] = (),
    ) -> None:
        entry = DecisionRecord(
            kind,
            self.context.now,
            rationale,
            criteria,
            evidence or Evidence(),
            attempt=self.status.attempt,
        )
        self.status = replace(self.status, decisions=(*self.status.decisions, entry))
        self.decisions.append(entry)

    def find(self, kind: FindingKind, message: str, until: datetime | None = None) -> None:
        self.findings.append(Finding(kind, self.context.name, message, until))

    def act(self, action: Action) -> None:
        self.actions.append(action)

    def update(self, **changes: Any) -> None:
        self.status = replace(self.status, **changes)

    def done(self, *, stop: bool = False) -> Step:
        return Step(
            self.status,
            tuple(self.actions),
            tuple(self.findings),
            tuple(self.decisions),
            self.notes,
            stop,
            self.judged,
            self.milestones,
        )

    def stop(self) -> Step:
        return self.done(stop=True)
