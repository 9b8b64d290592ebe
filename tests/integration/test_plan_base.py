"""`relctl plan --base REF`: what a branch changes in the plan compared with its base, as
a pull-request comment needs it (a real git repository; the base read with git archive)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from click.testing import CliRunner

from controller.cli import cli
from tests.conftest import SHOP

AT = "2026-12-01T12:00:00+01:00"
FREEZE = """\
apiVersion: relctl.dev/v1alpha1
kind: BlackoutWindow
metadata: {name: payments-audit}
spec:
  kind: deny
  reason: The payments audit; nothing ships.
  start: "2026-12-07T00:00:00"
  end: "2026-12-12T00:00:00"
  timezone: Europe/Berlin
"""


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@x", *args],
        cwd=root, check=True, capture_output=True, text=True,
    )  # fmt: skip
    return done.stdout.strip()


def test_a_branch_shows_what_it_changes_and_only_that(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    shutil.copytree(SHOP, root)
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-qm", "base")
    args = ["plan", "--offline", "--root", str(root), "--at", AT, "--base", "main"]
    same = CliRunner().invoke(cli, args)
    assert same.exit_code == 0, same.output
    assert same.output.startswith("Compared with main (") and "the plan is the same" in same.output

    git(root, "switch", "-q", "-c", "audit")
    (root / "releases/windows/payments-audit.yaml").write_text(FREEZE)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "A payments audit freeze")
    done = CliRunner().invoke(cli, [*args, "-o", "json"])
    assert done.exit_code == 0, done.output
    change = json.loads(done.output)
    assert change["base"].startswith("main (") and not change["same"]
    moved = {d["release"]: (d["base"], d["head"]) for d in change["departures"]}
    assert moved["shop-2026-25"][0] == "2026-12-08 09:00 Europe/Berlin"
    assert moved["shop-2026-25"][1] != moved["shop-2026-25"][0]
    added = [d for d in change["decisions"]["added"] if d["release"] == "shop-2026-25"]
    assert added and added[0]["decision"] == "RESCHEDULED"
    assert "payments-audit" in added[0]["rationale"]
    markdown = CliRunner().invoke(cli, [*args, "-o", "markdown"]).output
    assert markdown.startswith("### What this change does to the release plan (compared with `main")
    assert "| shop-2026-25 | 2026-12-08 09:00 Europe/Berlin |" in markdown

    wrong = CliRunner().invoke(cli, [*args[:-1], "no-such-ref"])
    assert wrong.exit_code == 2 and "--base" in wrong.output
