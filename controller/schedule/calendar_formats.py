"""Rendering calendar events: RFC 5545 iCalendar (with `icalendar`), a terminal timeline
grouped by ISO week, and JSON. Pure: events in, text or bytes out.

ICS: times carry a TZID and the feed embeds the matching VTIMEZONE, so clients expand
recurring windows correctly across DST; all-day events use VALUE=DATE; each event has a
stable UID; blocked releases are TENTATIVE. A window's DURATION in whole days is nominal
(wall-clock days, as relctl evaluates it).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, timedelta

import icalendar

from controller import __version__
from controller.schedule.calendar import Event
from controller.schedule.zones import day_bounds, to_local, zone

PRODID = f"-//relctl//relctl {__version__}//EN"


def _ics_time(value: datetime | date, timezone: str) -> datetime | date:
    if isinstance(value, datetime):
        return value.astimezone(zone(timezone))
    return value


def to_ics(events: Sequence[Event], name: str, timezone: str, now: datetime) -> bytes:
    calendar = icalendar.Calendar()
    calendar.add("prodid", PRODID)
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("method", "PUBLISH")
    calendar.add("x-wr-calname", f"relctl: {name}")
    calendar.add("x-wr-timezone", timezone)
    calendar.add("refresh-interval", timedelta(hours=1), parameters={"VALUE": "DURATION"})
    calendar.add("x-published-ttl", "PT1H")
    for item in events:
        event = icalendar.Event()
        event.add("uid", item.uid)
        event.add("dtstamp", now)
        event.add("summary", item.summary)
        event.add("description", item.description)
        event.add("categories", [item.category])
        event.add("transp", "TRANSPARENT")
        event.add("status", "TENTATIVE" if item.blocked_by else "CONFIRMED")
        start = _ics_time(item.start, item.timezone)
        event.add("dtstart", start)
        if item.rrule is not None:
            assert isinstance(item.start, datetime) and isinstance(item.end, datetime)
            event.add("duration", item.end - item.start)
            event.add("rrule", icalendar.vRecur.from_ical(item.rrule))
        else:
            event.add("dtend", _ics_time(item.end, item.timezone))
        for key, value in sorted(item.extra.items()):
            event.add(f"x-relctl-{key}", value)
        calendar.add_component(event)
    calendar.add_missing_timezones()
    data = calendar.to_ical()
    assert isinstance(data, bytes)
    return data


def _rows(
    events: Sequence[Event], start: datetime, end: datetime
) -> list[tuple[datetime, Event, datetime | None]]:
    """(when, event, until) rows: one per event, one per window occurrence in range."""
    rows: list[tuple[datetime, Event, datetime | None]] = []
    for item in events:
        if item.category == "window":
            rows.extend(_window_rows(item, start))
        elif isinstance(item.start, datetime):
            rows.append((item.start, item, None))
        else:
            rows.append((day_bounds(item.start, item.timezone)[0], item, None))
    return sorted((r for r in rows if start <= r[0] < end), key=lambda r: (r[0], r[1].uid))


def _window_rows(item: Event, start: datetime) -> list[tuple[datetime, Event, datetime | None]]:
    """A window's occurrences; more than two in one ISO week become one summary row."""
    weeks: dict[tuple[int, int], list[tuple[datetime, datetime]]] = {}
    for begin, finish in item.occurrences:
        iso = to_local(max(begin, start), item.timezone).isocalendar()
        weeks.setdefault((iso.year, iso.week), []).append((max(begin, start), finish))
    rows: list[tuple[datetime, Event, datetime | None]] = []
    for found in weeks.values():
        if len(found) <= 2:
            rows.extend((begin, item, finish) for begin, finish in found)
        else:
            summary = replace(
                item,
                summary=f"{item.summary}: {len(found)} times this week "
                f"({item.rrule} in {item.timezone})",
            )
            rows.append((found[0][0], summary, None))
    return rows


def to_text(
    events: Sequence[Event], timezone: str, start: datetime, end: datetime, color: bool = False
) -> str:
    """A timeline grouped by ISO week, in `timezone`, with blocked items marked."""

    def red(text: str) -> str:
        return f"\x1b[31;1m{text}\x1b[0m" if color else text

    lines = [
        f"relctl calendar {to_local(start, timezone):%Y-%m-%d} → "
        f"{to_local(end, timezone):%Y-%m-%d} ({timezone})"
    ]
    week: tuple[int, int] | None = None
    for when, item, until in _rows(events, start, end):
        local = to_local(when, timezone)
        iso = local.isocalendar()
        if (iso.year, iso.week) != week:
            week = (iso.year, iso.week)
            monday = local.date() - timedelta(days=local.weekday())
            sunday = monday + timedelta(days=6)
            lines += ["", f"Week {iso.week} · {monday:%a %d %b} – {sunday:%a %d %b %Y}"]
        clock = (
            "all day"
            if isinstance(item.start, date) and not isinstance(item.start, datetime)
            else f"{local:%H:%M}"
        )
        text = item.summary
        if until is not None:
            text += f" (until {to_local(until, timezone):%a %d %b %H:%M})"
        lines.append(f"  {local:%a %d %b} {clock:>7}  {item.category:<12} {text}")
        opens = f", opens {to_local(item.opens, timezone):%a %d %b %Y %H:%M}" if item.opens else ""
        if item.blocked_by:
            lines.append(" " * 30 + red(f"BLOCKED by {', '.join(item.blocked_by)}{opens}"))
        elif item.waits_for:
            lines.append(" " * 30 + f"waits for allow window {', '.join(item.waits_for)}{opens}")
    if len(lines) == 1:
        lines.append("(nothing scheduled in this range)")
    return "\n".join(lines)


def to_json(events: Sequence[Event]) -> str:
    def iso(value: datetime | date | None) -> str | None:
        return value.isoformat() if value is not None else None

    return json.dumps(
        [
            {
                "uid": e.uid,
                "category": e.category,
                "summary": e.summary,
                "start": iso(e.start),
                "end": iso(e.end),
                "timezone": e.timezone,
                "description": e.description,
                "rrule": e.rrule,
                "occurrences": [[iso(a), iso(b)] for a, b in e.occurrences],
                "blockedBy": list(e.blocked_by),
                "waitsFor": list(e.waits_for),
                "opens": iso(e.opens),
                **e.extra,
            }
            for e in events
        ],
        indent=2,
    )
