"""Every file of the invalid corpus gets exactly its expected diagnostics, and the CLI
reports them with a non-zero exit and no traceback."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from click.testing import CliRunner

from controller.cli import cli
from controller.cli.validate import build_diagnostics
from controller.manifests.diagnostics import CODES, Severity
from controller.manifests.loading import Limits
from tests.conftest import DATA, NOW

CORPUS = DATA / "invalid"
CASES: list[dict[str, Any]] = yaml.safe_load((CORPUS / "cases.yaml").read_text())


def _run(case: dict[str, Any]) -> list[Any]:
    path = CORPUS / case["case"]
    limits = Limits(case.get("maxFileSize", Limits().max_file_size))
    if path.is_dir():
        found, _, _ = build_diagnostics(path, (), NOW, limits)
    else:
        found, _, _ = build_diagnostics(CORPUS, (path,), NOW, limits)
    return found


def test_corpus_is_large_and_indexed() -> None:
    assert len(CASES) >= 40
    on_disk = {p.name for p in CORPUS.iterdir() if p.name != "cases.yaml"}
    assert on_disk == {c["case"] for c in CASES}


def test_every_file_level_and_semantic_code_is_exercised() -> None:
    used = {e["code"] for c in CASES for e in c["expect"]}
    # RC008 (a path outside the repository) is a command-line matter: see test_cli.
    assert set(CODES) - used == {"RC008"}


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_case_reports_exactly_its_diagnostics(case: dict[str, Any]) -> None:
    found = _run(case)
    # File names are relative to the root validated: the corpus, or the case directory.
    got = [(f"{d.file}:{d.line}:{d.column}", d.code, d.field, str(d.severity)) for d in found]
    want = [(e["at"], e["code"], e["field"], e.get("severity", "error")) for e in case["expect"]]
    assert got == want
    for diagnostic, expected in zip(found, case["expect"], strict=True):
        assert expected["message"] in diagnostic.message


@pytest.mark.parametrize("case", CASES, ids=[c["case"] for c in CASES])
def test_cli_fails_cleanly(case: dict[str, Any]) -> None:
    path = CORPUS / case["case"]
    args = ["validate", "--strict", "--now", NOW.isoformat()]
    if "maxFileSize" in case:
        args += ["--max-file-size", str(case["maxFileSize"])]
    args += ["--root", str(path)] if path.is_dir() else ["--root", str(CORPUS), str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    first = case["expect"][0]
    assert f"{first['code']}" in result.output
    assert first["at"] in result.output


def test_secrets_never_echoed() -> None:
    result = CliRunner().invoke(cli, ["validate", "--root", str(CORPUS / "secret-inline")])
    assert result.exit_code == 1
    assert "s3cr3t" not in result.output


def test_warnings_alone_do_not_fail_without_strict() -> None:
    path = CORPUS / "warning-flag-past-remove-by.yaml"
    args = ["validate", "--now", NOW.isoformat(), "--root", str(CORPUS), str(path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "warning RC301" in result.output
    assert all(
        d.severity is Severity.WARNING for d in _run({"case": "warning-flag-past-remove-by.yaml"})
    )
