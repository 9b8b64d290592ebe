"""Decisions recorded in git, with real repositories and a bare remote on disk."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from controller.adapters.git import GitError, StatusRepository
from controller.manifests.config import GitConfig

HUMAN = ["-c", "user.name=Dana", "-c", "user.email=dana@shop.example"]


def git(cwd: Path, *args: str) -> str:
    return subprocess.run(
        ["git", *HUMAN, *args], cwd=cwd, check=True, capture_output=True, text=True
    ).stdout.strip()


@pytest.fixture
def remote(tmp_path: Path) -> Path:
    bare = tmp_path / "remote.git"
    git(tmp_path, "init", "--bare", "--initial-branch=main", str(bare))
    seed = tmp_path / "seed"
    git(tmp_path, "clone", str(bare), str(seed))
    (seed / "releases").mkdir()
    (seed / "releases" / "r.yaml").write_text("kind: Release\n")
    git(seed, "add", ".")
    git(seed, "commit", "-m", "Declare a release")
    git(seed, "push", "origin", "HEAD:main")
    return bare


def clone(remote: Path, where: Path) -> Path:
    git(remote.parent, "clone", str(remote), str(where))
    return where


def settings(**extra: object) -> GitConfig:
    return GitConfig.model_validate({"author": {"name": "relctl", "email": "relctl@x.io"}, **extra})


def test_record_commits_status_files_with_trailers(remote: Path, tmp_path: Path) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    source = repo.sync()
    commit = repo.record(
        {"releases/shop-2026-25.yaml": "phase: GO\n"},
        "relctl: shop-2026-25 GO",
        "All criteria met.",
        {
            "Relctl-Release": "shop-2026-25",
            "Relctl-Decision": "GO",
            "Relctl-Source-Revision": source,
        },
    )
    assert commit is not None
    assert commit.message.startswith("relctl: shop-2026-25 GO\n\nAll criteria met.\n\n")
    assert f"Relctl-Source-Revision: {source}" in commit.message
    files = git(repo.workdir, "show", "--name-only", "--format=", "HEAD").split()
    assert files == ["status/releases/shop-2026-25.yaml"]
    author = git(repo.workdir, "log", "-1", "--format=%an <%ae>")
    assert author == "relctl <relctl@x.io>"
    assert repo.record({"releases/shop-2026-25.yaml": "phase: GO\n"}, "again") is None


@pytest.mark.parametrize("path", ["../releases/r.yaml", "/etc/passwd", "a/../../x", ""])
def test_paths_are_confined_to_the_status_directory(
    remote: Path, tmp_path: Path, path: str
) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    with pytest.raises(GitError, match="would leave the status directory"):
        repo.record({path: "x"}, "relctl: bad")
    assert git(repo.workdir, "status", "--porcelain") == ""


def test_a_human_commit_pushed_meanwhile_survives(remote: Path, tmp_path: Path) -> None:
    controller = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    human = clone(remote, tmp_path / "human")
    controller.sync()  # the controller fetched ...
    (human / "releases" / "r.yaml").write_text("kind: Release\napprovals: [qa]\n")
    git(human, "commit", "-am", "Approve as QA")
    git(human, "push", "origin", "HEAD:main")  # ... a human pushed ...
    controller.record({"releases/r.yaml": "phase: NO_GO\n"}, "relctl: r NO_GO")
    controller.push()  # ... and the controller's push is refused, rebased, pushed.
    log = git(tmp_path, "--git-dir", str(remote), "log", "--format=%s", "main").splitlines()
    assert log == ["relctl: r NO_GO", "Approve as QA", "Declare a release"]
    shown = git(tmp_path, "--git-dir", str(remote), "show", "main:releases/r.yaml")
    assert "approvals: [qa]" in shown


def test_a_hand_edit_of_the_status_directory_stalls(remote: Path, tmp_path: Path) -> None:
    controller = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    human = clone(remote, tmp_path / "human")
    controller.sync()
    (human / "status").mkdir()
    (human / "status" / "r.yaml").write_text("phase: HAND\n")
    git(human, "add", ".")
    git(human, "commit", "-m", "Hand edit")
    git(human, "push", "origin", "HEAD:main")
    controller.record({"r.yaml": "phase: GO\n"}, "relctl: r GO")
    with pytest.raises(GitError, match="someone edited status/ by hand"):
        controller.push()
    assert git(controller.workdir, "status", "--porcelain") == ""  # no rebase left behind


def test_push_can_be_turned_off(remote: Path, tmp_path: Path) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings(push=False))
    repo.record({"r.yaml": "x\n"}, "relctl: r GO")
    repo.push()
    assert (
        git(tmp_path, "--git-dir", str(remote), "log", "--format=%s", "-1", "main")
        == "Declare a release"
    )
