"""Confluence Cloud (REST API v2): release notes and go/no-go documents as pages.

- Where: $RELCTL_CONFLUENCE_URL (the site, e.g. https://example.atlassian.net), with
  $RELCTL_CONFLUENCE_EMAIL and $RELCTL_CONFLUENCE_TOKEN (Basic, as Cloud takes an API
  token); never the repository's.
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


class ConfluenceClient:
    def __init__(self, settings: ConfluenceConfig, env: Mapping[str, str]) -> None:
        self.settings = settings
        base = secrets.required(URL, env, "publishing to Confluence").rstrip("/")
        if not base.startswith(("https://", "http://")):
            raise ConfluenceError(f"${URL} must be an http(s) URL")
        email = secrets.required(EMAIL, env, "publishing to Confluence")
        token = secrets.required(TOKEN, env, "publishing to Confluence")
        self._http = httpx.Client(
            base_url=base + API, auth=(email, token), timeout=TIMEOUT, follow_redirects=False,
            headers={"Accept": "application/json", "User-Agent": "relctl"},
        )  # fmt: skip
        self._space: tuple[str, str] | None = None
        self.account = ""
        """The account relctl writes as (learned from the pages it creates)."""
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
            title = response.json()["errors"][0]["title"]
        except (ValueError, KeyError, IndexError, TypeError):
            title = response.reason_phrase
        raise ConfluenceError(
            f"Confluence: {what}: HTTP {response.status_code}: {str(title)[:200]}",
            disposition=for_status(response.status_code),
            requeue_after=retry_after(response),
        )

    def space(self) -> tuple[str, str]:
        """(space id, homepage id) of the configured space."""
        if self._space is None:
            key = self.settings.space
            found = self._call("GET", "/spaces", f"space {key}", params={"keys": key})
            results = found.get("results") or []
            if not results:
                raise ConfluenceError(
                    f"Confluence has no space {key} (or relctl's account cannot see it)",
                    disposition=Disposition.STALLED,
                )
            self._space = (str(results[0]["id"]), str(results[0].get("homepageId") or ""))
        return self._space

    def publish(self, title: str, markdown: str, page: str, version: int) -> Published:
        """Make the page titled `title` hold `markdown`. `page`, `version`: the page and
        the version relctl last wrote ("" and 0: none recorded)."""
        body = {"representation": "storage", "value": storage(markdown)}
        space, home = self.space()
        if not page:
            found = self._call("GET", "/pages", f"page {title!r}",
                               params={"space-id": space, "title": title})  # fmt: skip
            existing = found.get("results") or []
            if not existing:
                parent = self.settings.parent_id or home
                created = self._call("POST", "/pages", f"creating page {title!r}", json={
                    "spaceId": space, "status": "current", "title": title,
                    "parentId": parent, "body": body,
                })  # fmt: skip
                return Published(str(created["id"]), int(created["version"]["number"]))
            page = str(existing[0]["id"])  # relctl's, made by a pass that died before recording
        for _ in range(3):
            current = self._call("GET", f"/pages/{page}", f"page {page}")
            number = int(current["version"]["number"])
            author = str(current["version"].get("authorId") or "")
            replaced = f"version {number} by {author}" if version and number > version else ""
            message = "relctl" + (f": over {replaced}" if replaced else "")
            try:
                updated = self._call("PUT", f"/pages/{page}", f"updating page {page}", json={
                    "id": page, "status": "current", "title": title, "body": body,
                    "version": {"number": number + 1, "message": message},
                })  # fmt: skip
            except ConfluenceError as exc:
                if "HTTP 409" in str(exc):
                    continue  # someone saved meanwhile: read it again
                raise
            return Published(page, int(updated["version"]["number"]), replaced)
        raise ConfluenceError(f"Confluence: page {page} keeps changing; the next pass tries again")
