"""The Jira adapter: Cloud (REST v3, enhanced search with `nextPageToken`) and Data
Center (REST v2, `/search` with `startAt`), versions, issues, comments, transitions, over
the transport of `jira_http` (deadlines, Retry-After, back-off, classified errors).

- One JQL search covers every project and version a pass needs, paged; incremental
  passes ask only for issues updated since the last one.
- JQL is built from quoted, escaped values only (`quote`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any

from controller.adapters.jira_http import JiraError as JiraError
from controller.adapters.jira_http import JiraHttp
from controller.adapters.jira_http import JiraSettings as JiraSettings
from controller.adapters.jira_http import retry_after as retry_after
from controller.adapters.jira_http import settings_from as settings_from
from controller.errors import Disposition
from controller.plan.jql import jql_time, quote_list
from controller.plan.observed import (
    JiraObservation,
    ObservedIssue,
    ObservedVersion,
    StatusCategory,
    classify,
    index_by_version,
    is_blocker,
    is_critical,
)

BASE_FIELDS = (
    "summary",
    "issuetype",
    "status",
    "priority",
    "labels",
    "fixVersions",
    "resolution",
    "updated",
    "project",
)


class JiraClient(JiraHttp):
    """A Jira REST client for one site."""

    def __enter__(self) -> JiraClient:
        return self

    # --- versions -----------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        info = self.request("GET", "serverInfo", what="the server information")
        assert isinstance(info, dict)
        return info

    def versions(self, project: str) -> list[ObservedVersion]:
        found = self.request(
            "GET", f"project/{project}/versions", what=f"the versions of project {project}"
        )
        return [_version(project, v) for v in found or []]

    def create_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None = None,
        start_date: date | None = None,
        description: str = "",
    ) -> ObservedVersion:
        body: dict[str, Any] = {"name": name, "project": project}
        if description:
            body["description"] = description
        if release_date is not None:
            body["releaseDate"] = release_date.isoformat()
        if start_date is not None:
            body["startDate"] = start_date.isoformat()

        def applied() -> Any:
            listed = self.request(
                "GET", f"project/{project}/versions", what=f"the versions of project {project}"
            )
            return next((v for v in listed or () if v.get("name") == name), None)

        created = self.request(
            "POST",
            "version",
            json=body,
            what=f"creating version {name!r} in project {project}",
            applied=applied,
        )
        return _version(project, created)

    def update_version(self, version: ObservedVersion, **fields: Any) -> ObservedVersion:
        body = {_camel(k): (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}
        updated = self.request(
            "PUT",
            f"version/{version.id}",
            json=body,
            what=f"updating version {version.name!r} of {version.project}",
        )
        return _version(version.project, updated)

    def ensure_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None = None,
        description: str = "",
        known: Sequence[ObservedVersion] | None = None,
    ) -> ObservedVersion:
        """The version, created if missing and moved if its date differs: idempotent."""
        existing = next(
            (v for v in (known if known is not None else self.versions(project)) if v.name == name),
            None,
        )
        if existing is None:
            return self.create_version(
                project, name, release_date=release_date, description=description
            )
        if (
            release_date is not None
            and existing.release_date != release_date
            and not existing.released
        ):
            return self.update_version(existing, release_date=release_date)
        return existing

    def release_version(self, version: ObservedVersion, on: date) -> ObservedVersion:
        if version.released:
            return version
        return self.update_version(version, released=True, release_date=on)

    def archive_version(self, version: ObservedVersion) -> ObservedVersion:
        if version.archived:
            return version
        return self.update_version(version, archived=True)

    # --- issues -------------------------------------------------------------------------

    def fields(self) -> list[str]:
        extra = [
            f
            for f in (
                self.settings.categories.breaking_field,
                self.settings.categories.migration_field,
            )
            if f
        ]
        return [*BASE_FIELDS, *extra]

    def search(self, jql: str, fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every issue matching `jql`, page by page."""
        size = self.settings.page_size
        if self.settings.flavor == "cloud":
            token: str | None = None
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": size}
                if token:
                    body["nextPageToken"] = token
                page = self.request("POST", "search/jql", json=body, what="the issue search")
                yield from page.get("issues", [])
                token = page.get("nextPageToken")
                if page.get("isLast", True) or not token:
                    return
        start = 0
        while True:
            page = self.request(
                "POST",
                "search",
                json={
                    "jql": jql,
                    "fields": list(fields),
                    "startAt": start,
                    "maxResults": size,
                },
                what="the issue search",
            )
            issues = page.get("issues", [])
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                return

    def observe(
        self,
        versions: Mapping[str, Sequence[str]],
        *,
        now: datetime,
        previous: JiraObservation | None = None,
    ) -> JiraObservation:
        """Versions of every project and the issues of the named versions.

        `versions` maps project key → version names. A full observation lists every
        project's versions and searches the issues of the versions that exist (Jira
        refuses a search naming a version it does not have, so a release whose version
        is not created yet costs no other release its observation). With `previous`,
        when it watched every pair asked for now, only issues updated since then are
        fetched (one search, across projects, with a minute of overlap: JQL dates have
        minute precision) and the versions are not listed again; a newly watched pair
        means a full observation."""
        before = self.requests
        projects = sorted(versions)
        wanted = frozenset((p, v) for p, names in versions.items() for v in names)
        if not projects or not wanted:
            return JiraObservation({}, {}, now, watched=wanted)
        if previous is not None and wanted <= previous.watched:
            listed = dict(previous.versions)
            timezone = previous.timezone
            since = previous.observed_at - timedelta(minutes=1)
            jql: str | None = (
                f"project in {quote_list(projects)} AND updated >= "
                f"{jql_time(since, timezone)} ORDER BY key ASC"
            )
            issues = dict(previous.issues)
        else:
            account = self.request("GET", "myself", what="the relctl account")
            timezone = str((account or {}).get("timeZone") or "UTC")
            listed = {p: tuple(self.versions(p)) for p in projects}
            names = sorted({v.name for p in projects for v in listed[p] if (p, v.name) in wanted})
            jql = (
                f"project in {quote_list(projects)} AND fixVersion in {quote_list(names)} "
                "ORDER BY key ASC"
                if names
                else None  # no watched version exists yet: no issue can be in one
            )
            issues = {}
        for raw in self.search(jql, self.fields()) if jql is not None else ():
            issue = self._issue(raw)
            if any((issue.project, v) in wanted for v in issue.fix_versions):
                issues[issue.key] = issue
            else:
                issues.pop(issue.key, None)  # moved out of every version we watch
        return JiraObservation(
            listed,
            issues,
            now,
            self.requests - before,
            index_by_version(issues),
            timezone,
            wanted,
        )

    def _issue(self, raw: dict[str, Any]) -> ObservedIssue:
        fields = raw.get("fields") or {}
        categories = self.settings.categories
        labels = tuple(fields.get("labels") or ())
        issuetype = (fields.get("issuetype") or {}).get("name", "")
        priority = (fields.get("priority") or {}).get("name", "")
        status = fields.get("status") or {}
        category_key = (status.get("statusCategory") or {}).get("key", "new")
        breaking_field = categories.breaking_field
        breaking = bool(breaking_field and _plain(fields.get(breaking_field)).strip())
        migration = (
            _plain(fields.get(categories.migration_field)) if categories.migration_field else ""
        )
        key = str(raw.get("key", ""))
        return ObservedIssue(
            key=key,
            project=(fields.get("project") or {}).get("key") or key.rpartition("-")[0],
            summary=fields.get("summary") or "",
            issuetype=issuetype,
            status=status.get("name", ""),
            status_category=StatusCategory(category_key)
            if category_key in ("new", "indeterminate", "done")
            else StatusCategory.TODO,
            priority=priority,
            labels=labels,
            fix_versions=tuple(v.get("name", "") for v in fields.get("fixVersions") or ()),
            updated=_parse_time(fields.get("updated")),
            category=classify(issuetype, labels, breaking, categories),
            blocker=is_blocker(priority, labels, categories),
            critical=is_critical(issuetype, priority, categories),
            internal=bool(set(labels) & set(categories.internal_labels)),
            migration_note=migration.strip(),
        )

    def comment(self, issue: str, text: str, marker: str = "") -> None:
        """Post a comment. With `marker` (text only this comment carries), a retry after a
        lost answer first looks for it, so the comment is never posted twice."""
        body: Any = (
            text
            if self.settings.api == "2"
            else {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": part}]}
                    for part in text.split("\n\n")
                    if part
                ],
            }
        )

        def applied() -> Any:
            return True if any(marker in c for c in self.comments(issue)) else None

        self.request(
            "POST",
            f"issue/{issue}/comment",
            json={"body": body},
            what=f"commenting on {issue}",
            applied=applied if marker else None,
        )

    def comments(self, issue: str) -> list[str]:
        """Every comment's text, page by page (Jira pages comments, 100 at most)."""
        texts: list[str] = []
        while True:
            page = self.request(
                "GET",
                f"issue/{issue}/comment",
                params={"startAt": len(texts), "maxResults": 100},
                what=f"the comments of {issue}",
            )
            found = (page or {}).get("comments", [])
            texts += [_plain(c.get("body")) for c in found]
            if not found or len(texts) >= int((page or {}).get("total", 0)):
                return texts

    def transition(self, issue: str, name: str) -> None:
        found = self.request(
            "GET", f"issue/{issue}/transitions", what=f"the transitions of {issue}"
        )
        options = {t["name"].lower(): t["id"] for t in (found or {}).get("transitions", [])}
        if name.lower() not in options:
            raise JiraError(
                f"{issue} has no transition named {name!r} now "
                f"(available: {', '.join(sorted(options)) or 'none'})",
                disposition=Disposition.STALLED,
            )
        self.request(
            "POST",
            f"issue/{issue}/transitions",
            json={"transition": {"id": options[name.lower()]}},
            what=f"moving {issue} through {name!r}",
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _version(project: str, raw: Any) -> ObservedVersion:
    return ObservedVersion(
        id=str(raw["id"]),
        project=project,
        name=str(raw["name"]),
        released=bool(raw.get("released")),
        archived=bool(raw.get("archived")),
        release_date=date.fromisoformat(raw["releaseDate"]) if raw.get("releaseDate") else None,
        start_date=date.fromisoformat(raw["startDate"]) if raw.get("startDate") else None,
        description=str(raw.get("description") or ""),
    )


def _plain(value: Any) -> str:
    """Text of a field: a string, an option ({"value": …}), or an ADF document."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        if "value" in value:
            return str(value["value"])
        parts = [_plain(c) for c in value.get("content", [])]
        return ("\n\n" if value.get("type") == "doc" else "").join(parts)
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _parse_time(value: Any) -> datetime:
    if not value:
        return datetime(1970, 1, 1, tzinfo=UTC)
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # Jira writes +0000
    return datetime.fromisoformat(text)
