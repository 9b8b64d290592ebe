"""Environment repositories: where a GitOps agent (Argo CD, Flux) reads what the cluster
should run. For a component deployed with the git method, relctl changes an image by a
commit here, as Kargo's git-commit/git-push steps and Argo CD Image Updater's git
write-back do.

- Where: the URL is the deployment's ($RELCTL_ENVIRONMENT_<NAME>_URL; git's credential
  helper supplies credentials), never the manifests'. The clone lives in the manifests
  clone's git folder (`relctl-environments/<name>`), outside any work tree relctl reads.
- `set_image`: fetch, reset to the remote branch, rewrite the one value (`locators`),
  commit that one file with trailers (Relctl-Release, Relctl-Component, Relctl-Decision,
  Relctl-Previous-Image), push. A push refused because someone pushed meanwhile starts
  over from their commit: theirs is kept, never forced over. A value already there is
  not committed again (idempotent: a pass killed after its push repeats nothing).
- `observe`: the value each locator holds at the branch's head, and the last commit that
  changed its file (sha, author, and the release its trailer names): who changed it.
- `read_flags`/`set_flags`: a flag target's file (`flagfiles`), committed the same way.

Every git process has a deadline (`git.run_git`). Paths stay inside the clone.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from controller.adapters import flagfiles, locators
from controller.adapters.git import (
    NETWORK_TIMEOUT,
    REJECTED,
    GitError,
    git_environment,
    message_with_trailers,
    run_git,
)
from controller.errors import Disposition
from controller.manifests.config import EnvironmentConfig, GitAuthor
from controller.manifests.deploy import Locator
from controller.plan.flags import FlagTarget
from controller.plan.observed import SourceValue

ATTEMPTS = 5
LAST_COMMITS = (
    "--format=%x01%H%x00%an <%ae>%x00%(trailers:key=Relctl-Release,valueonly,separator=%x2C)%x02"
)
"""Each commit: \x01 sha \x00 author \x00 the release it was for \x02, then its files."""


def variable(name: str) -> str:
    """$RELCTL_ENVIRONMENT_<NAME>_URL: the deployment's word on where `name` lives."""
    return f"RELCTL_ENVIRONMENT_{name.upper().replace('-', '_')}_URL"


