"""`relctl suspend | resume | abort | retry | approve` against a bare remote: the commit,
its message and trailers, the file kept as people wrote it but for the one field, the
diff of `--dry-run`, a branch for a pull request, and an approval signed with the
person's own key that the controller then counts."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner, Result

from controller.adapters.approvals import Verifier
from controller.cli import cli
from controller.errors import RelctlError
from controller.manifests.loading import load
from tests.conftest import SHOP

FILE = "releases/releases/shop-2026-25.yaml"


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


@pytest.fixture
def clone(tmp_path: Path) -> Path:
    remote = tmp_path / "remote.git"
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(remote))
    work = tmp_path / "work"
    shutil.copytree(SHOP, work)
    git(work, "init", "-q", "-b", "main")
    git(work, "config", "user.name", "Priya PO")
    git(work, "config", "user.email", "priya@shop.example")
    git(work, "remote", "add", "origin", str(remote))
    git(work, "add", "-A")
    git(work, "commit", "-qm", "manifests")
    git(work, "push", "-q", "origin", "main")
    return work


@dataclass
class Ran:
    exit_code: int
    output: str


def relctl(work: Path, *args: str) -> Ran:
    """As the console entry point: a RelctlError is `relctl: <message>` and exit 1."""
    result: Result = CliRunner().invoke(cli, [*args, "--root", str(work)])
    if isinstance(result.exception, RelctlError):
        return Ran(1, result.output + f"relctl: {result.exception}\n")
    return Ran(result.exit_code, result.output)


def remote_file(work: Path, ref: str = "main") -> str:
    return git(work.parent / "remote.git", "show", f"{ref}:{FILE}") + "\n"


def test_suspend_and_resume_commit_one_field_and_push(clone: Path) -> None:
    before = (clone / FILE).read_text(encoding="utf-8")
    done = relctl(clone, "suspend", "shop-2026-25", "--reason", "payments incident INC-42")
    assert done.exit_code == 0, done.output
    assert "pushed to origin/main" in done.output
    remote = clone.parent / "remote.git"
    message = git(remote, "log", "-1", "--format=%B", "main")
    assert message.startswith("Suspend shop-2026-25\n\nReason: payments incident INC-42")
    assert "Relctl-Release: shop-2026-25\nRelctl-Control: suspend" in message
    assert git(remote, "show", "--name-only", "--format=", "main") == FILE
    after = remote_file(clone)
    assert after == before + "  suspend: true\n  reason: payments incident INC-42\n"
    assert "# yaml-language-server" in after  # the comment kept
    assert relctl(clone, "suspend", "shop-2026-25", "--reason", "payments incident INC-42",
                  ).output.startswith("shop-2026-25: nothing to change")  # fmt: skip
    done = relctl(clone, "resume", "shop-2026-25")
    assert done.exit_code == 0, done.output
    assert remote_file(clone) == before
    assert git(remote, "log", "-1", "--format=%s", "main") == "Resume shop-2026-25"


def test_dry_run_shows_the_diff_and_writes_nothing(clone: Path) -> None:
    head = git(clone, "rev-parse", "HEAD")
    done = relctl(clone, "abort", "shop-2026-25", "--reason", "stop it", "--dry-run")
    assert done.exit_code == 0, done.output
    assert f"--- a/{FILE}" in done.output and "+  abort: true" in done.output
    assert git(clone, "rev-parse", "HEAD") == head
    assert git(clone, "status", "--porcelain") == ""


def test_retry_raises_the_attempt_and_clears_the_abort_on_a_branch(clone: Path) -> None:
    assert relctl(clone, "abort", "shop-2026-25", "--reason", "bad build").exit_code == 0
    done = relctl(clone, "retry", "shop-2026-25", "--branch", "retry-shop")
    assert done.exit_code == 0, done.output
    assert "open a pull request from retry-shop into main" in done.output
    remote = clone.parent / "remote.git"
    spec = yaml.safe_load(git(remote, "show", f"retry-shop:{FILE}"))["spec"]
    assert spec["attempt"] == 2 and "abort" not in spec and "reason" not in spec
    assert "abort: true" in remote_file(clone)  # main is untouched: the pull request decides
    assert git(remote, "log", "-1", "--format=%s", "retry-shop") == "Retry shop-2026-25: attempt 2"


def test_bad_input_writes_nothing(clone: Path) -> None:
    head = git(clone, "rev-parse", "HEAD")
    missing = relctl(clone, "abort", "shop-2026-25")
    assert missing.exit_code == 2 and "--reason" in missing.output
    unknown = relctl(clone, "suspend", "shop-2099-1", "--reason", "x")
    assert unknown.exit_code == 2 and "no release named 'shop-2099-1'" in unknown.output
    invalid = relctl(clone, "approve", "shop-2026-25", "--role", "Product Owner", "--no-push")
    assert invalid.exit_code == 1 and "nothing was written" in invalid.output
    (clone / FILE).write_text((clone / FILE).read_text() + "# mine\n")
    dirty = relctl(clone, "suspend", "shop-2026-25", "--reason", "x")
    assert dirty.exit_code == 1 and "has changes not committed" in dirty.output
    assert (clone / FILE).read_text().endswith("# mine\n")
    assert git(clone, "rev-parse", "HEAD") == head


def test_approve_signs_with_the_persons_key_and_the_controller_counts_it(
    clone: Path, tmp_path: Path
) -> None:
    key = tmp_path / "priya"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    config = yaml.safe_load((clone / "relctl.yaml").read_text())
    config["spec"]["approvers"] = {
        "roles": {"qa-lead": ["dana.qa"], "product-owner": ["priya.po"]},
        "keys": [{"principal": "priya.po", "ssh": Path(f"{key}.pub").read_text().strip()}],
    }
    (clone / "relctl.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    git(clone, "commit", "-qam", "approvers")
    unsigned = relctl(clone, "approve", "shop-2026-25", "--role", "product-owner", "--no-push")
    assert unsigned.exit_code == 1 and "signing key" in unsigned.output
    assert git(clone, "status", "--porcelain") == ""  # nothing left behind
    git(clone, "config", "gpg.format", "ssh")
    git(clone, "config", "user.signingkey", str(key))
    done = relctl(clone, "approve", "shop-2026-25", "--role", "product-owner", "--by", "priya.po")
    assert done.exit_code == 0, done.output
    assert "    - {role: product-owner, by: priya.po}\n" in remote_file(clone)
    state = load(clone).states[0]
    verified = Verifier(clone).verify(state)
    assert verified is not None
    (product_owner,) = [a for a in verified["shop-2026-25"] if a.role == "product-owner"]
    assert product_owner.counted, product_owner.why
    assert product_owner.commit == git(clone, "rev-parse", "HEAD")


def test_a_commit_that_landed_on_the_remote_first_is_kept(clone: Path, tmp_path: Path) -> None:
    other = tmp_path / "other"
    git(tmp_path, "clone", "-q", str(tmp_path / "remote.git"), str(other))
    (other / "NOTES.md").write_text("someone else's change\n")
    git(other, "add", "NOTES.md")
    git(other, "-c", "user.name=o", "-c", "user.email=o@x", "commit", "-qm", "theirs")
    git(other, "push", "-q", "origin", "main")
    done = relctl(clone, "suspend", "shop-2026-25", "--reason", "x")
    assert done.exit_code == 0, done.output
    remote = tmp_path / "remote.git"
    assert git(remote, "log", "--format=%s", "-2", "main").splitlines() == [
        "Suspend shop-2026-25",
        "theirs",
    ]
