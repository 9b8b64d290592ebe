"""Wall-clock time in IANA zones, with DST gaps and overlaps resolved as RFC 5545 does.

A local time inside a DST gap (02:30 on a spring-forward night in Berlin) is read with the
offset in force before the gap, so it lands after the gap (03:30 CEST). A local time that
occurs twice (an autumn overlap) means its first occurrence. This is what `zoneinfo` does
with `fold=0`, and what calendar clients do with RFC 5545 DTSTART;TZID values.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def to_instant(value: datetime, timezone: str) -> datetime:
    """An aware UTC instant: naive values are wall-clock time in `timezone`."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=zone(timezone), fold=0)
    return value.astimezone(UTC)


def to_local(instant: datetime, timezone: str) -> datetime:
    """The naive wall-clock time of an instant in `timezone`."""
    return instant.astimezone(zone(timezone)).replace(tzinfo=None)


def day_bounds(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The UTC instants at which a local calendar day starts and the next one starts."""
    start = to_instant(datetime.combine(day, time()), timezone)
    end = to_instant(datetime.combine(date.fromordinal(day.toordinal() + 1), time()), timezone)
    return start, end


def wall(instant: datetime, timezone: str) -> str:
    """How relctl writes an instant for people: "2026-12-08 09:00 Europe/Berlin", local
    time with its zone's name (never a bare UTC offset beside a local time)."""
    return f"{to_local(instant, timezone):%Y-%m-%d %H:%M} {timezone}"
