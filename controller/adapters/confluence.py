"""Confluence: release notes and go/no-go documents as pages, on Cloud (REST API v2,
`/wiki/api/v2/pages`) or Data Center (the content API, `/rest/api/content`).

- Where: $RELCTL_CONFLUENCE_URL (the site, e.g. https://example.atlassian.net), with
  $RELCTL_CONFLUENCE_TOKEN: on Cloud an API token sent with $RELCTL_CONFLUENCE_EMAIL
  (Basic), on Data Center a personal access token (Bearer); never the repository's.
- `publish`: Markdown made storage XHTML by markdown-it-py (raw HTML escaped, so nothing
  from Jira or a manifest becomes markup), then the page created under the configured
  parent, or updated with `version.number` = current + 1. The page id relctl recorded
  finds its page; without one (a pass killed between creating and recording), a page of
  that title in the space is taken as relctl's. A 409 (someone saved meanwhile) reads
  the page again and tries once more. A page a person edited since relctl's last version
  gets relctl's new version with theirs named in the version message (Confluence keeps
  theirs in the page history), and the answer says so.
- Every request has a deadline; errors are classified (`controller.errors.for_status`)
  and name the page, never a credential.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx
from markdown_it import MarkdownIt

from controller.adapters import secrets
from controller.adapters.errors import AdapterError
from controller.adapters.jira_http import retry_after
from controller.errors import Disposition, for_status
from controller.manifests.notify import ConfluenceConfig

URL, EMAIL, TOKEN = "RELCTL_CONFLUENCE_URL", "RELCTL_CONFLUENCE_EMAIL", "RELCTL_CONFLUENCE_TOKEN"
API = "/wiki/api/v2"
TIMEOUT = httpx.Timeout(20.0, connect=5.0)
_MARKDOWN = MarkdownIt("commonmark", {"html": False, "xhtmlOut": True}).enable("table")


class ConfluenceError(AdapterError):
    """Confluence refused or failed."""


def storage(markdown: str) -> str:
    """Markdown as Confluence storage XHTML."""
    return str(_MARKDOWN.render(markdown))


@dataclass(frozen=True)
class Published:
    page: str
    version: int
    replaced: str = ""
    """A person's version this one was written over ("version 3 by <account>"), or ""."""


@dataclass(frozen=True)
class Page:
    id: str
    version: int
    author: str
    """Who wrote the current version (an account id on Cloud, a username on Data Center)."""


