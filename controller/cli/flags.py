"""`relctl flags`: the flagd JSON due at a time, and each flag's stage and staleness."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from controller.adapters.errors import AdapterError
from controller.adapters.kube import KubeCluster, read_flags
from controller.cli import common, options
from controller.cli import output as printing
from controller.manifests.state import DesiredState
from controller.plan import flag_rollout, flags


def _released(names: tuple[str, ...], everything: bool) -> flags.Released:
    chosen = set(names)
    return lambda release: everything or release in chosen


RELEASED = [
    click.option(
        "--released",
        "released_names",
        multiple=True,
        metavar="RELEASE",
        help="Treat RELEASE as released (repeatable): rollouts gated on it advance.",
    ),
    click.option("--all-released", is_flag=True, help="Treat every release as released."),
]


F = TypeVar("F", bound=Callable[..., Any])


def _with_released(function: F) -> F:
    for option in reversed(RELEASED):
        function = option(function)
    return function


@click.group("flags")
def group() -> None:
    """Feature flags: render flagd JSON, show stages and stale flags.

    \b
    Examples:
      relctl flags status --no-drift
      relctl flags render --at +1d --target prod-eu/shop/shop-flags
    """


@group.command("render")
@click.option("--at", "at_text", metavar="TIME", help="Instant (default now, or $RELCTL_NOW).")
@printing.formats(["json"], "json", files=True)
@click.option(
    "--target", metavar="CLUSTER/NAMESPACE/NAME", help="Only the flags applied to this target."
)
@_with_released
@common.ROOT_OPTION
def render(
    at_text: str | None,
    fmt: str,
    output: Path | None,
    target: str | None,
    released_names: tuple[str, ...],
    all_released: bool,
    root: Path | None,
) -> None:
    """Write the flagd flag JSON due at a time (a percentage stage is a `fractional` rule).

    \b
    Examples:
      relctl flags render --at +1d
      relctl flags render --target prod-eu/shop/shop-flags --output-file flags.json
    """
    at = options.parse_now(at_text)
    state = common.build_state(root, at)
    released = _released(released_names, all_released)
    document: dict[str, Any]
    if target is None:
        document = flags.render_all(state, at, released)
    else:
        documents = {
            f"{t.cluster}/{t.namespace}/{t.name}": d
            for t, d in flags.render(state, at, released).items()
        }
        if target not in documents:
            known = ", ".join(sorted(documents)) or "none"
            raise click.BadParameter(
                f"no flag targets {target} (targets: {known})", param_hint="--target"
            )
        document = documents[target]
    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {len(document['flags'])} flags to {output}", err=True)


def _drift(state: DesiredState, at: datetime, released: flags.Released) -> dict[str, str]:
    """Per flag: what its target in the cluster holds (in sync, a stage advancing, a hand
    edit), or why it could not be read."""
    found: dict[str, str] = {}
    connections: dict[str, KubeCluster | str] = {}
    for target, document in flags.render(state, at, released).items():
        if target.cluster not in connections:
            settings = state.config.spec.clusters.get(target.cluster)
            try:
                connections[target.cluster] = (
                    KubeCluster.connect(target.cluster, settings)
                    if settings is not None
                    else "cluster not declared in relctl.yaml"
                )
            except AdapterError as exc:
                connections[target.cluster] = str(exc)
        connection = connections[target.cluster]
        try:
            if isinstance(connection, str):
                raise AdapterError(connection)
            actual = read_flags(connection, target)
        except AdapterError as exc:
            found.update((name, f"drift unknown: {exc}") for name in document["flags"])
            continue
        fields = flags.drift(document["flags"], actual)
        for flag in flag_rollout.compare(state, at, released, target, actual):
            if flag.applied is flag_rollout.Applied.IN_SYNC:
                found[flag.flag] = "in sync"
            elif flag.applied is flag_rollout.Applied.DRIFT:
                found[flag.flag] = "DRIFT " + "; ".join(
                    f"{d.field}: desired {json.dumps(d.desired)}, actual {json.dumps(d.actual)}"
                    for d in fields
                    if d.flag == flag.flag
                )
            else:
                found[flag.flag] = flag.message
    for connection in connections.values():
        if not isinstance(connection, str):
            connection.close()
    return found


@group.command("status")
@click.option("--at", "at_text", metavar="TIME", help="Instant (default now, or $RELCTL_NOW).")
@click.option(
    "--drift/--no-drift",
    default=True,
    show_default=True,
    help="Read each flag's target in its cluster and report drift.",
)
@printing.formats(["text", "json"], "text")
@_with_released
@common.ROOT_OPTION
def status(
    at_text: str | None,
    drift: bool,
    fmt: str,
    released_names: tuple[str, ...],
    all_released: bool,
    root: Path | None,
) -> None:
    """Each flag's stage due now, where it is applied, and whether it is stale.

    Exit status 1 when a flag is stale.

    \b
    Examples:
      relctl flags status
      relctl flags status --no-drift -o yaml
    """
    at = options.parse_now(at_text)
    state = common.build_state(root, at)
    specs = {name: m.model.spec for name, m in state.flags.items()}
    released = _released(released_names, all_released)
    due = flags.stages(specs, at, released, state.config.spec.timezone)
    days = state.config.spec.flags.stale_after_days
    drifts = _drift(state, at, released) if drift else {}
    rows = []
    for name in sorted(specs):
        spec, stage = specs[name], due[name]
        rows.append(
            {
                "flag": name,
                "percent": stage.percent,
                "stage": stage.stage,
                "reason": stage.reason,
                "target": flags.target_of(spec).describe(),
                "state": spec.state,
                "stale": flags.stale_reason(spec, stage, at, days),
                "cluster": drifts.get(name),
            }
        )
    if fmt == "json":
        click.echo(json.dumps(rows, indent=2))
    else:
        width = max((len(name) for name in specs), default=4)
        for row in rows:
            stale = f"  STALE: {row['stale']}" if row["stale"] else ""
            cluster = f"  [{row['cluster']}]" if row["cluster"] else ""
            click.echo(
                f"{row['flag']:<{width}}  {row['percent']:>5g}%  {row['reason']}  "
                f"-> {row['target']}{cluster}{stale}"
            )
    if any(r["stale"] for r in rows):
        raise SystemExit(1)
