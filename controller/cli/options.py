"""Shared option parsing: the repository root and the `--now` instant."""

from __future__ import annotations

import os
import signal
import threading
from datetime import UTC, datetime
from pathlib import Path

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


def parse_now(value: str | None, hint: str = "--at") -> datetime:
    """`--at`/RELCTL_NOW (ISO 8601 with an offset), else the current time. An empty value
    is an error, not "now": a script that lost its variable must not act at another time."""
    if value is None:
        value = os.environ.get("RELCTL_NOW")
        hint = "RELCTL_NOW"
        if value is None:
            return datetime.now(UTC)
    if not value.strip():
        raise click.BadParameter(
            "is empty; give a time such as 2026-12-08T09:00+01:00", param_hint=hint
        )
    try:
        parsed = datetime.fromisoformat(value.strip().replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date-time", param_hint=hint
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} needs a UTC offset such as +01:00 or Z", param_hint=hint
        )
    try:
        utc = parsed.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST <= utc.year <= LATEST:
        raise click.BadParameter(
            f"{value!r} is outside the years {EARLIEST}–{LATEST}", param_hint=hint
        )
    return utc


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
