"""The Jira emulator's request and response values, shared by its route modules."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.sandbox.jira_state import User

Handler = Callable[["Request"], "Response"]


@dataclass
class Request:
    method: str
    path: str
    api: str
    query: dict[str, list[str]]
    body: Any
    user: User | None
    match: re.Match[str]

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Response:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Fault:
    status: int
    retry_after: float | None
    remaining: int
    path: str | None


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    status: int


def error(status: int, *messages: str, **errors: str) -> Response:
    return Response(status, {"errorMessages": list(messages), "errors": errors})


class BadRequest(Exception):
    """A parameter Jira would refuse: answered 400 with Jira's `errorMessages`."""

    def __init__(self, response: Response) -> None:
        super().__init__(response)
        self.response = response


def integer(value: Any, name: str, default: int) -> int:
    """A whole-number parameter (`maxResults`, `startAt`, an id), or BadRequest."""
    if value is None or value == "":
        return default
    try:
        if isinstance(value, bool):
            raise ValueError(value)
        return int(value)
    except (TypeError, ValueError):
        raise BadRequest(
            error(400, f"The value '{value}' is invalid for the parameter '{name}'.")
        ) from None


def parse_fault(spec: str) -> tuple[int, float | None, int, str | None]:
    """`PATH:STATUS[:retry-after=SECONDS][:times=N]`, e.g. `search:429:retry-after=2:times=3`
    (PATH: any part of the request path; `*` for every request) → (status, retry-after,
    times, path or None); ValueError if it is not."""
    path, _, rest = spec.partition(":")
    status_text, *options = rest.split(":") if rest else [""]
    if not path or not status_text.isdigit() or not 400 <= int(status_text) <= 599:
        raise ValueError(f"{spec!r}: expected PATH:STATUS with a 4xx or 5xx STATUS")
    retry_after: float | None = None
    times = 1
    for option in options:
        name, _, value = option.partition("=")
        try:
            if name == "retry-after":
                retry_after = float(value)
            elif name == "times":
                times = int(value)
            else:
                raise ValueError(name)
        except ValueError:
            raise ValueError(
                f"{spec!r}: {option!r} is not retry-after=SECONDS or times=N"
            ) from None
    return int(status_text), retry_after, times, None if path == "*" else path


def expansions(request: Request) -> set[str]:
    """What `expand` asks for: the query's comma-separated list, or the body's (a POST
    search)."""
    raw: Any = request.body.get("expand") if isinstance(request.body, dict) else None
    if raw is None:
        raw = request.param("expand") or ""
    parts = raw if isinstance(raw, list) else str(raw).split(",")
    return {str(p).strip() for p in parts if str(p).strip()}
