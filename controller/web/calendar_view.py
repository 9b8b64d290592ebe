"""The calendar page: month and week views of departures, milestones, releases, windows
and flag stages, each event tagged with the trains, teams (component owners) and
clusters it concerns, so that a filter keeps what concerns a team; and the ICS feed for
the same filter."""

from __future__ import annotations

import calendar as months
import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from controller.manifests.state import DesiredState
from controller.schedule import calendar, calendar_formats
from controller.schedule.zones import day_bounds, to_local
from controller.web.model import Snapshot

FACETS = ("train", "team", "cluster")
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_WEEK = re.compile(r"^(\d{4})-W(\d{2})$")


@dataclass(frozen=True)
class Facets:
    trains: frozenset[str]
    teams: frozenset[str]
    clusters: frozenset[str]
    everywhere: bool = False
    """A window with no scope: it concerns every train, team and cluster."""

    def matches(self, chosen: dict[str, str]) -> bool:
        if self.everywhere:
            return True
        values = {"train": self.trains, "team": self.teams, "cluster": self.clusters}
        return all(not v or v in values[k] for k, v in chosen.items())

    def attributes(self) -> dict[str, str]:
        """data-* values for the page's filter script ("*": every value)."""
        if self.everywhere:
            return dict.fromkeys(FACETS, "*")

        def joined(values: frozenset[str]) -> str:
            return "\x1f".join(sorted(values))

        return {
            "train": joined(self.trains),
            "team": joined(self.teams),
            "cluster": joined(self.clusters),
        }


def _component_facets(
    state: DesiredState, names: tuple[str, ...] | list[str]
) -> tuple[set[str], set[str]]:
    teams: set[str] = set()
    clusters: set[str] = set()
    for name in names:
        component = state.components.get(name)
        if component is not None:
            teams.add(component.model.spec.owner)
            clusters.update(w.cluster for w in component.model.spec.workloads)
    return teams, clusters


def facets(state: DesiredState, event: calendar.Event) -> Facets:
    extra = event.extra
    if "release" in extra and extra["release"] in state.releases:
        spec = state.releases[extra["release"]].model.spec
        teams, clusters = _component_facets(state, [c.name for c in spec.components])
        return Facets(
            frozenset({spec.train} if spec.train else ()), frozenset(teams), frozenset(clusters)
        )
    if "train" in extra and extra["train"] in state.trains:
        train = state.trains[extra["train"]].model.spec
        teams, clusters = _component_facets(state, list(train.components))
        return Facets(frozenset({extra["train"]}), frozenset(teams), frozenset(clusters))
    if "flag" in extra and extra["flag"] in state.flags:
        flag = state.flags[extra["flag"]].model.spec
        after = flag.rollout.after_release if flag.rollout else None
        rides = (
            state.releases[after].model.spec.train if after and after in state.releases else None
        )
        return Facets(
            frozenset({rides} if rides else ()),
            frozenset({flag.owner}),
            frozenset({flag.target.cluster}),
        )
    if event.category == "window":
        name = event.uid.split("@", 1)[0].removeprefix("window.")
        window = state.windows.get(name)
        if window is not None:
            scope = window.model.spec.scope
            if not (scope.clusters or scope.components or scope.projects):
                return Facets(frozenset(), frozenset(), frozenset(), everywhere=True)
            teams, clusters = _component_facets(state, list(scope.components))
            return Facets(frozenset(), frozenset(teams), frozenset(clusters | set(scope.clusters)))
    return Facets(frozenset(), frozenset(), frozenset())


def options(state: DesiredState) -> dict[str, list[str]]:
    return {
        "train": sorted(state.trains),
        "team": sorted({c.model.spec.owner for c in state.components.values()}),
        "cluster": sorted(
            {w.cluster for c in state.components.values() for w in c.model.spec.workloads}
        ),
    }


def chosen(query: dict[str, str], state: DesiredState) -> dict[str, str]:
    """The filter a query asks for, values it does not know dropped."""
    known = options(state)
    return {k: query[k] for k in FACETS if query.get(k) in known[k]}


@dataclass(frozen=True)
class Period:
    view: str
    """month or week"""
    key: str
    """2026-12 or 2026-W49"""
    first: date
    days: int

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days - 1)