class ConfluenceClient:
    """Cloud (REST API v2) or Data Center (the content API), as relctl.yaml says."""

    def __init__(self, settings: ConfluenceConfig, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.cloud = settings.flavor == "cloud"
        base = secrets.required(URL, env, "publishing to Confluence").rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfluenceError(f"${URL} must be an http(s) URL")
        token = secrets.required(TOKEN, env, "publishing to Confluence")
        headers = {"Accept": "application/json", "User-Agent": "relctl"}
        auth: tuple[str, str] | None = None
        if self.cloud:
            auth = (secrets.required(EMAIL, env, "publishing to Confluence Cloud"), token)
        else:
            headers["Authorization"] = f"Bearer {token}"  # a personal access token
        self._http = httpx.Client(
            base_url=base + (API if self.cloud else "/rest/api"), auth=auth, timeout=TIMEOUT,
            follow_redirects=False, headers=headers,
        )  # fmt: skip
        self._space: tuple[str, str] | None = None
        self.requests = 0

    def close(self) -> None:
        self._http.close()

    def _call(self, method: str, path: str, what: str, **kwargs: Any) -> Any:
        self.requests += 1
        try:
            response = self._http.request(method, path, **kwargs)
        except httpx.HTTPError as exc:
            raise ConfluenceError(f"Confluence: {what}: no answer ({type(exc).__name__})") from None
        if response.is_success:
            return response.json()
        try:
            found = response.json()
            title = found["errors"][0]["title"] if self.cloud else found["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            title = response.reason_phrase
        raise ConfluenceError(
            f"Confluence: {what}: HTTP {response.status_code}: {str(title)[:200]}",
            disposition=for_status(response.status_code),
            requeue_after=retry_after(response),
        )

    def space(self) -> tuple[str, str]:
        """(space id, homepage id) of the configured space (Data Center: its key)."""
        if self._space is None:
            key = self.settings.space
            if not self.cloud:
                found = self._call(
                    "GET", f"/space/{key}", f"space {key}", params={"expand": "homepage"}
                )
                self._space = (key, str((found.get("homepage") or {}).get("id") or ""))
                return self._space
            found = self._call("GET", "/spaces", f"space {key}", params={"keys": key})
            results = found.get("results") or []
            if not results:
                raise ConfluenceError(
                    f"Confluence has no space {key} (or relctl's account cannot see it)",
                    disposition=Disposition.STALLED,
                )
            self._space = (str(results[0]["id"]), str(results[0].get("homepageId") or ""))
        return self._space

    # --- the two APIs ---------------------------------------------------------------------

    def _find(self, title: str) -> str:
        space, _ = self.space()
        if self.cloud:
            found = self._call("GET", "/pages", f"page {title!r}",
                               params={"space-id": space, "title": title})  # fmt: skip
        else:
            wanted = {"spaceKey": space, "title": title, "type": "page"}
            found = self._call("GET", "/content", f"page {title!r}", params=wanted)
        results = found.get("results") or []
        return str(results[0]["id"]) if results else ""

    def _create(self, title: str, xhtml: str) -> Page:
        space, home = self.space()
        parent = self.settings.parent_id or home
        if self.cloud:
            made = self._call("POST", "/pages", f"creating page {title!r}", json={
                "spaceId": space, "status": "current", "title": title, "parentId": parent,
                "body": {"representation": "storage", "value": xhtml},
            })  # fmt: skip
        else:
            made = self._call("POST", "/content", f"creating page {title!r}", json={
                "type": "page", "title": title, "space": {"key": space},
                **({"ancestors": [{"id": parent}]} if parent else {}),
                "body": {"storage": {"representation": "storage", "value": xhtml}},
            })  # fmt: skip
        return Page(str(made["id"]), int(made["version"]["number"]), "")

    def _get(self, page: str) -> Page:
        if self.cloud:
            found = self._call("GET", f"/pages/{page}", f"page {page}")
            version = found["version"]
            return Page(page, int(version["number"]), str(version.get("authorId") or ""))
        found = self._call("GET", f"/content/{page}", f"page {page}", params={"expand": "version"})
        version = found["version"]
        by = version.get("by") or {}
        return Page(
            page, int(version["number"]), str(by.get("username") or by.get("userKey") or "")
        )

    def _update(self, page: str, title: str, xhtml: str, number: int, message: str) -> int:
        version = {"number": number, "message": message}
        if self.cloud:
            body: dict[str, Any] = {"id": page, "status": "current", "title": title,
                                    "body": {"representation": "storage", "value": xhtml},
                                    "version": version}  # fmt: skip
            updated = self._call("PUT", f"/pages/{page}", f"updating page {page}", json=body)
        else:
            body = {"id": page, "type": "page", "title": title, "version": version,
                    "body": {"storage": {"representation": "storage", "value": xhtml}}}  # fmt: skip
            updated = self._call("PUT", f"/content/{page}", f"updating page {page}", json=body)
        return int(updated["version"]["number"])

    def publish(self, title: str, markdown: str, page: str, version: int) -> Published:
        """Make the page titled `title` hold `markdown`. `page`, `version`: the page and
        the version relctl last wrote ("" and 0: none recorded)."""
        xhtml = storage(markdown)
        if not page:
            page = self._find(title)  # relctl's, made by a pass that died before recording
            if not page:
                made = self._create(title, xhtml)
                return Published(made.id, made.version)
        for _ in range(3):
            current = self._get(page)
            replaced = (
                f"version {current.version} by {current.author}"
                if version and current.version > version
                else ""
            )
            message = "relctl" + (f": over {replaced}" if replaced else "")
            try:
                number = self._update(page, title, xhtml, current.version + 1, message)
            except ConfluenceError as exc:
                if "HTTP 409" in str(exc):
                    continue  # someone saved meanwhile: read it again
                raise
            return Published(page, number, replaced)
        raise ConfluenceError(f"Confluence: page {page} keeps changing; the next pass tries again")
