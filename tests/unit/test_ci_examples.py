"""The CI examples are what GitHub and GitLab accept (their published schemas, vendored
by check-jsonschema) and use today's spellings: `-o`, an install from the git repository
at a tag, `plan --base` for the pull request's comment."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO

CHECK = Path(sys.executable).parent / "check-jsonschema"


@pytest.mark.parametrize(
    ("example", "schema"),
    [("github-actions.yml", "vendor.github-workflows"), ("gitlab-ci.yml", "vendor.gitlab-ci")],
)
def test_ci_examples_follow_their_platforms_schema(example: str, schema: str) -> None:
    path = REPO / "examples" / "ci" / example
    done = subprocess.run(
        [str(CHECK), "--builtin-schema", schema, str(path)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stdout + done.stderr
    text = path.read_text(encoding="utf-8")
    assert "--format" not in text and "pip install relctl\n" not in text
    assert "git+https://github.com/relctl/relctl@v" in text
    assert "plan --offline --base" in text
