"""The Jira adapter, on httpx: Cloud (REST v3, enhanced search with `nextPageToken`) and
Data Center (REST v2, `/search` with `startAt`), versions, issues, comments, transitions.

- One JQL search covers every project and version a pass needs, paged; incremental
  passes ask only for issues updated since the last one.
- JQL is built from quoted, escaped values only (`quote`).
- 429 and 503 honour `Retry-After` (seconds or an HTTP date), other failures back off
  exponentially with full jitter, capped; every call has a timeout. Errors are
  `AdapterError`s classified transient / waiting / stalled, and name the credential, the
  project or the version concerned, never a secret.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any

import httpx

from controller import __version__
from controller.adapters import secrets
from controller.adapters.errors import AdapterError
from controller.errors import Disposition, for_status
from controller.manifests.config import IssueCategories, JiraConfig
from controller.plan.jql import jql_time, quote_list
from controller.plan.observed import (
    JiraObservation,
    ObservedIssue,
    ObservedVersion,
    StatusCategory,
    classify,
    index_by_version,
    is_blocker,
    is_critical,
)

BASE_FIELDS = (
    "summary",
    "issuetype",
    "status",
    "priority",
    "labels",
    "fixVersions",
    "resolution",
    "updated",
    "project",
)
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


class JiraClient:
    """A Jira REST client for one site. Counts its requests for metrics and benchmarks."""

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

    def __enter__(self) -> JiraClient:
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

    # --- versions -----------------------------------------------------------------------

    def server_info(self) -> dict[str, Any]:
        info = self.request("GET", "serverInfo", what="the server information")
        assert isinstance(info, dict)
        return info

    def versions(self, project: str) -> list[ObservedVersion]:
        found = self.request(
            "GET", f"project/{project}/versions", what=f"the versions of project {project}"
        )
        return [_version(project, v) for v in found or []]

    def create_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None = None,
        start_date: date | None = None,
        description: str = "",
    ) -> ObservedVersion:
        body: dict[str, Any] = {"name": name, "project": project}
        if description:
            body["description"] = description
        if release_date is not None:
            body["releaseDate"] = release_date.isoformat()
        if start_date is not None:
            body["startDate"] = start_date.isoformat()

        def applied() -> Any:
            listed = self.request(
                "GET", f"project/{project}/versions", what=f"the versions of project {project}"
            )
            return next((v for v in listed or () if v.get("name") == name), None)

        created = self.request(
            "POST",
            "version",
            json=body,
            what=f"creating version {name!r} in project {project}",
            applied=applied,
        )
        return _version(project, created)

    def update_version(self, version: ObservedVersion, **fields: Any) -> ObservedVersion:
        body = {_camel(k): (v.isoformat() if isinstance(v, date) else v) for k, v in fields.items()}
        updated = self.request(
            "PUT",
            f"version/{version.id}",
            json=body,
            what=f"updating version {version.name!r} of {version.project}",
        )
        return _version(version.project, updated)

    def ensure_version(
        self,
        project: str,
        name: str,
        *,
        release_date: date | None = None,
        description: str = "",
        known: Sequence[ObservedVersion] | None = None,
    ) -> ObservedVersion:
        """The version, created if missing and moved if its date differs: idempotent."""
        existing = next(
            (v for v in (known if known is not None else self.versions(project)) if v.name == name),
            None,
        )
        if existing is None:
            return self.create_version(
                project, name, release_date=release_date, description=description
            )
        if (
            release_date is not None
            and existing.release_date != release_date
            and not existing.released
        ):
            return self.update_version(existing, release_date=release_date)
        return existing

    def release_version(self, version: ObservedVersion, on: date) -> ObservedVersion:
        if version.released:
            return version
        return self.update_version(version, released=True, release_date=on)

    def archive_version(self, version: ObservedVersion) -> ObservedVersion:
        if version.archived:
            return version
        return self.update_version(version, archived=True)

    # --- issues -------------------------------------------------------------------------

    def fields(self) -> list[str]:
        extra = [
            f
            for f in (
                self.settings.categories.breaking_field,
                self.settings.categories.migration_field,
            )
            if f
        ]
        return [*BASE_FIELDS, *extra]

    def search(self, jql: str, fields: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Every issue matching `jql`, page by page."""
        size = self.settings.page_size
        if self.settings.flavor == "cloud":
            token: str | None = None
            while True:
                body: dict[str, Any] = {"jql": jql, "fields": list(fields), "maxResults": size}
                if token:
                    body["nextPageToken"] = token
                page = self.request("POST", "search/jql", json=body, what="the issue search")
                yield from page.get("issues", [])
                token = page.get("nextPageToken")
                if page.get("isLast", True) or not token:
                    return
        start = 0
        while True:
            page = self.request(
                "POST",
                "search",
                json={
                    "jql": jql,
                    "fields": list(fields),
                    "startAt": start,
                    "maxResults": size,
                },
                what="the issue search",
            )
            issues = page.get("issues", [])
            yield from issues
            start += len(issues)
            if not issues or start >= int(page.get("total", 0)):
                return

    def observe(
        self,
        versions: Mapping[str, Sequence[str]],
        *,
        now: datetime,
        previous: JiraObservation | None = None,
    ) -> JiraObservation:
        """Versions of every project and the issues of the named versions.

        `versions` maps project key → version names. A full observation lists every
        project's versions and searches the issues of the versions that exist (Jira
        refuses a search naming a version it does not have, so a release whose version
        is not created yet costs no other release its observation). With `previous`,
        when it watched every pair asked for now, only issues updated since then are
        fetched (one search, across projects, with a minute of overlap: JQL dates have
        minute precision) and the versions are not listed again; a newly watched pair
        means a full observation."""
        before = self.requests
        projects = sorted(versions)
        wanted = frozenset((p, v) for p, names in versions.items() for v in names)
        if not projects or not wanted:
            return JiraObservation({}, {}, now, watched=wanted)
        if previous is not None and wanted <= previous.watched:
            listed = dict(previous.versions)
            timezone = previous.timezone
            since = previous.observed_at - timedelta(minutes=1)
            jql: str | None = (
                f"project in {quote_list(projects)} AND updated >= "
                f"{jql_time(since, timezone)} ORDER BY key ASC"
            )
            issues = dict(previous.issues)
        else:
            account = self.request("GET", "myself", what="the relctl account")
            timezone = str((account or {}).get("timeZone") or "UTC")
            listed = {p: tuple(self.versions(p)) for p in projects}
            names = sorted({v.name for p in projects for v in listed[p] if (p, v.name) in wanted})
            jql = (
                f"project in {quote_list(projects)} AND fixVersion in {quote_list(names)} "
                "ORDER BY key ASC"
                if names
                else None  # no watched version exists yet: no issue can be in one
            )
            issues = {}
        for raw in self.search(jql, self.fields()) if jql is not None else ():
            issue = self._issue(raw)
            if any((issue.project, v) in wanted for v in issue.fix_versions):
                issues[issue.key] = issue
            else:
                issues.pop(issue.key, None)  # moved out of every version we watch
        return JiraObservation(
            listed,
            issues,
            now,
            self.requests - before,
            index_by_version(issues),
            timezone,
            wanted,
        )

    def _issue(self, raw: dict[str, Any]) -> ObservedIssue:
        fields = raw.get("fields") or {}
        categories = self.settings.categories
        labels = tuple(fields.get("labels") or ())
        issuetype = (fields.get("issuetype") or {}).get("name", "")
        priority = (fields.get("priority") or {}).get("name", "")
        status = fields.get("status") or {}
        category_key = (status.get("statusCategory") or {}).get("key", "new")
        breaking_field = categories.breaking_field
        breaking = bool(breaking_field and _plain(fields.get(breaking_field)).strip())
        migration = (
            _plain(fields.get(categories.migration_field)) if categories.migration_field else ""
        )
        key = str(raw.get("key", ""))
        return ObservedIssue(
            key=key,
            project=(fields.get("project") or {}).get("key") or key.rpartition("-")[0],
            summary=fields.get("summary") or "",
            issuetype=issuetype,
            status=status.get("name", ""),
            status_category=StatusCategory(category_key)
            if category_key in ("new", "indeterminate", "done")
            else StatusCategory.TODO,
            priority=priority,
            labels=labels,
            fix_versions=tuple(v.get("name", "") for v in fields.get("fixVersions") or ()),
            updated=_parse_time(fields.get("updated")),
            category=classify(issuetype, labels, breaking, categories),
            blocker=is_blocker(priority, labels, categories),
            critical=is_critical(issuetype, priority, categories),
            internal=bool(set(labels) & set(categories.internal_labels)),
            migration_note=migration.strip(),
        )

    def comment(self, issue: str, text: str, marker: str = "") -> None:
        """Post a comment. With `marker` (text only this comment carries), a retry after a
        lost answer first looks for it, so the comment is never posted twice."""
        body: Any = (
            text
            if self.settings.api == "2"
            else {
                "type": "doc",
                "version": 1,
                "content": [
                    {"type": "paragraph", "content": [{"type": "text", "text": part}]}
                    for part in text.split("\n\n")
                    if part
                ],
            }
        )

        def applied() -> Any:
            return True if any(marker in c for c in self.comments(issue)) else None

        self.request(
            "POST",
            f"issue/{issue}/comment",
            json={"body": body},
            what=f"commenting on {issue}",
            applied=applied if marker else None,
        )

    def comments(self, issue: str) -> list[str]:
        """Every comment's text, page by page (Jira pages comments, 100 at most)."""
        texts: list[str] = []
        while True:
            page = self.request(
                "GET",
                f"issue/{issue}/comment",
                params={"startAt": len(texts), "maxResults": 100},
                what=f"the comments of {issue}",
            )
            found = (page or {}).get("comments", [])
            texts += [_plain(c.get("body")) for c in found]
            if not found or len(texts) >= int((page or {}).get("total", 0)):
                return texts

    def transition(self, issue: str, name: str) -> None:
        found = self.request(
            "GET", f"issue/{issue}/transitions", what=f"the transitions of {issue}"
        )
        options = {t["name"].lower(): t["id"] for t in (found or {}).get("transitions", [])}
        if name.lower() not in options:
            raise JiraError(
                f"{issue} has no transition named {name!r} now "
                f"(available: {', '.join(sorted(options)) or 'none'})",
                disposition=Disposition.STALLED,
            )
        self.request(
            "POST",
            f"issue/{issue}/transitions",
            json={"transition": {"id": options[name.lower()]}},
            what=f"moving {issue} through {name!r}",
        )


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def _version(project: str, raw: Any) -> ObservedVersion:
    return ObservedVersion(
        id=str(raw["id"]),
        project=project,
        name=str(raw["name"]),
        released=bool(raw.get("released")),
        archived=bool(raw.get("archived")),
        release_date=date.fromisoformat(raw["releaseDate"]) if raw.get("releaseDate") else None,
        start_date=date.fromisoformat(raw["startDate"]) if raw.get("startDate") else None,
        description=str(raw.get("description") or ""),
    )


def _plain(value: Any) -> str:
    """Text of a field: a string, an option ({"value": …}), or an ADF document."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if value.get("type") == "text":
            return str(value.get("text", ""))
        if "value" in value:
            return str(value["value"])
        parts = [_plain(c) for c in value.get("content", [])]
        return ("\n\n" if value.get("type") == "doc" else "").join(parts)
    if isinstance(value, list):
        return ", ".join(_plain(v) for v in value)
    return str(value)


def _parse_time(value: Any) -> datetime:
    if not value:
        return datetime(1970, 1, 1, tzinfo=UTC)
    text = str(value)
    if len(text) > 5 and text[-5] in "+-" and text[-3] != ":":
        text = text[:-2] + ":" + text[-2:]  # Jira writes +0000
    return datetime.fromisoformat(text)