def period_of(key: str | None, today: date) -> Period | None:
    """The month or ISO week a key names (None: the month of `today`)."""
    if not key:
        return Period(
            "month",
            f"{today:%Y-%m}",
            today.replace(day=1),
            months.monthrange(today.year, today.month)[1],
        )
    if matched := _MONTH.match(key):
        year, month = int(matched.group(1)), int(matched.group(2))
        if 1 <= month <= 12 and 2000 <= year <= 2200:
            return Period("month", key, date(year, month, 1), months.monthrange(year, month)[1])
    if matched := _WEEK.match(key):
        try:
            first = date.fromisocalendar(int(matched.group(1)), int(matched.group(2)), 1)
        except ValueError:
            return None
        if 2000 <= first.year <= 2200:
            return Period("week", key, first, 7)
    return None


def neighbours(period: Period) -> tuple[str, str]:
    if period.view == "week":
        before, after = period.first - timedelta(days=7), period.first + timedelta(days=7)
        return (
            f"{before.isocalendar().year}-W{before.isocalendar().week:02d}",
            f"{after.isocalendar().year}-W{after.isocalendar().week:02d}",
        )
    before = (period.first - timedelta(days=1)).replace(day=1)
    after = period.last + timedelta(days=1)
    return f"{before:%Y-%m}", f"{after:%Y-%m}"


def events(snapshot: Snapshot, start: datetime, end: datetime) -> list[calendar.Event]:
    assert snapshot.state is not None
    recorded = {n: s.departure for n, s in snapshot.statuses.items() if s.departure is not None}
    return calendar.build(snapshot.state, start, end, snapshot.now, recorded)


def page(snapshot: Snapshot, period: Period, query: dict[str, str]) -> dict[str, Any]:
    state = snapshot.state
    assert state is not None
    zone = snapshot.timezone
    start = day_bounds(period.first, zone)[0]
    end = day_bounds(period.last, zone)[1]
    days: dict[date, list[dict[str, Any]]] = {
        period.first + timedelta(days=n): [] for n in range(period.days)
    }
    selected = chosen(query, state)
    for event in events(snapshot, start, end):
        found = facets(state, event)
        spans = event.occurrences if event.category == "window" else ()
        if not spans:
            begin = (
                event.start
                if isinstance(event.start, datetime)
                else day_bounds(event.start, zone)[0]
            )
            stop = event.end if isinstance(event.end, datetime) else day_bounds(event.end, zone)[0]
            spans = ((begin, stop),)
        for begin, stop in spans:
            local = to_local(max(begin, start), zone)
            if local.date() not in days:
                continue
            days[local.date()].append(
                {
                    "category": event.category,
                    "summary": event.summary,
                    "time": ""
                    if not isinstance(event.start, datetime) and event.category != "window"
                    else f"{local:%H:%M}",
                    "until": f"{to_local(stop, zone):%Y-%m-%d %H:%M}"
                    if event.category == "window"
                    else "",
                    "blocked": ", ".join(event.blocked_by),
                    "release": event.extra.get("release", ""),
                    "data": found.attributes(),
                    "shown": found.matches(selected),
                }
            )
    before, after = neighbours(period)
    lead = period.first.weekday() if period.view == "month" else 0
    return {
        "period": period,
        "title": f"{period.first:%B %Y}" if period.view == "month" else f"Week {period.key}",
        "weeks": _weeks([(d, days[d]) for d in sorted(days)], lead),
        "before": before,
        "after": after,
        "options": options(state),
        "chosen": selected,
        "zone": zone,
    }


def _weeks(days: list[tuple[date, list[dict[str, Any]]]], lead: int) -> list[list[Any]]:
    cells: list[Any] = [None] * lead + [{"day": d, "events": e} for d, e in days]
    cells += [None] * (-len(cells) % 7)
    return [cells[i : i + 7] for i in range(0, len(cells), 7)]


def ics(snapshot: Snapshot, query: dict[str, str], behind: timedelta, ahead: timedelta) -> bytes:
    """The calendar feed, kept to the events the filter matches."""
    state = snapshot.state
    assert state is not None
    selected = chosen(query, state)
    found = events(snapshot, snapshot.now - behind, snapshot.now + ahead)
    kept = [e for e in found if facets(state, e).matches(selected)]
    name = state.config.metadata.name + "".join(f" {k}={v}" for k, v in sorted(selected.items()))
    return calendar_formats.to_ics(kept, name, state.config.spec.timezone, snapshot.now)
