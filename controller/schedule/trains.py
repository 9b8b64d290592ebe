"""Release-train departures, their version names and milestones.

Departures come from the train's RRULE expanded in wall-clock time from `dtstart` in the
train's timezone, so a 02:00 departure stays 02:00 local across DST changes; a wall-clock
time that falls into a DST gap or overlap is resolved as `zones` documents (RFC 5545's
rule). Milestone offsets are wall-clock too: `-14d` is the same local time fourteen days
earlier, `36h` is thirty-six hours of wall-clock time later.

Version names: `{year}` is the departure's local year, `{seq}` its position among that
year's departures (1 for the first departure on or after 1 January, restarting every
year), `{month}` and `{day}` two-digit local date parts. A release that misses its
departure moves to the next one: `following` gives it.

Pure: `now` is always an argument; nothing reads a clock.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from functools import lru_cache

from controller.manifests.models import STANDARD_MILESTONES, ReleaseTrainSpec
from controller.schedule.recurrence import Recurrence
from controller.schedule.zones import day_bounds, to_instant, to_local


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
    milestones: Mapping[str, datetime] = field(default_factory=dict)
    """Milestone name (camelCase, `departure` included) → UTC instant, in time order."""


def recurrence(spec: ReleaseTrainSpec) -> Recurrence:
    return _recurrence(spec.schedule.rrule, _local_start(spec))


@lru_cache(maxsize=512)
def _recurrence(rule: str, start: datetime) -> Recurrence:
    return Recurrence(rule, start)


def _local_start(spec: ReleaseTrainSpec) -> datetime:
    start = spec.schedule.dtstart
    return to_local(start, spec.timezone) if start.tzinfo is not None else start


def version_name(spec: ReleaseTrainSpec, local: datetime, seq: int) -> str:
    return spec.version_format.format(
        year=local.year, seq=seq, month=f"{local.month:02d}", day=f"{local.day:02d}"
    )


def milestone_offsets(spec: ReleaseTrainSpec) -> dict[str, timedelta]:
    """Every declared milestone offset, standard and custom, plus `departure` (0)."""
    offsets: dict[str, timedelta] = {"departure": timedelta(0)}
    for name, attribute in STANDARD_MILESTONES.items():
        value = getattr(spec.milestones, attribute)
        if value is not None:
            offsets[name] = value
    for name, value in (spec.milestones.model_extra or {}).items():
        assert isinstance(value, timedelta)
        offsets[name] = value
    return dict(sorted(offsets.items(), key=lambda item: item[1]))


def _make(spec: ReleaseTrainSpec, local: datetime, seq: int) -> Departure:
    milestones = {
        name: to_instant(local + offset, spec.timezone)
        for name, offset in milestone_offsets(spec).items()
    }
    return Departure(
        local, to_instant(local, spec.timezone), seq, version_name(spec, local, seq), milestones
    )


def _seq_before(rule: Recurrence, local: datetime) -> int:
    """Departures in `local`'s year strictly before `local`."""
    year_start = datetime(local.year, 1, 1)
    return sum(1 for d in rule.between(year_start, local) if d < local)


def departures(spec: ReleaseTrainSpec, start: datetime, end: datetime) -> list[Departure]:
    """Departures whose instant is in [start, end), in order."""
    rule = recurrence(spec)
    # Local bounds widened by a day cover any UTC offset; exact filtering follows.
    low = to_local(start, spec.timezone) - timedelta(days=1)
    high = to_local(end, spec.timezone) + timedelta(days=1)
    found = []
    counts: dict[int, int] = {}
    for local in rule.between(low, high):
        if local.year not in counts:
            counts[local.year] = _seq_before(rule, local)
        counts[local.year] += 1
        departure_at = to_instant(local, spec.timezone)
        if start <= departure_at < end:
            found.append(_make(spec, local, counts[local.year]))
    return found


def departure_on(spec: ReleaseTrainSpec, when: date | datetime) -> Departure | None:
    """The departure on a local date, or at an exact instant; None if there is none."""
    if isinstance(when, datetime):
        found = departures(spec, when, when + timedelta(seconds=1))
    else:
        day_start, day_end = day_bounds(when, spec.timezone)
        found = departures(spec, day_start, day_end)
    return found[0] if found else None


def next_departure(spec: ReleaseTrainSpec, at: datetime) -> Departure | None:
    """The first departure at or after the instant `at`."""
    rule = recurrence(spec)
    local = to_local(at, spec.timezone) - timedelta(days=1)
    while True:
        candidate = rule.after(local)
        if candidate is None:
            return None
        if to_instant(candidate, spec.timezone) >= at:
            year_count = _seq_before(rule, candidate) + 1
            return _make(spec, candidate, year_count)
        local = candidate


def following(spec: ReleaseTrainSpec, departure: Departure) -> Departure | None:
    """The departure after `departure`: where a release that missed it goes."""
    return next_departure(spec, departure.at + timedelta(seconds=1))


def release_departure(
    spec: ReleaseTrainSpec, declared: date | datetime | None, now: datetime
) -> Departure | None:
    """The departure a train release rides: the declared one, or the next one from now."""
    if declared is not None:
        return departure_on(spec, declared)
    return next_departure(spec, now)
