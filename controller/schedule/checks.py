"""The validator's time-dependent checks: departures on schedule, releases inside deny
windows, windows that end before they start, expired overrides and flags past removeBy.

Pure: `now` is an argument, and the result is a list of diagnostics.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from datetime import date, datetime, timedelta

from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.documents import Manifest
from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.schedule import trains, windows
from controller.schedule.zones import day_bounds, to_instant, to_local

Departures = dict[str, trains.Departure | None]


def check(state: DesiredState, now: datetime) -> list[Diagnostic]:
    departures = _declared_departures(state)
    found: list[Diagnostic] = []
    found.extend(_departures(state, departures))
    found.extend(_window_shapes(state))
    found.extend(_releases_in_deny_windows(state, departures))
    found.extend(_expiries(state, now))
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


def _releases_in_deny_windows(state: DesiredState, departures: Departures) -> Iterator[Diagnostic]:
    """Deny windows a release is dated in. Absolute windows are sorted by start once, so
    each release only looks at those that begin before it ends."""
    deny = [w for w in state.windows.values() if w.model.spec.kind == "deny"]
    absolute = sorted(
        ((*windows.bounds(w.model.spec), w) for w in deny if w.model.spec.start is not None),
        key=lambda item: item[0],
    )
    starts = [item[0] for item in absolute]
    recurring = [w for w in deny if w.model.spec.start is None]
    for release in state.releases.values():
        interval = _release_interval(state, release.model, departures)
        if interval is None:
            continue
        begin, end = interval
        candidates = [w for s, e, w in absolute[: bisect_left(starts, end)] if e > begin]
        candidates += recurring
        if not candidates:
            continue
        targets = _targets(state, release)
        for window in sorted(candidates, key=lambda w: w.name):
            spec = window.model.spec
            if not any(windows.applies(spec, target) for target in targets):
                continue
            hits = windows.occurrences(spec, begin, end)
            if not hits or windows.passes(spec, begin, exceptions_of(release.model))[0]:
                continue
            field = "date" if release.model.spec.date is not None else "departure"
            until = to_local(hits[0][1], spec.timezone)
            yield release.diagnostic(
                "RC207",
                f"release is dated inside deny window '{window.name}' ({spec.reason}), "
                f"active until {until:%Y-%m-%d %H:%M} ({spec.timezone}); move the release, "
                "or add an 'override' with reason, by and expires",
                ("spec", field),
            )


def exceptions_of(release: Release) -> windows.Exceptions:
    """What lets a release pass deny windows: its type and its override."""
    override = release.spec.override
    return windows.Exceptions(
        hotfix=release.spec.type == "hotfix",
        override_expires=override.expires if override else None,
    )


def _targets(state: DesiredState, release: Manifest[Release]) -> list[windows.Target]:
    """Every (component, cluster, project) the release deploys to."""
    targets = []
    for item in release.model.spec.components:
        component = state.components.get(item.name)
        if component is None:
            continue
        project = component.model.spec.jira_project
        for cluster in sorted({w.cluster for w in component.model.spec.workloads}):
            targets.append(windows.Target(item.name, cluster, project))
    return targets


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
