"""`relctl readiness` and `relctl notes`: read the release's issues from Jira and report.

Where Jira is and the credentials come from the environment (RELCTL_JIRA_URL or
`--jira-url`, RELCTL_JIRA_EMAIL, RELCTL_JIRA_TOKEN or their _FILE forms), never from the
repository; relctl.yaml's `jira` says the flavor, paging and issue categories.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import click

from controller.adapters.jira import JiraClient, settings_from
from controller.cli import common, completion, options
from controller.cli import output as printing
from controller.manifests.models import Release
from controller.manifests.state import DesiredState
from controller.plan import notes as release_notes
from controller.plan import readiness as release_readiness
from controller.plan.observed import JiraObservation

JIRA_URL = click.option(
    "--jira-url", metavar="URL", help="Jira base URL (default $RELCTL_JIRA_URL)."
)


def build_client(state: DesiredState, jira_url: str | None) -> JiraClient:
    config = state.config.spec.jira
    if config is None:
        raise click.UsageError("relctl.yaml declares no 'jira' connection")
    return JiraClient(settings_from(config, os.environ, jira_url))


def observe_release(
    state: DesiredState,
    name: str,
    jira_url: str | None,
) -> tuple[Release, JiraObservation, str]:
    manifest = state.releases.get(name)
    if manifest is None:
        known = ", ".join(sorted(state.releases)) or "none"
        raise click.BadParameter(
            f"no release named {name!r} (known: {known})", param_hint="RELEASE"
        )
    release = manifest.model
    projects = release_readiness.projects_of(state, release)
    with build_client(state, jira_url) as client:
        observation = client.observe(
            {p: [release.spec.version] for p in projects}, now=datetime.now(UTC)
        )
        return release, observation, client.settings.url


def _write(text: str, output: Path | None) -> None:
    if output is None:
        click.echo(text, nl=False)
    else:
        output.write_text(text, encoding="utf-8")
        click.echo(f"wrote {output}", err=True)


@click.command("readiness")
@click.argument("release", shell_complete=completion.RELEASES)
@printing.formats(["text", "markdown", "json"], "text", files=True)
@JIRA_URL
@common.ROOT_OPTION
def readiness_command(
    release: str, fmt: str, output: Path | None, jira_url: str | None, root: Path | None
) -> None:
    """Completion, status categories, blockers, critical bugs and missing approvals of
    RELEASE, judged against its gates: ready, at_risk or not_ready (exit 1 unless ready).

    \b
    Examples:
      relctl readiness shop-2026-25
      relctl readiness shop-2026-25 -o markdown --output-file readiness.md
    """
    state = common.build_state(root, options.parse_now(None))
    model, observation, browse = observe_release(state, release, jira_url)
    result = release_readiness.assess(state, model, observation)
    render = {
        "text": release_readiness.to_text,
        "markdown": release_readiness.to_markdown,
        "json": release_readiness.to_json,
    }[fmt]
    text = render(result, browse)
    _write(text if text.endswith("\n") else text + "\n", output)
    if result.status is not release_readiness.ReadinessStatus.READY:
        raise SystemExit(1)


@click.command("notes")
@click.argument("release", shell_complete=completion.RELEASES)
@printing.formats(["markdown", "html", "json"], "markdown", files=True)
@JIRA_URL
@common.ROOT_OPTION
def notes_command(
    release: str, fmt: str, output: Path | None, jira_url: str | None, root: Path | None
) -> None:
    """Release notes for RELEASE across all of its Jira projects.

    \b
    Examples:
      relctl notes shop-2026-25
      relctl notes shop-2026-25 -o html --output-file notes.html
    """
    state = common.build_state(root, options.parse_now(None))
    model, observation, browse = observe_release(state, release, jira_url)
    built = release_notes.build(state, model, observation, browse)
    render = {
        "markdown": release_notes.to_markdown,
        "html": release_notes.to_html,
        "json": release_notes.to_json,
    }[fmt]
    _write(render(built), output)
