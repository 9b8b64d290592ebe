"""`relctl plan --offline` (a PR job without credentials) and `relctl status`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from controller.cli import cli

REPO = Path(__file__).resolve().parents[2]


def test_offline_plan_markdown_names_the_window_and_when_it_opens() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--offline",
            "--root",
            str(REPO),
            "--at",
            "2026-12-10T12:00:00+01:00",
            "--format",
            "markdown",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("### relctl plan at 2026-12-10T11:00:00+00:00")
    assert "**Blocked by windows**" in result.output
    assert "search-2027-1" in result.output and "us-business-hours" in result.output
    assert "| release | phase | departs |" in result.output


def test_offline_plan_json_is_data() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--offline",
            "--root",
            str(REPO),
            "--at",
            "2026-11-23T12:00:00Z",
            "--format",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["actions"] == []  # nothing observed, nothing to change
    assert document["releases"]["shop-2026-25"]["phase"] == "Scheduled"
    assert any(f["kind"] == "stale-flag" for f in document["findings"])


def test_status_without_records() -> None:
    result = CliRunner().invoke(cli, ["status", "--root", str(REPO)])
    assert result.exit_code == 0, result.output
    assert "no release status recorded yet" in result.output
    missing = CliRunner().invoke(cli, ["status", "nope", "--root", str(REPO)])
    assert missing.exit_code == 2
    assert "no status recorded for release 'nope'" in missing.output
