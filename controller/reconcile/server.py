"""The controller's HTTP endpoints, on a thread of their own:

- `GET /healthz`: 200 while the loop is alive.
- `GET /readyz`: 200 once the first pass succeeded, or while the replica stands by.
- `GET /metrics`: Prometheus text.
- `GET /calendar.ics`: the live release calendar (90 days back, 365 ahead).
- `GET /api/status`: releases and phases, the last pass and its findings, as JSON.
- `POST /webhook`: a git push; verified (GitHub HMAC or GitLab token), else 401 and
  nothing happens.

It reads the loop's `View` and never changes anything but the loop's wake-up.
"""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from controller.errors import RelctlError
from controller.plan.records import decision_document
from controller.reconcile import logs, webhooks
from controller.reconcile.loop import Controller, View
from controller.reconcile.passes import findings_of
from controller.schedule import calendar, calendar_formats

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
                "departure": status.departure.isoformat() if status.departure else None,
                "lastDecision": decision_document(last) if last else None,
            }
        )
    return document


def _ready(controller: Controller) -> bool:
    return controller.ready or (controller.elector is not None and not controller.leading)


def calendar_ics(view: View) -> bytes | None:
    if view.state is None or view.at is None:
        return None
    state, now = view.state, view.at
    events = calendar.build(state, now - CALENDAR_BEHIND, now + CALENDAR_AHEAD, now)
    return calendar_formats.to_ics(
        events, state.config.metadata.name, state.config.spec.timezone, now
    )


class Server:
    """Serves `controller` on (host, port); port 0 picks a free one."""

    def __init__(
        self, controller: Controller, host: str, port: int, webhook_secret: str | None
    ) -> None:
        self.controller = controller
        self.secret = webhook_secret
        self.httpd = ThreadingHTTPServer((host, port), _handler_for(self))
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="http", daemon=True)

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    def start(self) -> Server:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _handler_for(server: Server) -> type[BaseHTTPRequestHandler]:
    controller = server.controller

    class Handler(BaseHTTPRequestHandler):
        server_version = "relctl"
        protocol_version = "HTTP/1.1"
        timeout = 15  # seconds a client may take to send its request: no slow-client hold-ups

        def log_message(self, format: str, *args: Any) -> None:
            """Request lines are not logged: probes and scrapes would drown the log."""

        def _send(self, status: int, body: bytes, content_type: str = "text/plain") -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            path = self.path.split("?", 1)[0]
            if path == "/healthz":
                ok = controller.alive
                self._send(200 if ok else 500, b"ok\n" if ok else b"the loop died\n")
            elif path == "/readyz":
                ready = _ready(controller)
                self._send(200 if ready else 503, b"ready\n" if ready else b"not ready\n")
            elif path == "/metrics":
                self._send(200, controller.metrics.text(), CONTENT_TYPE_LATEST)
            elif path == "/calendar.ics":
                data = calendar_ics(controller.view)
                if data is None:
                    self._send(503, b"no manifests loaded yet\n")
                else:
                    self._send(200, data, "text/calendar; charset=utf-8")
            elif path == "/api/status":
                body = json.dumps(status_document(controller), indent=2).encode()
                self._send(200, body, "application/json")
            else:
                self._send(404, b"not found\n")

        def do_POST(self) -> None:
            if self.path.split("?", 1)[0] != "/webhook":
                self._send(404, b"not found\n")
                return
            try:
                length = int(self.headers.get("Content-Length") or "0")
            except ValueError:
                length = -1
            if length < 0 or length > webhooks.MAX_BODY:
                self.close_connection = True
                self._send(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, b"body too large\n")
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            verdict = webhooks.verify(headers, body, server.secret)
            event = headers.get("x-github-event") or headers.get("x-gitlab-event") or ""
            if not verdict.ok:
                controller.metrics.webhooks.labels("rejected").inc()
                log.warning(
                    "webhook rejected",
                    extra=logs.fields(reason=verdict.reason, provider=verdict.provider),
                )
                self._send(401, f"{verdict.reason}\n".encode())
                return
            controller.metrics.webhooks.labels("accepted").inc()
            try:
                what = controller.request_pass(f"{verdict.provider} {event}".strip())
            except RelctlError as exc:
                log.warning("webhook accepted, but no pass", extra=logs.fields(error=str(exc)))
                self._send(503, b"verified, but the leader could not be asked for a pass\n")
                return
            log.info(
                "webhook accepted",
                extra=logs.fields(provider=verdict.provider, event=event, outcome=what),
            )
            self._send(202, f"{what}\n".encode())

    return Handler
