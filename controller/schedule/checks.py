"""The validator's time-dependent checks: departures on schedule, releases inside deny
windows, windows that end before they start, expired overrides and flags past removeBy.

Pure: `now` is an argument, and the result is a list of diagnostics.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.models import Release, ReleaseTrainSpec
from controller.manifests.state import DesiredState
from controller.schedule import trains, windows
from controller.schedule.departures import effective, evaluator_of, exceptions_of, targets
from controller.schedule.zones import day_bounds, to_instant, to_local

Departures = dict[str, trains.Departure | None]

PER_RELEASE = frozenset({"RC204", "RC207"})
"""Time checks the controller handles release by release (a finding, or a departure
moved past a window, recorded): an error `relctl validate` reports, but never a reason
for a running controller to hold back every other release's manifests."""


def check(state: DesiredState, now: datetime) -> list[Diagnostic]:
    declared = _declared_departures(state)
    implicit = _next_departures(state, now)
    found: list[Diagnostic] = []
    found.extend(_departures(state, declared))
    found.extend(_window_shapes(state))
    found.extend(_releases_in_deny_windows(state, {**declared, **implicit}, set(implicit)))
    found.extend(_expiries(state, now))
    return found


def _next_departures(state: DesiredState, now: datetime) -> Departures:
    """Release name → its train's next departure, for train releases that name none: the
    departure the controller gives a release it sees for the first time now."""
    memo: dict[str, trains.Departure | None] = {}
    found: Departures = {}
    for name, release in state.releases.items():
        spec = release.model.spec
        train = state.trains.get(spec.train) if spec.train else None
        if train is None or spec.departure is not None:
            continue
        if train.name not in memo:
            memo[train.name] = trains.next_departure(train.model.spec, now)
        found[name] = memo[train.name]
    return found


def _declared_departures(state: DesiredState) -> Departures:
    """Release name → the departure its manifest names (None if the train has none), for
    releases on a declared train with a `departure`. Each distinct (train, date) is
    computed once: thousands of releases share a handful of departures."""
    memo: dict[tuple[str, object], trains.Departure | None] = {}
    found: Departures = {}
    for name, release in state.releases.items():
        spec = release.model.spec
        train = state.trains.get(spec.train) if spec.train else None
        if train is None or spec.departure is None:
            continue
        key = (train.name, spec.departure)
        if key not in memo:
            memo[key] = trains.departure_on(train.model.spec, spec.departure)
        found[name] = memo[key]
    return found


def _departures(state: DesiredState, departures: Departures) -> Iterator[Diagnostic]:
    for name, departure in departures.items():
        release = state.releases[name]
        spec = release.model.spec
        train = state.trains[str(spec.train)]
        assert spec.departure is not None
        if departure is None:
            upcoming = trains.next_departure(
                train.model.spec, _start_of(spec.departure, train.model.spec.timezone)
            )
            hint = f"; the next one is {upcoming.local:%Y-%m-%d %H:%M}" if upcoming else ""
            yield release.diagnostic(
                "RC204",
                f"train '{spec.train}' has no departure on {spec.departure.isoformat()}{hint}",
                ("spec", "departure"),
            )
        elif departure.version != spec.version:
            yield release.diagnostic(
                "RC216",
                f"the train names this departure '{departure.version}' (versionFormat "
                f"'{train.model.spec.version_format}'); check that '{spec.version}' is meant",
                ("spec", "version"),
                severity=Severity.WARNING,
            )


def _start_of(when: date | datetime, timezone: str) -> datetime:
    if isinstance(when, datetime):
        return when
    return day_bounds(when, timezone)[0]


def _window_shapes(state: DesiredState) -> Iterator[Diagnostic]:
    for window in state.windows.values():
        spec = window.model.spec
        if (
            spec.start is not None
            and spec.end is not None
            and to_instant(spec.end, spec.timezone) <= to_instant(spec.start, spec.timezone)
        ):
            yield window.diagnostic(
                "RC213", "the window ends before it starts; swap 'start' and 'end'", ("spec", "end")
            )


