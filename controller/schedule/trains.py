"""Release-train departures, their version names and milestones.

Departures come from the train's RRULE expanded in wall-clock time from `dtstart` in the
train's timezone, so a 02:00 departure stays 02:00 local across DST changes. Milestone
offsets are wall-clock too: `-14d` is the same local time fourteen days earlier.
`{seq}` counts departures within a calendar year (local), starting at 1 each January.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache

from dateutil.rrule import rrule, rrulestr

from controller.manifests.models import ReleaseTrainSpec
from controller.schedule.zones import to_instant, to_local


@dataclass(frozen=True, slots=True)
class Departure:
    """One departure of a train."""

    local: datetime
    """Wall-clock time in the train's timezone (naive)."""
    at: datetime
    """The UTC instant."""
    seq: int
    """1-based position within its local calendar year."""
    version: str
    """Name from the train's versionFormat."""


@lru_cache(maxsize=256)
def _rule(text: str, dtstart: datetime) -> rrule:
    parsed = rrulestr(text, dtstart=dtstart, cache=True)
    assert isinstance(parsed, rrule)
    return parsed


def _local_start(spec: ReleaseTrainSpec) -> datetime:
    start = spec.schedule.dtstart
    if start.tzinfo is not None:
        start = to_local(start, spec.timezone)
    return start


def version_name(spec: ReleaseTrainSpec, local: datetime, seq: int) -> str:
    return spec.version_format.format(
        year=local.year,
        seq=seq,
        month=f"{local.month:02d}",
        day=f"{local.day:02d}",
    )


def departures(spec: ReleaseTrainSpec, start: datetime, end: datetime) -> list[Departure]:
    """Departures whose instant is in [start, end), in order."""
    rule = _rule(spec.schedule.rrule, _local_start(spec))
    # Local bounds widened by a day cover any UTC offset; exact filtering follows.
    low = to_local(start, spec.timezone) - timedelta(days=1)
    high = to_local(end, spec.timezone) + timedelta(days=1)
    result = []
    year_counts: dict[int, int] = {}
    for local in rule.between(low, high, inc=True):
        if local.year not in year_counts:
            year_counts[local.year] = _count_before(rule, local)
        year_counts[local.year] += 1
        at = to_instant(local, spec.timezone)
        if start <= at < end:
            seq = year_counts[local.year]
            result.append(Departure(local, at, seq, version_name(spec, local, seq)))
    return result


def _count_before(rule: rrule, local: datetime) -> int:
    """Departures in `local`'s year strictly before `local`."""
    year_start = datetime(local.year, 1, 1)
    return len(rule.between(year_start, local, inc=True)) - 1


def departure_on(spec: ReleaseTrainSpec, when: date | datetime) -> Departure | None:
    """The departure on a local date, or at an exact instant; None if there is none."""
    if isinstance(when, datetime):
        found = departures(spec, when, when + timedelta(seconds=1))
    else:
        day_start = to_instant(datetime.combine(when, time()), spec.timezone)
        found = departures(spec, day_start - timedelta(hours=1), day_start + timedelta(days=2))
        found = [d for d in found if d.local.date() == when]
    return found[0] if found else None


def next_departure(spec: ReleaseTrainSpec, after: datetime) -> Departure | None:
    """The first departure at or after `after` (looks up to ten years ahead)."""
    found = departures(spec, after, after + timedelta(days=3660))
    return found[0] if found else None


def milestone(spec: ReleaseTrainSpec, departure: Departure, offset: timedelta) -> datetime:
    """The instant of a milestone `offset` from a departure, in wall-clock arithmetic."""
    return to_instant(departure.local + offset, spec.timezone)
