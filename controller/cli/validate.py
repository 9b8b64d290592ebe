"""`relctl validate`: schema and semantic checks over manifests, every problem reported."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from controller.cli import options, reporters
from controller.manifests import loading
from controller.manifests.diagnostics import Severity
from controller.schedule.validation import build_diagnostics


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "json", "github"]),
    default="text",
    show_default=True,
    help="Output format; github prints workflow annotations.",
)
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
    """
    now = options.parse_now(now_text, "--now")
    root = (root or options.find_root(Path.cwd())).resolve()
    found, manifests, files = build_diagnostics(root, paths, now, loading.Limits(max_file_size))
    if files == 0:
        click.echo(
            f"relctl: no manifests found under {root} (looked for relctl.yaml and the "
            "manifests directory, default releases/)",
            err=True,
        )
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
        color = sys.stdout.isatty()
        click.echo(reporters.text(found, manifests, files, color=color))
    if failing:
        raise SystemExit(1)
