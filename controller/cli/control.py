"""`relctl suspend | resume | abort | retry | approve RELEASE`: the commit a person would
make by hand, made for them, as `flux suspend` does. Each changes one field of the
release's file (its comments and layout kept), checks the repository still validates,
commits that file alone with a clear message and trailers, and pushes: to the branch
checked out, or with `--branch NAME` to a new branch for a pull request. `--dry-run`
prints the diff and changes nothing. `approve` signs its commit with the person's own
signing key (git's `user.signingkey`), which is what makes the approval count.
"""

from __future__ import annotations

import difflib
import subprocess
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from controller.adapters.git import NETWORK_TIMEOUT, GitError, git_environment, run_git
from controller.adapters.release_edit import edit
from controller.cli import completion, options
from controller.cli.common import ROOT_OPTION, build_state, recorded_statuses
from controller.errors import RelctlError
from controller.manifests import loading
from controller.manifests.state import DesiredState
from controller.schedule.validation import build_diagnostics, fatal


class ControlError(RelctlError):
    """The control commit cannot be made."""


def _git(root: Path, *args: str, timeout: float = 30.0) -> str:
    return run_git(list(args), root, timeout, env=git_environment())


def _commit_options(func: Callable[..., Any]) -> Callable[..., Any]:
    for option in reversed(
        [
            click.argument("release", shell_complete=completion.RELEASES),
            click.option("--dry-run", is_flag=True, help="Print the change; write nothing."),
            click.option(
                "--branch",
                metavar="NAME",
                help="Commit on a new branch NAME and push it, for a pull request.",
            ),
            click.option("--no-push", is_flag=True, help="Commit, but do not push."),
            ROOT_OPTION,
        ]
    ):
        func = option(func)
    return func


def _change(
    release: str,
    root: Path | None,
    dry_run: bool,
    branch: str | None,
    no_push: bool,
    verb: str,
    subject: str,
    body: str,
    sign: bool = False,
    **change: Any,
) -> None:
    workdir = (root or options.find_root(Path.cwd())).resolve()
    now = datetime.now(UTC)
    state = build_state(workdir, now)
    manifest = state.releases.get(release)
    if manifest is None:
        known = ", ".join(sorted(state.releases)) or "none"
        raise click.UsageError(f"no release named {release!r} (releases: {known})")
    path = (workdir / manifest.file).resolve()
    if workdir not in path.parents:
        raise ControlError(f"{manifest.file} lies outside the repository")
    before = path.read_text(encoding="utf-8")
    after = edit(before, release, manifest.file, **change)
    diff = "".join(
        difflib.unified_diff(
            before.splitlines(True), after.splitlines(True), f"a/{manifest.file}",
            f"b/{manifest.file}",
        )
    )  # fmt: skip
    if not diff:
        click.echo(f"{release}: nothing to change ({verb} already)")
        return
    if dry_run:
        click.echo(diff, nl=False)
        return
    if _git(workdir, "status", "--porcelain", "--", manifest.file):
        raise ControlError(f"{manifest.file} has changes not committed; commit or stash them first")
    if not no_push:
        _up_to_date(workdir, state)
        if path.read_text(encoding="utf-8") != before:
            raise ControlError(
                f"{manifest.file} changed on the remote; run the command again to see its diff"
            )
    path.write_text(after, encoding="utf-8")
    try:
        _still_valid(workdir, now, manifest.file)
    except BaseException:
        path.write_text(before, encoding="utf-8")
        raise
    _commit(workdir, state, manifest.file, release, verb, subject, body, sign, branch)
    click.echo(diff, nl=False)
    click.echo(f"committed: {subject}")
    if not no_push:
        _push(workdir, state, branch)


def _still_valid(workdir: Path, now: datetime, file: str) -> None:
    found, _, _ = build_diagnostics(workdir, (), now, loading.Limits())
    errors = [d for d in fatal(found) if d.file == file]
    if errors:
        first = errors[0]
        raise ControlError(
            f"the change would make {file} invalid: {first.file}:{first.line}:{first.column}: "
            f"{first.code} {first.message}; nothing was written"
        )


def _commit(
    workdir: Path,
    state: DesiredState,
    file: str,
    release: str,
    verb: str,
    subject: str,
    body: str,
    sign: bool,
    branch: str | None,
) -> None:
    if branch:
        _git(workdir, "switch", "--quiet", "--create", branch)
    message = f"{subject}\n\n{body}\n\nRelctl-Release: {release}\nRelctl-Control: {verb}\n"
    args = ["commit", "--quiet", "--file=-", *(["-S"] if sign else []), "--", file]
    done = subprocess.run(
        ["git", *args], cwd=workdir, input=message.encode(), capture_output=True,
        timeout=60, env=git_environment(), check=False,
    )  # fmt: skip
    if done.returncode != 0:
        _git(workdir, "checkout", "--", file)
        problem = done.stderr.decode(errors="replace").strip()[:400]
        hint = (
            "; set up a signing key: git config user.signingkey ~/.ssh/id_ed25519.pub "
            "&& git config gpg.format ssh"
            if sign and ("sign" in problem or "gpg" in problem)
            else ""
        )
        raise ControlError(f"git commit failed: {problem}{hint}; nothing was committed")


