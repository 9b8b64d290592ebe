"""`plan` and `status` as tables in a terminal (rich), coloured unless NO_COLOR or
--no-color says otherwise. Anything but a terminal gets the plain text, which scripts and
golden files rely on."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from rich.console import Console
from rich.table import Table
from rich.text import Text

from controller.cli.output import color
from controller.plan.plans import Plan
from controller.plan.records import ReleaseStatus
from controller.schedule.zones import to_local, wall

STYLES = {
    "GO": "green",
    "GO_WITH_CONDITIONS": "yellow",
    "NO_GO": "red",
    "ROLLBACK": "red",
    "ROLLBACK_RECOMMENDED": "red",
    "ABORTED": "red",
    "DELAY": "yellow",
    "HOLD": "yellow",
    "BLOCKED": "yellow",
    "SUSPENDED": "yellow",
    "DEPLOYED": "green",
    "RELEASED": "green",
}


def _decision(kind: str) -> Text:
    return Text(kind, style=STYLES.get(kind, "bold"))


def console() -> Console:
    """No style at all (not even bold) under NO_COLOR or --no-color: plain tables."""
    return Console(highlight=False, soft_wrap=False, color_system="auto" if color() else None)


def plan(result: Plan) -> None:
    out = console()
    when = f"{to_local(result.at, result.timezone):%Y-%m-%d %H:%M:%S} {result.timezone}"
    out.print(
        f"[bold]Plan at {when}[/]: {len(result.actions)} action(s), "
        f"{len(result.decisions)} decision(s), {len(result.findings)} finding(s)"
    )
    if result.decisions:
        table = Table("release", "decision", "why", title="Decisions", title_justify="left")
        for name, record in result.decisions:
            table.add_row(name, _decision(record.decision.value), record.rationale)
        out.print(table)
    if result.actions:
        table = Table("#", "action", "why", title="Actions, in order", title_justify="left")
        for number, action in enumerate(result.actions, 1):
            table.add_row(str(number), action.describe(), action.reason)
        out.print(table)
    table = Table("release", "phase", "departs", title="Releases", title_justify="left")
    for name, status in result.statuses.items():
        departs = result.wall(status.departure, name) if status.departure else "—"
        table.add_row(name, status.phase.value, departs)
    out.print(table)
    if result.findings:
        table = Table("kind", "about", "finding", title="Findings", title_justify="left")
        for finding in result.findings:
            table.add_row(finding.kind.value, finding.subject, finding.message)
        out.print(table)


def statuses(found: Mapping[str, ReleaseStatus], zone_of: Callable[[str], str]) -> None:
    table = Table("release", "version", "phase", "departs", "last decision", "when")
    for name, status in sorted(found.items()):
        last = status.decisions[-1] if status.decisions else None
        phase = status.phase.value + (" (suspended)" if status.suspended else "")
        phase += f" · attempt {status.attempt}" if status.attempt > 1 else ""
        table.add_row(
            name,
            status.version,
            phase,
            wall(status.departure, zone_of(name)) if status.departure else "—",
            _decision(last.decision.value) if last else "",
            "" if last is None else wall(last.at, zone_of(name)),
        )
    console().print(table)
