"""Notification sinks: Slack and Teams webhooks, a generic signed webhook, and email.

- Where: the URL is the deployment's ($RELCTL_SINK_<NAME>_URL, or _URL_FILE), never the
  repository's: a Slack or Teams webhook URL is itself a credential. A webhook sink signs
  with $RELCTL_SINK_<NAME>_SECRET (X-Signature: sha256=<hex HMAC of the body>, as Flux's
  generic-hmac); an email sink's URL is `smtp://host:port`, with
  $RELCTL_SINK_<NAME>_USERNAME and _PASSWORD when the server wants a login.
- One attempt per call, with a deadline (connect, read, the SMTP session); no redirect
  followed. A 2xx is delivered; 408, 429 and 5xx (with Retry-After honoured) or a
  network error are worth trying again later; any other 4xx is refused for good (a
  revoked webhook). What to do next is `plan.deliveries`' (the outbox): this module
  never sleeps and never loops.
- Errors and answers name the sink, never its URL or a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import smtplib
import ssl
from collections.abc import Mapping
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlsplit

import httpx

from controller.adapters import secrets
from controller.adapters.errors import AdapterError, SecretError
from controller.adapters.jira_http import retry_after
from controller.errors import Disposition
from controller.manifests.notify import Sink
from controller.plan.notices import RENDERERS, Notice, email

TIMEOUT = httpx.Timeout(10.0, connect=5.0)
SMTP_TIMEOUT = 15.0
USER_AGENT = "relctl"


class NotifyError(AdapterError):
    """A receiver that did not take the notification; `refused`: for good (a 4xx, an
    SMTP 5xx), so the delivery is not tried again."""

    def __init__(self, message: str, *, refused: bool = False, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.refused = refused


def variable(name: str, what: str = "URL") -> str:
    """$RELCTL_SINK_<NAME>_<WHAT>: the deployment's word on a sink."""
    return f"RELCTL_SINK_{name.upper().replace('-', '_')}_{what}"


class Notifier:
    """One sink, as the deployment configures it."""

    def __init__(self, name: str, sink: Sink, env: Mapping[str, str]) -> None:
        if sink.type == "jira":
            raise NotifyError(f"sink {name} comments through Jira, not a URL of its own")
        self.name, self.sink = name, sink
        self.url = secrets.required(variable(name), env, f"sink {name}")
        parts = urlsplit(self.url)
        schemes = ("smtp",) if sink.type == "email" else ("http", "https")
        if parts.scheme not in schemes or not parts.hostname:
            wanted = "an smtp://host:port URL" if sink.type == "email" else "an http(s) URL"
            raise SecretError(f"${variable(name)} must be {wanted} (sink {name})")
        self.secret = secrets.optional(variable(name, "SECRET"), env)
        if sink.type == "webhook" and self.secret is None:
            raise SecretError(
                f"sink {name} signs its payloads: set ${variable(name, 'SECRET')} (or _FILE)"
            )
        self.username = secrets.optional(variable(name, "USERNAME"), env)
        self.password = secrets.optional(variable(name, "PASSWORD"), env)
        self._client: httpx.Client | None = None
        self.requests = 0

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def send(self, notice: Notice) -> str:
        """Deliver `notice`; what the receiver answered (`200`, `250 …`)."""
        self.requests += 1
        if self.sink.type == "email":
            return self._mail(notice)
        body = json.dumps(RENDERERS[self.sink.type](notice), ensure_ascii=False).encode()
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT,
                   "X-Relctl-Event": notice.id}  # fmt: skip
        if self.secret is not None:
            digest = hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()
            headers["X-Signature"] = f"sha256={digest}"
        if self._client is None:
            self._client = httpx.Client(timeout=TIMEOUT, follow_redirects=False)
        try:
            response = self._client.post(self.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise NotifyError(
                f"sink {self.name}: no answer ({type(exc).__name__})",
                disposition=Disposition.TRANSIENT,
            ) from None
        if response.is_success:
            return str(response.status_code)
        status = response.status_code
        again = status in (408, 429) or status >= 500
        raise NotifyError(
            f"sink {self.name}: HTTP {status}",
            refused=not again,
            disposition=Disposition.TRANSIENT if again else Disposition.STALLED,
            requeue_after=retry_after(response) if again else None,
        )

    def _mail(self, notice: Notice) -> str:
        subject, text, markup = email(notice)
        message = EmailMessage()
        message["Subject"] = subject
        message["From"] = self.sink.sender or ""
        message["To"] = ", ".join(self.sink.to)
        message["Date"] = formatdate(localtime=False)
        message["Message-ID"] = make_msgid(domain="relctl")
        message["X-Relctl-Event"] = notice.id
        message.set_content(text)
        message.add_alternative(markup, subtype="html")
        parts = urlsplit(self.url)
        try:
            with smtplib.SMTP(parts.hostname or "", parts.port or 25, timeout=SMTP_TIMEOUT) as smtp:
                smtp.ehlo()
                if smtp.has_extn("starttls"):
                    smtp.starttls(context=ssl.create_default_context())
                    smtp.ehlo()
                if self.username and self.password:
                    smtp.login(self.username, self.password)
                refused = smtp.send_message(message)
        except smtplib.SMTPResponseException as exc:
            again = 400 <= exc.smtp_code < 500
            raise NotifyError(
                f"sink {self.name}: SMTP {exc.smtp_code}",
                refused=not again,
                disposition=Disposition.TRANSIENT if again else Disposition.STALLED,
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            raise NotifyError(
                f"sink {self.name}: no answer ({type(exc).__name__})",
                disposition=Disposition.TRANSIENT,
            ) from None
        if refused:
            return f"250 (refused {len(refused)} of {len(self.sink.to)} recipients)"
        return "250"