def _release_interval(
    state: DesiredState, release: Release, departures: Departures
) -> tuple[datetime, datetime] | None:
    """When a release deploys: its chosen departure, its date-time, or its whole local day.
    A train release without a declared departure has no date yet: nothing to check."""
    spec = release.spec
    when = spec.date
    if spec.train is not None:
        departure = departures.get(release.metadata.name)
        return None if departure is None else (departure.at, departure.at + timedelta(seconds=1))
    if when is None:
        return None
    if isinstance(when, datetime):
        return when, when + timedelta(seconds=1)
    return day_bounds(when, state.config.spec.timezone)


def _releases_in_deny_windows(
    state: DesiredState, departures: Departures, implicit: set[str]
) -> Iterator[Diagnostic]:
    """Deny windows a release is dated in (by its departure, declared or the train's next
    one, or its date). Absolute windows are sorted by start once, so each release only
    looks at those that begin before it ends."""
    deny = [w for w in state.windows.values() if w.model.spec.kind == "deny"]
    absolute = sorted(
        ((*windows.bounds(w.model.spec), w) for w in deny if w.model.spec.start is not None),
        key=lambda item: item[0],
    )
    starts = [item[0] for item in absolute]
    recurring = [w for w in deny if w.model.spec.start is None]
    evaluator: windows.Evaluator | None = None
    for release in state.releases.values():
        interval = _release_interval(state, release.model, departures)
        if interval is None:
            continue
        begin, end = interval
        candidates = [w for s, e, w in absolute[: bisect_left(starts, end)] if e > begin]
        candidates += recurring
        if not candidates:
            continue
        where = targets(state, release.model)
        for window in sorted(candidates, key=lambda w: w.name):
            spec = window.model.spec
            if not any(windows.applies(spec, target) for target in where):
                continue
            hits = windows.occurrences(spec, begin, end)
            if not hits or windows.passes(spec, begin, exceptions_of(release.model))[0]:
                continue
            if evaluator is None:
                evaluator = evaluator_of(state)
            until = to_local(hits[0][1], spec.timezone)
            moved = _moved_to(state, release.model, begin, evaluator)
            if release.name in implicit:
                what, field = (
                    f"the train's next departure, {_at(begin, state, release.model)}, is",
                    "train",
                )
            else:
                what = "release is dated"
                field = "date" if release.model.spec.date is not None else "departure"
            yield release.diagnostic(
                "RC207",
                f"{what} inside deny window '{window.name}' ({spec.reason}), active until "
                f"{until:%Y-%m-%d %H:%M} ({spec.timezone}); {moved}; move the release, or "
                "add an 'override' with reason, by and expires",
                ("spec", field),
            )


def _zone(state: DesiredState, release: Release) -> tuple[ReleaseTrainSpec | None, str]:
    train = state.trains.get(release.spec.train) if release.spec.train else None
    spec = train.model.spec if train is not None else None
    return spec, spec.timezone if spec is not None else state.config.spec.timezone


def _at(instant: datetime, state: DesiredState, release: Release) -> str:
    timezone = _zone(state, release)[1]
    return f"{to_local(instant, timezone):%Y-%m-%d %H:%M} ({timezone})"


def _moved_to(
    state: DesiredState, release: Release, asked: datetime, evaluator: windows.Evaluator
) -> str:
    """Where the controller would take the release: the same judgement it makes."""
    found = effective(
        asked,
        train=_zone(state, release)[0],
        evaluator=evaluator,
        where=targets(state, release),
        exceptions=exceptions_of(release),
    )
    if found.at is None:
        return "no later departure is open within the horizon"
    if found.at == asked:
        return "relctl would wait at the departure until the window opens"
    return f"relctl would depart it at {_at(found.at, state, release)} instead"


def _expiries(state: DesiredState, now: datetime) -> Iterator[Diagnostic]:
    today = now.date()
    for flag in state.flags.values():
        remove_by = flag.model.spec.remove_by
        if remove_by is not None and remove_by < today:
            yield flag.diagnostic(
                "RC301",
                f"flag was due for removal on {remove_by.isoformat()}; remove it from code "
                "and delete this manifest, or move 'removeBy'",
                ("spec", "removeBy"),
                severity=Severity.WARNING,
            )
    for release in state.releases.values():
        override = release.model.spec.override
        if override is not None and override.expires <= now:
            yield release.diagnostic(
                "RC302",
                f"override expired at {override.expires.isoformat()}; remove it or renew it",
                ("spec", "override", "expires"),
                severity=Severity.WARNING,
            )
