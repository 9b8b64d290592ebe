"""`relctl plan --offline` (a PR job without credentials) and `relctl status`."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from controller.cli import cli

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""


def test_offline_plan_markdown_names_the_window_and_when_it_opens() -> None:
    result = CliRunner().invoke(
        cli,
        [
            "plan",
            "--offline",
            "--root",
            str(SHOP),
            "--at",
            "2026-12-10T12:00:00+01:00",
            "-o",
            "markdown",
        ],
    )
    assert result.exit_code == 0, result.output
    assert result.output.startswith("### relctl plan at 2026-12-10 12:00:00 Europe/Berlin")
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
            str(SHOP),
            "--at",
            "2026-11-23T12:00:00Z",
            "-o",
            "json",
        ],
    )
    assert result.exit_code == 0, result.output
    document = json.loads(result.output)
    assert document["actions"] == []  # nothing observed, nothing to change
    assert document["releases"]["shop-2026-25"]["phase"] == "Scheduled"
    assert any(f["kind"] == "stale-flag" for f in document["findings"])


def test_status_without_records() -> None:
    result = CliRunner().invoke(cli, ["status", "--root", str(SHOP)])
    assert result.exit_code == 0, result.output
    assert "no release status recorded yet" in result.output
    missing = CliRunner().invoke(cli, ["status", "nope", "--root", str(SHOP)])
    assert missing.exit_code == 2
    assert "no status recorded for release 'nope'" in missing.output


def test_a_departure_left_implicit_is_judged_like_a_declared_one(tmp_path: Path) -> None:
    """A release without `departure` rides the train's next one. When that one is inside
    the holiday freeze, validate says so (as it does for a declared departure) and plan
    shows the release moved past the freeze, before and at that departure."""
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(SHOP / "releases", root / "releases")
    shutil.copy2(SHOP / "relctl.yaml", root / "relctl.yaml")
    release = (root / "releases/releases/shop-2026-25.yaml").read_text(encoding="utf-8")
    implicit = release.replace("name: shop-2026-25", "name: shop-next").replace(
        "  departure: 2026-12-08\n", ""
    )
    assert implicit != release and "departure:" not in implicit
    (root / "releases/releases/shop-next.yaml").write_text(
        implicit.replace('version: "2026.25"', 'version: "2026.26"'), encoding="utf-8"
    )
    runner = CliRunner()
    for strict in ([], ["--strict"]):
        checked = runner.invoke(
            cli,
            ["validate", *strict, "--root", str(root), "--now", "2026-12-09T12:00:00+01:00"],
        )
        assert checked.exit_code == 1, checked.output
        assert "shop-next.yaml" in checked.output and "RC207" in checked.output
        assert "the train's next departure, 2026-12-22 09:00 (Europe/Berlin)" in checked.output
    for when in ("2026-12-09T12:00:00+01:00", "2026-12-22T09:00:00+01:00"):
        result = runner.invoke(
            cli, ["plan", "--offline", "--root", str(root), "--at", when, "-o", "json"]
        )
        assert result.exit_code == 0, result.output
        document = json.loads(result.output)
        moved = [d for d in document["decisions"] if d["release"] == "shop-next"]
        assert [d["decision"] for d in moved] == ["RESCHEDULED"], moved
        assert "inside 'holiday-freeze'" in moved[0]["rationale"]
        assert "2027-01-05 09:00 Europe/Berlin" in moved[0]["rationale"]


def test_one_invalid_release_does_not_silence_status_and_plan(tmp_path: Path) -> None:
    """validate fails on it; status and plan leave it out, say so on stderr, and answer
    for every other release."""
    import shutil

    root = tmp_path / "repo"
    shutil.copytree(SHOP / "releases", root / "releases")
    shutil.copy2(SHOP / "relctl.yaml", root / "relctl.yaml")
    path = root / "releases/releases/notifications-1-9.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{name: notifications,", "{name: notifs,"), encoding="utf-8")
    runner = CliRunner()
    checked = runner.invoke(cli, ["validate", "--root", str(root), "--now", "2026-11-23T12:00Z"])
    assert checked.exit_code == 1 and "notifs" in checked.output
    planned = runner.invoke(
        cli,
        ["plan", "--offline", "--root", str(root), "--at", "2026-11-23T12:00Z", "-o", "json"],
    )
    assert planned.exit_code == 0, planned.output
    assert "release notifications-1-9 is left out" in planned.stderr
    assert "releases/releases/notifications-1-9.yaml:12:" in planned.stderr
    document = json.loads(planned.stdout)
    assert "notifications-1-9" not in document["releases"]
    assert "shop-2026-25" in document["releases"]
    status = runner.invoke(cli, ["status", "--root", str(root)])
    assert status.exit_code == 0, status.output
