"""Re-anchored recurrences give exactly what dateutil gives from dtstart, at any distance."""

from __future__ import annotations

from datetime import datetime, timedelta

from dateutil.rrule import rrulestr
from hypothesis import given, settings
from hypothesis import strategies as st

from controller.schedule.recurrence import Recurrence

RULES = [
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU",
    "FREQ=WEEKLY;BYDAY=SA",
    "FREQ=WEEKLY;INTERVAL=2",
    "FREQ=WEEKLY;INTERVAL=3;WKST=SU;BYDAY=SU,WE",
    "FREQ=DAILY;INTERVAL=3",
    "FREQ=DAILY",
    "FREQ=MONTHLY;BYDAY=-1FR",
    "FREQ=MONTHLY;INTERVAL=2",
    "FREQ=MONTHLY;BYMONTHDAY=31",
    "FREQ=MONTHLY;BYDAY=MO,TU;BYSETPOS=2",
    "FREQ=YEARLY",
    "FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=24",
    "FREQ=YEARLY;BYMONTH=2;BYMONTHDAY=29",
    "FREQ=HOURLY;INTERVAL=5",
    "FREQ=MINUTELY;INTERVAL=45;BYHOUR=9,10",
    "FREQ=WEEKLY;BYDAY=MO;COUNT=30",
    "FREQ=DAILY;UNTIL=20300101T000000",
]

START = datetime(2010, 1, 1)


@settings(max_examples=600, deadline=None)
@given(
    rule=st.sampled_from(RULES),
    start_minutes=st.integers(0, 12 * 365 * 24 * 60),
    offset_hours=st.integers(-200, 16 * 365 * 24),
    span_hours=st.integers(0, 24 * 120),
)
def test_same_occurrences_as_dateutil(
    rule: str, start_minutes: int, offset_hours: int, span_hours: int
) -> None:
    dtstart = START + timedelta(minutes=start_minutes)
    low = dtstart + timedelta(hours=offset_hours)
    high = low + timedelta(hours=span_hours)
    reference = rrulestr(rule, dtstart=dtstart)
    ours = Recurrence(rule, dtstart)
    assert ours.between(low, high) == list(reference.between(low, high, inc=True))
    assert ours.after(low) == reference.after(low)
    assert ours.before(low) == reference.before(low)
    assert ours.after(low, inclusive=True) == reference.after(low, inc=True)


def test_equality_and_hash() -> None:
    a = Recurrence("FREQ=DAILY", START)
    assert a == Recurrence("FREQ=DAILY", START)
    assert len({a, Recurrence("FREQ=DAILY", START)}) == 1
    assert a != Recurrence("FREQ=WEEKLY", START)
