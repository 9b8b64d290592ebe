"""The controller's HTTP endpoints, served by `http.HttpServer` on a thread of its own:

- `GET /healthz`: 200 while the loop is alive and not stuck; answered on the event loop,
  so it never waits behind other requests.
- `GET /readyz`: 200 once a pass succeeded and passes are not failing repeatedly, or
  while the replica stands by.
- `GET /metrics`: Prometheus text.
- `GET /calendar.ics`: the live release calendar (90 days back, 365 ahead).
- `GET /api/status`: releases and phases, the last pass and its findings, as JSON.
- `GET /` and below: the dashboard (`controller.web`), read-only, rendered once per view
  and page; with `auth` set, it and the calendar and status above ask for HTTP basic
  credentials (health, readiness, metrics and the webhook never do).
- `POST /webhook`: a git push; verified (GitHub HMAC or GitLab token), else 401 and
  nothing happens (rejections are logged once a minute, with a count). A delivery seen
  before (same delivery id, or same body) is answered 200 and triggers nothing.

The calendar and the status are rendered once per pass and shared by all requests.

It reads the loop's `View` and never changes anything but the loop's wake-up.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from controller.errors import RelctlError
from controller.plan.records import decision_document
from controller.reconcile import logs, webhooks
from controller.reconcile.dashboard import Dashboard
from controller.reconcile.http import HttpServer, Limits, Reply, Request, Route
from controller.reconcile.loop import Controller, View
from controller.reconcile.passes import findings_of
from controller.schedule import calendar, calendar_formats
from controller.web.model import Snapshot
from controller.web.site import HEADERS

log = logging.getLogger(logs.LOGGER)
CALENDAR_BEHIND, CALENDAR_AHEAD = timedelta(days=90), timedelta(days=365)


def status_document(controller: Controller) -> dict[str, Any]:
    view = controller.view
    report = view.report
    document: dict[str, Any] = {
        "identity": controller.identity,
        "leader": controller.leading,
        "ready": _ready(controller),
        "manifests": {
            "revision": report.revision if report else None,
            "invalid": controller.reconciler.invalid,
        },
        "lastPass": None,
        "releases": [],
        "findings": [],
    }
    if report is not None:
        document["lastPass"] = {
            "id": report.id,
            "at": report.at.isoformat(),
            "ok": report.ok,
            "error": str(report.error) if report.error else None,
            "seconds": round(report.seconds, 3),
            "commit": report.commit.sha if report.commit else None,
            "requests": {"jira": report.requests[0], "kubernetes": report.requests[1]},
            "actions": [
                {
                    "kind": o.action.kind.value,
                    "release": o.action.release or None,
                    "description": o.action.describe(),
                    "reason": o.action.reason,
                    "key": o.action.key,
                    "result": o.result.value,
                    "detail": o.detail,
                }
                for o in report.outcomes
            ],
        }
        document["findings"] = [
            {"kind": f.kind.value, "subject": f.subject, "message": f.message}
            for f in findings_of(report)
        ]
    for name, status in sorted(view.statuses.items()):
        last = status.decisions[-1] if status.decisions else None
        document["releases"].append(
            {
                "name": name,
                "version": status.version,
                "phase": status.phase.value,
                "attempt": status.attempt,
                "suspended": status.suspended,
                "departure": status.departure.isoformat() if status.departure else None,
                "lastDecision": decision_document(last) if last else None,
            }
        )
    return document


def _ready(controller: Controller) -> bool:
    """Ready: the last passes did not keep failing; a standby is ready to take over."""
    if controller.elector is not None and not controller.leading:
        return True
    return controller.ready and controller.healthy


def calendar_ics(view: View) -> bytes | None:
    if view.state is None or view.at is None:
        return None
    state, now = view.state, view.at
    recorded = {n: s.departure for n, s in view.statuses.items() if s.departure is not None}
    events = calendar.build(state, now - CALENDAR_BEHIND, now + CALENDAR_AHEAD, now, recorded)
    return calendar_formats.to_ics(
        events, state.config.metadata.name, state.config.spec.timezone, now
    )


class Server:
    """Serves `controller` on (host, port); port 0 picks a free one."""

    def __init__(
        self,
        controller: Controller,
        host: str,
        port: int,
        webhook_secret: Callable[[], str | None],
        limits: Limits | None = None,
        dashboard: Dashboard | None = None,
        auth: Callable[[], tuple[str, str] | None] | None = None,
    ) -> None:
        self.controller = controller
        self.secret = webhook_secret
        self.dashboard = dashboard
        self.auth = auth
        self._renders = _Renders(controller)
        self._deliveries = _Deliveries()
        self._rejections = _RateLimitedLog(60.0)
        routes = {
            ("GET", "/healthz"): Route(self._healthz, inline=True),
            ("GET", "/readyz"): Route(self._readyz, inline=True),
            ("GET", "/metrics"): Route(self._metrics),
            ("GET", "/calendar.ics"): Route(self._guarded(self._calendar)),
            ("GET", "/api/status"): Route(self._guarded(self._status)),
            ("POST", "/webhook"): Route(self._webhook),
            ("GET", "*"): Route(self._guarded(self._page)),
        }
        self.http = HttpServer(routes, host, port, limits or Limits(max_body=webhooks.MAX_BODY))

    @property
    def port(self) -> int:
        return self.http.port

    def start(self) -> Server:
        self.http.start()
        return self

    def stop(self) -> None:
        self.http.stop()

    # -- endpoints -------------------------------------------------------------------

    def _healthz(self, _: Request) -> Reply:
        ok = self.controller.live
        return Reply(200 if ok else 500, b"ok\n" if ok else b"the loop is dead or stuck\n")

    def _readyz(self, _: Request) -> Reply:
        ready = _ready(self.controller)
        return Reply(200 if ready else 503, b"ready\n" if ready else b"not ready\n")

    def _metrics(self, _: Request) -> Reply:
        return Reply(200, self.controller.metrics.text(), CONTENT_TYPE_LATEST)

    def _guarded(self, handler: Callable[[Request], Reply]) -> Callable[[Request], Reply]:
        def guarded(request: Request) -> Reply:
            if self._authorized(request):
                return handler(request)
            challenge = ("WWW-Authenticate", 'Basic realm="relctl", charset="UTF-8"')
            return Reply(401, b"credentials required\n", headers=(challenge,))

        return guarded

    def _authorized(self, request: Request) -> bool:
        try:
            expected = self.auth() if self.auth is not None else None
        except RelctlError as exc:
            log.error(
                "the dashboard's credentials cannot be read", extra=logs.fields(error=str(exc))
            )
            return False  # closed, not open, when the secret is unreadable
        if expected is None:
            return True
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            user, _, password = (
                base64.b64decode(value.strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            return False
        same_user = hmac.compare_digest(user.encode(), expected[0].encode())
        same_password = hmac.compare_digest(password.encode(), expected[1].encode())
        return same_user and same_password

    def _page(self, request: Request) -> Reply:
        if self.dashboard is None:
            return Reply(404, b"not found\n")
        view, dashboard = self.controller.view, self.dashboard

        def snapshot() -> Snapshot:
            now = view.at or datetime.now(UTC)
            if view.state is None:
                return Snapshot(revision="", now=now, state=None, statuses={}, live=True)
            findings = findings_of(view.report) if view.report is not None else []
            return dashboard.snapshot(
                view.state, view.state.config.spec.git, now, view.statuses, findings, live=True
            )

        page = dashboard.site(view, snapshot).get(request.path, request.query)
        headers = HEADERS + ((("Location", page.location),) if page.location else ())
        return Reply(page.status, page.body, page.content_type, headers)

    def _calendar(self, request: Request) -> Reply:
        if request.query and self.dashboard is not None:
            return self._page(request)  # a filtered feed: the dashboard's renderer
        data = self._renders.calendar()
        if data is None:
            return Reply(503, b"no manifests loaded yet\n")
        return Reply(200, data, "text/calendar; charset=utf-8")

    def _status(self, _: Request) -> Reply:
        return Reply(200, self._renders.status(), "application/json")

    def _webhook(self, request: Request) -> Reply:
        controller = self.controller
        headers = request.headers
        try:
            secret = self.secret()
        except RelctlError as exc:
            log.error("the webhook secret cannot be read", extra=logs.fields(error=str(exc)))
            secret = None
        verdict = webhooks.verify(headers, request.body, secret)
        event = headers.get("x-github-event") or headers.get("x-gitlab-event") or ""
        if not verdict.ok:
            controller.metrics.webhooks.labels("rejected").inc()
            suppressed = self._rejections.allow()
            if suppressed is not None:
                log.warning(
                    "webhook rejected",
                    extra=logs.fields(
                        reason=verdict.reason,
                        provider=verdict.provider,
                        peer=request.peer,
                        alsoRejectedSinceLastLog=suppressed,
                    ),
                )
            return Reply(401, f"{verdict.reason}\n".encode())
        if not self._deliveries.first(headers, request.body):
            controller.metrics.webhooks.labels("duplicate").inc()
            return Reply(200, b"duplicate delivery: ignored\n")
        controller.metrics.webhooks.labels("accepted").inc()
        try:
            what = controller.request_pass(f"{verdict.provider} {event}".strip())
        except RelctlError as exc:
            log.warning("webhook accepted, but no pass", extra=logs.fields(error=str(exc)))
            return Reply(503, b"verified, but the leader could not be asked for a pass\n")
        log.info(
            "webhook accepted",
            extra=logs.fields(provider=verdict.provider, event=event, outcome=what),
        )
        return Reply(202, f"{what}\n".encode())


class _Renders:
    """The heavy bodies, rendered once per view of the loop (a pass replaces the view
    whole) and shared by every request that asks meanwhile: a flood costs one render."""

    def __init__(self, controller: Controller) -> None:
        self.controller = controller
        self._lock = threading.Lock()
        self._calendar: tuple[object, bytes | None] | None = None
        self._status: tuple[tuple[object, ...], bytes] | None = None

    def calendar(self) -> bytes | None:
        view = self.controller.view
        with self._lock:
            if self._calendar is None or self._calendar[0] is not view:
                self._calendar = (view, calendar_ics(view))
            return self._calendar[1]

    def status(self) -> bytes:
        controller = self.controller
        key = (
            controller.view,
            controller.leading,
            _ready(controller),
            controller.reconciler.invalid,
        )
        with self._lock:
            if self._status is None or self._status[0] != key:
                body = json.dumps(status_document(controller), indent=2).encode()
                self._status = (key, body)
            return self._status[1]


class _Deliveries:
    """Verified deliveries seen lately, by delivery id and by body: a replayed capture
    (same body, any headers) or a redelivery triggers no second pass."""

    def __init__(self, size: int = 1024, window: float = 3600.0) -> None:
        self.size, self.window = size, window
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def first(self, headers: Mapping[str, str], body: bytes) -> bool:
        keys = [f"body:{hashlib.sha256(body).hexdigest()}"]
        for name in ("x-github-delivery", "x-gitlab-event-uuid", "idempotency-key"):
            if headers.get(name):
                keys.append(f"{name}:{headers[name]}")
        now = time.monotonic()
        with self._lock:
            while self._seen and (
                len(self._seen) > self.size or next(iter(self._seen.values())) < now - self.window
            ):
                self._seen.popitem(last=False)
            if any(k in self._seen for k in keys):
                return False
            for key in keys:
                self._seen[key] = now
            return True


class _RateLimitedLog:
    """At most one line per `every` seconds; says how many were left out."""

    def __init__(self, every: float) -> None:
        self.every = every
        self._last = float("-inf")
        self._suppressed = 0
        self._lock = threading.Lock()

    def allow(self) -> int | None:
        """The number left out since the last line when a line may be written, else None."""
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.every:
                self._suppressed += 1
                return None
            suppressed, self._suppressed, self._last = self._suppressed, 0, now
            return suppressed