def _up_to_date(workdir: Path, state: DesiredState) -> None:
    """The branch checked out, rebased on its remote first: the commit is made on top, so
    it is pushed as made (a rebase after signing would drop an approval's signature)."""
    remote = state.config.spec.git.remote
    if remote not in _git(workdir, "remote").split():
        return
    branch = _git(workdir, "rev-parse", "--abbrev-ref", "HEAD")
    try:
        run_git(["pull", "--quiet", "--rebase", remote, branch], workdir, NETWORK_TIMEOUT)
    except GitError as exc:
        raise ControlError(f"cannot bring {branch} up to date with {remote}: {exc}") from None


def _push(workdir: Path, state: DesiredState, branch: str | None) -> None:
    remote = state.config.spec.git.remote
    target = branch or _git(workdir, "rev-parse", "--abbrev-ref", "HEAD")
    try:
        run_git(["push", "--quiet", remote, f"HEAD:refs/heads/{target}"], workdir, NETWORK_TIMEOUT)
    except GitError as exc:
        raise ControlError(
            f"the commit is made but not pushed ({exc}); when the remote moved, run "
            "`git pull --rebase` (then, for an approval, `git commit --amend -S --no-edit` "
            "to sign it again) and `git push`"
        ) from None
    if branch:
        base = state.config.spec.git.branch
        click.echo(f"pushed {branch} to {remote}: open a pull request from {branch} into {base}")
    else:
        click.echo(f"pushed to {remote}/{target}")


def _recorded_attempt(workdir: Path, state: DesiredState, release: str) -> int:
    status = recorded_statuses(workdir, state.config.spec.git).get(release)
    return status.attempt if status is not None else 1


@click.command("suspend")
@click.option("--reason", required=True, help="Why (recorded with the decision).")
@_commit_options
def suspend_command(release: str, reason: str, **common: Any) -> None:
    """Suspend a release: relctl takes no action for it until `relctl resume`.

    \b
    Example:
      relctl suspend shop-2026-25 --reason "payments incident INC-42"
    """
    _change(
        release, **common, verb="suspend", subject=f"Suspend {release}",
        body=f"Reason: {reason}", set_fields={"suspend": True, "reason": reason},
    )  # fmt: skip


@click.command("resume")
@_commit_options
def resume_command(release: str, **common: Any) -> None:
    """Resume a suspended release: it goes on from its recorded state.

    \b
    Example:
      relctl resume shop-2026-25
    """
    _change(
        release, **common, verb="resume", subject=f"Resume {release}",
        body="The release goes on from its recorded state.", remove=("suspend", "reason"),
    )  # fmt: skip


@click.command("abort")
@click.option("--reason", required=True, help="Why (recorded with the decision).")
@_commit_options
def abort_command(release: str, reason: str, **common: Any) -> None:
    """Abort a release's rollout: nothing more rolls out; the rollback policy decides
    what happens to the components already rolled out.

    \b
    Example:
      relctl abort shop-2026-25 --reason "wrong catalog build"
    """
    _change(
        release, **common, verb="abort", subject=f"Abort {release}",
        body=f"Reason: {reason}", set_fields={"abort": True, "reason": reason},
    )  # fmt: skip


@click.command("retry")
@_commit_options
def retry_command(release: str, **common: Any) -> None:
    """Try a release again (rolled back, aborted or held): a new attempt, which ships
    only after a fresh GO.

    \b
    Example:
      relctl retry shop-2026-25 --branch retry-shop-2026-25
    """
    workdir = (common["root"] or options.find_root(Path.cwd())).resolve()
    state = build_state(workdir, datetime.now(UTC))
    manifest = state.releases.get(release)
    declared = manifest.model.spec.attempt if manifest is not None else 1
    attempt = max(declared, _recorded_attempt(workdir, state, release)) + 1
    _change(
        release, **common, verb="retry", subject=f"Retry {release}: attempt {attempt}",
        body=f"Attempt {attempt}: a fresh go/no-go decides whether it ships.",
        set_fields={"attempt": attempt}, remove=("abort", "reason"),
    )  # fmt: skip


@click.command("approve")
@click.option("--role", required=True, help="The role you approve as, e.g. product-owner.")
@click.option("--by", "by", metavar="NAME", help="Your approver name (default: git's user.name).")
@_commit_options
def approve_command(release: str, role: str, by: str | None, **common: Any) -> None:
    """Approve a release as ROLE, in a commit signed with your own key.

    The approval counts when relctl.yaml's approvers allow your key for ROLE, and until
    what the release ships changes in a commit no approver signed.

    \b
    Example:
      relctl approve shop-2026-25 --role product-owner --branch approve-shop-2026-25
    """
    workdir = (common["root"] or options.find_root(Path.cwd())).resolve()
    who = by or _git(workdir, "config", "user.name") or "unknown"
    _change(
        release, **common, verb="approve", subject=f"Approve {release} as {role}",
        body=f"{who} approves {release} as {role}.", sign=True,
        approval={"role": role, "by": who},
    )  # fmt: skip
