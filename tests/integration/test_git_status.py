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


def test_a_hand_edit_of_a_status_file_loses_to_the_record(remote: Path, tmp_path: Path) -> None:
    controller = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    human = clone(remote, tmp_path / "human")
    controller.sync()
    (human / "status").mkdir()
    (human / "status" / "r.yaml").write_text("phase: HAND\n")
    (human / "releases" / "r.yaml").write_text("kind: Release\nby: hand\n")
    git(human, "add", ".")
    git(human, "commit", "-m", "Hand edit")
    git(human, "push", "origin", "HEAD:main")
    controller.record({"r.yaml": "phase: GO\n"}, "relctl: r GO")
    controller.push()
    assert git(controller.workdir, "status", "--porcelain") == ""  # no rebase left behind
    shown = git(tmp_path, "--git-dir", str(remote), "show", "main:status/r.yaml")
    assert shown == "phase: GO"
    assert "by: hand" in git(tmp_path, "--git-dir", str(remote), "show", "main:releases/r.yaml")
    subjects = git(tmp_path, "--git-dir", str(remote), "log", "--format=%s", "main").splitlines()
    assert subjects == ["relctl: r GO", "Hand edit", "Declare a release"]


def test_push_can_be_turned_off(remote: Path, tmp_path: Path) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings(push=False))
    repo.record({"r.yaml": "x\n"}, "relctl: r GO")
    repo.push()
    assert (
        git(tmp_path, "--git-dir", str(remote), "log", "--format=%s", "-1", "main")
        == "Declare a release"
    )


def test_a_kill_between_commit_and_work_tree_leaves_the_commit(
    remote: Path, tmp_path: Path
) -> None:
    # The record is committed before its file is written: a work tree that lags behind
    # HEAD (the kill came in between) is restored from the commit.
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    repo.record({"releases/r.yaml": "phase: GO\n"}, "relctl: r GO")
    (repo.workdir / "status" / "releases" / "r.yaml").unlink()
    assert repo.recover()
    assert (repo.workdir / "status" / "releases" / "r.yaml").read_text() == "phase: GO\n"


@pytest.mark.parametrize(
    "leftover",
    [
        "modified status file",
        "new status file",
        "staged status file",
        "index.lock",
        "ref lock",
        "packed-refs.lock",
        "rebase-merge",
    ],
)
def test_whatever_a_killed_pass_left_behind_is_recovered(
    remote: Path, tmp_path: Path, leftover: str
) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    repo.record({"releases/r.yaml": "phase: GO\n"}, "relctl: r GO")
    status_file = repo.workdir / "status" / "releases" / "r.yaml"
    git_dir = repo.workdir / ".git"
    if leftover == "modified status file":
        status_file.write_text("phase: HALF\n")
    elif leftover == "new status file":
        (status_file.parent / "s.yaml").write_text("phase: HALF\n")
    elif leftover == "staged status file":
        (status_file.parent / "s.yaml").write_text("phase: HALF\n")
        git(repo.workdir, "add", "status")
    elif leftover == "index.lock":
        (git_dir / "index.lock").write_text("")
    elif leftover == "ref lock":
        (git_dir / "refs" / "heads" / "main.lock").write_text("")
    elif leftover == "packed-refs.lock":
        (git_dir / "packed-refs.lock").write_text("")
    else:  # a rebase killed half way: a person's conflicting commit on the remote
        human = clone(remote, tmp_path / "human")
        (human / "status" / "releases").mkdir(parents=True)
        (human / "status" / "releases" / "r.yaml").write_text("phase: HAND\n")
        git(human, "add", ".")
        git(human, "commit", "-m", "Hand edit")
        git(human, "push", "origin", "HEAD:main")
        git(repo.workdir, "fetch", "origin")
        subprocess.run(
            ["git", *HUMAN, "rebase", "origin/main"],
            cwd=repo.workdir,
            check=False,
            capture_output=True,
        )
        assert (git_dir / "rebase-merge").is_dir()
    # The next pass: sync, a record, a push.
    with repo.exclusive():
        repo.recover()
        repo.sync()
        repo.record({"releases/r.yaml": "phase: RELEASED\n"}, "relctl: r RELEASED")
        repo.push()
    assert git(repo.workdir, "status", "--porcelain") == ""
    assert status_file.read_text() == "phase: RELEASED\n"
    assert not (status_file.parent / "s.yaml").exists()
    shown = git(tmp_path, "--git-dir", str(remote), "show", "main:status/releases/r.yaml")
    assert shown == "phase: RELEASED"
    assert repo.unpushed() == 0


def test_a_second_process_on_the_same_clone_is_refused(remote: Path, tmp_path: Path) -> None:
    first = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    second = StatusRepository(first.workdir, settings())
    with (
        first.exclusive(),
        pytest.raises(GitError, match="another relctl process"),
        second.exclusive(),
    ):
        pass
    with second.exclusive():
        pass


def test_a_refused_push_is_pushed_by_a_later_pass(remote: Path, tmp_path: Path) -> None:
    hook = remote / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'main is frozen' >&2\nexit 1\n")
    hook.chmod(0o755)
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    repo.record({"releases/r.yaml": "phase: RELEASED\n"}, "relctl: r RELEASED")
    with pytest.raises(GitError, match="after 2 attempts"):
        repo.push(attempts=2)
    assert repo.unpushed() == 1  # kept, not lost
    hook.unlink()
    repo.sync()
    assert repo.unpushed() == 1
    repo.push()
    assert repo.unpushed() == 0
    log = git(tmp_path, "--git-dir", str(remote), "log", "--format=%s", "-1", "main")
    assert log == "relctl: r RELEASED"


def test_a_mistyped_remote_is_an_error_not_silence(remote: Path, tmp_path: Path) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings(remote="orign"))
    with pytest.raises(GitError, match="remotes are origin"):
        repo.has_remote()


def test_a_status_folder_replaced_by_a_symlink_is_refused(remote: Path, tmp_path: Path) -> None:
    work = clone(remote, tmp_path / "controller")
    (work / "status").symlink_to("releases")
    with pytest.raises(GitError, match="is a symbolic link"):
        StatusRepository(work, settings())


def test_a_status_file_that_is_a_symlink_is_never_written_through(
    remote: Path, tmp_path: Path
) -> None:
    repo = StatusRepository(clone(remote, tmp_path / "controller"), settings())
    (repo.status_dir / "releases").mkdir(parents=True)
    (repo.status_dir / "releases" / "a.yaml").symlink_to("b.yaml")
    with pytest.raises(GitError, match="symbolic link"):
        repo.record({"releases/a.yaml": "phase: GO\n"}, "relctl: a GO")
    assert not (repo.status_dir / "releases" / "b.yaml").exists()
