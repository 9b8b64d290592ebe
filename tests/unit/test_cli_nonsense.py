"""Nonsense on the command line (tests/data/cli/nonsense.yaml) gets a clear message and
exit 1 or 2: never an internal error, a traceback, or a file made where none was asked."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
CASES = yaml.safe_load((REPO / "tests/data/cli/nonsense.yaml").read_text())


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("repo")
    shutil.copy(SHOP / "relctl.yaml", root / "relctl.yaml")
    shutil.copytree(SHOP / "releases", root / "releases")
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


@pytest.mark.parametrize("argv", CASES, ids=[" ".join(c) for c in CASES])
def test_nonsense_is_refused_clearly(workspace: Path, argv: list[str]) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RELCTL_")}
    before = sorted(p.name for p in workspace.iterdir())
    done = subprocess.run(
        [sys.executable, "-m", "controller", *argv],
        cwd=workspace,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    message = done.stderr + done.stdout
    assert done.returncode in (1, 2), message
    assert "Traceback" not in message and "internal error" not in message, message
    assert message.strip(), "a refusal says why"
    assert "pass@" not in message and ":pass" not in message  # no credential echoed
    assert sorted(p.name for p in workspace.iterdir()) == before
    assert not Path("/nonexistent").exists()
