"""`relctl windows check`: may this component deploy now (or at a given time), and if not,
when? Exit 0 allowed, 1 blocked: usable in any deploy pipeline."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from controller.cli import common, completion, options, output
from controller.manifests.state import DesiredState
from controller.schedule import departures, windows
from controller.schedule.zones import to_local


@click.group("windows")
def group() -> None:
    """Blackout and allow windows.

    \b
    Example:
      relctl windows check checkout --cluster prod-us --at 'tomorrow 09:00'
    """


def _when(value: datetime | None, timezone: str) -> str:
    if value is None:
        return "not within five years"
    return f"{to_local(value, timezone):%Y-%m-%d %H:%M} {timezone}"


def _in(value: datetime, now: datetime) -> str:
    seconds = int((value - now).total_seconds())
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    parts = [f"{days}d"] if days else []
    parts += [f"{hours}h"] if hours or days else []
    parts.append(f"{minutes}m")
    return "in " + " ".join(parts)


def build_verdicts(
    state: DesiredState,
    component: str,
    clusters: tuple[str, ...],
    at: datetime,
    exceptions: windows.Exceptions,
) -> list[tuple[str, windows.Verdict]]:
    manifest = state.components.get(component)
    if manifest is None:
        known = ", ".join(sorted(state.components)) or "none"
        raise click.BadParameter(
            f"no component named {component!r} (known: {known})", param_hint="COMPONENT"
        )
    spec = manifest.model.spec
    declared = sorted({w.cluster for w in spec.workloads})
    for cluster in clusters:
        if cluster not in declared:
            raise click.BadParameter(
                f"{component} does not run on {cluster!r} (it runs on {', '.join(declared)})",
                param_hint="--cluster",
            )
    evaluator = departures.evaluator_of(state)
    return [
        (target.cluster, evaluator.evaluate(target, at, exceptions))
        for target in departures.targets_of(state, component, clusters or declared)
    ]


@group.command("check")
@click.argument("component", shell_complete=completion.COMPONENTS)
@click.option(
    "--cluster",
    "clusters",
    multiple=True,
    help="Cluster to check (repeatable; default: every cluster the component runs on).",
)
@click.option(
    "--at",
    "at_text",
    metavar="TIME",
    help="Instant to check: now, +2d, tomorrow 09:00, a date or ISO 8601 "
    "(default now, or $RELCTL_NOW).",
)
@click.option("--hotfix", is_flag=True, help="Check as a hotfix (passes windows allowing them).")
@click.option(
    "--release",
    "release_name",
    metavar="RELEASE",
    help="Check as this release: its type and override apply.",
)
@output.formats(["text", "json"], "text")
@common.ROOT_OPTION
def check(
    component: str,
    clusters: tuple[str, ...],
    at_text: str | None,
    hotfix: bool,
    release_name: str | None,
    fmt: str,
    root: Path | None,
) -> None:
    """Say whether COMPONENT may deploy, which windows decide it, and when that changes.

    Exit status 0 when allowed on every cluster checked, 1 when blocked on any.

    \b
    Examples:
      relctl windows check checkout --cluster prod-us --at 'tomorrow 09:00'
      relctl windows check payments --release payments-hotfix-2-4-1 -o json
    """
    at = options.parse_now(at_text)
    state = common.build_state(root, at)
    override = None
    if release_name is not None:
        release = state.releases.get(release_name)
        if release is None:
            raise click.BadParameter(f"no release named {release_name!r}", param_hint="--release")
        hotfix = hotfix or release.model.spec.type == "hotfix"
        override = release.model.spec.override.expires if release.model.spec.override else None
    verdicts = build_verdicts(
        state, component, clusters, at, windows.Exceptions(hotfix=hotfix, override_expires=override)
    )
    timezone = state.config.spec.timezone
    if fmt == "json":
        click.echo(json.dumps([_as_json(component, c, v) for c, v in verdicts], indent=2))
    else:
        for cluster, verdict in verdicts:
            click.echo(_as_text(state, component, cluster, verdict, timezone))
    if not all(v.allowed for _, v in verdicts):
        raise SystemExit(1)


def _as_json(component: str, cluster: str, verdict: windows.Verdict) -> dict[str, object]:
    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "component": component,
        "cluster": cluster,
        "at": iso(verdict.at),
        "allowed": verdict.allowed,
        "blocking": list(verdict.blocking),
        "passed": list(verdict.passed),
        "allowWindows": list(verdict.allow_windows),
        "activeAllow": list(verdict.active_allow),
        "nextOpen": iso(verdict.next_open),
        "nextClose": iso(verdict.next_close),
        "overrideUsed": verdict.override_used,
    }


def _as_text(
    state: DesiredState, component: str, cluster: str, verdict: windows.Verdict, timezone: str
) -> str:
    status = (
        click.style("ALLOWED", fg="green", bold=True)
        if verdict.allowed
        else click.style("BLOCKED", fg="red", bold=True)
    )
    lines = [f"{component} on {cluster} at {_when(verdict.at, timezone)}: {status}"]
    for name in verdict.blocking:
        spec = state.windows[name].model.spec
        hit = windows.occurrence_at(spec, verdict.at)
        until = f", until {_when(hit[1], spec.timezone)}" if hit else ""
        lines.append(f"  blocked by deny window {name}: {spec.reason.rstrip('.')}{until}")
    for name in verdict.passed:
        how = "override" if verdict.override_used else "hotfix allowance"
        lines.append(f"  passes deny window {name} ({how})")
    if verdict.allow_windows and not verdict.active_allow:
        lines.append(f"  outside every allow window ({', '.join(verdict.allow_windows)})")
    for name in verdict.active_allow:
        lines.append(f"  inside allow window {name}")
    if verdict.allowed:
        if verdict.next_close:
            lines.append(
                f"  next closes {_when(verdict.next_close, timezone)} "
                f"({_in(verdict.next_close, verdict.at)})"
            )
    elif verdict.next_open:
        lines.append(
            f"  next opens {_when(verdict.next_open, timezone)} "
            f"({_in(verdict.next_open, verdict.at)})"
        )
    else:
        lines.append("  does not open within five years")
    return "\n".join(lines)
