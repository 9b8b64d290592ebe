"""`relctl dashboard build`: the dashboard as a static site, from the repository's
manifests and status files alone (no Jira, no cluster), for any static host or a CI
artifact. The controller serves the same pages live at `/`."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

import click

from controller.cli import common, options
from controller.manifests.state import DesiredState
from controller.reconcile.dashboard import Dashboard
from controller.web.site import Site

MARKER = ".relctl-dashboard"
"""Marks a folder as a dashboard build: only such a folder (or an empty one) is replaced."""


@click.group("dashboard")
def group() -> None:
    """The release dashboard: overview, releases with their timelines, calendar, flags and
    delivery metrics. The controller serves it live at /; `build` writes it as files.

    \b
    Example:
      relctl dashboard build --out public/
    """


def commit_url_option(value: str | None) -> str:
    if value and not value.startswith(("https://", "http://")):
        raise click.BadParameter("must be an http(s) URL with {sha}", param_hint="--commit-url")
    if value and "{sha}" not in value:
        raise click.BadParameter("must contain {sha}", param_hint="--commit-url")
    return value or ""


@group.command("build")
@click.option(
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder to write the site into: new, empty, or an earlier build (replaced whole).",
)
@click.option(
    "--commit-url",
    metavar="URL",
    help="Link each commit page to the git host too, e.g. https://git.example/org/repo/commit/{sha}.",
)
@click.option("--now", "now_text", metavar="TIME", help="Render as of TIME (default now).")
@common.ROOT_OPTION
def build(out: Path, commit_url: str | None, now_text: str | None, root: Path | None) -> None:
    """Write the dashboard as a static site into --out.

    \b
    Example:
      relctl dashboard build --out public/
      python -m http.server -d public/ 8000
    """
    link = commit_url_option(commit_url)
    now = options.parse_now(now_text, "--now")
    state = common.build_state(root, now)
    workdir = (root or options.find_root(Path.cwd())).resolve()
    count, problems = write_site(workdir, state, now, out.absolute(), link)
    for problem in problems:
        click.echo(f"relctl: {problem}", err=True)
    click.echo(f"wrote {count} files to {out} (open {out / 'index.html'})")


def write_site(
    workdir: Path, state: DesiredState, now: datetime, out: Path, link: str
) -> tuple[int, list[str]]:
    """Write the static site into `out` whole, or not at all: it is made beside `out` and
    renamed into place. (files written, problems met reading the records)"""
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise click.UsageError(f"{out} is not empty and not a dashboard build; give a new folder")
    snapshot = Dashboard(workdir, link).snapshot(state, state.config.spec.git, now)
    site = Site(snapshot, static=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        count = 0
        for relative, body in site.pages():
            target = (staging / relative).resolve()
            if staging.resolve() not in target.parents:
                continue  # never outside the site's folder
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            count += 1
        (staging / MARKER).write_text("written by relctl dashboard build\n", encoding="utf-8")
        if out.exists():
            shutil.rmtree(out)
        staging.rename(out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return count, [p.message for p in snapshot.findings]
