"""Notification receivers for the sandbox: a webhook receiver that records each request
(path, headers, body), checks an HMAC signature when given the key, and can be told to
fail or answer 429 with a Retry-After; and a mailbox, a real SMTP server (aiosmtpd) that
keeps each message it accepts. `dump` writes what one got as JSON lines."""

from __future__ import annotations

import hashlib
import hmac
import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from controller.sandbox.http import QuietHandler, QuietServer


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: str
    status: int
    """What the receiver answered."""

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class WebhookReceiver:
    """POSTs on 127.0.0.1, answered 200 unless told otherwise."""

    secret: str | None = None
    """When set, a request whose X-Signature is not the HMAC-SHA256 of its body is a 401."""
    received: list[Received] = field(default_factory=list)
    failures: list[tuple[int, str | None]] = field(default_factory=list)
    """Answers to give next, in order, instead of 200: (status, Retry-After)."""
    lock: threading.Lock = field(default_factory=threading.Lock)
    _server: QuietServer | None = None

    def start(self) -> WebhookReceiver:
        self._server = QuietServer(("127.0.0.1", 0), _handler(self))
        self._server.start("webhook-receiver")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()

    @property
    def url(self) -> str:
        assert self._server is not None
        return self._server.url

    def fail(self, status: int, times: int = 1, retry_after: str | None = None) -> None:
        with self.lock:
            self.failures.extend([(status, retry_after)] * times)

    def delivered(self) -> list[Received]:
        with self.lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def _answer(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, str | None]:
        with self.lock:
            if self.secret is not None:
                digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
                if not hmac.compare_digest(headers.get("x-signature", ""), f"sha256={digest}"):
                    answer: tuple[int, str | None] = (401, None)
                    self.received.append(Received(path, headers, body.decode(), 401))
                    return answer
            answer = self.failures.pop(0) if self.failures else (200, None)
            self.received.append(Received(path, headers, body.decode(), answer[0]))
            return answer

    def dump(self, path: Path) -> None:
        with self.lock:
            lines = [
                json.dumps({"path": r.path, "status": r.status, "headers": r.headers,
                            "body": r.json() if r.body.startswith("{") else r.body})
                for r in self.received
            ]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")


def _handler(receiver: WebhookReceiver) -> type[QuietHandler]:
    class Handler(QuietHandler):
        def do_POST(self) -> None:
            status, retry_after = receiver._answer(self.path, self.lowered_headers(), self.body())
            reply = b"ok" if status < 300 else b"no"
            self.send_response(status)
            if retry_after is not None:
                self.send_header("Retry-After", retry_after)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    return Handler


@dataclass
class Mail:
    sender: str
    recipients: list[str]
    message: Any
    """An `email.message.EmailMessage`."""

    def part(self, subtype: str) -> str:
        found = self.message.get_body(preferencelist=(subtype,))
        return "" if found is None else str(found.get_content())


class Mailbox:
    """An SMTP server on 127.0.0.1 (aiosmtpd) keeping every message it accepts."""

    def __init__(
        self,
        refuse: Callable[[list[str]], int | None] | None = None,
        tls: tuple[Path, Path] | None = None,
    ) -> None:
        """`tls`: (certificate, key) to offer STARTTLS with, and require it."""
        self.mails: list[Mail] = []
        self.lock = threading.Lock()
        self.refuse = refuse
        """Given the recipients, an SMTP code to refuse the message with (or None)."""
        self.secure: list[bool] = []
        """For each message accepted: whether it came over TLS."""
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        context = None
        if tls is not None:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*tls)
        self._controller = Controller(
            self, hostname="127.0.0.1", port=self.port, tls_context=context,
            require_starttls=context is not None,
        )  # fmt: skip

    @property
    def url(self) -> str:
        return f"smtp://127.0.0.1:{self.port}"

    def start(self) -> Mailbox:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        code = self.refuse(list(envelope.rcpt_tos)) if self.refuse else None
        if code is not None:
            return f"{code} refused by the sandbox"
        message = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.mails.append(Mail(envelope.mail_from, list(envelope.rcpt_tos), message))
            self.secure.append(bool(getattr(session, "ssl", None)))
        return "250 OK"

    def dump(self, path: Path) -> None:
        with self.lock:
            lines = [
                json.dumps({"from": m.sender, "to": m.recipients,
                            "headers": dict(m.message.items()), "text": m.part("plain"),
                            "html": m.part("html")})
                for m in self.mails
            ]  # fmt: skip
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
