"""The Jira emulator's search: JQL parsed and evaluated over the issues, as Cloud's
enhanced search (`/search/jql`, `nextPageToken`) and Data Center's `/search` (`startAt`)
answer it, with their errors for unknown fields and values."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from controller.sandbox import jql
from controller.sandbox.jira_api import Request, Response, error, expansions, integer
from controller.sandbox.jira_shapes import Shapes
from controller.sandbox.jira_state import Issue, JiraState, User

FIELDS = {
    "project": "project",
    "fixversion": "fixVersion",
    "status": "status",
    "statuscategory": "statusCategory",
    "issuetype": "issuetype",
    "type": "issuetype",
    "priority": "priority",
    "labels": "labels",
    "resolution": "resolution",
    "summary": "summary",
    "text": "text",
    "description": "description",
    "updated": "updated",
    "updateddate": "updated",
    "created": "created",
    "createddate": "created",
    "key": "key",
    "issuekey": "key",
    "id": "key",
}
UNBOUNDED = (
    "Unbounded JQL queries are not allowed here. Please add a search restriction to your query."
)
SEARCH_GONE = (
    "The requested API has been removed. Please migrate to the /rest/api/3/search/jql "
    "API. A full migration guideline is available at "
    "https://developer.atlassian.com/changelog/#CHANGE-2046"
)


class SearchRoutes:
    """The search routes of `JiraSandbox` (a mixin: the sandbox holds the state)."""

    state: JiraState
    _cursors: dict[str, tuple[str, int]]
    _results: dict[tuple[str, str, tuple[str, ...] | None], tuple[int, list[Issue]]]

    def shapes(self, request: Request) -> Shapes:
        raise NotImplementedError

    def _resolve_field(self, name: str) -> str | None:
        lowered = name.lower()
        if lowered in FIELDS:
            return FIELDS[lowered]
        custom = re.fullmatch(r"cf\[(\d+)\]|(customfield_\d+)", lowered)
        if custom:
            return custom.group(2) or f"customfield_{custom.group(1)}"
        return None

    def _values(self, issue: Issue) -> Callable[[str], list[str] | None]:
        state = self.state

        def values(name: str) -> list[str] | None:
            match name:
                case "project":
                    project = state.projects[issue.project]
                    return [project.key.lower(), project.name.lower(), str(project.id)]
                case "fixVersion":
                    found = [state.versions[v] for v in issue.fix_versions]
                    return [n for v in found for n in (v.name.lower(), str(v.id))] or None
                case "status":
                    return [issue.status.lower()]
                case "statusCategory":
                    category = state.statuses.get(issue.status, "new")
                    names = {"new": "to do", "indeterminate": "in progress", "done": "done"}
                    return [category, names[category]]
                case "issuetype":
                    return [issue.issuetype.lower()]
                case "priority":
                    return [issue.priority.lower()]
                case "labels":
                    return [label.lower() for label in issue.labels] or None
                case "resolution":
                    return ["done"] if state.statuses.get(issue.status) == "done" else None
                case "summary":
                    return [issue.summary.lower()]
                case "description":
                    return [issue.description.lower()] if issue.description else None
                case "text":
                    return [f"{issue.summary} {issue.description}".lower()]
                case "key":
                    return [issue.key.lower(), str(issue.id)]
            value = issue.custom.get(name)
            if value in (None, "", []):
                return None
            items = value if isinstance(value, list) else [value]
            return [str(v.get("value", v) if isinstance(v, dict) else v).lower() for v in items]

        return values

    def _check_values(self, node: jql.Node | None, user: User | None) -> Response | None:
        """Jira rejects `project = X` and `fixVersion = X` when X does not exist, or is
        in a project the user may not browse."""
        if node is None:
            return None
        if isinstance(node, jql.Clause):
            if node.field not in ("project", "fixVersion") or node.operator in ("~", "!~"):
                return None
            for value in node.values:
                if value is None:
                    continue
                lowered = value.lower()
                if node.field == "project":
                    known = any(
                        lowered in (p.key.lower(), p.name.lower(), str(p.id))
                        for p in self.state.projects.values()
                        if user is None or user.may_browse(p.key)
                    )
                else:
                    known = any(
                        lowered in (v.name.lower(), str(v.id))
                        for v in self.state.versions.values()
                        if user is None or user.may_browse(v.project)
                    )
                if not known:
                    return error(
                        400, f"The value '{value}' does not exist for the field '{node.field}'."
                    )
            return None
        operands = (node.operand,) if isinstance(node, jql.Not) else node.operands
        for operand in operands:
            failed = self._check_values(operand, user)
            if failed is not None:
                return failed
        return None

    def _run(self, text: str, user: User | None) -> list[Issue] | Response:
        """The issues matching `text` that `user` may browse, in order; cached until the
        state changes (a client paging through 20,000 issues must not cost 200 scans)."""
        time_zone = user.time_zone if user is not None else "UTC"
        key = (text, time_zone, user.projects if user is not None else None)
        cached = self._results.get(key)
        if cached is not None and cached[0] == self.state.generation:
            return cached[1]
        found = self._evaluate(text, time_zone, user)
        if not isinstance(found, Response):
            if len(self._results) > 64:
                self._results.clear()
            self._results[key] = (self.state.generation, found)
        return found

    def _evaluate(self, text: str, time_zone: str, user: User | None) -> list[Issue] | Response:
        try:
            query = jql.parse(text, self._resolve_field)
        except jql.JqlError as exc:
            return error(400, str(exc))
        failed = self._check_values(query.where, user)
        if failed is not None:
            return failed

        zone = ZoneInfo(time_zone)

        def dates(issue: Issue) -> Callable[[str], datetime | None]:
            def date_of(name: str) -> datetime | None:
                value = {"updated": issue.updated, "created": issue.created}.get(name)
                # JQL date literals are wall-clock times in the searching user's zone.
                return value.astimezone(zone).replace(tzinfo=None) if value else None

            return date_of

        try:
            found = [
                i
                for i in sorted(self.state.issues.values(), key=lambda i: i.id)
                if (user is None or user.may_browse(i.project))
                and jql.matches(query.where, self._values(i), dates(i))
            ]
        except jql.JqlError as exc:
            return error(400, str(exc))
        for name, descending in reversed(query.order_by):
            found.sort(
                key=lambda i, n=name: _sort_key(self._values(i)(n), i, n),  # type: ignore[misc]
                reverse=descending,
            )
        return found

    def _wanted(self, request: Request, default: str) -> set[str] | None:
        raw: list[str] = []
        if isinstance(request.body, dict) and "fields" in request.body:
            raw = list(request.body.get("fields") or [])
        else:
            raw = [f for value in request.query.get("fields", []) for f in value.split(",")]
        raw = [f.strip() for f in raw if f.strip()] or [default]
        return None if "*all" in raw else set(raw)

    def _search_params(self, request: Request) -> tuple[str, int, str | None]:
        """(jql, maxResults, page position: nextPageToken on v3, startAt on v2)."""
        cursor = "nextPageToken" if request.path.endswith("/jql") else "startAt"
        if isinstance(request.body, dict):
            body = request.body
            position = body.get(cursor)
            return (
                str(body.get("jql", "")),
                integer(body.get("maxResults"), "maxResults", 50),
                None if position is None else str(position),
            )
        return (
            request.param("jql", "") or "",
            integer(request.param("maxResults"), "maxResults", 50),
            request.param(cursor),
        )

    def _enhanced_search(self, request: Request) -> Response:
        if self.state.flavor == "datacenter":
            return error(404, "null for uri: " + request.path)
        text, max_results, token = self._search_params(request)
        if _unbounded(text, self._resolve_field):
            return error(400, UNBOUNDED)
        wanted = self._wanted(request, "id")
        light = wanted is not None and wanted <= {"id", "key"}
        page = max(1, min(max_results, 5000 if light else 100))
        offset = 0
        if token:
            cursor = self._cursors.get(token)
            if cursor is None or cursor[0] != _digest(text, wanted):
                return error(400, "The provided next page token is invalid or expired.")
            offset = cursor[1]
        found = self._run(text, request.user)
        if isinstance(found, Response):
            return found
        chunk = found[offset : offset + page]
        shapes = self.shapes(request)
        body: dict[str, Any] = {
            "issues": [shapes.issue(i, wanted, expansions(request)) for i in chunk],
            "isLast": offset + page >= len(found),
        }
        if not body["isLast"]:
            following = (
                base64.urlsafe_b64encode(
                    hashlib.sha256(f"{text}|{offset + page}|{len(self._cursors)}".encode()).digest()
                )
                .decode()
                .rstrip("=")
            )
            self._cursors[following] = (_digest(text, wanted), offset + page)
            body["nextPageToken"] = following
        return Response(200, body)

    def _search(self, request: Request) -> Response:
        if self.state.flavor == "cloud":
            return error(410, SEARCH_GONE)
        text, max_results, start = self._search_params(request)
        offset = max(0, integer(start, "startAt", 0))
        page = max(0, min(max_results, 1000))
        found = self._run(text, request.user)
        if isinstance(found, Response):
            return found
        shapes = self.shapes(request)
        wanted = self._wanted(request, "*navigable")
        return Response(
            200,
            {
                "expand": "names,schema",
                "startAt": offset,
                "maxResults": page,
                "total": len(found),
                "issues": [
                    shapes.issue(i, wanted, expansions(request))
                    for i in found[offset : offset + page]
                ],
            },
        )


def _unbounded(text: str, resolve: Callable[[str], str | None]) -> bool:
    """A query with no condition (`ORDER BY key`, or nothing): Cloud's enhanced search
    refuses it."""
    try:
        return jql.parse(text, resolve).where is None
    except jql.JqlError:
        return False  # the search itself answers what is wrong with it


def _digest(text: str, wanted: set[str] | None) -> str:
    return hashlib.sha256(f"{text}|{sorted(wanted or [])}".encode()).hexdigest()


def _sort_key(values: list[str] | None, issue: Issue, name: str) -> tuple[Any, ...]:
    if name in ("updated", "created"):
        return (getattr(issue, name),)
    if name == "key":
        project, _, number = issue.key.rpartition("-")
        return (project, int(number))
    return (values is None, values or [])
