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


def parse_now(value: str | None) -> datetime:
    """`--now`/RELCTL_NOW (ISO 8601 with an offset), else the current time."""
    value = value or os.environ.get("RELCTL_NOW")
    if not value:
        return datetime.now(UTC)
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO 8601 date-time", param_hint="--now"
        ) from None
    if parsed.tzinfo is None:
        raise click.BadParameter(
            f"{value!r} needs a UTC offset such as +01:00 or Z", param_hint="--now"
        )
    return parsed.astimezone(UTC)


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
