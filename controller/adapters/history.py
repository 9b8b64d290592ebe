"""The status files' history as git prints it, for the dashboard's commit links
(`web.history` reads it). Read-only; every git call has a deadline."""

from __future__ import annotations

from pathlib import Path

from controller.adapters.git import LOCAL_TIMEOUT, GitError, run_git

LOG_TIMEOUT = LOCAL_TIMEOUT * 4
"""A long history (10,000 decisions) takes seconds, not minutes."""


def head(workdir: Path) -> str:
    try:
        return run_git(["rev-parse", "--verify", "--quiet", "HEAD"], workdir, LOCAL_TIMEOUT)
    except GitError:
        return ""  # no commit yet


def status_log(
    workdir: Path, folder: str, log_format: str, since: str = ""
) -> tuple[str, str, bool]:
    """(head, `git log --reverse -p --unified=0` of `folder` from `since` (exclusive) to
    head, whether it starts at `since`). A `since` that is not an ancestor of head (the
    history was rewritten) reads it all."""
    top = head(workdir)
    if not top or top == since:
        return top, "", bool(top)
    if since:
        try:
            run_git(["merge-base", "--is-ancestor", since, top], workdir, LOCAL_TIMEOUT)
        except GitError:
            since = ""
    span = f"{since}..{top}" if since else top
    text = run_git(
        [
            "-c",
            "core.quotePath=false",
            "log",
            "--reverse",
            "-p",
            "--unified=0",
            "--no-color",
            "--no-ext-diff",
            "--no-renames",
            f"--format={log_format}",
            span,
            "--",
            folder,
        ],
        workdir,
        LOG_TIMEOUT,
    )
    return top, text, bool(since)


def export_tree(workdir: Path, ref: str, into: Path) -> str:
    """The files of `ref` written under `into` (`git archive`, unpacked with tarfile's
    data filter: no links out, no device files); the commit it names."""
    import io
    import subprocess
    import tarfile

    from controller.adapters.git import git_environment
    from controller.errors import Disposition

    commit = run_git(
        ["rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}"], workdir, LOCAL_TIMEOUT
    )
    try:
        done = subprocess.run(
            ["git", "archive", "--format=tar", commit],
            cwd=workdir, capture_output=True, timeout=LOG_TIMEOUT, env=git_environment(),
            check=False,
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        raise GitError(
            f"git archive {ref} took too long", disposition=Disposition.TRANSIENT
        ) from None
    if done.returncode != 0:
        problem = done.stderr.decode(errors="replace").strip()[:300]
        raise GitError(f"git archive {ref} failed: {problem}", disposition=Disposition.STALLED)
    with tarfile.open(fileobj=io.BytesIO(done.stdout)) as archive:
        archive.extractall(into, filter="data")
    return commit
