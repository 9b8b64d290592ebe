"""`relctl readiness` and `relctl notes` through the CLI against the seeded emulator,
compared with golden files (set RELCTL_UPDATE_GOLDEN=1 to rewrite them, then review the
diff)."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

from controller.cli import cli
from controller.sandbox.jira import JiraSandbox
from tests.conftest import DATA, SHOP

GOLDEN = DATA / "golden"
BROWSE = "https://jira.shop.example"


@pytest.fixture(scope="module")
def jira() -> Iterator[JiraSandbox]:
    with JiraSandbox("cloud") as sandbox:
        sandbox.state.seed_file(DATA / "jira" / "shop.yaml")
        yield sandbox


def run(jira: JiraSandbox, *args: str) -> tuple[int, str]:
    env = {
        "RELCTL_JIRA_URL": jira.url,
        "RELCTL_JIRA_EMAIL": "relctl@shop.example",
        "RELCTL_JIRA_TOKEN": "sandbox-token",
    }
    result = CliRunner().invoke(cli, [*args, "--root", str(SHOP)], env=env)
    return result.exit_code, result.output.replace(jira.url, BROWSE)


def golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if os.environ.get("RELCTL_UPDATE_GOLDEN") == "1":
        path.write_text(text, encoding="utf-8")
    assert text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize(("fmt", "suffix"), [("markdown", "md"), ("json", "json"), ("text", "txt")])
def test_readiness_golden(jira: JiraSandbox, fmt: str, suffix: str) -> None:
    code, output = run(jira, "readiness", "shop-2026-25", "-o", fmt)
    assert code == 1  # a blocker, a critical bug and a missing approval: not ready
    golden(f"readiness-shop-2026-25.{suffix}", output)


def test_readiness_verdicts(jira: JiraSandbox) -> None:
    code, output = run(jira, "readiness", "shop-2026-25", "-o", "json")
    report = json.loads(output)
    assert report["status"] == "not_ready"
    assert [b["key"] for b in report["blockers"]] == ["SHOP-107"]
    assert [b["key"] for b in report["criticalBugs"]] == ["SHOP-106"]
    assert report["missingApprovals"] == ["product-owner"]
    assert (report["done"], report["total"]) == (5, 8)
    code, output = run(jira, "readiness", "payments-2026-25", "-o", "json")
    assert json.loads(output)["status"] == "ready" and code == 0


@pytest.mark.parametrize(
    ("fmt", "suffix"), [("markdown", "md"), ("html", "html"), ("json", "json")]
)
def test_notes_golden(jira: JiraSandbox, fmt: str, suffix: str) -> None:
    code, output = run(jira, "notes", "shop-2026-25", "-o", fmt)
    assert code == 0
    golden(f"notes-shop-2026-25.{suffix}", output)


def test_notes_for_customers_hide_internal_issues(jira: JiraSandbox) -> None:
    _, output = run(jira, "notes", "shop-2026-25")
    assert "SHOP-105" not in output  # labelled internal; the release's audience is customers
    assert "Migration: Clients still calling /cart/v1" in output
    _, internal = run(jira, "notes", "payments-2026-25")
    assert "PAY-230" in internal and "PAY-231" in internal


def test_notes_are_deterministic(jira: JiraSandbox) -> None:
    assert run(jira, "notes", "shop-2026-25")[1] == run(jira, "notes", "shop-2026-25")[1]


def test_unknown_release_and_no_jira(jira: JiraSandbox) -> None:
    code, output = run(jira, "notes", "nope")
    assert code == 2 and "no release named 'nope'" in output
