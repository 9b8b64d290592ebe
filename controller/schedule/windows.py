"""Blackout windows: which apply to a deployment target, and whether one is active.

Rules (as Argo CD sync windows): no matching window → allowed; if any matching `allow`
window exists, deploys happen only while one is active; an active `deny` window always
wins, except for a hotfix through a window with `allowHotfixes`, or a valid override.
Recurring occurrences are wall-clock times in the window's timezone; a window is active
on [start, start + duration).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from controller.manifests.models import BlackoutWindowSpec
from controller.schedule.zones import to_instant, to_local


@dataclass(frozen=True, slots=True)
class Target:
    """What is being deployed: a component on a cluster, tracked in a Jira project."""

    component: str
    cluster: str = ""
    project: str = ""


def applies(spec: BlackoutWindowSpec, target: Target) -> bool:
    """Every non-empty scope list must contain the target's value."""
    scope = spec.scope
    return (
        (not scope.components or target.component in scope.components)
        and (not scope.clusters or target.cluster in scope.clusters)
        and (not scope.projects or target.project in scope.projects)
    )


@lru_cache(maxsize=1024)
def _rule(text: str, dtstart: datetime) -> rrule:
    parsed = rrulestr(text, dtstart=dtstart, cache=True)
    assert isinstance(parsed, rrule)
    return parsed


def bounds(spec: BlackoutWindowSpec) -> tuple[datetime, datetime]:
    """The UTC instants of an absolute window."""
    assert spec.start is not None and spec.end is not None
    return to_instant(spec.start, spec.timezone), to_instant(spec.end, spec.timezone)


def occurrences(
    spec: BlackoutWindowSpec, start: datetime, end: datetime
) -> list[tuple[datetime, datetime]]:
    """(start, end) instants of the window's occurrences that overlap [start, end)."""
    if spec.start is not None and spec.end is not None:
        begin, finish = bounds(spec)
        return [(begin, finish)] if begin < end and start < finish else []
    assert spec.rrule is not None and spec.dtstart is not None and spec.duration is not None
    dtstart = spec.dtstart
    if dtstart.tzinfo is not None:
        dtstart = to_local(dtstart, spec.timezone)
    rule = _rule(spec.rrule, dtstart)
    # An occurrence overlapping the interval began at most `duration` (plus a DST hour)
    # before it.
    low = to_local(start, spec.timezone) - spec.duration - timedelta(hours=1)
    high = to_local(end, spec.timezone) + timedelta(hours=1)
    found = []
    for local in rule.between(low, high, inc=True):
        begin = to_instant(local, spec.timezone)
        finish = to_instant(local + spec.duration, spec.timezone)
        if begin < end and start < finish:
            found.append((begin, finish))
    return found


def occurrence_at(spec: BlackoutWindowSpec, at: datetime) -> tuple[datetime, datetime] | None:
    """The (start, end) instants of the occurrence active at `at`, if any."""
    found = occurrences(spec, at, at + timedelta(microseconds=1))
    return found[-1] if found else None
