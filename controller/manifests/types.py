"""Annotated scalar types shared by the manifest models.

Each type parses a YAML scalar (always a string, int, float, bool or null here: the loader
never produces dates) into a typed Python value with a message that says how to fix bad
input, and declares the JSON Schema an editor uses for completion. Pure: no I/O.
"""

from __future__ import annotations

import difflib
import functools
import re
from datetime import date, datetime, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BeforeValidator, PlainSerializer, WithJsonSchema

DNS1123_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
JIRA_PROJECT_KEY = r"^[A-Z][A-Z0-9_]{1,9}$"
JIRA_ISSUE_KEY = r"^[A-Z][A-Z0-9_]{1,9}-[1-9][0-9]*$"
IMAGE_REPOSITORY = r"^[a-z0-9]+([._-][a-z0-9]+)*(:[0-9]+)?(/[a-z0-9]+([._-][a-z0-9]+)*)*$"
IMAGE_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
LOCAL_DATE_TIME = (
    r"^\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?([Zz]|[+-]\d{2}:?\d{2})?)?$"
)
DURATION = r"^[+-]?([0-9]+w)?([0-9]+d)?([0-9]+h)?([0-9]+m)?([0-9]+s)?$"

_LABEL_RE = re.compile(DNS1123_LABEL)
_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN)
_DURATION_RE = re.compile(DURATION)
_DATE_RE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_DATETIME_RE = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d{1,6})?)?(?P<tz>[Zz]|[+-]\d{2}:?\d{2})?$"
)
_UNITS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1}


def _dns_label(value: str) -> str:
    if "/" in value or value in (".", "..") or "\\" in value:
        raise ValueError(
            f"{value!r} would escape a path: names are used in file paths, so use a "
            "DNS-1123 label (lower-case letters, digits and '-')"
        )
    if len(value) > 63:
        raise ValueError(f"{value!r} is {len(value)} characters long; the limit is 63")
    if not _LABEL_RE.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 label: use lower-case letters, digits and '-', "
            "starting and ending with a letter or digit"
        )
    return value


def _dns_subdomain(value: str) -> str:
    if len(value) > 253 or not _SUBDOMAIN_RE.match(value):
        raise ValueError(
            f"{value!r} is not a DNS-1123 subdomain: use lower-case letters, digits, "
            "'-' and '.', at most 253 characters"
        )
    return value


MAX_DURATION_DAYS = 36_500
"""A century: longer durations overflow date arithmetic and mean nothing here."""


def parse_duration(value: object) -> timedelta:
    """Parse `-14d`, `+1d`, `36h`, `1w2d`, `90m`, `30s` into a signed timedelta."""
    if isinstance(value, timedelta):
        return value
    if not isinstance(value, str):
        raise ValueError(
            f"expected a duration such as '-14d', '+1d' or '36h', got {type(value).__name__}"
        )
    text = value.strip()
    if text in ("", "+", "-") or not _DURATION_RE.match(text):
        raise ValueError(
            f"{value!r} is not a duration: write a signed number with units w, d, h, m, s, "
            "for example '-14d', '+1d', '36h' or '1d12h'"
        )
    sign = -1 if text.startswith("-") else 1
    seconds = sum(int(n) * _UNITS[unit] for n, unit in re.findall(r"([0-9]+)([wdhms])", text))
    if seconds > MAX_DURATION_DAYS * 86_400:
        raise ValueError(
            f"{value!r} is longer than {MAX_DURATION_DAYS} days; no schedule needs that"
        )
    return timedelta(seconds=sign * seconds)


def format_duration(value: timedelta) -> str:
    """The canonical text of a duration: the inverse of `parse_duration`."""
    total = int(value.total_seconds())
    sign = "-" if total < 0 else ""
    total = abs(total)
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNITS[unit]
        if total >= size:
            parts.append(f"{total // size}{unit}")
            total %= size
    return sign + ("".join(parts) or "0s")


