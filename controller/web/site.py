"""One renderer for both ways the dashboard is served: `Site.get` answers a request path
(the controller's HTTP server), `Site.pages` yields every page of the static site
(`relctl dashboard build`). Links are relative, so the site works at any prefix (an
Ingress path, a static host's folder).

Every value is escaped by Jinja's autoescape; pages load only the site's own stylesheet
and script (`CSP`, also in each page's meta tag for static hosts that set no headers).
Pages are cached per snapshot: a snapshot is one revision of the repository.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode

import jinja2

from controller.web import calendar_view, delivery, views
from controller.web.model import Snapshot, wall

CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'"
)
HEADERS = (
    ("Content-Security-Policy", CSP + "; frame-ancestors 'none'"),
    ("X-Content-Type-Options", "nosniff"),
    ("Referrer-Policy", "no-referrer"),
    ("Cache-Control", "no-cache"),
)
HTML = "text/html; charset=utf-8"
ASSETS = {
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}
CALENDAR_BEHIND, CALENDAR_AHEAD = timedelta(days=90), timedelta(days=365)
STATIC_MONTHS = (-3, 12)
STATIC_WEEKS = (-2, 12)
MAX_QUERY = 512
_RELEASE = re.compile(r"^/releases/([a-z0-9][-a-z0-9.]{0,252})/$")
_COMMIT = re.compile(r"^/commits/([0-9a-f]{40,64})/$")
_PERIOD = re.compile(r"^/calendar/(\d{4}-(?:\d{2}|W\d{2}))/$")
_SLUG = re.compile(r"[^a-z0-9]+")

_ENV = jinja2.Environment(
    loader=jinja2.PackageLoader("controller.web", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class Page:
    status: int
    body: bytes
    content_type: str = HTML
    location: str = ""
    """Where a redirect points (relative to the request's path)."""


def slug(value: str) -> str:
    """A file name for a filter value (team names are free text)."""
    return _SLUG.sub("-", value.lower()).strip("-")[:60] or "x"


def _asset(name: str) -> bytes:
    return resources.files("controller.web").joinpath("static", name).read_bytes()


class Site:
    def __init__(self, snapshot: Snapshot, static: bool = False) -> None:
        self.snapshot = snapshot
        self.static = static
        self._cache: dict[tuple[str, str], Page] = {}
        self._lock = threading.Lock()

    # -- requests ------------------------------------------------------------------------

    def get(self, path: str, query: str = "") -> Page:
        """The page at `path` (with its query), cached for this snapshot."""
        key = (path, query[:MAX_QUERY])
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        page = self._render(path, dict(parse_qsl(query[:MAX_QUERY])))
        with self._lock:
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache[key] = page
        return page

    def _render(self, path: str, query: dict[str, str]) -> Page:
        if path.startswith("/static/") and path[8:] in ASSETS:
            return Page(200, _asset(path[8:]), ASSETS[path[8:]])
        if path == "/calendar.ics":
            if self.snapshot.state is None:
                return Page(503, b"no manifests loaded yet\n", "text/plain; charset=utf-8")
            body = calendar_view.ics(self.snapshot, query, CALENDAR_BEHIND, CALENDAR_AHEAD)
            return Page(200, body, "text/calendar; charset=utf-8")
        if path != "/" and not path.endswith("/") and "." not in path.rsplit("/", 1)[-1]:
            return Page(
                308, b"", "text/plain; charset=utf-8", location=path.rsplit("/", 1)[-1] + "/"
            )
        if path == "/":
            return self._html("overview.html.j2", path, **views.overview(self.snapshot))
        if matched := _RELEASE.match(path):
            found = views.release(self.snapshot, matched.group(1))
            if found is not None:
                return self._html("release.html.j2", path, release=found)
        elif matched := _COMMIT.match(path):
            commit = self.snapshot.history.commits.get(matched.group(1))
            if commit is not None:
                link = (
                    self.snapshot.commit_url.replace("{sha}", commit.sha)
                    if self.snapshot.commit_url
                    else ""
                )
                when = wall(commit.at, self.snapshot.timezone)
                return self._html("commit.html.j2", path, commit=commit, when=when, link=link)
        elif path == "/calendar/" or (matched := _PERIOD.match(path)):
            return self._calendar(path, query)
        elif path == "/flags/":
            return self._html("flags.html.j2", path, flags=views.flags(self.snapshot))
        elif path == "/delivery/":
            return self._html("delivery.html.j2", path, metrics=delivery.metrics(self.snapshot))
        return self._html("missing.html.j2", path, status=404, asked=path)

    def _calendar(self, path: str, query: dict[str, str]) -> Page:
        snapshot = self.snapshot
        if snapshot.state is None:
            return self._html("missing.html.j2", path, status=503, asked=path)
        today = views.local_date(snapshot)
        key = path.removeprefix("/calendar/").strip("/") or query.get("at", "")
        period = calendar_view.period_of(key, today)
        if period is None:
            return self._html("missing.html.j2", path, status=404, asked=path)
        found = calendar_view.page(snapshot, period, query)
        chosen = found["chosen"]
        if self.static:
            feeds = [
                {"facet": f, "value": v, "file": f"calendar-{f}-{slug(v)}.ics"}
                for f in calendar_view.FACETS
                for v in found["options"][f]
            ]
        else:
            feeds = []
        live_query = f"?{urlencode(chosen)}" if chosen and not self.static else ""
        if self.static:
            available: Container[str] = {
                p.removeprefix("/calendar/").strip("/") for p in self.paths() if _PERIOD.match(p)
            }
        else:
            available = _Everything()
        return self._html(
            "calendar.html.j2",
            path,
            cal=found,
            ics="calendar.ics" + live_query,
            query=live_query,
            feeds=feeds,
            available=available,
        )

    def _html(self, template: str, path: str, status: int = 200, **context: Any) -> Page:
        depth = path.strip("/").count("/") + 1 if path.strip("/") else 0
        snapshot = self.snapshot
        body = _ENV.get_template(template).render(
            root="../" * depth or "./",
            snapshot=snapshot,
            static=self.static,
            csp=CSP,
            now=wall(snapshot.now, snapshot.timezone),
            revision=snapshot.revision[:10],
            status=status,
            **context,
        )
        return Page(status, body.encode())

    # -- the static site -----------------------------------------------------------------

    def paths(self) -> list[str]:
        """Every page path of the static site."""
        snapshot = self.snapshot
        found = ["/", "/flags/", "/delivery/", *(f"/static/{name}" for name in ASSETS)]
        found += [p for name in snapshot.names() if _RELEASE.match(p := f"/releases/{name}/")]
        found += [f"/commits/{sha}/" for sha in sorted(snapshot.history.commits)]
        if snapshot.state is not None:
            found += ["/calendar/", "/calendar.ics"]
            today = views.local_date(snapshot)
            for step in range(*STATIC_MONTHS):
                month = _add_months(today.replace(day=1), step)
                found.append(f"/calendar/{month:%Y-%m}/")
            monday = today - timedelta(days=today.weekday())
            for step in range(*STATIC_WEEKS):
                iso = (monday + timedelta(weeks=step)).isocalendar()
                found.append(f"/calendar/{iso.year}-W{iso.week:02d}/")
        return found

    def pages(self) -> Iterator[tuple[str, bytes]]:
        """(file path relative to the site's folder, content) for every page."""
        for path in self.paths():
            page = self.get(path)
            name = path.lstrip("/")
            yield (name + "index.html" if not name or name.endswith("/") else name), page.body
        if self.snapshot.state is not None:
            options = calendar_view.options(self.snapshot.state)
            for facet in calendar_view.FACETS:
                for value in options[facet]:
                    body = calendar_view.ics(
                        self.snapshot, {facet: value}, CALENDAR_BEHIND, CALENDAR_AHEAD
                    )
                    yield f"calendar-{facet}-{slug(value)}.ics", body


def _add_months(first: date, step: int) -> date:
    index = first.year * 12 + first.month - 1 + step
    return date(index // 12, index % 12 + 1, 1)


class _Everything:
    """Every calendar period exists when pages are rendered on request."""

    def __contains__(self, _: object) -> bool:
        return True
