"""The dashboard's data, read from a work tree: the records, the notes, the conditions and
the status files' history (which commit recorded each decision). The controller's
server and `relctl dashboard build` both go through `Dashboard`; the pages themselves are
`controller.web`'s."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from pathlib import Path

from controller.adapters import history as git_history
from controller.adapters.git import GitError, StatusRepository
from controller.errors import RelctlError
from controller.manifests.config import GitConfig
from controller.manifests.state import DesiredState
from controller.plan.plans import Finding
from controller.plan.records import ReleaseStatus
from controller.reconcile.passes import NOTES_DIR, read_conditions, read_statuses, record_text
from controller.web import history
from controller.web.model import Problem, Snapshot
from controller.web.site import Site

MAX_NOTES = 2000
"""Notes files read at most (a hostile commit could add millions)."""


class Dashboard:
    """Snapshots of one work tree, with the decision history kept between them (only the
    commits since the last head are read again)."""

    def __init__(self, workdir: Path, commit_url: str = "") -> None:
        self.workdir = workdir.resolve()
        self.commit_url = commit_url
        self._history = history.History()
        self._lock = threading.Lock()
        self._site: tuple[object, Site] | None = None

    def _update_history(self, folder: str) -> history.History:
        try:
            head, text, onwards = git_history.status_log(
                self.workdir, folder, history.LOG_FORMAT, self._history.head
            )
        except GitError:
            return self._history  # what was read before; links resume next time
        if head != self._history.head:
            later = history.parse(text, head)
            self._history = self._history.then(later) if onwards else later
        return self._history

    def snapshot(
        self,
        state: DesiredState | None,
        settings: GitConfig,
        now: datetime,
        statuses: Mapping[str, ReleaseStatus] | None = None,
        findings: Sequence[Finding] = (),
        live: bool = False,
    ) -> Snapshot:
        """What the pages show now. `statuses`: the records already read (the loop's);
        None reads them from the work tree, unreadable ones becoming findings."""
        problems: list[str] = []
        documents: dict[str, str] = {}
        conditions = None
        try:
            with StatusRepository(self.workdir, settings) as repo:
                if statuses is None:
                    broken: dict[str, str] = {}
                    statuses = read_statuses(repo, problems=broken)
                    problems += [f"status of {n}: {why}" for n, why in sorted(broken.items())]
                conditions = read_conditions(repo, problems)
                for relative, path in repo.record_files(NOTES_DIR, ".md")[:MAX_NOTES]:
                    try:
                        documents[relative] = record_text(path, relative)
                    except RelctlError as exc:
                        problems.append(str(exc))
        except GitError as exc:
            problems.append(str(exc))
        with self._lock:
            found = self._update_history(settings.status_path)
        shown = [Problem(f.kind.value, f.subject, f.message) for f in findings]
        shown += [Problem("ERROR", "relctl", p) for p in problems]
        name = state.config.metadata.name if state is not None else "relctl"
        return Snapshot(
            revision=found.head,
            now=now,
            state=state,
            statuses=dict(statuses or {}),
            conditions=conditions.active if conditions is not None else (),
            documents=documents,
            history=found,
            findings=tuple(shown),
            live=live,
            commit_url=self.commit_url,
            name=name,
        )

    def site(self, key: object, make: Callable[[], Snapshot]) -> Site:
        """The live site for `key` (a view of the loop and a head), made once."""
        with self._lock:
            cached = self._site
        if cached is not None and cached[0] == key:
            return cached[1]
        site = Site(make(), static=False)
        with self._lock:
            self._site = (key, site)
        return site
