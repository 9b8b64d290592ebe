"""JQL text built from quoted, escaped values only, so no value can inject JQL.

Pure: the adapter sends what this module writes; the planner quotes it as evidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def quote(value: str) -> str:
    """A JQL string literal: every value goes through here, so none can inject JQL."""
    escaped = (
        value.replace("\\", "\\\\")
        .replace('"', '\\"')
        .replace("\n", "\\n")
        .replace("\r", "\\r")
        .replace("\t", "\\t")
    )
    return f'"{escaped}"'


def quote_list(values: Sequence[str]) -> str:
    return "(" + ", ".join(quote(v) for v in values) + ")"


def jql_time(value: datetime, timezone: str = "UTC") -> str:
    """A JQL date literal: minute precision, wall-clock time in the account's time zone
    (which is how Jira reads it)."""
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return quote(value.astimezone(zone).strftime("%Y-%m-%d %H:%M"))


def version_issues(projects: Sequence[str], version: str) -> str:
    """The issues of one fixVersion across projects."""
    return f"project in {quote_list(projects)} AND fixVersion = {quote(version)} ORDER BY key ASC"
