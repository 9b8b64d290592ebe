"""Prometheus' HTTP API, for analyses: an instant query at a time (`/api/v1/query`) and the
mean of a query over a window (`/api/v1/query_range`, for baselines).

Where relctl connects, and with which bearer token, is the deployment's: $RELCTL_PROMETHEUS_URL
and $RELCTL_PROMETHEUS_TOKEN (or ..._FILE), never the repository's. Every request has the
ControllerConfig's deadline. A reading never raises for what Prometheus answers: an error
(unreachable, timed out, a query Prometheus refuses, a result of the wrong type) is a
`Reading` with `error` set, which an analysis counts as an Error, never as a success.
NaN (0/0, as a ratio over no traffic) is no data; +Inf and -Inf are values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpx

from controller.adapters import secrets
from controller.adapters.errors import SecretError
from controller.plan.measurements import RangeReading, Reading

PROMETHEUS_URL = "RELCTL_PROMETHEUS_URL"
PROMETHEUS_TOKEN = "RELCTL_PROMETHEUS_TOKEN"  # noqa: S105 - a variable name


def parse_value(raw: Any) -> float | None:
    """A sample value as Prometheus writes it (a string: "0.05", "NaN", "+Inf")."""
    value = float(raw)
    return None if math.isnan(value) else value


def _reading(data: Mapping[str, Any]) -> Reading:
    kind, result = data.get("resultType"), data.get("result")
    if kind == "scalar":
        return Reading(parse_value(result[1]), series=1)  # type: ignore[index]
    if kind != "vector" or not isinstance(result, list):
        return Reading(error=f"the query returns a {kind}, not an instant vector or scalar")
    if len(result) != 1:
        return _series(result)
    return Reading(parse_value(result[0]["value"][1]), series=1)


def variables(name: str = "") -> tuple[str, str]:
    """The environment variables of a provider's URL and token."""
    if not name:
        return PROMETHEUS_URL, PROMETHEUS_TOKEN
    stem = "RELCTL_PROMETHEUS_" + name.upper().replace("-", "_")
    return f"{stem}_URL", f"{stem}_TOKEN"


class Prometheus:
    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.timeout = timeout
        self._http = httpx.Client(headers=headers, timeout=timeout, trust_env=False)
        self.requests = 0
        self.errors = 0
        self.down = ""
        """Why Prometheus was unreachable or slow, once it was: later requests answer that
        at once, without waiting another deadline, until `retry()` (each pass)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str], timeout: float, name: str = "") -> Prometheus | None:
        """The Prometheus the deployment names ($RELCTL_PROMETHEUS_URL, or for a named
        provider $RELCTL_PROMETHEUS_<NAME>_URL), or None when it names none."""
        url_var, token_var = variables(name)
        url = (env.get(url_var) or "").strip()
        if not url:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SecretError(f"${url_var} must be an http(s) URL with a host")
        if parts.username is not None or parts.password is not None:
            raise SecretError(
                f"${url_var} carries credentials in the URL; set ${token_var} instead"
            )
        return cls(url, secrets.optional(token_var, env), timeout)

    def close(self) -> None:
        self._http.close()

    def retry(self) -> None:
        """Ask again, even if Prometheus was down (a new pass)."""
        self.down = ""

    def mean(self, query: str, start: datetime, end: datetime) -> Reading:
        """The mean of the query's values over [start, end] (twelve steps): a baseline."""
        found = self.values(query, start, end, max((end - start) / 12, timedelta(seconds=1)))
        if found.error or not found.values:
            return Reading(error=found.error)
        return Reading(sum(found.values) / len(found.values), series=1)

    def values(self, query: str, start: datetime, end: datetime, step: timedelta) -> RangeReading:
        """The query's values over [start, end], every `step` (NaN left out)."""
        params = {
            "query": query,
            "start": f"{start.timestamp():.3f}",
            "end": f"{end.timestamp():.3f}",
            "step": f"{max(step.total_seconds(), 1):g}",
        }
        data, error = self._ask("/api/v1/query_range", params)
        if error:
            return RangeReading(error=error)
        result = data.get("result")
        if data.get("resultType") != "matrix" or not isinstance(result, list):
            return RangeReading(error=f"the query returns a {data.get('resultType')}, not a range")
        if len(result) > 1:
            return RangeReading(error=_series(result).error)
        try:
            found = (parse_value(v) for _, v in (result[0]["values"] if result else []))
            return RangeReading(tuple(v for v in found if v is not None))
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self.errors += 1
            return RangeReading(error=f"Prometheus' answer is malformed ({exc})")

    def instant(self, query: str, at: datetime) -> Reading:
        """The query's value at `at`."""
        data, error = self._ask("/api/v1/query", {"query": query, "time": f"{at.timestamp():.3f}"})
        if error:
            return Reading(error=error)
        try:
            return _reading(data)
        except (KeyError, IndexError, TypeError, ValueError) as exc:
            self.errors += 1
            return Reading(error=f"Prometheus' answer is malformed ({exc})")

    def _ask(self, path: str, params: dict[str, str]) -> tuple[dict[str, Any], str]:
        """Prometheus' `data`, or why there is none (every failure counted once)."""
        if self.down:
            return {}, self.down
        self.requests += 1
        try:
            answer = self._http.get(self.url + path, params=params)
        except httpx.TimeoutException:
            self.errors += 1
            self.down = f"Prometheus did not answer within {self.timeout:g} s"
            return {}, self.down
        except httpx.HTTPError as exc:
            self.errors += 1
            self.down = f"Prometheus is unreachable ({type(exc).__name__})"
            return {}, self.down
        try:
            body = answer.json()
        except ValueError:
            self.errors += 1
            return {}, f"Prometheus answered {answer.status_code} without JSON"
        if not isinstance(body, dict) or body.get("status") != "success":
            self.errors += 1
            found = body if isinstance(body, dict) else {}
            kind = found.get("errorType", "error")
            return {}, f"Prometheus refused the query ({kind}): {found.get('error', '')}"
        data = body.get("data")
        return (data if isinstance(data, dict) else {}), ""


def _series(result: list[Any]) -> Reading:
    """No data, or more series than the one a metric's query must return."""
    if not result:
        return Reading()
    return Reading(
        error=f"the query returns {len(result)} series; it must return one "
        "(aggregate it, e.g. with sum or max)",
        series=len(result),
    )
