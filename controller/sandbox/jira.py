"""A stateful Jira REST emulator on 127.0.0.1: Cloud (REST v3 and v2, enhanced search
with `nextPageToken`, the old `/search` answering 410) or Data Center (REST v2 only,
`/search` with `startAt`/`total`).

Serves serverInfo, myself, fields, projects, versions (create, update, release, archive,
delete), issues (get, search by JQL, comments, transitions) with Jira's error bodies
(`{"errorMessages": [...], "errors": {...}}`). Knobs for tests: artificial latency,
injected 429/503 responses with `Retry-After`, a request log, and a settable clock.

    with JiraSandbox(flavor="cloud") as jira:
        jira.state.seed({...}); httpx.get(jira.url + "/rest/api/3/myself", auth=...)

Run alone with `relctl sandbox jira --port N --seed FILE`.
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
from collections.abc import Callable
from datetime import date
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from controller.sandbox.http import QuietHandler, QuietServer
from controller.sandbox.jira_api import (
    BadRequest,
    Fault,
    Handler,
    Logged,
    Request,
    Response,
    error,
    integer,
    parse_fault,
)
from controller.sandbox.jira_issues import IssueRoutes
from controller.sandbox.jira_meta import MetaRoutes
from controller.sandbox.jira_search import SearchRoutes
from controller.sandbox.jira_shapes import Shapes
from controller.sandbox.jira_state import (
    DEFAULT_USER,
    FIELD_NAMES,
    Issue,
    JiraState,
    User,
    jira_time,
)

ANONYMOUS = User("", "", "Anonymous", "")


def rest_of(path: str) -> str:
    """`/serverInfo` of `/rest/api/3/serverInfo`."""
    return re.sub(r"^/rest/api/(2|3|latest)", "", path)


class JiraSandbox(SearchRoutes, IssueRoutes, MetaRoutes):
    """The emulator: an HTTP server thread around a `JiraState`."""

    def __init__(self, flavor: str = "cloud", port: int = 0, latency: float = 0.0) -> None:
        self.state = JiraState(flavor)
        self.latency = latency
        self.log: list[Logged] = []
        self._faults: list[Fault] = []
        self._cursors: dict[str, tuple[str, int]] = {}
        self._results: dict[tuple[str, str, tuple[str, ...] | None], tuple[int, list[Issue]]] = {}
        self._server = QuietServer(("127.0.0.1", port), _handler_for(self))
        self._thread: threading.Thread | None = None
        self._routes = self._build_routes()

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> JiraSandbox:
        self._server.start("jira-sandbox")
        return self

    def stop(self) -> None:
        self._server.stop()

    def __enter__(self) -> JiraSandbox:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    after_write: Callable[[str, str], None] | None = None
    """Called after a write is applied and before its reply is sent (crash tests)."""

    def inject(
        self,
        status: int,
        *,
        retry_after: float | None = None,
        count: int = 1,
        path: str | None = None,
    ) -> None:
        """Answer the next `count` requests (whose path contains `path`) with `status`."""
        with self.state.lock:
            self._faults.append(Fault(status, retry_after, count, path))

    def inject_spec(self, spec: str) -> None:
        """`inject` from text, as `relctl sandbox jira --fault` takes it (`parse_fault`)."""
        status, retry_after, times, path = parse_fault(spec)
        self.inject(status, retry_after=retry_after, count=times, path=path)

    def clear_faults(self) -> None:
        with self.state.lock:
            self._faults.clear()

    def requests(self, path_part: str = "") -> list[Logged]:
        with self.state.lock:
            return [r for r in self.log if path_part in r.path]

    # --- dispatch ---------------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: dict[str, str], body: bytes) -> Response:
        if self.latency:
            time.sleep(self.latency)
        parts = urlsplit(raw_path)
        path, query = unquote(parts.path), parse_qs(parts.query, keep_blank_values=True)
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return error(400, "Unexpected character in the request body: it is not JSON.")
        with self.state.lock:
            try:
                response = self._dispatch(method, path, query, headers, payload)
            except BadRequest as refused:
                response = refused.response
            self.log.append(Logged(method, path, query, payload, response.status))
        if method != "GET" and "/search" not in path and self.after_write is not None:
            self.after_write(method, path)  # the change is made; the reply not yet sent
        return response

    def _fault(self, path: str) -> Response | None:
        for fault in self._faults:
            if fault.remaining > 0 and (fault.path is None or fault.path in path):
                fault.remaining -= 1
                headers = {}
                if fault.retry_after is not None:
                    headers["Retry-After"] = f"{fault.retry_after:g}"
                message = (
                    "Rate limit exceeded."
                    if fault.status == 429
                    else "Service unavailable: please try again later."
                )
                return Response(fault.status, {"errorMessages": [message], "errors": {}}, headers)
        return None

    def _dispatch(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        headers: dict[str, str],
        payload: Any,
    ) -> Response:
        fault = self._fault(path)
        if fault is not None:
            return fault
        match = re.match(r"^/rest/api/(2|3|latest)(/.*)$", path)
        if match is None:
            return error(404, f"No resource at {path}.")
        api = "2" if match.group(1) == "latest" else match.group(1)
        if api == "3" and self.state.flavor == "datacenter":
            return error(404, "null for uri: " + path)
        user = self._authenticate(headers)
        if user is None and headers.get("authorization") is None and rest_of(path) == "/serverInfo":
            user = ANONYMOUS  # Jira serves its server information to anyone
        if user is None:
            return Response(
                401,
                {
                    "errorMessages": [
                        "You are not authenticated. Authentication required to perform this "
                        "operation."
                    ],
                    "errors": {},
                },
                {"WWW-Authenticate": 'Basic realm="protected-area"'},
            )
        rest = match.group(2)
        path_known = False
        for verb, pattern, handler in self._routes:
            found = re.fullmatch(pattern, rest)
            if found and verb == method:
                return handler(Request(method, path, api, query, payload, user, found))
            path_known = path_known or found is not None
        if path_known:
            return error(405, f"Method {method} is not allowed here.")
        return error(404, f"No resource at {path}.")

    def _authenticate(self, headers: dict[str, str]) -> User | None:
        if not self.state.users:  # seeded with nobody: the documented default user only
            self.state.add_user(*DEFAULT_USER, "Sandbox User")
        users = self.state.users
        header = headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and self.state.flavor == "datacenter":
            return next((u for u in users if u.token == value), None)
        if scheme.lower() == "basic":
            try:
                login, _, secret = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                return None
            return next(
                (
                    u
                    for u in users
                    if secret == u.token and login in (u.email, u.email.split("@")[0])
                ),
                None,
            )
        return None

    def _build_routes(self) -> list[tuple[str, str, Handler]]:
        return [
            ("GET", r"/serverInfo", self._server_info),
            ("GET", r"/myself", self._myself),
            ("GET", r"/field", self._fields),
            ("GET", r"/project", self._projects),
            ("GET", r"/project/search", self._project_search),
            ("GET", r"/project/([^/]+)", self._project),
            ("GET", r"/project/([^/]+)/versions", self._project_versions),
            ("POST", r"/version", self._create_version),
            ("GET", r"/version/(\d+)", self._get_version),
            ("PUT", r"/version/(\d+)", self._update_version),
            ("DELETE", r"/version/(\d+)", self._delete_version),
            ("GET", r"/search/jql", self._enhanced_search),
            ("POST", r"/search/jql", self._enhanced_search),
            ("GET", r"/search", self._search),
            ("POST", r"/search", self._search),
            ("GET", r"/issue/createmeta", self._createmeta),
            ("GET", r"/issue/createmeta/([^/]+)/issuetypes", self._createmeta_types),
            ("GET", r"/issue/createmeta/([^/]+)/issuetypes/([^/]+)", self._createmeta_fields),
            ("GET", r"/issue/([^/]+)", self._get_issue),
            ("GET", r"/issue/([^/]+)/comment", self._comments),
            ("POST", r"/issue/([^/]+)/comment", self._add_comment),
            ("GET", r"/issue/([^/]+)/transitions", self._transitions),
            ("POST", r"/issue/([^/]+)/transitions", self._transition),
            ("GET", r"/issue/([^/]+)/comment/(\d+)", self._comment),
            ("POST", r"/version/(\d+)/move", self._move_version),
            ("GET", r"/issuetype", self._issue_types),
            ("GET", r"/status", self._statuses),
            ("GET", r"/priority", self._priorities),
            ("GET", r"/resolution", self._resolutions),
        ]

    def shapes(self, request: Request) -> Shapes:
        return Shapes(self.state, self.url, request.api)

    # --- handlers ---------------------------------------------------------------------

    def _server_info(self, request: Request) -> Response:
        cloud = self.state.flavor == "cloud"
        now = self.state.now()
        return Response(
            200,
            {
                "baseUrl": self.url,
                "version": "1001.0.0-SNAPSHOT" if cloud else "9.12.4",
                "versionNumbers": [1001, 0, 0] if cloud else [9, 12, 4],
                "deploymentType": "Cloud" if cloud else "Server",
                "buildNumber": 100271,
                "buildDate": "2026-11-01T00:00:00.000+0000",
                "serverTime": jira_time(now),
                "scmInfo": "relctl-sandbox",
                "serverTitle": "relctl Jira sandbox",
            },
        )

    def _myself(self, request: Request) -> Response:
        assert request.user is not None
        return Response(200, self.shapes(request).user(request.user))

    def _fields(self, request: Request) -> Response:
        def entry(key: str, name: str, custom: bool = False) -> dict[str, Any]:
            return {
                "id": key,
                "key": key,
                "name": name,
                "custom": custom,
                "orderable": True,
                "navigable": True,
                "searchable": True,
                "clauseNames": [key],
            }

        names = FIELD_NAMES
        custom = sorted({k for i in self.state.issues.values() for k in i.custom})
        return Response(
            200,
            [entry(k, v) for k, v in names.items()]
            + [entry(k, k.replace("customfield_", "Custom "), True) for k in custom],
        )

    def _project_or_404(self, key_or_id: str, user: User | None) -> Any:
        """The project, or Jira's 404: for a missing project and one the user may not
        browse alike."""
        project = self.state.projects.get(key_or_id) or next(
            (p for p in self.state.projects.values() if str(p.id) == key_or_id), None
        )
        if project is None or (user is not None and not user.may_browse(project.key)):
            return error(404, "No project could be found with key '" + key_or_id + "'.")
        return project

    def _browsable(self, request: Request) -> list[Any]:
        user = request.user
        return [p for p in self.state.projects.values() if user is None or user.may_browse(p.key)]

    def _projects(self, request: Request) -> Response:
        shapes = self.shapes(request)
        return Response(200, [shapes.project(p) for p in self._browsable(request)])

    def _project_search(self, request: Request) -> Response:
        values = [self.shapes(request).project(p) for p in self._browsable(request)]
        return Response(
            200,
            {
                "self": request.path,
                "startAt": 0,
                "maxResults": 50,
                "total": len(values),
                "isLast": True,
                "values": values,
            },
        )

    def _project(self, request: Request) -> Response:
        project = self._project_or_404(request.match.group(1), request.user)
        if isinstance(project, Response):
            return project
        return Response(200, self.shapes(request).project(project))

    def _project_versions(self, request: Request) -> Response:
        project = self._project_or_404(request.match.group(1), request.user)
        if isinstance(project, Response):
            return project
        shapes = self.shapes(request)
        return Response(
            200,
            [shapes.version(v) for v in self.state.versions.values() if v.project == project.key],
        )

    def _version_fields(
        self, body: dict[str, Any], project: str, current: int | None
    ) -> dict[str, Any] | Response:
        fields: dict[str, Any] = {}
        # A null is a field not given (atlassian-python-api sends every field it was not
        # asked to change as null), except for the dates, where it clears the date.
        body = {k: v for k, v in body.items() if v is not None or k.endswith("Date")}
        if "name" in body:
            name = body["name"].strip() if isinstance(body["name"], str) else ""
            if not name:
                return error(400, name="You must specify a valid version name")
            if len(name) > 255:
                return error(400, name="The version name must not exceed 255 characters.")
            clash = self.state.version_named(project, name)
            if clash is not None and clash.id != current:
                return error(400, name="A version with this name already exists in this project.")
            fields["name"] = name
        for key, attribute in (("releaseDate", "release_date"), ("startDate", "start_date")):
            if key in body:
                try:
                    fields[attribute] = date.fromisoformat(body[key]) if body[key] else None
                except (TypeError, ValueError):
                    return error(400, **{key: "The date must be in the format yyyy-MM-dd."})
        if "description" in body:
            if not isinstance(body["description"], str):
                return error(400, description="The description must be text.")
            fields["description"] = body["description"] or ""
        for key in ("released", "archived"):
            if key in body:
                if not isinstance(body[key], bool):
                    return error(400, **{key: f"'{key}' must be true or false."})
                fields[key] = body[key]
        return fields

    def _create_version(self, request: Request) -> Response:
        body = request.body if isinstance(request.body, dict) else {}
        key = body.get("project")
        if key is None and "projectId" in body:
            key = next(
                (
                    p.key
                    for p in self.state.projects.values()
                    if p.id == integer(body["projectId"], "projectId", 0)
                ),
                None,
            )
        if key is None:
            return error(400, project="Project must be specified.")
        found = self._project_or_404(str(key), request.user)
        if isinstance(found, Response):
            return found
        key = found.key
        if not str(body.get("name", "")).strip():
            return error(400, name="You must specify a valid version name")
        fields = self._version_fields(body, key, None)
        if isinstance(fields, Response):
            return fields
        version = self.state.add_version(key, **fields)
        return Response(201, self.shapes(request).version(version))

    def _version_or_404(self, request: Request) -> Any:
        version = self.state.versions.get(integer(request.match.group(1), "id", 0))
        user = request.user
        if version is None or (user is not None and not user.may_browse(version.project)):
            return error(404, f"Could not find version for id '{request.match.group(1)}'")
        return version

    def _get_version(self, request: Request) -> Response:
        version = self._version_or_404(request)
        if isinstance(version, Response):
            return version
        return Response(200, self.shapes(request).version(version))

    def _update_version(self, request: Request) -> Response:
        version = self._version_or_404(request)
        if isinstance(version, Response):
            return version
        body = request.body if isinstance(request.body, dict) else {}
        fields = self._version_fields(body, version.project, version.id)
        if isinstance(fields, Response):
            return fields
        for key, value in fields.items():
            setattr(version, key, value)
        self.state.changed()
        if body.get("released") and version.release_date is None:
            version.release_date = self.state.now().date()
        return Response(200, self.shapes(request).version(version))

    def _delete_version(self, request: Request) -> Response:
        version = self._version_or_404(request)
        if isinstance(version, Response):
            return version
        del self.state.versions[version.id]
        self.state.changed()
        for issue in self.state.issues.values():
            if version.id in issue.fix_versions:
                issue.fix_versions.remove(version.id)
        return Response(204)


def _handler_for(sandbox: JiraSandbox) -> type[QuietHandler]:
    class RequestHandler(QuietHandler):
        server_version = "relctl-jira-sandbox"

        def _serve(self) -> None:
            response = sandbox.handle(self.command, self.path, self.lowered_headers(), self.body())
            data = b"" if response.body is None else json.dumps(response.body).encode()
            self.send_response(response.status)
            if data:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(data)))
            for key, value in response.headers.items():
                self.send_header(key, value)
            self.end_headers()
            if data:
                self.wfile.write(data)

        do_GET = do_POST = do_PUT = do_DELETE = _serve

    return RequestHandler
