"""Decisions recorded in git: status files under the status path only, one commit per
pass that changed something (message `relctl: <release> <DECISION>` with trailers),
pushed with fetch + rebase + retry on a non-fast-forward, never forced.

The work folder is brought back to "the remote branch + relctl's unpushed commits" at
the start of every pass (`recover`), whatever a killed pass left behind: stale lock
files, an interrupted rebase, uncommitted status files. A record is committed from a
temporary index and only then written to the work tree, so a kill between the two
leaves either no commit (the next pass plans the same record again) or a commit whose
files the next pass restores. Commits that could not be pushed stay and are pushed by
the next pass: records are late, never lost.

A human commit that lands between our fetch and our push is never lost: the push is
refused, we fetch, replay our status commits on top of theirs, and push again. When a
person edited the same status file, the controller's record wins (status files are
written by relctl only) and the pass says so. Every git process has a deadline; git
never prompts. Paths are confined to the status directory.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git

from controller.adapters.errors import AdapterError
from controller.errors import Disposition
from controller.manifests.config import GitConfig
from controller.plan.outbox import PUBLISHED_PATH

REJECTED = ("non-fast-forward", "fetch first", "rejected", "stale info")
NETWORK_TIMEOUT = 60.0
"""Seconds a fetch, push or clone may take before it is killed."""
LOCAL_TIMEOUT = 30.0
"""Seconds any other git command may take."""
LOW_SPEED = {"GIT_HTTP_LOW_SPEED_LIMIT": "1000", "GIT_HTTP_LOW_SPEED_TIME": "20"}
"""Below 1 KB/s for 20 s, an HTTP transfer is abandoned (http.lowSpeedLimit/Time)."""
IN_PROGRESS = ("rebase-merge", "rebase-apply")
PASS_LOCK = "relctl-pass.lock"  # noqa: S105 - a file name


class GitError(AdapterError):
    """A git operation failed."""


@dataclass(frozen=True)
class Commit:
    sha: str
    message: str


Trailers = Mapping[str, str] | Sequence[tuple[str, str]]
"""Git trailers; a sequence of pairs when a key repeats (one Relctl-Release per release)."""


def message_with_trailers(subject: str, body: str, trailers: Trailers) -> str:
    parts = [subject]
    if body:
        parts.append(body)
    pairs = list(trailers.items()) if isinstance(trailers, Mapping) else list(trailers)
    if pairs:
        parts.append("\n".join(f"{k}: {v}" for k, v in pairs))
    return "\n\n".join(parts) + "\n"


def git_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of every git process: never prompt, abandon stalled transfers,
    and time out ssh connections."""
    env = dict(os.environ if base is None else base)
    env["GIT_TERMINAL_PROMPT"] = "0"
    env.setdefault("GIT_SSH_COMMAND", "ssh -o BatchMode=yes -o ConnectTimeout=15")
    for key, value in LOW_SPEED.items():
        env.setdefault(key, value)
    return env


MAX_DOCUMENT = 2 * 1024 * 1024


