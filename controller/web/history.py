"""Which commit recorded each decision, read from the status files' history.

The status files are append-only decision logs, so the commit that recorded a decision is
the first one whose diff adds its `- decision: KIND` line with its `at:` line. The shell
runs `git log --reverse --unified=0 -p` (`LOG_FORMAT`) over the status folder; this module
only reads its text. Commit messages are anyone's text: they are kept as text and escaped
where they are shown.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

LOG_FORMAT = "%x1e%H%x1f%an%x1f%ae%x1f%aI%x1f%s%x1f%b%x1f"
"""Per commit: sha, author, email, author date, subject, body; then the diff."""
DecisionKey = tuple[str, str, str]
"""(release, decision kind, decision time in ISO 8601)."""

_FILE = re.compile(r"^\+\+\+ b/(?:.*/)?([a-z0-9][-a-z0-9.]*)\.yaml$")
_DECISION = re.compile(r"^\+- decision: ([A-Z_]+)$")
_AT = re.compile(r"^\+  at: '?([^']+)'?$")
_SHA = re.compile(r"^[0-9a-f]{40,64}$")
MAX_BODY = 4000


@dataclass(frozen=True)
class CommitInfo:
    sha: str
    author: str
    email: str
    at: datetime
    subject: str
    body: str
    releases: tuple[str, ...] = ()
    """The releases whose decisions it recorded."""

    @property
    def short(self) -> str:
        return self.sha[:10]


@dataclass(frozen=True)
class History:
    head: str = ""
    decisions: Mapping[DecisionKey, str] = field(default_factory=dict)
    """Decision → the sha of the commit that recorded it."""
    commits: Mapping[str, CommitInfo] = field(default_factory=dict)
    """The commits that recorded a decision, by sha."""

    def commit_of(self, release: str, kind: str, at: datetime) -> CommitInfo | None:
        sha = self.decisions.get((release, kind, at.isoformat()))
        return self.commits.get(sha) if sha else None

    def then(self, later: History) -> History:
        """This history followed by `later` (parsed from this head onwards)."""
        decisions = {**later.decisions, **self.decisions}
        return History(later.head or self.head, decisions, {**self.commits, **later.commits})


def _when(text: str) -> str | None:
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    return parsed.isoformat() if parsed.tzinfo is not None else None


def parse(text: str, head: str) -> History:
    """The history in `git log --reverse -p --unified=0 --format=LOG_FORMAT` output."""
    decisions: dict[DecisionKey, str] = {}
    commits: dict[str, CommitInfo] = {}
    # Every chunk is a commit; the first one's separator may have been trimmed as blank.
    for chunk in text.split("\x1e"):
        parts = chunk.split("\x1f", 6)
        if len(parts) < 7 or not _SHA.match(parts[0]):
            continue
        sha, author, email, date, subject, body, diff = parts
        try:
            at = datetime.fromisoformat(date.strip())
        except ValueError:
            continue
        release, pending, found = "", "", []
        for line in diff.splitlines():
            if line.startswith("+++ "):
                matched = _FILE.match(line)
                release, pending = (matched.group(1) if matched else ""), ""
            elif release and (decision := _DECISION.match(line)):
                pending = decision.group(1)
            elif pending and (moment := _AT.match(line)):
                when = _when(moment.group(1))
                if when is not None and (release, pending, when) not in decisions:
                    decisions[(release, pending, when)] = sha
                    found.append(release)
                pending = ""
            else:
                pending = ""
        if found:
            commits[sha] = CommitInfo(
                sha,
                author[:200],
                email[:200],
                at,
                subject[:500],
                body.strip()[:MAX_BODY],
                tuple(sorted(set(found))),
            )
    return History(head, decisions, commits)
