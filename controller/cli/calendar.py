"""`relctl calendar`: departures, milestones, releases, windows and flag dates, as a
terminal timeline, JSON, or an ICS file people subscribe to."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import click

from controller.cli import common, options
from controller.cli import output as printing
from controller.schedule import calendar, calendar_formats
from controller.schedule.zones import day_bounds


def _bound(value: str | None, timezone: str, default: datetime) -> datetime:
    """A --from/--to value: a date (local midnight) or a date-time with an offset."""
    if value is None:
        return default
    try:
        return day_bounds(date.fromisoformat(value), timezone)[0]
    except ValueError:
        pass
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date or date-time") from None
    if parsed.tzinfo is None:
        raise click.BadParameter(f"{value!r} needs a UTC offset (or give a plain date)")
    return parsed.astimezone(UTC)


@click.command("calendar")
@click.option("--from", "from_text", metavar="DATE", help="Start (default: now).")
@click.option("--to", "to_text", metavar="DATE", help="End, exclusive (default: 90 days later).")
@printing.formats(["text", "json", "ics"], "text", files=True)
@click.option("--now", "now_text", metavar="TIME", help="Evaluate as of TIME (default now).")
@common.ROOT_OPTION
def command(
    from_text: str | None,
    to_text: str | None,
    fmt: str,
    output: Path | None,
    now_text: str | None,
    root: Path | None,
) -> None:
    """The release calendar: train departures with their milestones, releases with their
    versions and components (blocked ones marked, with when they can go), blackout windows
    (recurring ones as one recurring event), flag rollout stages and flag removal dates.

    \b
    Examples:
      relctl calendar --from 2026-12-01 --to 2027-01-31
      relctl calendar -o ics --output-file releases.ics
    """
    now = options.parse_now(now_text, "--now")
    state = common.build_state(root, now)
    timezone = state.config.spec.timezone
    start = _bound(from_text, timezone, now)
    end = _bound(to_text, timezone, start + timedelta(days=90))
    if end <= start:
        raise click.BadParameter("--to must be after --from")
    workdir = (root or options.find_root(Path.cwd())).resolve()
    recorded = {
        name: status.departure
        for name, status in common.recorded_statuses(workdir, state.config.spec.git).items()
        if status.departure is not None
    }
    events = calendar.build(state, start, end, now, recorded)
    if fmt == "ics":
        data = calendar_formats.to_ics(events, state.config.metadata.name, timezone, now)
    elif fmt == "json":
        data = (calendar_formats.to_json(events) + "\n").encode()
    else:
        color = output is None and printing.color()
        data = (calendar_formats.to_text(events, timezone, start, end, color) + "\n").encode()
    if output is None:
        click.echo(data.decode(), nl=False)
    else:
        output.write_bytes(data)
        click.echo(f"wrote {len(events)} events to {output}", err=True)
