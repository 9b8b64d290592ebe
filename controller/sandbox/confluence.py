"""A Confluence emulator, for publishing release notes and go/no-go documents: spaces,
pages in `storage` representation and their versions, over HTTP on 127.0.0.1 — through
Cloud's REST API v2, shaped as Atlassian's published OpenAPI description says, and
through Data Center's content API (`/rest/api/content`, `/rest/api/space/{key}`), over
the same pages.

- `GET /wiki/api/v2/spaces?keys=K`, `GET /wiki/api/v2/pages?space-id=&title=`,
  `POST /wiki/api/v2/pages`, `GET|PUT /wiki/api/v2/pages/{id}` (`?body-format=storage`).
- Basic authentication (email and API token) as Cloud takes it; a 401 without it.
- As the real site: a title is unique within a space (a second page of the same title is a
  400); an update must carry `version.number` = current + 1 (else a 409 naming the
  current one); a storage body must be well-formed XHTML (else a 400).
- `edit(page, storage)` plays a person editing the page in the browser (a new version by
  another account); `after_write` is called after a write lands and before its reply is
  sent (crash tests).
"""

from __future__ import annotations

import base64
import itertools
import json
import threading
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from controller.sandbox.http import QuietHandler, QuietServer

API = "/wiki/api/v2"
SERVER = "/rest/api"
"""Data Center's content API, served beside Cloud's (Bearer: a personal access token)."""
PERSON = "557058:person"
"""The account a person edits pages with (`edit`)."""


@dataclass
class Reply:
    status: int
    body: Any = None


