"""The Jira emulator's listings of issue types, statuses, priorities and resolutions (the
`jira` client reads some on its own), and moving a version within its project."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from controller.sandbox.jira_api import Request, Response, error, integer
from controller.sandbox.jira_shapes import Shapes
from controller.sandbox.jira_state import (
    FIELD_NAMES,
    ISSUE_TYPES,
    PRIORITIES,
    JiraState,
)

RESOLUTIONS = ["Done", "Won't Do", "Duplicate", "Cannot Reproduce"]
POSITIONS = ("First", "Last", "Earlier", "Later")


class MetaRoutes:
    """Routes of `JiraSandbox` (a mixin: the sandbox holds the state)."""

    state: JiraState

    def shapes(self, request: Request) -> Shapes:
        raise NotImplementedError

    def _listing(
        self, request: Request, kind: str, names: list[str], extra: Callable[[str], dict[str, Any]]
    ) -> Response:
        """GET issuetype, priority, resolution: each name, with the fields its kind has."""
        shapes = self.shapes(request)
        return Response(
            200, [{**shapes.named(kind, names, n), "description": "", **extra(n)} for n in names]
        )

    def _issue_types(self, request: Request) -> Response:
        icons = f"{self.shapes(request).base}/images/icons/issuetypes"
        return self._listing(
            request,
            "issuetype",
            ISSUE_TYPES,
            lambda name: {
                "iconUrl": f"{icons}/{name.lower()}.svg",
                "subtask": name == "Sub-task",
                "hierarchyLevel": -1 if name == "Sub-task" else 1 if name == "Epic" else 0,
            },
        )

    def _priorities(self, request: Request) -> Response:
        icons = f"{self.shapes(request).base}/images/icons/priorities"
        return self._listing(
            request,
            "priority",
            PRIORITIES,
            lambda name: {
                "iconUrl": f"{icons}/{name.lower()}.svg",
                "statusColor": "#ffab00",
                "isDefault": name == "Medium",
            },
        )

    def _resolutions(self, request: Request) -> Response:
        return self._listing(request, "resolution", RESOLUTIONS, lambda _: {})

    def _project_or_404(self, key_or_id: str, user: Any) -> Any:
        raise NotImplementedError

    def _browsable(self, request: Request) -> list[Any]:
        raise NotImplementedError

    def _createmeta(self, request: Request) -> Response:
        """GET issue/createmeta (the form the `jira` client uses on Cloud): projects by
        `projectKeys`, their issue types, and with `expand=projects.issuetypes.fields`
        the fields of each."""
        keys = {k for v in request.query.get("projectKeys", []) for k in v.split(",") if k}
        fields = "projects.issuetypes.fields" in (request.param("expand") or "")
        shapes = self.shapes(request)
        projects = [
            {
                **shapes.project(p),
                "issuetypes": [
                    {
                        **shapes.named("issuetype", ISSUE_TYPES, n),
                        "subtask": n == "Sub-task",
                        **({"fields": {f["key"]: f for f in _fields()}} if fields else {}),
                    }
                    for n in ISSUE_TYPES
                ],
            }
            for p in self._browsable(request)
            if not keys or p.key in keys
        ]
        return Response(200, {"expand": "projects", "projects": projects})

    def _createmeta_types(self, request: Request) -> Response:
        """GET issue/createmeta/{project}/issuetypes: what may be created there."""
        project = self._project_or_404(request.match.group(1), request.user)
        if isinstance(project, Response):
            return project
        shapes = self.shapes(request)
        types = [
            {**shapes.named("issuetype", ISSUE_TYPES, n), "subtask": n == "Sub-task"}
            for n in ISSUE_TYPES
        ]
        body = {"startAt": 0, "maxResults": 50, "total": len(types), "isLast": True}
        return Response(200, {**body, "issueTypes": types, "values": types})

    def _createmeta_fields(self, request: Request) -> Response:
        """GET issue/createmeta/{project}/issuetypes/{id}: the fields of a new issue."""
        project = self._project_or_404(request.match.group(1), request.user)
        if isinstance(project, Response):
            return project
        index = integer(request.match.group(2), "issueTypeId", 0)
        if not 1 <= index <= len(ISSUE_TYPES):
            return error(404, f"Issue type with id '{request.match.group(2)}' does not exist.")
        fields = _fields()
        body = {"startAt": 0, "maxResults": 50, "total": len(fields), "isLast": True}
        return Response(200, {**body, "fields": fields, "values": fields})

    def _statuses(self, request: Request) -> Response:
        shapes = self.shapes(request)
        return Response(200, [shapes.status(name) for name in self.state.statuses])

    def _move_version(self, request: Request) -> Response:
        """POST version/{id}/move: `position` (First, Last, Earlier, Later) or `after`
        (another version's URL) orders the project's versions."""
        versions = self.state.versions
        version = versions.get(integer(request.match.group(1), "id", 0))
        user = request.user
        if version is None or (user is not None and not user.may_browse(version.project)):
            return error(404, f"Could not find version for id '{request.match.group(1)}'")
        body: dict[str, Any] = request.body if isinstance(request.body, dict) else {}
        mine = [v for v in versions.values() if v.project == version.project]
        mine.remove(version)
        index = [v.id for v in versions.values() if v.project == version.project].index(version.id)
        if "after" in body:
            after = versions.get(
                integer(str(body["after"]).rstrip("/").rsplit("/", 1)[-1], "after", 0)
            )
            if after is None or after.project != version.project or after is version:
                return error(400, "The version to move after is not in the same project.")
            index = mine.index(after) + 1
        elif body.get("position") in POSITIONS:
            index = {
                "First": 0,
                "Last": len(mine),
                "Earlier": max(0, index - 1),
                "Later": min(len(mine), index + 1),
            }[body["position"]]
        else:
            return error(400, "Specify 'after' or a 'position' of First, Last, Earlier, Later.")
        mine.insert(index, version)
        others = [v for v in versions.values() if v.project != version.project]
        versions.clear()
        versions.update((v.id, v) for v in [*others, *mine])
        self.state.changed()
        return Response(200, self.shapes(request).version(version))


def _fields() -> list[dict[str, Any]]:
    """The fields a new issue may be given."""
    required = {"summary", "issuetype", "project"}
    return [
        {
            "fieldId": key,
            "key": key,
            "name": name,
            "required": key in required,
            "hasDefaultValue": key == "priority",
            "operations": ["set"],
        }
        for key, name in FIELD_NAMES.items()
        if key not in ("created", "updated", "resolution", "status")
    ]
