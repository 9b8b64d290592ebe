"""Loading the repository's desired state for commands that act on it.

Commands other than `validate` refuse to work from invalid manifests: they print the
diagnostics (as `validate` would) and exit 1, writing nothing.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import click

from controller.adapters.git import GitError, StatusRepository
from controller.cli import options, output, reporters
from controller.manifests import loading
from controller.manifests.config import GitConfig
from controller.manifests.state import DesiredState
from controller.plan.records import ReleaseStatus
from controller.reconcile.passes import read_statuses
from controller.schedule.validation import build_diagnostics, fatal, without_broken_releases

ROOT_OPTION = click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    envvar="RELCTL_ROOT",
    help="Repository root (default: $RELCTL_ROOT, the enclosing git work tree, or the current "
    "directory).",
)


def build_state(root: Path | None, now: datetime) -> DesiredState:
    """The repository's valid desired state, or exit 1 after printing why it is invalid."""
    root = (root or options.find_root(Path.cwd())).resolve()
    found, manifests, files = build_diagnostics(root, (), now, loading.Limits())
    # Like the controller, commands plan around what concerns one release alone: a
    # departure inside a freeze moves past it, and an invalid release is left out (said
    # on stderr). `relctl validate` reports both as errors.
    errors = fatal(found)
    result = loading.load(root)
    isolated = (
        without_broken_releases(result.states[0], errors, now) if errors and result.states else None
    )
    if errors and isolated is None:
        click.echo(
            reporters.text(errors, manifests, files, color=output.color(sys.stderr)), err=True
        )
        click.echo("relctl: the manifests are invalid; fix them first (relctl validate)", err=True)
        raise SystemExit(1)
    if isolated is not None:
        state, broken = isolated
        for name, first in sorted(broken.items()):
            click.echo(
                f"relctl: release {name} is left out: {first.file}:{first.line}:{first.column}: "
                f"{first.code} {first.message}",
                err=True,
            )
        return state
    if not result.states:
        raise click.UsageError(f"no manifests found under {root}")
    return result.states[0]


def recorded_statuses(root: Path, settings: GitConfig) -> dict[str, ReleaseStatus]:
    """The records in the work tree; none when it is not a git work tree."""
    try:
        repo = StatusRepository(root, settings)
    except GitError:
        return {}
    with repo:
        return read_statuses(repo)