@dataclass
class ConfluenceSandbox:
    email: str = "relctl@shop.example"
    token: str = "sandbox-token"  # noqa: S105 - the emulator's documented token
    account: str = "557058:relctl"
    """The account id relctl's credentials belong to."""
    spaces: dict[str, dict[str, Any]] = field(default_factory=dict)
    pages: dict[str, dict[str, Any]] = field(default_factory=dict)
    versions: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    log: list[tuple[str, str, int]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    after_write: Callable[[str, str], None] | None = None
    _ids: Any = field(default_factory=lambda: itertools.count(98305))
    _server: QuietServer | None = None

    def space(self, key: str, name: str) -> str:
        """Create a space (with its homepage); its id."""
        with self.lock:
            space_id = str(next(self._ids))
            home = self._new_page(space_id, None, f"{name} Home", "<p>Welcome.</p>", self.account)
            self.spaces[space_id] = {
                "id": space_id, "key": key, "name": name, "type": "global",
                "status": "current", "authorId": self.account, "homepageId": home["id"],
                "createdAt": _now(),
            }  # fmt: skip
            return space_id

    def start(self) -> ConfluenceSandbox:
        self._server = QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.start("confluence-sandbox")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def edit(self, page_id: str, storage: str, author: str = PERSON) -> None:
        """A person saves a new version of the page."""
        with self.lock:
            page = self.pages[page_id]
            self._version(page, storage, author, "edited in the browser")

    def page(self, title: str) -> dict[str, Any] | None:
        with self.lock:
            return next((p for p in self.pages.values() if p["title"] == title), None)

    # --- the store --------------------------------------------------------------------

    def _new_page(
        self, space_id: str, parent: str | None, title: str, storage: str, author: str
    ) -> dict[str, Any]:
        page_id = str(next(self._ids))
        page: dict[str, Any] = {
            "id": page_id, "status": "current", "title": title, "spaceId": space_id,
            "authorId": author, "ownerId": author, "createdAt": _now(),
        }  # fmt: skip
        if parent is not None:
            page["parentId"], page["parentType"] = parent, "page"
        self.pages[page_id] = page
        self.versions[page_id] = []
        self._version(page, storage, author, "")
        return page

    def _version(self, page: dict[str, Any], storage: str, author: str, message: str) -> None:
        number = len(self.versions[page["id"]]) + 1
        version = {"number": number, "message": message, "minorEdit": False,
                   "authorId": author, "createdAt": _now()}  # fmt: skip
        self.versions[page["id"]].append({**version, "storage": storage})
        page["version"] = version

    def _shown(self, page: dict[str, Any], body: bool) -> dict[str, Any]:
        shown = dict(page)
        if body:
            storage = self.versions[page["id"]][-1]["storage"]
            shown["body"] = {"storage": {"representation": "storage", "value": storage}}
        shown["_links"] = {"webui": f"/spaces/{self._key(page)}/pages/{page['id']}",
                           "base": f"{self.url}/wiki"}  # fmt: skip
        return shown

    def _key(self, page: dict[str, Any]) -> str:
        return str(self.spaces.get(page["spaceId"], {}).get("key", ""))

    # --- the API ----------------------------------------------------------------------

    def handle(self, method: str, raw: str, headers: dict[str, str], body: bytes) -> Reply:
        parts = urlsplit(raw)
        path, query = unquote(parts.path), parse_qs(parts.query)
        server = path.startswith(SERVER)
        expected = base64.b64encode(f"{self.email}:{self.token}".encode()).decode()
        given = headers.get("authorization", "")
        if given not in (f"Basic {expected}", *((f"Bearer {self.token}",) if server else ())):
            if server:
                return Reply(401, {"statusCode": 401, "message": "Authentication required"})
            return _error(401, "UNAUTHORIZED", "Unauthorized; scope does not match")
        try:
            payload = json.loads(body) if body else None
        except ValueError:
            return _error(400, "INVALID_REQUEST_PARAMETER", "The request body is not JSON")
        with self.lock:
            if server:
                reply = self._server_route(method, path, query, payload)
            else:
                reply = self._route(method, path, query, payload)
            self.log.append((method, path, reply.status))
        if method != "GET" and reply.status < 300 and self.after_write is not None:
            self.after_write(method, path)
        return reply

    def _route(self, method: str, path: str, query: dict[str, list[str]], payload: Any) -> Reply:
        body = "storage" in query.get("body-format", [])
        if (method, path) == ("GET", f"{API}/spaces"):
            keys = query.get("keys", [])
            found = [s for s in self.spaces.values() if not keys or s["key"] in keys]
            return Reply(200, {"results": found, "_links": {"base": f"{self.url}/wiki"}})
        if (method, path) == ("GET", f"{API}/pages"):
            found = [
                self._shown(p, body) for p in self.pages.values()
                if (not query.get("space-id") or p["spaceId"] in query["space-id"])
                and (not query.get("title") or p["title"] == query["title"][0])
            ]  # fmt: skip
            return Reply(200, {"results": found, "_links": {"base": f"{self.url}/wiki"}})
        if (method, path) == ("POST", f"{API}/pages"):
            return self._create(payload)
        if path.startswith(f"{API}/pages/"):
            page = self.pages.get(path.rsplit("/", 1)[1])
            if page is None:
                return _error(404, "NOT_FOUND", "Cannot find content")
            if method == "GET":
                return Reply(200, self._shown(page, body))
            if method == "PUT":
                return self._update(page, payload)
        return _error(404, "NOT_FOUND", f"No route for {method} {path}")

    def _create(self, payload: Any) -> Reply:
        if not isinstance(payload, dict) or "spaceId" not in payload:
            return _error(400, "INVALID_REQUEST_PARAMETER", "spaceId is required")
        space = self.spaces.get(str(payload["spaceId"]))
        if space is None:
            return _error(404, "NOT_FOUND", "Space not found")
        title = str(payload.get("title") or "")
        if any(p["title"] == title and p["spaceId"] == space["id"] for p in self.pages.values()):
            return _error(400, "INVALID_REQUEST_PARAMETER",
                          "A page with this title already exists: A page already exists with "
                          "the same TITLE in this space")  # fmt: skip
        storage, problem = _storage(payload)
        if problem:
            return _error(400, "INVALID_REQUEST_PARAMETER", problem)
        parent = str(payload.get("parentId") or space["homepageId"])
        if parent not in self.pages:
            return _error(404, "NOT_FOUND", "Parent page not found")
        page = self._new_page(space["id"], parent, title, storage, self.account)
        return Reply(200, self._shown(page, True))

    def _update(self, page: dict[str, Any], payload: Any) -> Reply:
        if not isinstance(payload, dict) or not all(
            k in payload for k in ("id", "status", "title", "body", "version")
        ):
            return _error(400, "INVALID_REQUEST_PARAMETER",
                          "id, status, title, body and version are required")  # fmt: skip
        current = page["version"]["number"]
        wanted = (payload.get("version") or {}).get("number")
        if wanted != current + 1:
            why = f"Version must be incremented on update. Current version is: {current}"
            return _error(409, "CONFLICT", why)
        storage, problem = _storage(payload)
        if problem:
            return _error(400, "INVALID_REQUEST_PARAMETER", problem)
        page["title"] = str(payload["title"])
        message = str((payload.get("version") or {}).get("message") or "")
        self._version(page, storage, self.account, message)
        return Reply(200, self._shown(page, True))

    # --- Data Center: the content API ------------------------------------------------

    def _titled(self, space: str, title: str) -> bool:
        return any(p["title"] == title and p["spaceId"] == space for p in self.pages.values())

    def _content(self, page: dict[str, Any], expand: str) -> dict[str, Any]:
        """A page as Data Center's content API shows it."""
        version = page["version"]
        shown: dict[str, Any] = {
            "id": page["id"], "type": "page", "status": "current", "title": page["title"],
            "space": {"key": self._key(page)},
            "version": {"number": version["number"], "message": version["message"],
                        "when": version["createdAt"],
                        "by": {"type": "known", "username": version["authorId"].split(":")[-1]}},
            "_links": {"webui": f"/pages/viewpage.action?pageId={page['id']}"},
        }  # fmt: skip
        if "body.storage" in expand:
            storage = self.versions[page["id"]][-1]["storage"]
            shown["body"] = {"storage": {"value": storage, "representation": "storage"}}
        return shown

    def _server_route(
        self, method: str, path: str, query: dict[str, list[str]], payload: Any
    ) -> Reply:
        expand = ",".join(query.get("expand", []))
        if method == "GET" and path.startswith(f"{SERVER}/space/"):
            key = path.rsplit("/", 1)[1]
            space = next((s for s in self.spaces.values() if s["key"] == key), None)
            if space is None:
                return _server_error(404, f"No space with key : {key}")
            home = {"id": space["homepageId"]}
            return Reply(200, {"id": int(space["id"]), "key": key, "name": space["name"],
                               "type": "global", "homepage": home})  # fmt: skip
        if (method, path) == ("GET", f"{SERVER}/content"):
            key, title = query.get("spaceKey", [""])[0], query.get("title", [""])[0]
            listed = [self._content(p, expand) for p in self.pages.values()
                      if self._key(p) == key and (not title or p["title"] == title)]  # fmt: skip
            return Reply(200, {"results": listed, "start": 0, "limit": 25, "size": len(listed)})
        if (method, path) == ("POST", f"{SERVER}/content"):
            if not isinstance(payload, dict) or payload.get("type") != "page":
                return _server_error(400, "Content type must be page")
            key = str((payload.get("space") or {}).get("key") or "")
            space = next((s for s in self.spaces.values() if s["key"] == key), None)
            if space is None:
                return _server_error(404, f"No space with key : {key}")
            title = str(payload.get("title") or "")
            if self._titled(space["id"], title):
                why = f"A page already exists with the title {title} in this space"
                return _server_error(400, "A page with this title already exists: " + why)
            storage, problem = _storage(payload)
            if problem:
                return _server_error(400, problem)
            ancestors = payload.get("ancestors") or [{"id": space["homepageId"]}]
            parent = str(ancestors[-1].get("id"))
            if parent not in self.pages:
                return _server_error(404, "Parent page not found")
            page = self._new_page(space["id"], parent, title, storage, self.account)
            return Reply(200, self._content(page, "body.storage"))
        if path.startswith(f"{SERVER}/content/") and path.endswith("/history"):
            held = self.pages.get(path.split("/")[-2])
            if held is None:
                return _server_error(404, "No content found with id")
            first, last = self.versions[held["id"]][0], self._content(held, "")["version"]
            creator = {"type": "known", "username": first["authorId"].split(":")[-1]}
            return Reply(200, {"latest": True, "createdDate": first["createdAt"],
                               "createdBy": creator, "lastUpdated": last})  # fmt: skip
        if path.startswith(f"{SERVER}/content/"):
            held = self.pages.get(path.rsplit("/", 1)[1])
            if held is None:
                return _server_error(404, "No content found with id")
            page = held
            if method == "GET":
                return Reply(200, self._content(page, expand))
            if method == "PUT":
                current = page["version"]["number"]
                wanted = ((payload or {}).get("version") or {}).get("number")
                if wanted != current + 1:
                    return _server_error(409, "Version must be incremented on update. "
                                         f"Current version is: {current}")  # fmt: skip
                storage, problem = _storage(payload)
                if problem:
                    return _server_error(400, problem)
                page["title"] = str(payload.get("title") or page["title"])
                message = str(payload["version"].get("message") or "")
                self._version(page, storage, self.account, message)
                return Reply(200, self._content(page, "body.storage"))
        return _server_error(404, f"No route for {method} {path}")


def _server_error(status: int, message: str) -> Reply:
    return Reply(status, {"statusCode": status, "message": message, "data": {"authorized": True}})


def _storage(payload: dict[str, Any]) -> tuple[str, str]:
    body = payload.get("body") or {}
    value = body.get("value") if body.get("representation") == "storage" else None
    if value is None:
        value = (body.get("storage") or {}).get("value")
    if not isinstance(value, str):
        return "", "body must be given in the storage representation"
    try:
        ET.fromstring(f"<root>{value}</root>")  # noqa: S314 - well-formedness only, no entities
    except ET.ParseError as exc:
        return "", f"Error parsing xhtml: {exc}"
    return value, ""


def _error(status: int, code: str, title: str) -> Reply:
    return Reply(status, {"errors": [{"status": status, "code": code, "title": title,
                                      "detail": None}]})  # fmt: skip


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + "000Z"


def _handler(sandbox: ConfluenceSandbox) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def _serve(self) -> None:
            reply = sandbox.handle(self.command, self.path, self.lowered_headers(), self.body())
            data = json.dumps(reply.body).encode() if reply.body is not None else b""
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = do_PUT = _serve

    return Handler
