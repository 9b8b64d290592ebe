"""`relctl validate` and `relctl schema export` through click's runner, and once as a real
process."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from controller.cli import cli
from tests.conftest import DATA, NOW, REPO

INVALID = DATA / "invalid"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args))
    return result.exit_code, result.output


def test_shipped_state_and_examples_are_valid() -> None:
    code, output = invoke(
        "validate", "--root", str(REPO), str(REPO / "releases"), str(REPO / "examples")
    )
    assert code == 0, output
    assert "✓ valid" in output


def test_default_paths_are_relctl_yaml_and_releases() -> None:
    code, output = invoke("validate", "--root", str(REPO), "-o", "json")
    report = json.loads(output)
    assert code == 0 and report["valid"] is True
    assert report["files"] == 1 + len(list((REPO / "releases").rglob("*.yaml")))


def test_json_report_lists_every_diagnostic() -> None:
    case = INVALID / "schema-bad-name.yaml"
    code, output = invoke("validate", "-o", "json", "--root", str(INVALID), str(case))
    report = json.loads(output)
    assert code == 1
    assert report["valid"] is False and report["errors"] == 3
    assert [d["field"] for d in report["diagnostics"]] == [
        "metadata.name",
        "spec.image",
        "spec.workloads[0].deployment",
    ]


def test_github_annotations() -> None:
    case = INVALID / "schema-unknown-field.yaml"
    code, output = invoke("validate", "-o", "github", "--root", str(INVALID), str(case))
    assert code == 1
    assert (
        "::error file=schema-unknown-field.yaml,line=9,col=3,title=RC102 spec.dependOn::"
        "unknown field 'dependOn'; did you mean 'dependsOn'?"
    ) in output


def test_all_errors_of_a_directory_are_reported() -> None:
    code, output = invoke("validate", "--now", NOW.isoformat(), "--root", str(DATA), str(INVALID))
    assert code == 1
    assert output.count("error RC") >= 60


def test_nothing_to_validate_fails(tmp_path: Path) -> None:
    """A CI job run in the wrong folder must not pass green on nothing."""
    result = CliRunner().invoke(cli, ["validate", "--root", str(tmp_path)])
    assert result.exit_code == 1
    assert "no manifests found" in result.output
    assert "✓" not in result.output


def test_strict_says_it_fails_on_warnings() -> None:
    flag = str(DATA / "invalid" / "warning-zone-without-dst.yaml")
    code, output = invoke("validate", "--root", str(DATA / "invalid"), "--strict", flag)
    assert code == 1
    assert output.splitlines()[-1] == "✗ 1 warning, which --strict fails on (1 manifest in 1 file)"
    code, output = invoke("validate", "--root", str(DATA / "invalid"), flag)
    assert code == 0 and output.splitlines()[-1].startswith("✓ valid with 1 warning")


def test_usage_errors_exit_2() -> None:
    assert invoke("validate", "/no/such/path")[0] == 2
    assert invoke("validate", "-o", "xml")[0] == 2
    assert invoke("validate", "--now", "the day after")[0] == 2
    assert invoke("validate", "--now", "2026-13-01")[0] == 2


def test_schema_export_check(tmp_path: Path) -> None:
    assert invoke("schema", "export", "--check", "--output-dir", str(REPO / "schemas"))[0] == 0
    assert invoke("schema", "export", "--check", "--output-dir", str(tmp_path))[0] == 1
    code, said = invoke("schema", "export", "-o", str(tmp_path))  # the old spelling
    assert "-o " in said and "is deprecated" in said and "--output-dir" in said
    assert code == 0
    assert invoke("schema", "export", "--check", "--output-dir", str(tmp_path))[0] == 0


def _relctl() -> list[str]:
    script = Path(sys.executable).parent / "relctl"
    if script.exists():
        return [str(script)]
    found = shutil.which("relctl")
    return [found] if found else [sys.executable, "-m", "controller"]


def test_real_process_exit_codes_and_no_traceback() -> None:
    ok = subprocess.run(
        [*_relctl(), "validate", "releases/", "examples/"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    bad = subprocess.run(
        [*_relctl(), "validate", "--root", str(INVALID), str(INVALID / "yaml-billion-laughs.yaml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert bad.returncode == 1
    assert "yaml-billion-laughs.yaml:1:8: error RC003" in bad.stdout
    assert "Traceback" not in bad.stdout + bad.stderr


@pytest.mark.parametrize(
    ("typed", "wanted"),
    [
        ("2026-12-08T09:00+01:00", "2026-12-08T08:00:00+00:00"),
        ("2026-12-08", "2026-12-07T23:00:00+00:00"),  # local midnight, Europe/Berlin
        ("2026-12-08 09:00", "2026-12-08T08:00:00+00:00"),
        ("2026-07-08T09:00", "2026-07-08T07:00:00+00:00"),  # summer time
    ],
)
def test_times_as_people_type_them(
    typed: str, wanted: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from controller.cli.options import parse_time

    monkeypatch.setenv("RELCTL_TIMEZONE", "Europe/Berlin")
    assert parse_time(typed).isoformat() == wanted


def test_relative_times_count_from_now(monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime, timedelta
    from zoneinfo import ZoneInfo

    from controller.cli.options import parse_time

    monkeypatch.setenv("RELCTL_TIMEZONE", "America/New_York")
    before = datetime.now(UTC)
    later = parse_time("+2d")
    assert timedelta(days=2) <= later - before < timedelta(days=2, seconds=5)
    assert timedelta(minutes=89) < before - parse_time("-90m") <= timedelta(minutes=90)
    assert abs(parse_time("now") - before) < timedelta(seconds=5)
    tomorrow = parse_time("Tomorrow 09:00").astimezone(ZoneInfo("America/New_York"))
    today = before.astimezone(ZoneInfo("America/New_York")).date()
    assert (tomorrow.date() - today).days == 1 and (tomorrow.hour, tomorrow.minute) == (9, 0)


def test_plan_takes_a_relative_time(tmp_path: Path) -> None:
    code, output = invoke("plan", "--offline", "--root", str(REPO), "--at", "+1d")
    assert code == 0, output
    assert output.startswith("Plan at ") and " Europe/Berlin: " in output.splitlines()[0]
    assert "." not in output.splitlines()[0].split(" Europe/Berlin")[0][-10:]  # no microseconds


def test_the_version_is_the_installed_one_from_git() -> None:
    """`relctl --version` says the version setuptools-scm took from git (a tag, or the
    commits after one), the same as the installed distribution's."""
    import re
    from importlib.metadata import version

    code, output = invoke("--version")
    assert code == 0
    assert output.strip() == f"relctl, version {version('relctl')}"
    assert re.fullmatch(r"\d+\.\d+\.\d+(\.dev\d+\+g[0-9a-f]+(\.d\d{8})?)?", version("relctl"))
