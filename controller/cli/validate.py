"""`relctl validate`: schema and semantic checks over manifests, every problem reported."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import click

from controller.cli import options, output, reporters
from controller.manifests import control_checks, loading
from controller.manifests.diagnostics import Diagnostic, Severity
from controller.manifests.state import DesiredState
from controller.plan.records import MAX_BYTES, RecordError, ReleaseStatus, from_yaml
from controller.schedule import validation

RECORDS = "releases"
"""Where under the status path each release's record is (as the controller writes it)."""


def build_diagnostics(
    root: Path, paths: tuple[Path, ...] | list[Path], now: datetime, limits: loading.Limits
) -> tuple[list[Diagnostic], int, int]:
    """`validation.build_diagnostics`, and the checks that need the records in the
    status folder: `attempt` below the recorded one, `abort` on a release not rolling
    out (RC225)."""
    return validation.build_diagnostics(
        root, paths, now, limits, lambda state: _repository_checks(root, state)
    )


def _repository_checks(top: Path, state: DesiredState) -> list[Diagnostic]:
    """The checks that read the repository beyond its manifests."""
    folder = (top / state.root).resolve()
    return [*control_checks.approvers(state, folder), *record_checks(state, _records(top, state))]


def _records(top: Path, state: DesiredState) -> dict[str, ReleaseStatus]:
    """The status files on disk (no git needed); one that is not a record is skipped:
    the controller reports it. `state.root` is the state's folder relative to `top`."""
    root = (top / state.root).resolve()
    folder = (root / state.config.spec.git.status_path / RECORDS).resolve()
    if root.resolve() not in folder.parents or not folder.is_dir():
        return {}
    found = {}
    for path in sorted(folder.glob("*.yaml")):
        if path.is_symlink() or not path.is_file() or path.stat().st_size > MAX_BYTES:
            continue
        try:
            status = from_yaml(path.read_text(encoding="utf-8"), path.name)
        except (RecordError, UnicodeDecodeError):
            continue
        found[status.release] = status
    return found


def record_checks(state: DesiredState, recorded: dict[str, ReleaseStatus]) -> list[Diagnostic]:
    found = []
    for name, manifest in state.releases.items():
        spec, status = manifest.model.spec, recorded.get(name)
        attempt = status.attempt if status is not None else 1
        if spec.attempt < attempt:
            found.append(
                manifest.diagnostic(
                    "RC225",
                    f"attempt {spec.attempt} is below attempt {attempt}, the one recorded: "
                    f"attempts only go up (relctl retry sets the next)",
                    ("spec", "attempt"),
                )
            )
        if spec.abort and (status is None or not (status.phase.deployed or status.phase.final)):
            phase = status.phase.value if status is not None else "not recorded yet"
            found.append(
                manifest.diagnostic(
                    "RC225",
                    f"abort on a release that has not started its rollout ({phase}): abort "
                    "stops a rollout; to stop this release, suspend it or remove it",
                    ("spec", "abort"),
                )
            )
    return found


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@output.formats(["text", "json", "github"], "text")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option(
    "--root",
    type=click.Path(exists=True, file_okay=False, path_type=Path),
    help="Repository root (default: the enclosing git work tree, or the current "
    "directory). Files outside it are refused.",
)
@click.option(
    "--now",
    "now_text",
    metavar="TIME",
    help="Evaluate time-dependent checks at TIME (ISO 8601 with offset; "
    "default now, or $RELCTL_NOW).",
)
@click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=loading.DEFAULT_MAX_FILE_SIZE,
    show_default=True,
    help="Largest manifest file accepted, in bytes.",
)
def command(
    paths: tuple[Path, ...],
    fmt: str,
    strict: bool,
    root: Path | None,
    now_text: str | None,
    max_file_size: int,
) -> None:
    """Validate manifests against the schemas and the semantic rules.

    PATHS are files or directories (default: relctl.yaml and the manifests directory of the
    repository). A directory with its own relctl.yaml is a separate set of manifests whose
    references resolve within it. Exit status: 0 valid, 1 invalid, 2 usage error.

    \b
    Examples:
      relctl validate                          # relctl.yaml and releases/
      relctl validate releases/ -o github      # annotations in a GitHub workflow
      relctl validate --strict -o json
    """
    now = options.parse_now(now_text, "--now")
    root = (root or options.find_root(Path.cwd())).resolve()
    found, manifests, files = build_diagnostics(root, paths, now, loading.Limits(max_file_size))
    if files == 0:
        # A CI job in the wrong folder must not pass green on nothing.
        click.echo(
            f"relctl: no manifests found under {root} (looked for relctl.yaml and the "
            "manifests directory, default releases/); give the repository with --root or "
            "the files to check",
            err=True,
        )
        raise SystemExit(1)
    failing = any(d.severity is Severity.ERROR or strict for d in found)
    if fmt == "json":
        click.echo(reporters.as_json(found, manifests, files, not failing))
    elif fmt == "github":
        if found:
            click.echo(reporters.github(found))
        click.echo(
            reporters.text([], manifests, files, color=False).splitlines()[-1]
            if not found
            else f"{len(found)} problem(s) annotated",
            err=True,
        )
    else:
        color = output.color()
        click.echo(reporters.text(found, manifests, files, color=color, strict=strict))
    if failing:
        raise SystemExit(1)