class StatusRepository:
    """A working clone whose status directory the controller owns."""

    def __init__(self, workdir: Path, settings: GitConfig) -> None:
        self.workdir = workdir.resolve()
        self.settings = settings
        self.status_dir = (self.workdir / settings.status_path).resolve()
        if self.workdir not in self.status_dir.parents:
            raise GitError(
                f"statusPath {settings.status_path!r} leaves the repository",
                disposition=Disposition.STALLED,
            )
        step = self.workdir
        for part in PurePosixPath(settings.status_path).parts:
            step = step / part
            if step.is_symlink():
                raise GitError(
                    f"{step.relative_to(self.workdir)} is a symbolic link; the status path "
                    "must be a real folder (a commit replaced it: revert that commit)",
                    disposition=Disposition.STALLED,
                )
        try:
            self.repo = git.Repo(self.workdir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitError(
                f"{workdir} is not a git work tree ({type(exc).__name__})",
                disposition=Disposition.STALLED,
            ) from None
        self.git_dir = Path(self.repo.git_dir)
        self.branch = settings.status_branch or settings.branch
        self.actor = git.Actor(settings.author.name, settings.author.email)
        self._env = git_environment()
        self.network_timeout = NETWORK_TIMEOUT

    def close(self) -> None:
        """End the git helper processes gitpython keeps per repository."""
        self.repo.close()

    def __enter__(self) -> StatusRepository:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _git(
        self,
        *args: str,
        timeout: float = LOCAL_TIMEOUT,
        stdin: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> str:
        """Run git in the work tree with a deadline; its output, or GitError (transient).
        Commits it makes (a rebase's) are the controller's: a pod has no git config."""
        identity = ["-c", f"user.name={self.actor.name}", "-c", f"user.email={self.actor.email}"]
        return run_git(
            [*identity, *args], self.workdir, timeout, stdin=stdin, env={**self._env, **(env or {})}
        )

    def has_remote(self) -> bool:
        """Whether the configured remote exists. A repository with remotes but not this
        one is a mistake in relctl.yaml, not a local-only repository: GitError."""
        names = [r.name for r in self.repo.remotes]
        if self.settings.remote in names:
            return True
        if names:
            raise GitError(
                f"git.remote is {self.settings.remote!r}, but this clone's remotes are "
                f"{', '.join(sorted(names))}: fix relctl.yaml's git.remote",
                disposition=Disposition.STALLED,
            )
        return False

    def record_files(self, folder: str, suffix: str) -> list[tuple[str, Path]]:
        """Entries directly under a folder of the status directory, relative to it, with
        their paths (not resolved: a symbolic link is for the caller to refuse)."""
        base = self.path_for(folder)
        if not base.is_dir() or (self.status_dir / folder).is_symlink():
            return []
        return sorted(
            (f"{folder}/{p.name}", p)
            for p in base.iterdir()
            if p.name.endswith(suffix) and (p.is_file() or p.is_symlink())
        )

    def head(self) -> str:
        return self.repo.head.commit.hexsha

    @contextlib.contextmanager
    def exclusive(self) -> Iterator[None]:
        """Hold the clone for one pass: a second relctl process on the same clone waits
        for nothing and fails at once. While it is held, every git lock file found is a
        dead process's leftover."""
        path = self.git_dir / PASS_LOCK
        handle = path.open("a")
        try:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise GitError(
                    f"another relctl process is running a pass on {self.workdir}",
                    disposition=Disposition.TRANSIENT,
                ) from None
            yield
        finally:
            handle.close()

    def recover(self) -> list[str]:
        """Bring the work folder back to HEAD + nothing: remove stale git locks, abort an
        interrupted rebase, merge or cherry-pick, discard uncommitted status files; says
        what it repaired. Call inside `exclusive()`. Files outside the status path are
        left as they are."""
        done: list[str] = []
        for lock in self._stale_locks():
            lock.unlink(missing_ok=True)
            done.append(f"removed the stale lock {lock.relative_to(self.git_dir)}")
        for folder in IN_PROGRESS:
            if (self.git_dir / folder).exists():
                try:
                    self._git("rebase", "--abort")
                except GitError:
                    shutil.rmtree(self.git_dir / folder, ignore_errors=True)
                    self._git("reset", "--hard", "ORIG_HEAD")
                done.append("aborted an interrupted rebase")
                break
        for marker, command in (("MERGE_HEAD", "merge"), ("CHERRY_PICK_HEAD", "cherry-pick")):
            if (self.git_dir / marker).exists():
                self._git(command, "--abort")
                done.append(f"aborted an interrupted {command}")
        if self.repo.head.is_detached and self.branch in self.repo.heads:
            self._git("checkout", "-q", "--force", self.branch)
            done.append(f"checked out {self.branch} again")
        status_path = self.settings.status_path
        dirty = self._git("status", "--porcelain", "--untracked-files=all", "--", status_path)
        if dirty:
            self._git("reset", "-q", "--", status_path)
            if self._git("ls-tree", "--name-only", "HEAD", "--", status_path):
                self._git("checkout", "-q", "HEAD", "--", status_path)
            self._git("clean", "-fdq", "--", status_path)
            done.append(
                f"discarded {len(dirty.splitlines())} uncommitted change(s) under "
                f"{status_path}/ (a killed pass's; this pass plans them again)"
            )
        return done

    def _stale_locks(self) -> list[Path]:
        found = [p for p in self.git_dir.glob("*.lock") if p.name != PASS_LOCK]
        for folder in ("refs", "logs"):
            base = self.git_dir / folder
            if base.is_dir():
                found += list(base.rglob("*.lock"))
        return sorted(found)

    def sync(self) -> str:
        """Fetch the branch and rebase onto it (after `recover`); returns the new HEAD."""
        self.fetch()
        self._rebase()
        return self.head()

    def fetch(self) -> None:
        self._git(
            "fetch", "--quiet", self.settings.remote, self.branch, timeout=self.network_timeout
        )

    @property
    def upstream(self) -> str:
        return f"{self.settings.remote}/{self.branch}"

    def unpushed(self) -> int:
        """How many local commits the remote branch lacks (all of them without one)."""
        try:
            return int(self._git("rev-list", "--count", f"{self.upstream}..HEAD"))
        except GitError:
            return int(self._git("rev-list", "--count", "HEAD"))

    def _rebase(self) -> None:
        """Replay our unpushed commits onto the remote branch. When they conflict with a
        person's edit of a status file, our records win: the files our commits wrote are
        written again on top of theirs, in one commit."""
        upstream = self.upstream
        try:
            self._git("rebase", "--autostash", upstream)
            return
        except GitError as exc:
            problem = str(exc)
        with contextlib.suppress(GitError):
            self._git("rebase", "--abort")
        self._replay_over(upstream, problem)

    def _replay_over(self, upstream: str, problem: str) -> None:
        ours = self.head()
        base = self._git("merge-base", ours, upstream)
        status_path = self.settings.status_path
        touched = self._git("diff", "--name-only", "-z", base, ours, "--", status_path)
        # relctl never deletes a record: every path our commits touched is in ours.
        paths = [p for p in touched.split("\0") if p]
        outside = self._git("diff", "--name-only", base, ours, "--", ".", f":!{status_path}")
        if outside:
            raise GitError(
                f"our unpushed commits change files outside {status_path}/ and cannot be "
                f"replayed onto {upstream}: {problem}",
                disposition=Disposition.STALLED,
            )
        contents = {path: self._git("show", f"{ours}:{path}") for path in paths}
        messages = self._git("log", "--format=%B%x00", f"{base}..{ours}").split("\0")
        self._git("reset", "-q", "--hard", upstream)
        subjects = [m.strip().splitlines()[0] for m in messages if m.strip()]
        body = (
            "Replayed over a conflicting edit of the status files (relctl's records win):\n"
            + "\n".join(f"- {s}" for s in subjects)
        )
        self._commit(contents, subjects[0] if subjects else "relctl: records", body, {})

    def path_for(self, relative: str) -> Path:
        """The absolute path of a file under the status directory, or GitError."""
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise GitError(
                f"{relative!r} would leave the status directory", disposition=Disposition.STALLED
            )
        target = (self.status_dir / pure).resolve()
        if self.status_dir not in target.parents:
            raise GitError(
                f"{relative!r} would leave the status directory", disposition=Disposition.STALLED
            )
        return target

    def read(self, relative: str) -> str | None:
        path = self.path_for(relative)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def record(
        self,
        files: Mapping[str, str],
        subject: str,
        body: str = "",
        trailers: Trailers | None = None,
    ) -> Commit | None:
        """Commit `files` (relative to the status directory), if anything changed, then
        write them to the work tree. Nothing outside the status directory is touched."""
        changed: dict[str, str] = {}
        for relative, text in files.items():
            self.path_for(relative)  # confined to the status directory, or GitError
            literal = self.status_dir / PurePosixPath(relative)
            if literal.is_symlink():
                raise GitError(
                    f"{relative!r} is a symbolic link; relctl writes files only",
                    disposition=Disposition.STALLED,
                )
            if literal.is_file() and literal.read_text(encoding="utf-8", errors="replace") == text:
                continue
            changed[literal.relative_to(self.workdir).as_posix()] = text
        if not changed:
            return None
        return self._commit(changed, subject, body, trailers or {})

    def _commit(
        self, files: Mapping[str, str], subject: str, body: str, trailers: Trailers
    ) -> Commit:
        """One commit of `files` (work-tree-relative) on top of HEAD, built in
        a temporary index, the branch moved only if HEAD did not move meanwhile; then the
        work tree and the real index catch up."""
        message = message_with_trailers(subject, body, trailers)
        parent = self.head()
        index = self.git_dir / f"relctl-index-{os.getpid()}"
        env = {"GIT_INDEX_FILE": str(index)}  # author and committer: `_git`'s identity
        try:
            self._git("read-tree", parent, env=env)
            lines = []
            for path, text in sorted(files.items()):
                blob = self._git("hash-object", "-w", "--stdin", stdin=text)
                lines.append(f"100644 {blob}\t{path}")
            self._git("update-index", "--index-info", stdin="\n".join(lines) + "\n", env=env)
            tree = self._git("write-tree", env=env)
            sha = self._git("commit-tree", tree, "-p", parent, stdin=message, env=env)
        finally:
            index.unlink(missing_ok=True)
        ref = self._git("symbolic-ref", "-q", "HEAD") if not self.repo.head.is_detached else ""
        self._git("update-ref", "-m", f"relctl: {subject}", ref or "HEAD", sha, parent)
        self._git("checkout", "-q", "HEAD", "--", *files)
        return Commit(sha, message)

    def push(self, attempts: int = 5) -> None:
        """Push HEAD to the branch; on a refusal fetch, rebase and try again. Never force.
        Commits that could not be pushed stay; the next pass pushes them."""
        if not self.settings.push:
            return
        for _ in range(attempts):
            try:
                self._git(
                    "push",
                    "--quiet",
                    self.settings.remote,
                    f"HEAD:refs/heads/{self.branch}",
                    timeout=self.network_timeout,
                )
                return
            except GitError as exc:
                if not any(word in str(exc) for word in REJECTED):
                    raise
            self.fetch()  # someone pushed meanwhile: replay our commits on top of theirs
            self._rebase()
        raise GitError(
            f"could not push to {self.branch} after {attempts} attempts: the branch keeps "
            "moving; the next pass pushes again",
            disposition=Disposition.TRANSIENT,
        )

    def read_document(self, relative: str) -> str:
        """A document relctl wrote under the status folder (notes, decisions), as the
        work tree holds it; confined there, never through a symbolic link."""
        if not PUBLISHED_PATH.match(relative):
            raise GitError(f"{relative!r} is not a document relctl writes",
                           disposition=Disposition.STALLED)  # fmt: skip
        path = self.status_dir / relative
        if path.is_symlink() or path.parent.is_symlink() or not path.is_file():
            raise GitError(f"{self.settings.status_path}/{relative} is missing or a link",
                           disposition=Disposition.STALLED)  # fmt: skip
        if path.stat().st_size > MAX_DOCUMENT:
            raise GitError(f"{relative} is larger than {MAX_DOCUMENT // 1024} KiB",
                           disposition=Disposition.STALLED)  # fmt: skip
        return path.read_text(encoding="utf-8", errors="replace")

    def tag(self, name: str, revision: str, message: str) -> str:
        """An annotated tag `name` at `revision`, pushed (tags only: no branch moves).
        Never moved, never forced: a tag of that name at another commit, here or on the
        remote, is a GitError that needs a person. Idempotent: one already there is kept."""
        ref = f"refs/tags/{name}"
        try:
            self._git("check-ref-format", ref)
        except GitError:
            raise GitError(
                f"{name!r} is not a valid tag name", disposition=Disposition.STALLED
            ) from None
        target = self._git("rev-parse", "--verify", "--quiet", f"{revision}^{{commit}}")
        pushing = self.settings.push and self.has_remote()
        where = self._tagged(ref, pushing)
        for place, found in where.items():
            if found != target:
                raise GitError(
                    f"tag {name} exists {place} at {found[:12]}, not at {target[:12]} where "
                    "the release's GO was decided; relctl never moves a tag (delete it or set "
                    "git.releaseTag)",
                    disposition=Disposition.STALLED,
                )
        if "here" not in where:
            self._git("tag", "--annotate", "--file=-", name, target, stdin=message)
        if pushing and "on the remote" not in where:
            self._git(
                "push",
                "--quiet",
                self.settings.remote,
                f"{ref}:{ref}",
                timeout=self.network_timeout,
            )
        return f"tag {name} at {target[:12]}" + (" (existed)" if where else "")

    def _tagged(self, ref: str, remote: bool) -> dict[str, str]:
        """Where `ref` exists already, and the commit it points at."""
        found: dict[str, str] = {}
        with contextlib.suppress(GitError):
            found["here"] = self._git("rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
        if remote:
            listed = self._git(
                "ls-remote", "--tags", self.settings.remote, ref, timeout=self.network_timeout
            )
            lines: dict[str, str] = {}
            for line in listed.splitlines():
                sha, _, name = line.partition("\t")
                lines[name] = sha
            peeled = lines.get(f"{ref}^{{}}") or lines.get(ref)
            if peeled:
                found["on the remote"] = peeled
        return found

    def log(self, limit: int = 20) -> list[Commit]:
        return [Commit(c.hexsha, str(c.message)) for c in self.repo.iter_commits(max_count=limit)]


def run_git(
    args: Sequence[str],
    cwd: Path,
    timeout: float,
    *,
    stdin: str | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """`git ARGS` in `cwd`, killed after `timeout` seconds; stdout, or a transient GitError
    whose message carries no credentials."""
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            input=None if stdin is None else stdin.encode(),
            capture_output=True,
            timeout=timeout,
            env=dict(env) if env is not None else git_environment(),
            check=False,
        )
    except subprocess.TimeoutExpired:
        problem = f"no answer within {timeout:g} s (killed)"
    else:
        if done.returncode == 0:
            return done.stdout.decode(errors="replace").strip()
        problem = _without_credentials(done.stderr.decode(errors="replace").strip())[:300]
    verb = next((a for a in args if not a.startswith("-") and "=" not in a), "git")
    raise GitError(f"git {verb} failed: {problem}", disposition=Disposition.TRANSIENT)


def _without_credentials(text: str) -> str:
    """Drop `user:password@` from any URL a message carries."""
    return re.sub(r"(\w+://)[^/\s@]+@", r"\1", text)


def clone(url: str, branch: str, into: Path) -> None:
    """Clone `branch` of `url` into `into` (a pod's empty work folder). Credentials come
    from git's own configuration (a credential helper over a mounted Secret), never the
    URL, so they appear in no message."""
    try:
        run_git(
            ["clone", "--quiet", "--single-branch", "--branch", branch, url, str(into)],
            into.parent,
            NETWORK_TIMEOUT * 5,
        )
    except GitError as exc:
        raise GitError(
            f"cloning {_without_credentials(url)} ({branch}) failed: {exc}",
            disposition=Disposition.TRANSIENT,
        ) from None
