"""Jira over HTTP, on httpx: the site's settings (from relctl.yaml and the deployment's
environment), and a transport that gives every call a deadline, honours `Retry-After` on
429 and 503 (seconds or an HTTP date), backs off exponentially with full jitter
otherwise, and classifies what fails (`controller.errors.for_status`). A write whose
reply was lost is looked for before it is sent again. Errors name the credential, the
project or the version concerned, never a secret.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from controller import __version__
from controller.adapters import secrets
from controller.adapters.errors import AdapterError
from controller.errors import Disposition, for_status
from controller.manifests.config import IssueCategories, JiraConfig

RETRY_STATUSES = frozenset({429, 502, 503, 504})


class JiraError(AdapterError):
    """Jira answered with an error, or could not be reached."""


@dataclass(frozen=True)
class JiraSettings:
    url: str
    flavor: str
    token: str = field(repr=False)
    email: str | None = field(default=None, repr=False)
    credential: str = ""
    """Where the credentials come from, for error messages."""
    page_size: int = 100
    timeout: float = 30.0
    categories: IssueCategories = field(default_factory=IssueCategories)
    max_attempts: int = 5
    max_backoff: float = 30.0
    max_retry_after: float = 120.0

    @property
    def api(self) -> str:
        return "3" if self.flavor == "cloud" else "2"


def settings_from(
    config: JiraConfig, env: Mapping[str, str], url: str | None = None
) -> JiraSettings:
    """Settings from the ControllerConfig (flavor, paging, timeout, categories) and from
    the deployment: the URL ($RELCTL_JIRA_URL, or `url` from a flag) and the credentials
    ($RELCTL_JIRA_EMAIL and $RELCTL_JIRA_TOKEN, or their _FILE forms). RELCTL_JIRA_FLAVOR
    overrides the flavor."""
    flavor = env.get("RELCTL_JIRA_FLAVOR", config.flavor)
    if flavor not in ("cloud", "datacenter"):
        raise JiraError(
            f"RELCTL_JIRA_FLAVOR must be cloud or datacenter, not {flavor!r}",
            disposition=Disposition.STALLED,
        )
    base = secrets.jira_url(env, url)
    token = secrets.required(secrets.JIRA_TOKEN, env, "Jira")
    email = None
    credential = f"the personal access token from {secrets.describe(secrets.JIRA_TOKEN, env)}"
    if flavor == "cloud":
        email = secrets.required(secrets.JIRA_EMAIL, env, "Jira Cloud (the API token's account)")
        credential = (
            f"the email from {secrets.describe(secrets.JIRA_EMAIL, env)} with the API "
            f"token from {secrets.describe(secrets.JIRA_TOKEN, env)}"
        )
    return JiraSettings(
        url=base,
        flavor=flavor,
        token=token,
        email=email,
        credential=credential,
        page_size=config.page_size,
        timeout=config.timeout.total_seconds(),
        categories=config.categories,
    )


def retry_after(response: httpx.Response, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date)."""
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _messages(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text[:200].strip() or response.reason_phrase
    if not isinstance(body, dict):
        return str(body)[:200]
    parts = [str(m) for m in body.get("errorMessages") or []]
    parts += [f"{k}: {v}" for k, v in (body.get("errors") or {}).items()]
    return "; ".join(parts) or response.reason_phrase


class JiraHttp:
    """The transport of a Jira client for one site. Counts its requests for metrics and
    benchmarks."""

    def __init__(
        self,
        settings: JiraSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.settings = settings
        headers = {"Accept": "application/json", "User-Agent": f"relctl/{__version__}"}
        auth: httpx.Auth | None = None
        if settings.flavor == "cloud":
            auth = httpx.BasicAuth(settings.email or "", settings.token)
        else:
            headers["Authorization"] = f"Bearer {settings.token}"
        self._http = httpx.Client(
            base_url=settings.url,
            headers=headers,
            auth=auth,
            timeout=settings.timeout,
            transport=transport,
        )
        self._sleep, self._jitter = sleep, jitter
        self.requests = 0
        self.errors = 0
        self.waits: list[float] = []

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> JiraHttp:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def path(self, rest: str) -> str:
        return f"/rest/api/{self.settings.api}/{rest}"

    # --- transport ----------------------------------------------------------------------

    def _backoff(self, attempt: int) -> float:
        return self._jitter() * min(self.settings.max_backoff, 0.5 * 2.0**attempt)

    def _wait(self, seconds: float) -> None:
        self.waits.append(seconds)
        self._sleep(seconds)

    def request(
        self,
        method: str,
        rest: str,
        *,
        what: str,
        params: Any = None,
        json: Any = None,
        applied: Callable[[], Any] | None = None,
    ) -> Any:
        """One call with retries; returns the decoded JSON body (None when empty).

        A write that is not idempotent (a POST that creates) names `applied`: after a
        timeout, a dropped connection or a 5xx, the write may have landed although no
        answer came, so `applied()` is asked before each retry and, when it finds the
        write (anything but None), that is the result and nothing is sent again."""
        settings = self.settings
        problem = f"no attempt was made at {what}"
        maybe_landed = False
        for attempt in range(settings.max_attempts):
            last = attempt + 1 == settings.max_attempts
            if maybe_landed and applied is not None:
                found = applied()
                if found is not None:
                    return found
            maybe_landed = False
            try:
                self.requests += 1
                response = self._http.request(method, self.path(rest), params=params, json=json)
            except httpx.TimeoutException as exc:
                self.errors += 1
                maybe_landed = not isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout)
                problem = f"Jira did not answer {what} within {settings.timeout:g} s"
                if not last:
                    self._wait(self._backoff(attempt))
                continue
            except httpx.TransportError as exc:
                self.errors += 1
                maybe_landed = not isinstance(exc, httpx.ConnectError)
                problem = f"cannot reach Jira at {settings.url} for {what}: {exc}"
                if not last:
                    self._wait(self._backoff(attempt))
                continue
            if response.status_code in RETRY_STATUSES:
                self.errors += 1
                maybe_landed = response.status_code != 429
                problem = f"Jira answered {response.status_code} to {what}: {_messages(response)}"
                wait = retry_after(response)
                if wait is not None and wait > settings.max_retry_after:
                    raise JiraError(
                        f"{problem}; asked to wait {wait:g} s",
                        disposition=Disposition.WAITING,
                        requeue_after=wait,
                    )
                if not last:
                    self._wait(wait if wait is not None else self._backoff(attempt))
                continue
            return self._result(response, what)
        raise JiraError(
            f"{problem} (gave up after {settings.max_attempts} attempts)",
            disposition=Disposition.TRANSIENT,
        )

    def _result(self, response: httpx.Response, what: str) -> Any:
        status = response.status_code
        if status < 400:
            return response.json() if response.content else None
        self.errors += 1
        detail = _messages(response)
        disposition = for_status(status)
        if status == 401:
            message = f"Jira at {self.settings.url} rejected {self.settings.credential} ({detail})"
        elif status == 403:
            message = f"the Jira account lacks permission for {what} ({detail})"
        elif status == 404:
            message = f"{what}: not found in Jira ({detail})"
        else:
            message = f"Jira refused {what} with {status}: {detail}"
        raise JiraError(message, disposition=disposition)