def _parse_aware(value: object) -> datetime:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("a date-time needs an explicit UTC offset, e.g. +01:00 or Z")
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    match = _DATETIME_RE.match(value.strip())
    if not match:
        raise ValueError(
            f"{value!r} is not an ISO 8601 date-time: write e.g. '2026-12-08T09:00:00+01:00'"
        )
    if match.group("tz") is None:
        raise ValueError(f"{value!r} has no time zone: add a UTC offset such as '+01:00' or 'Z'")
    try:
        return datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None


def _parse_local(value: object) -> datetime:
    """A date-time that may omit the offset: it is then wall-clock time in a named zone."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str):
        raise ValueError(f"expected an ISO 8601 date-time, got {type(value).__name__}")
    text = value.strip()
    if _DATE_RE.match(text):
        text += "T00:00:00"
    if not _DATETIME_RE.match(text):
        raise ValueError(
            f"{value!r} is not an ISO 8601 date-time: write e.g. '2026-01-06T09:00:00'"
        )
    try:
        return datetime.fromisoformat(text.replace("z", "Z"))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date-time: {exc}") from None


def _parse_date(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not _DATE_RE.match(value.strip()):
        raise ValueError(f"{value!r} is not a date: write it as YYYY-MM-DD, e.g. '2026-12-24'")
    try:
        return date.fromisoformat(value.strip())
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a valid date: {exc}") from None


def _parse_date_or_datetime(value: object) -> date | datetime:
    if isinstance(value, str) and _DATE_RE.match(value.strip()):
        return _parse_date(value)
    return _parse_aware(value)


def _timezone(value: str) -> str:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        guess = _zone_guess(value)
        hint = f"; did you mean {guess!r}?" if guess else ": write e.g. 'Europe/Berlin' or 'UTC'"
        raise ValueError(f"{value!r} is not an IANA time zone{hint}") from None
    return value


@functools.cache
def _zones() -> dict[str, str]:
    from zoneinfo import available_timezones

    return {z.lower(): z for z in available_timezones()}


def _zone_guess(value: str) -> str | None:
    zones = _zones()
    if value.lower() in zones:
        return zones[value.lower()]
    close = difflib.get_close_matches(value.lower(), list(zones), n=1, cutoff=0.8)
    return zones[close[0]] if close else None


RRULE_KEYS = (
    "FREQ", "INTERVAL", "COUNT", "UNTIL", "BYDAY", "BYMONTHDAY", "BYMONTH", "BYYEARDAY",
    "BYWEEKNO", "BYSETPOS", "BYHOUR", "BYMINUTE", "BYSECOND", "WKST",
)  # fmt: skip
FREQS = ("YEARLY", "MONTHLY", "WEEKLY", "DAILY", "HOURLY", "MINUTELY", "SECONDLY")
DAYS = ("MO", "TU", "WE", "TH", "FR", "SA", "SU")
_EVERY = {"BIWEEKLY": "WEEKLY;INTERVAL=2", "FORTNIGHTLY": "WEEKLY;INTERVAL=2",
          "BIMONTHLY": "MONTHLY;INTERVAL=2", "QUARTERLY": "MONTHLY;INTERVAL=3"}  # fmt: skip


def _rrule_words(text: str) -> str | None:
    """What a person probably meant by an RRULE word RFC 5545 does not have, or None."""
    for part in text.split(";"):
        key, _, value = part.partition("=")
        key, value = key.strip().upper(), value.strip().upper()
        if key not in RRULE_KEYS:
            close = difflib.get_close_matches(key, RRULE_KEYS, n=1, cutoff=0.6)
            return f"{key!r} is not an RRULE part" + (
                f"; did you mean {close[0]}?" if close else ""
            )
        if key == "FREQ" and value not in FREQS:
            if value in _EVERY:
                return f"there is no FREQ={value}; write FREQ={_EVERY[value]}"
            return f"FREQ is one of {', '.join(FREQS[:5])}, not {value}"
        if key == "BYDAY":
            for day in value.split(","):
                bare = day.lstrip("+-0123456789")
                if bare not in DAYS:
                    fix = bare[:2] if bare[:2] in DAYS else None
                    hint = f"; write {fix}" if fix else ""
                    return f"BYDAY takes two-letter days ({','.join(DAYS)}), not {bare}{hint}"
    return None


def _iso(value: date | datetime) -> str:
    return value.isoformat()


DATE_TIME_SCHEMA: dict[str, Any] = {
    "type": "string",
    "format": "date-time",
    "description": "ISO 8601 date-time with an explicit UTC offset, e.g. 2026-12-08T09:00:00+01:00",
}

Name = Annotated[
    str,
    AfterValidator(_dns_label),
    WithJsonSchema({"type": "string", "pattern": DNS1123_LABEL, "maxLength": 63}),
]
SubdomainName = Annotated[
    str,
    AfterValidator(_dns_subdomain),
    WithJsonSchema({"type": "string", "pattern": DNS1123_SUBDOMAIN, "maxLength": 253}),
]
Duration = Annotated[
    timedelta,
    BeforeValidator(parse_duration),
    PlainSerializer(format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": DURATION,
            "description": "Signed duration with units w, d, h, m, s, e.g. -14d, +1d, 36h",
            "examples": ["-14d", "+1d", "36h"],
        }
    ),
]
AwareDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_aware),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema(DATE_TIME_SCHEMA),
]
LocalDateTime = Annotated[
    datetime,
    BeforeValidator(_parse_local),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": LOCAL_DATE_TIME,
            "description": "ISO 8601 date-time; without a UTC offset it is wall-clock time "
            "in the object's timezone",
        }
    ),
]
Date = Annotated[
    date,
    BeforeValidator(_parse_date),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]
DateOrDateTime = Annotated[
    date | datetime,
    BeforeValidator(_parse_date_or_datetime),
    PlainSerializer(_iso, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "anyOf": [{"format": "date"}, {"format": "date-time"}],
            "description": "A date (YYYY-MM-DD) or a date-time with an explicit UTC offset",
        }
    ),
]
TimeZoneName = Annotated[
    str,
    AfterValidator(_timezone),
    WithJsonSchema(
        {"type": "string", "description": "IANA time zone name", "examples": ["Europe/Berlin"]}
    ),
]


def _rrule(value: str) -> str:
    # Imported here: dateutil is only needed when a schedule is declared.
    from dateutil.rrule import rrulestr

    text = value.strip()
    if text.upper().startswith("RRULE:"):
        text = text[6:]
    upper = text.upper()
    if "DTSTART" in upper or "\n" in text:
        raise ValueError("put the start in 'dtstart', not inside the rrule")
    if "FREQ=" not in upper:
        raise ValueError(
            f"{value!r} is not an RFC 5545 RRULE: it needs FREQ=, e.g. "
            "'FREQ=WEEKLY;INTERVAL=2;BYDAY=TU'"
        )
    words = _rrule_words(text)
    if words is not None:
        raise ValueError(f"{value!r} is not a valid RFC 5545 RRULE: {words}")
    try:
        rrulestr(text, dtstart=datetime(2000, 1, 1))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{value!r} is not a valid RFC 5545 RRULE: {exc}") from None
    return text


def _relative_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", value) or ".." in parts:
        raise ValueError(f"{value!r} would escape the repository: use a relative path without '..'")
    if not value.strip() or "\x00" in value:
        raise ValueError("a path must not be empty")
    return value.strip("/")


RRule = Annotated[
    str,
    AfterValidator(_rrule),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": "FREQ=",
            "description": "RFC 5545 recurrence rule without DTSTART",
            "examples": ["FREQ=WEEKLY;INTERVAL=2;BYDAY=TU"],
        }
    ),
]
RelativePath = Annotated[
    str,
    AfterValidator(_relative_path),
    WithJsonSchema({"type": "string", "description": "A path relative to the repository root"}),
]
