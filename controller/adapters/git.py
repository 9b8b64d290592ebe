"""Decisions recorded in git, with gitpython: status files under the status path only,
one commit per pass that changed something (message `relctl: <release> <DECISION>` with
trailers), pushed with fetch + rebase + retry on a non-fast-forward, never forced.

A human commit that lands between our fetch and our push is never lost: the push is
refused, we fetch, replay our status commit on top of theirs, and push again. Paths are
confined to the status directory; anything else is refused before a file is written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import git

from controller.adapters.errors import AdapterError
from controller.errors import Disposition
from controller.manifests.config import GitConfig

REJECTED = ("non-fast-forward", "fetch first", "rejected", "stale info")


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


class StatusRepository:
    """A working clone whose status directory the controller owns."""

    def __init__(self, workdir: Path, settings: GitConfig) -> None:
        self.workdir = workdir.resolve()
        self.settings = settings
        self.status_dir = (self.workdir / settings.status_path).resolve()
        if self.workdir not in self.status_dir.parents:
            raise GitError(f"statusPath {settings.status_path!r} leaves the repository")
        try:
            self.repo = git.Repo(self.workdir)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise GitError(f"{workdir} is not a git work tree ({type(exc).__name__})") from None
        self.branch = settings.status_branch or settings.branch
        self.actor = git.Actor(settings.author.name, settings.author.email)

    def close(self) -> None:
        """End the git helper processes gitpython keeps per repository."""
        self.repo.close()

    def __enter__(self) -> StatusRepository:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _git(self, *args: str) -> str:
        try:
            return str(self.repo.git.execute(["git", *args]))
        except git.GitCommandError as exc:
            raise GitError(
                f"git {args[0]} failed: {str(exc.stderr).strip()[:300]}",
                disposition=Disposition.TRANSIENT,
            ) from None

    def has_remote(self) -> bool:
        return any(r.name == self.settings.remote for r in self.repo.remotes)

    def listing(self, folder: str, suffix: str) -> list[str]:
        """Files directly under a folder of the status directory, relative to it."""
        base = self.path_for(folder)
        if not base.is_dir():
            return []
        return sorted(
            f"{folder}/{p.name}" for p in base.iterdir() if p.name.endswith(suffix) and p.is_file()
        )

    def head(self) -> str:
        return self.repo.head.commit.hexsha

    def sync(self) -> str:
        """Fetch the branch and fast-forward or rebase onto it; returns the new HEAD."""
        self._git("fetch", self.settings.remote, self.branch)
        self._rebase()
        return self.head()

    def _rebase(self) -> None:
        upstream = f"{self.settings.remote}/{self.branch}"
        try:
            # The replayed commits are committed as the controller: a pod has no git config.
            self.repo.git.execute(
                [
                    "git",
                    "-c",
                    f"user.name={self.actor.name}",
                    "-c",
                    f"user.email={self.actor.email}",
                    "rebase",
                    upstream,
                ]
            )
        except git.GitCommandError as exc:
            self.repo.git.execute(["git", "rebase", "--abort"], with_exceptions=False)
            raise GitError(
                f"replaying status commits on {upstream} conflicted; someone edited "
                f"{self.settings.status_path}/ by hand ({str(exc.stderr).strip()[:200]})",
                disposition=Disposition.STALLED,
            ) from None

    def path_for(self, relative: str) -> Path:
        """The absolute path of a file under the status directory, or GitError."""
        pure = PurePosixPath(relative)
        if pure.is_absolute() or ".." in pure.parts or not pure.parts:
            raise GitError(f"{relative!r} would leave the status directory")
        target = (self.status_dir / pure).resolve()
        if self.status_dir not in target.parents:
            raise GitError(f"{relative!r} would leave the status directory")
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
        """Write `files` (relative to the status directory) and commit them, if anything
        changed. Nothing outside the status directory is ever staged."""
        paths = {relative: self.path_for(relative) for relative in files}
        changed = []
        for relative, path in paths.items():
            if path.is_file() and path.read_text(encoding="utf-8") == files[relative]:
                continue
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(files[relative], encoding="utf-8")
            changed.append(str(path.relative_to(self.workdir)))
        if not changed:
            return None
        self.repo.index.add(changed)
        message = message_with_trailers(subject, body, trailers or {})
        commit = self.repo.index.commit(message, author=self.actor, committer=self.actor)
        return Commit(commit.hexsha, message)

    def push(self, attempts: int = 5) -> None:
        """Push HEAD to the branch; on a refusal fetch, rebase and try again. Never force."""
        if not self.settings.push:
            return
        for _ in range(attempts):
            try:
                self.repo.git.execute(
                    ["git", "push", self.settings.remote, f"HEAD:refs/heads/{self.branch}"]
                )
                return
            except git.GitCommandError as exc:
                if not any(word in str(exc.stderr) for word in REJECTED):
                    raise GitError(
                        f"git push failed: {str(exc.stderr).strip()[:300]}",
                        disposition=Disposition.TRANSIENT,
                    ) from None
            self.sync()  # someone pushed meanwhile: replay our commits on top of theirs
        raise GitError(
            f"could not push to {self.branch} after {attempts} attempts: the branch keeps moving",
            disposition=Disposition.TRANSIENT,
        )

    def log(self, limit: int = 20) -> list[Commit]:
        return [Commit(c.hexsha, str(c.message)) for c in self.repo.iter_commits(max_count=limit)]


def clone(url: str, branch: str, into: Path) -> None:
    """Clone `branch` of `url` into `into` (a pod's empty work folder). Credentials come
    from git's own configuration (a credential helper over a mounted Secret), never the
    URL, so they appear in no message."""
    try:
        git.Repo.clone_from(url, into, branch=branch, single_branch=True)
    except git.GitCommandError as exc:
        shown = url.split("@", 1)[-1]  # drop any user:password@ a URL carries anyway
        raise GitError(
            f"cloning {shown} ({branch}) failed: {str(exc.stderr).strip()[:300]}",
            disposition=Disposition.TRANSIENT,
        ) from None
