"""The Jira emulator's state: projects, versions, issues, comments and a workflow, and
their JSON representations as Jira's REST API returns them (shapes from Atlassian's
OpenAPI description of the Cloud platform API; Data Center's v2 shapes are the same
except that text is plain instead of Atlassian Document Format).

Seeded from YAML (`seed`), mutated by the HTTP layer under one lock. Pure Python; no I/O
beyond reading a seed file.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import yaml

from controller.errors import Disposition, RelctlError
from controller.sandbox import jira_seed

DEFAULT_STATUSES = {
    "To Do": "new",
    "Open": "new",
    "In Progress": "indeterminate",
    "In Review": "indeterminate",
    "Done": "done",
    "Closed": "done",
}
CATEGORY_NAMES = {
    "new": ("To Do", 2, "blue-gray"),
    "indeterminate": ("In Progress", 4, "yellow"),
    "done": ("Done", 3, "green"),
}
DEFAULT_TRANSITIONS = [
    {"name": "Start Progress", "to": "In Progress"},
    {"name": "Review", "to": "In Review"},
    {"name": "Done", "to": "Done"},
    {"name": "Reopen", "to": "To Do"},
]
ISSUE_TYPES = ["Story", "Bug", "Task", "Improvement", "Epic", "Sub-task", "New Feature"]
PRIORITIES = ["Highest", "High", "Medium", "Low", "Lowest", "Blocker", "Critical"]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
FIELD_NAMES = {
    "summary": "Summary",
    "issuetype": "Issue Type",
    "status": "Status",
    "priority": "Priority",
    "labels": "Labels",
    "fixVersions": "Fix versions",
    "resolution": "Resolution",
    "project": "Project",
    "created": "Created",
    "updated": "Updated",
    "description": "Description",
}
"""Field id → the name Jira shows (the field list, `expand=names`)."""


def jira_time(value: datetime) -> str:
    """Jira's timestamp format: 2026-11-23T12:00:00.000+0000."""
    return (
        value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.")
        + f"{value.microsecond // 1000:03d}+0000"
    )


def adf(text: str) -> dict[str, Any]:
    """Plain text as an Atlassian Document Format document."""
    paragraphs = list(text.split("\n\n")) or [""]
    return {
        "type": "doc",
        "version": 1,
        "content": [
            {"type": "paragraph", "content": [{"type": "text", "text": p}] if p else []}
            for p in paragraphs
        ],
    }


def adf_text(document: Any) -> str:
    """The plain text of an ADF document (or a string as it is)."""
    if isinstance(document, str):
        return document
    if isinstance(document, dict):
        if document.get("type") == "text":
            return str(document.get("text", ""))
        parts = [adf_text(c) for c in document.get("content", [])]
        return ("\n\n" if document.get("type") == "doc" else "").join(parts)
    return ""


@dataclass
class Project:
    id: int
    key: str
    name: str


@dataclass
class Version:
    id: int
    project: str
    name: str
    description: str = ""
    release_date: date | None = None
    start_date: date | None = None
    released: bool = False
    archived: bool = False


@dataclass
class Comment:
    id: int
    body: str
    author: str
    created: datetime


@dataclass
class Issue:
    id: int
    key: str
    project: str
    summary: str
    issuetype: str = "Story"
    status: str = "To Do"
    priority: str = "Medium"
    labels: list[str] = field(default_factory=list)
    fix_versions: list[int] = field(default_factory=list)
    description: str = ""
    created: datetime = EPOCH
    updated: datetime = EPOCH
    custom: dict[str, Any] = field(default_factory=dict)
    comments: list[Comment] = field(default_factory=list)


@dataclass(frozen=True)
class User:
    account_id: str
    email: str
    display_name: str
    token: str
    time_zone: str = "UTC"
    """The account's zone: JQL date literals are read in it."""
    projects: tuple[str, ...] | None = None
    """Keys of the projects it may browse; None: every project."""

    def may_browse(self, project: str) -> bool:
        return self.projects is None or project in self.projects


DEFAULT_USER = ("sandbox@relctl.local", "sandbox-token")
"""Who may call an emulator seeded with no users: Basic `sandbox@relctl.local` with the
token `sandbox-token` (Cloud), or that token as a Bearer (Data Center)."""


