"""A release's effective departure, judged against the windows the same way by
`relctl validate`, `relctl plan` and the controller.

A release asks for a departure: its train's departure on a date, the train's next one,
or its own date. When a window would hold that departure back for longer than the
release's go/no-go lead time (a year-end freeze, not an allow window that opens in a few
hours), the release departs at the first departure after the window opens instead —
the train's next departure, or for a dated release the moment the window opens — and its
milestones, go/no-go included, move with it. A shorter
hold is waited out at the departure: the go/no-go verdict is still fresh.

Pure: `now` is always an argument; nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from controller.manifests.models import BlackoutWindowSpec, Release, ReleaseSpec, ReleaseTrainSpec
from controller.manifests.state import DesiredState
from controller.schedule import trains, windows
from controller.schedule.zones import day_bounds, to_instant, to_local

DEFAULT_LEAD = timedelta(days=1)
"""The go/no-go lead time of a release whose train declares no goNoGo milestone, and of
a dated release (its go/no-go is a day before)."""
DATED_MILESTONES: dict[str, timedelta] = {
    "codeFreeze": timedelta(days=-7),
    "goNoGo": -DEFAULT_LEAD,
    "departure": timedelta(0),
    "monitoringEnd": timedelta(days=1),
}
"""Milestones of a release with an explicit `date` (it rides no train)."""
MAX_MOVES = 60
"""Departures passed over at most before giving up (over two years of a fortnightly train)."""


@dataclass(frozen=True)
class Hold:
    """Windows that hold a departure back, and until when."""

    at: datetime
    windows: tuple[str, ...]
    """Deny windows that block, else the allow windows none of which is open."""
    deny: bool
    """Whether `windows` are deny windows (else: allow windows that are all closed)."""
    opens: datetime | None
    """When every target may deploy again (None: not within the evaluator's horizon)."""

    def describe(self, specs: Mapping[str, BlackoutWindowSpec]) -> str:
        """ "inside 'holiday-freeze' (reason)" or "outside allow window 'x' (reason)"."""
        named = ", ".join(
            f"'{n}' ({specs[n].reason})" if n in specs else f"'{n}'" for n in self.windows
        )
        if self.deny:
            return f"inside {named}"
        plural = "s" if len(self.windows) > 1 else ""
        return f"outside allow window{plural} {named}"


@dataclass(frozen=True)
class Effective:
    """Where a release departs after the windows had their say."""

    at: datetime | None
    """The effective departure; None when no departure opens within the horizon."""
    passed: tuple[Hold, ...] = ()
    """Departures passed over, earliest first, with what held each."""


def asked(
    spec: ReleaseSpec,
    train: ReleaseTrainSpec | None,
    timezone: str,
    now: datetime,
    fixed: datetime | None = None,
) -> datetime | None:
    """The departure a release's manifest asks for now: its date, its train's departure
    on the declared day, or the train's next one (`fixed`: the one found when the release
    was first seen, kept). None when the train has no departure on the declared day."""
    if train is None:
        when = spec.date
        assert when is not None  # validated: a release rides a train or has a date
        return when if isinstance(when, datetime) else day_bounds(when, timezone)[0]
    if spec.departure is None and fixed is not None:
        return fixed
    found = trains.release_departure(train, spec.departure, now)
    return None if found is None else found.at


def milestones(
    departure: datetime, train: ReleaseTrainSpec | None, timezone: str
) -> dict[str, datetime]:
    """Every milestone of a release departing at `departure`: its train's offsets, or a
    dated release's."""
    local = to_local(departure, timezone)
    offsets = trains.milestone_offsets(train) if train is not None else DATED_MILESTONES
    return {name: to_instant(local + offset, timezone) for name, offset in offsets.items()}


def evaluator_of(state: DesiredState) -> windows.Evaluator:
    """The windows of `state`, ready to judge targets."""
    return windows.Evaluator(
        [windows.Window(n, m.model.spec) for n, m in sorted(state.windows.items())]
    )


def targets_of(
    state: DesiredState, component: str, clusters: Iterable[str] | None = None
) -> list[windows.Target]:
    """The (component, cluster, project) targets a change to `component` hits: on every
    cluster it runs on, or on `clusters`. The one place a window target is built."""
    found = state.components.get(component)
    spec = found.model.spec if found is not None else None
    if clusters is None:
        clusters = {w.cluster for w in spec.workloads} if spec is not None else ()
    project = spec.jira_project if spec is not None else ""
    return [windows.Target(component, cluster, project) for cluster in sorted(set(clusters))]


def targets(state: DesiredState, release: Release) -> list[windows.Target]:
    """Every (component, cluster, project) the release deploys to."""
    return [
        target
        for item in release.spec.components
        if item.name in state.components
        for target in targets_of(state, item.name)
    ]


def exceptions_of(release: Release) -> windows.Exceptions:
    """What lets a release pass deny windows: its type and its override."""
    override = release.spec.override
    return windows.Exceptions(
        hotfix=release.spec.type == "hotfix",
        override_expires=override.expires if override else None,
    )


def hold_of(verdicts: Iterable[windows.Verdict], at: datetime) -> Hold | None:
    """What the verdicts for a deploy's targets at `at` say holds it, or None."""
    blocked = [v for v in verdicts if not v.allowed]
    if not blocked:
        return None
    deny = tuple(sorted({n for v in blocked for n in v.blocking}))
    names = deny or tuple(sorted({n for v in blocked for n in v.allow_windows}))
    opens = [v.next_open for v in blocked]
    latest = None if any(o is None for o in opens) else max(o for o in opens if o is not None)
    return Hold(at, names, bool(deny), latest)


def hold(
    evaluator: windows.Evaluator,
    where: Sequence[windows.Target],
    at: datetime,
    exceptions: windows.Exceptions,
) -> Hold | None:
    """What holds a deploy to `where` at `at`, or None when every target may deploy."""
    return hold_of((evaluator.evaluate(t, at, exceptions) for t in where), at)


def lead_time(train: ReleaseTrainSpec | None) -> timedelta:
    """How long before its departure a release's go/no-go falls."""
    if train is None:
        return DEFAULT_LEAD
    offset = trains.milestone_offsets(train).get("goNoGo")
    return DEFAULT_LEAD if offset is None or offset >= timedelta(0) else -offset


def following(after: datetime, train: ReleaseTrainSpec | None) -> datetime | None:
    """Where a release held until `after` departs: the train's first departure at or
    after it, or for a dated release that instant itself."""
    if train is None:
        return after
    upcoming = trains.next_departure(train, after)
    return None if upcoming is None else upcoming.at


def effective(
    asked: datetime,
    *,
    train: ReleaseTrainSpec | None,
    evaluator: windows.Evaluator,
    where: Sequence[windows.Target],
    exceptions: windows.Exceptions,
    now: datetime | None = None,
) -> Effective:
    """The departure a release asking for `asked` takes. With `now` past the departure,
    the hold is judged from now (a release waiting at its departure for a GO). A hotfix
    is never moved: it goes the moment the windows let it."""
    if exceptions.hotfix:
        return Effective(asked)
    lead = lead_time(train)
    candidate: datetime | None = asked
    passed: list[Hold] = []
    for _ in range(MAX_MOVES):
        assert candidate is not None
        start = candidate if now is None else max(candidate, now)
        found = hold(evaluator, where, start, exceptions)
        if found is None:
            return Effective(candidate, tuple(passed))
        if found.opens is not None and found.opens - start <= lead:
            return Effective(candidate, tuple(passed))  # waited out at the departure
        passed.append(replace(found, at=candidate))
        if found.opens is None:
            return Effective(None, tuple(passed))
        candidate = following(found.opens, train)
        if candidate is None:
            return Effective(None, tuple(passed))
    return Effective(None, tuple(passed))
