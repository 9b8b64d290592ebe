"""RFC 5545 recurrences evaluated near the query, not from `dtstart`.

dateutil expands a rule from its DTSTART on every query, so a window declared ten years
ago costs ten years of occurrences each time it is evaluated. A `Recurrence` instead
*re-anchors* the rule: it first writes every part that dateutil would take implicitly
from DTSTART (BYHOUR, BYMINUTE, BYSECOND, BYDAY for weekly rules, BYMONTHDAY and BYMONTH
where they apply) into the rule, then starts the expansion at the beginning of a period
(day, week from WKST, month, year) that is a whole number of INTERVALs after the original
start and before the query. Every occurrence after that anchor is then exactly an
occurrence of the original rule, and the cost of a query depends on its span, not on how
old `dtstart` is. Rules with COUNT are not re-anchored (COUNT numbers occurrences from the
start); their cost is bounded by COUNT.

All times here are naive wall-clock times in the owner's time zone. Pure; no I/O.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import lru_cache

from dateutil.relativedelta import relativedelta
from dateutil.rrule import DAILY, HOURLY, MINUTELY, MONTHLY, SECONDLY, WEEKLY, YEARLY, rrule
from dateutil.rrule import rrulestr as _rrulestr

_WEEKDAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_FREQ_NAMES = {
    "YEARLY": YEARLY,
    "MONTHLY": MONTHLY,
    "WEEKLY": WEEKLY,
    "DAILY": DAILY,
    "HOURLY": HOURLY,
    "MINUTELY": MINUTELY,
    "SECONDLY": SECONDLY,
}
# Keep this many periods between the anchor and the query, so nearby queries share a
# compiled rule and anchors are never computed too late.
_SLACK_PERIODS = 2


def _parts(text: str) -> dict[str, str]:
    parts = {}
    for item in text.strip().removeprefix("RRULE:").split(";"):
        if "=" in item:
            key, _, value = item.partition("=")
            parts[key.strip().upper()] = value.strip()
    return parts


def _explicit(text: str, dtstart: datetime) -> tuple[str, dict[str, str]]:
    """The rule with every DTSTART-implied part written out."""
    parts = _parts(text)
    freq = _FREQ_NAMES[parts["FREQ"].upper()]
    if freq < HOURLY and "BYHOUR" not in parts:
        parts["BYHOUR"] = str(dtstart.hour)
    if freq < MINUTELY and "BYMINUTE" not in parts:
        parts["BYMINUTE"] = str(dtstart.minute)
    if freq < SECONDLY and "BYSECOND" not in parts:
        parts["BYSECOND"] = str(dtstart.second)
    has_day = any(k in parts for k in ("BYDAY", "BYMONTHDAY", "BYYEARDAY", "BYWEEKNO"))
    if freq == WEEKLY and "BYDAY" not in parts:
        parts["BYDAY"] = _WEEKDAYS[dtstart.weekday()]
    if freq == MONTHLY and not has_day:
        parts["BYMONTHDAY"] = str(dtstart.day)
    if freq == YEARLY and not has_day:
        parts.setdefault("BYMONTH", str(dtstart.month))
        parts["BYMONTHDAY"] = str(dtstart.day)
    return ";".join(f"{k}={v}" for k, v in parts.items()), parts


@lru_cache(maxsize=4096)
def _compile(text: str, anchor: datetime) -> rrule:
    rule = _rrulestr(text, dtstart=anchor)
    assert isinstance(rule, rrule)
    return rule


class Recurrence:
    """A recurrence rule with its start, queried cheaply at any distance from the start.

    Immutable by convention; equal rules with equal starts compare and hash equal.
    """

    __slots__ = ("_fixed", "_freq", "_interval", "_text", "_wkst", "dtstart", "rule")

    def __init__(self, rule: str, dtstart: datetime) -> None:
        self.rule = rule
        self.dtstart = dtstart
        self._text, parts = _explicit(rule, dtstart)
        self._freq = _FREQ_NAMES[parts["FREQ"].upper()]
        self._interval = int(parts.get("INTERVAL", "1"))
        self._fixed = "COUNT" in parts
        self._wkst = _WEEKDAYS.index(parts.get("WKST", "MO").upper())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Recurrence) and (self.rule, self.dtstart) == (
            other.rule,
            other.dtstart,
        )

    def __hash__(self) -> int:
        return hash((self.rule, self.dtstart))

    def __repr__(self) -> str:
        return f"Recurrence({self.rule!r}, {self.dtstart.isoformat()})"

    def _full(self) -> rrule:
        return _compile(self._text, self.dtstart)

    def _rule_for(self, low: datetime) -> rrule:
        """A compiled rule whose expansion starts at or before `low`."""
        if self._fixed or low <= self.dtstart:
            return self._full()
        return _compile(self._text, self._anchor(low))

    def _anchor(self, low: datetime) -> datetime:
        """The start of the latest period at least `_SLACK_PERIODS` periods before `low`
        that lies a whole number of intervals after the period of `dtstart`."""
        start, interval, freq = self.dtstart, self._interval, self._freq
        if freq == YEARLY:
            origin = start.replace(month=1, day=1, hour=0, minute=0, second=0, microsecond=0)
            steps = (low.year - origin.year) // interval - _SLACK_PERIODS
            shift: timedelta | relativedelta = relativedelta(years=steps * interval)
        elif freq == MONTHLY:
            origin = start.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            months = (low.year - origin.year) * 12 + low.month - origin.month
            steps = months // interval - _SLACK_PERIODS
            shift = relativedelta(months=steps * interval)
        elif freq == WEEKLY:
            midnight = start.replace(hour=0, minute=0, second=0, microsecond=0)
            origin = midnight - timedelta(days=(start.weekday() - self._wkst) % 7)
            steps = (low - origin).days // (7 * interval) - _SLACK_PERIODS
            shift = timedelta(weeks=steps * interval)
        elif freq == DAILY:
            origin = start.replace(hour=0, minute=0, second=0, microsecond=0)
            steps = (low - origin).days // interval - _SLACK_PERIODS
            shift = timedelta(days=steps * interval)
        else:
            unit = {HOURLY: 3600, MINUTELY: 60, SECONDLY: 1}[freq]
            origin = start.replace(microsecond=0)
            if freq <= MINUTELY:
                origin = origin.replace(second=0)
            if freq == HOURLY:
                origin = origin.replace(minute=0)
            seconds = int((low - origin).total_seconds())
            steps = seconds // (unit * interval) - _SLACK_PERIODS
            shift = timedelta(seconds=steps * interval * unit)
        if steps < 1:
            return start
        return origin + shift

    def between(self, low: datetime, high: datetime) -> list[datetime]:
        """Occurrences in [low, high], in order."""
        rule = self._rule_for(low)
        return [d for d in rule.between(low, high, inc=True) if d >= self.dtstart]

    def after(self, moment: datetime, *, inclusive: bool = False) -> datetime | None:
        """The first occurrence after `moment` (or at it, with `inclusive`)."""
        found = self._rule_for(moment).after(moment, inc=inclusive)
        assert found is None or isinstance(found, datetime)
        return found

    def before(self, moment: datetime, *, inclusive: bool = False) -> datetime | None:
        """The last occurrence before `moment` (or at it, with `inclusive`)."""
        found = self._rule_for(moment).before(moment, inc=inclusive)
        if found is None:  # a sparse rule with nothing since the anchor: look further back
            found = self._full().before(moment, inc=inclusive)
        if found is None or found < self.dtstart:
            return None
        assert isinstance(found, datetime)
        return found
