"""Shared option parsing: the repository root and the `--now` instant."""

from __future__ import annotations

import os
import re
import signal
import threading
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import click


def find_root(start: Path) -> Path:
    """The enclosing git work tree, or `start` itself."""
    start = start.resolve()
    for candidate in (start, *start.parents):
        if (candidate / ".git").exists():
            return candidate
    return start


EARLIEST, LATEST = 1970, 9000
"""Years a `--at` may fall in: later ones overflow the date arithmetic of a plan."""


_RELATIVE = re.compile(r"^([+-])(\d{1,6})\s*(s|m|min|h|d|w)$")
_UNITS = {"s": "seconds", "m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DAYS = {"today": 0, "tomorrow": 1, "yesterday": -1}
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
EXAMPLES = "now, +2d, -90m, tomorrow 09:00, 2026-12-08, 2026-12-08 09:00 or 2026-12-08T09:00+01:00"


def default_zone(start: Path | None = None) -> str:
    """The zone a time typed without an offset is read in: $RELCTL_TIMEZONE, else the
    repository's relctl.yaml `timezone`, else UTC."""
    named = os.environ.get("RELCTL_TIMEZONE")
    if named:
        return named
    config = find_root(start or Path.cwd()) / "relctl.yaml"
    try:
        if config.is_file() and config.stat().st_size < 1 << 20:
            match = re.search(
                r"^\s{2,}timezone:\s*['\"]?([A-Za-z0-9_+/-]+)", config.read_text("utf-8"), re.M
            )
            if match:
                return match.group(1)
    except (OSError, UnicodeDecodeError):
        pass
    return "UTC"


def _local(day: date, hour: int, minute: int, zone: str, value: str, hint: str) -> datetime:
    try:
        return datetime(day.year, day.month, day.day, hour, minute, tzinfo=ZoneInfo(zone))
    except (ValueError, ZoneInfoNotFoundError):
        raise click.BadParameter(f"{value!r} is not a time in {zone}", param_hint=hint) from None


def parse_time(value: str, hint: str = "--at", zone: str | None = None) -> datetime:
    """A time as a person types it: `now`, `+2d` / `-90m` (from now), `tomorrow 09:00`,
    a date (its midnight) or a date-time without an offset (read in `zone`, by default
    `default_zone()`), or ISO 8601 with an offset. Returned in UTC."""
    text = " ".join(value.strip().split())
    now = datetime.now(UTC)
    lowered = text.lower()
    if lowered == "now":
        return now
    if relative := _RELATIVE.match(lowered):
        sign, amount, unit = relative.groups()
        delta = timedelta(**{_UNITS[unit]: int(amount)})
        return _bounded(now + delta if sign == "+" else now - delta, value, hint)
    word, _, clock = lowered.partition(" ")
    if word in _DAYS:
        zone = zone or default_zone()
        try:
            today = now.astimezone(ZoneInfo(zone)).date()
        except ZoneInfoNotFoundError:
            raise click.BadParameter(f"unknown time zone {zone!r}", param_hint=hint) from None
        hour, minute = 0, 0
        if clock:
            matched = _CLOCK.match(clock)
            if matched is None:
                raise click.BadParameter(
                    f"{value!r}: write the time as HH:MM, e.g. 'tomorrow 09:00'", param_hint=hint
                )
            hour, minute = int(matched.group(1)), int(matched.group(2))
        day = date.fromordinal(today.toordinal() + _DAYS[word])
        return _bounded(_local(day, hour, minute, zone, value, hint).astimezone(UTC), value, hint)
    try:
        parsed = datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time; write e.g. {EXAMPLES}", param_hint=hint
        ) from None
    if parsed.tzinfo is None:
        zone = zone or default_zone()
        parsed = _local(parsed.date(), parsed.hour, parsed.minute, zone, value, hint).replace(
            second=parsed.second
        )
    return _bounded(parsed, value, hint)


def _bounded(parsed: datetime, value: str, hint: str) -> datetime:
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc.year <= LATEST:
        raise click.BadParameter(
            f"{value!r} is outside the years {EARLIEST}–{LATEST}", param_hint=hint
        )
    return utc


def parse_now(value: str | None, hint: str = "--at") -> datetime:
    """`--at`/RELCTL_NOW (see `parse_time`), else the current time. An empty value is an
    error, not "now": a script that lost its variable must not act at another time."""
    if value is None:
        value = os.environ.get("RELCTL_NOW")
        hint = "RELCTL_NOW"
        if value is None:
            return datetime.now(UTC)
    if not value.strip():
        raise click.BadParameter(f"is empty; give a time such as {EXAMPLES}", param_hint=hint)
    return parse_time(value, hint)


def stop_on_signals() -> threading.Event:
    """An event set by SIGINT or SIGTERM. Handlers are installed explicitly: a process
    started in the background by a non-interactive shell inherits SIGINT as ignored."""
    stop = threading.Event()
    for number in (signal.SIGINT, signal.SIGTERM):
        signal.signal(number, lambda *_: stop.set())
    return stop


RETRY_OPTION = click.option(
    "--retry",
    type=click.FloatRange(min=0.05),
    default=2.0,
    show_default=True,
    help="Seconds between leader-election steps; well under the lease duration.",
)