class JiraState:
    """Everything the emulator knows. Callers hold `lock` while reading or writing."""

    def __init__(self, flavor: str = "cloud") -> None:
        if flavor not in ("cloud", "datacenter"):
            raise ValueError(f"unknown flavor {flavor!r}")
        self.flavor = flavor
        self.lock = threading.RLock()
        self.projects: dict[str, Project] = {}
        self.versions: dict[int, Version] = {}
        self.issues: dict[str, Issue] = {}
        self.users: list[User] = []
        self.statuses: dict[str, str] = dict(DEFAULT_STATUSES)
        self.transitions: list[dict[str, str]] = list(DEFAULT_TRANSITIONS)
        self.clock: datetime | None = None
        """When set, the emulator's notion of now (tests and the demo move it)."""
        self._ids = {"project": 10000, "version": 10000, "issue": 10000, "comment": 10000}
        self._issue_numbers: dict[str, int] = {}
        self.generation = 0
        """Bumped by every change, so cached query results know when they are stale."""

    def changed(self) -> None:
        self.generation += 1

    def now(self) -> datetime:
        return self.clock or datetime.now(UTC)

    def next_id(self, kind: str) -> int:
        self._ids[kind] += 1
        return self._ids[kind]

    # --- building ---------------------------------------------------------------------

    def add_user(
        self,
        email: str,
        token: str,
        display_name: str = "",
        time_zone: str = "UTC",
        projects: tuple[str, ...] | None = None,
    ) -> User:
        user = User(
            f"5b10ac8d82e05b22cc7d{len(self.users):04d}",
            email,
            display_name or email.split("@")[0],
            token,
            time_zone,
            projects,
        )
        self.users.append(user)
        return user

    def add_project(self, key: str, name: str = "") -> Project:
        project = Project(self.next_id("project"), key, name or key.title())
        self.projects[key] = project
        return project

    def add_version(self, project: str, name: str, **fields: Any) -> Version:
        version = Version(self.next_id("version"), project, name, **fields)
        self.versions[version.id] = version
        self.changed()
        return version

    def version_named(self, project: str, name: str) -> Version | None:
        return next(
            (v for v in self.versions.values() if v.project == project and v.name == name), None
        )

    def add_issue(
        self,
        project: str,
        summary: str,
        *,
        fix_versions: tuple[str, ...] = (),
        key: str | None = None,
        **fields: Any,
    ) -> Issue:
        number = self._issue_numbers.get(project, 0) + 1
        if key is not None:
            number = int(key.rsplit("-", 1)[1])
        self._issue_numbers[project] = max(number, self._issue_numbers.get(project, 0))
        ids = []
        for name in fix_versions:
            version = self.version_named(project, name) or self.add_version(project, name)
            ids.append(version.id)
        fields.setdefault("created", self.now())
        fields.setdefault("updated", fields["created"])
        issue = Issue(
            self.next_id("issue"),
            key or f"{project}-{number}",
            project,
            summary,
            fix_versions=ids,
            **fields,
        )
        self.issues[issue.key] = issue
        self.changed()
        return issue

    def touch(self, issue: Issue) -> None:
        """Record a change to `issue` (callers that edit fields directly call this)."""
        issue.updated = self.now()
        self.changed()

    # --- seeding ----------------------------------------------------------------------

    def seed(self, data: Any) -> None:
        """Load a seed (`jira_seed`: users, workflow, projects with versions and issues);
        ValueError naming the place of each problem, nothing loaded."""
        seed = jira_seed.parse(data)
        for user in seed.users:
            self.add_user(user.email, user.token, user.display_name, user.time_zone, user.projects)
        if seed.workflow.statuses is not None:
            self.statuses = dict(seed.workflow.statuses)
        if seed.workflow.transitions is not None:
            self.transitions = [t.model_dump() for t in seed.workflow.transitions]
        for project in seed.projects:
            self.add_project(project.key, project.name)
            for version in project.versions:
                self.add_version(project.key, **version.model_dump(by_alias=False))
            for issue in project.issues:
                self.add_issue(
                    project.key,
                    issue.summary,
                    key=issue.key,
                    fix_versions=issue.fix_versions,
                    issuetype=issue.type,
                    status=issue.status,
                    priority=issue.priority,
                    labels=list(issue.labels),
                    description=issue.description,
                    custom=dict(issue.custom),
                    **({"updated": _time(issue.updated)} if issue.updated is not None else {}),
                )

    def seed_file(self, path: Path) -> None:
        """Seed from a YAML file; anything else is a `SeedError` naming the file."""
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except (UnicodeDecodeError, yaml.YAMLError) as exc:
            raise SeedError(f"{path}: not a YAML seed file ({type(exc).__name__})") from None
        if not isinstance(data, dict):
            raise SeedError(f"{path}: a seed file is a mapping of users, workflow, projects")
        try:
            self.seed(data)
        except ValueError as exc:
            raise SeedError(f"{path}: {exc}") from None


class SeedError(RelctlError):
    """A seed file that cannot seed the emulator."""

    disposition = Disposition.STALLED


def _date(value: Any) -> date | None:
    if value is None or isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def _time(value: Any) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    return datetime.fromisoformat(str(value)).astimezone(UTC)