class EnvironmentRepository:
    def __init__(
        self, name: str, url: str, settings: EnvironmentConfig, folder: Path, author: GitAuthor
    ) -> None:
        self.name, self.url, self.branch = name, url, settings.branch
        self.folder = folder
        self.author = author
        self._env = git_environment()
        self.requests = 0

    @classmethod
    def of(
        cls,
        name: str,
        settings: EnvironmentConfig,
        env: Mapping[str, str],
        folder: Path,
        author: GitAuthor,
    ) -> EnvironmentRepository:
        url = env.get(variable(name), "")
        if not url:
            raise GitError(
                f"environment {name}: set ${variable(name)} where relctl runs (the URL of "
                "the environment repository)",
                disposition=Disposition.STALLED,
            )
        return cls(name, url, settings, folder, author)

    def _git(self, *args: str, network: bool = False, stdin: str | None = None) -> str:
        identity = ["-c", f"user.name={self.author.name}", "-c", f"user.email={self.author.email}"]
        timeout = NETWORK_TIMEOUT if network else 30.0
        return run_git([*identity, *args], self.folder, timeout, stdin=stdin, env=self._env)

    def sync(self) -> str:
        """The clone at the remote branch's head (made on first use); its sha. The clone
        holds nothing of its own (every change is pushed or dropped), so one a killed
        pass left broken (a stale lock, a half-made commit) is made again."""
        self.requests += 1
        if (self.folder / ".git").is_dir():
            try:
                self._git("fetch", "--quiet", "origin", self.branch, network=True)
                self._git("reset", "--quiet", "--hard", f"origin/{self.branch}")
                return self._git("rev-parse", "HEAD")
            except GitError as exc:
                if "fetch" in str(exc) and "lock" not in str(exc):
                    raise  # the remote is unreachable: cloning again would not help
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.parent.mkdir(parents=True, exist_ok=True)
        run_git(
            ["clone", "--quiet", "--single-branch", "--branch", self.branch, self.url,
             str(self.folder)],
            self.folder.parent,
            NETWORK_TIMEOUT,
            env=self._env,
        )  # fmt: skip
        return self._git("rev-parse", "HEAD")

    def _path(self, relative: str) -> Path:
        """The file, confined to the clone (no `..`, no symbolic link on the way)."""
        step = self.folder
        for part in PurePosixPath(relative).parts:
            step = step / part
            if part in ("..", "/") or step.is_symlink():
                raise locators.LocatorError(
                    f"environment {self.name}: {relative} leaves the repository or is a "
                    "symbolic link"
                )
        return step

    def _text(self, locator: Locator) -> str:
        path = self._path(locator.file)
        if not path.is_file():
            head = self._git("rev-parse", "--short", "HEAD")
            raise locators.LocatorError(
                f"environment {self.name}: {locator.file} does not exist at {head}"
            )
        return path.read_text(encoding="utf-8")

    def observe(self, wanted: Sequence[tuple[Locator, str]]) -> dict[Locator, SourceValue]:
        """Each (locator, component image)'s value at the head of the branch (synced),
        with the last commit of its file (one `git log` for all of them)."""
        self.sync()
        last = self._last_commits(sorted({locator.file for locator, _ in wanted}))
        found: dict[Locator, SourceValue] = {}
        for locator, image in wanted:
            where = f"{self.name}:{locator.file}"
            current = locators.read(self._text(locator), locator, image, where)
            commit, author, release = last.get(locator.file, ("", "", ""))
            found[locator] = SourceValue(current, commit, author, release)
        return found

    def _last_commits(self, files: Sequence[str]) -> dict[str, tuple[str, str, str]]:
        """File → (sha, author, Relctl-Release) of the last commit that changed it."""
        if not files:
            return {}
        listed = self._git("log", LAST_COMMITS, "--name-only", "--", *files)
        found: dict[str, tuple[str, str, str]] = {}
        for chunk in listed.split("\x01")[1:]:
            header, _, names = chunk.partition("\x02")
            commit, author, release = ([*header.split("\x00"), "", ""])[:3]
            for name in names.split():
                found.setdefault(name, (commit, author, release.strip()))
            if len(found) == len(files):
                break
        return found

    def read_flags(
        self, targets: Sequence[FlagTarget]
    ) -> tuple[dict[FlagTarget, dict[str, Any] | None], dict[FlagTarget, str]]:
        """The flags each target's file holds at the branch's head (None: no file yet),
        and who changed the file last (`<sha> by <author>`)."""
        self.sync()
        last = self._last_commits(sorted({t.file for t in targets}))
        flags = {
            t: flagfiles.read(self._maybe(t.file), t, f"{self.name}:{t.file}") for t in targets
        }
        by = {t: f"{last[t.file][0][:12]} by {last[t.file][1]}" for t in targets if t.file in last}
        return flags, by

    def set_flags(
        self,
        target: FlagTarget,
        document: Mapping[str, Any],
        trailers: Sequence[tuple[str, str]],
        subject: str,
        body: str = "",
    ) -> str:
        """Commit the flags of `document` to the target's file (made when absent) and
        push; the commit's sha, or "" when the branch already holds them."""
        where = f"{self.name}:{target.file}"
        return self._change(
            target.file,
            lambda text: flagfiles.write(text, target, document, where),
            trailers,
            subject,
            body,
        )

    def set_image(
        self,
        locator: Locator,
        image: str,
        target: str,
        trailers: Sequence[tuple[str, str]],
        subject: str,
    ) -> str:
        """Commit `target` as the locator's image and push; the commit's sha, or "" when
        the branch already holds it."""
        where = f"{self.name}:{locator.file}"

        def edit(text: str | None) -> str:
            if text is None:
                return self._text(locator)  # raises: the file is gone
            return locators.write(text, locator, image, target, where)

        return self._change(locator.file, edit, trailers, subject)

    def _maybe(self, relative: str) -> str | None:
        path = self._path(relative)
        return path.read_text(encoding="utf-8") if path.is_file() else None

    def _change(
        self,
        relative: str,
        edit: Callable[[str | None], str],
        trailers: Sequence[tuple[str, str]],
        subject: str,
        body: str = "",
    ) -> str:
        """One file's new text (from `edit` of the text at the branch's head, None when
        absent) committed with the trailers and pushed, again from any commit that lands
        meanwhile; the sha, or "" when nothing changes."""
        for _ in range(ATTEMPTS):
            head = self.sync()
            text = self._maybe(relative)
            try:
                changed = edit(text)
            except locators.LocatorError as exc:
                raise locators.LocatorError(f"{exc} (at {head[:12]})") from None
            if changed == text:
                return ""
            path = self._path(relative)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(changed, encoding="utf-8")
            self._git("add", "--", relative)
            message = message_with_trailers(subject, body, list(trailers))
            self._git("commit", "--quiet", "--file=-", "--", relative, stdin=message)
            sha = self._git("rev-parse", "HEAD")
            try:
                self.requests += 1
                self._git(
                    "push", "--quiet", "origin", f"HEAD:refs/heads/{self.branch}", network=True
                )
                return sha
            except GitError as exc:
                if not any(word in str(exc) for word in REJECTED):
                    raise
            # Someone pushed meanwhile: start again from theirs.
        raise GitError(
            f"environment {self.name}: could not push after {ATTEMPTS} attempts (the branch "
            "keeps moving); the next pass tries again",
            disposition=Disposition.TRANSIENT,
        )
