"""A notification's delivery, as the status file's outbox records it (`deliveries`):
the record type and its file form. The rules are `deliveries`'."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any


class DeliveryState(StrEnum):
    PENDING = "Pending"
    DELIVERED = "Delivered"
    FAILED = "Failed"


@dataclass(frozen=True)
class Delivery:
    id: str
    """The event id every payload carries: release, decision, its time, subscription."""
    subscription: str
    sink: str
    event: str
    """The decision kind."""
    decided: datetime
    """When the decision was taken (which of the release's decisions it tells of)."""
    state: DeliveryState = DeliveryState.PENDING
    attempts: int = 0
    at: datetime | None = None
    """When it was delivered, or last tried."""
    retry: datetime | None = None
    """Not before: the back-off after a failed attempt."""
    response: str = ""
    """What the receiver said last (`200`, `HTTP 503`, `250 OK`, a network error)."""
    message: str = ""
    """For a condition's notification: what the finding said."""


# --- file form ---------------------------------------------------------------------------


def delivery_document(delivery: Delivery) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "id": delivery.id,
        "subscription": delivery.subscription,
        "sink": delivery.sink,
        "event": delivery.event,
        "decided": delivery.decided.isoformat(),
        "state": delivery.state.value,
        "attempts": delivery.attempts,
        "at": None if delivery.at is None else delivery.at.isoformat(),
        "retry": None if delivery.retry is None else delivery.retry.isoformat(),
        "response": delivery.response,
        "message": delivery.message,
    }
    return {k: v for k, v in raw.items() if v not in (None, "")}


SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/+-]{0,299}$")
"""What an id, a name or an event in the outbox may be."""


def delivery_from(
    raw: Mapping[str, Any], parse_time: Callable[[Any, str], datetime | None], where: str
) -> Delivery:
    decided = parse_time(raw["decided"], f"{where}.decided")
    if decided is None:
        raise ValueError(f"{where}: decided is required")
    fields = {k: str(raw[k]) for k in ("id", "subscription", "sink", "event")}
    for key, value in fields.items():
        if not SAFE.match(value):
            # It travels in HTTP and mail headers (X-Relctl-Event): no control characters.
            raise ValueError(f"{where}.{key}: {value[:60]!r} is not one relctl writes")
    return Delivery(
        id=fields["id"],
        subscription=fields["subscription"],
        sink=fields["sink"],
        event=fields["event"],
        decided=decided,
        state=DeliveryState(str(raw.get("state", "Pending"))),
        attempts=int(raw.get("attempts", 0)),
        at=parse_time(raw.get("at"), f"{where}.at"),
        retry=parse_time(raw.get("retry"), f"{where}.retry"),
        response=str(raw.get("response", ""))[:200],
        message=str(raw.get("message", ""))[:500],
    )


PUBLISHED_PATH = re.compile(r"^(notes|decisions)/[A-Za-z0-9][A-Za-z0-9._-]{0,200}\.md$")
"""What a publication may name: a document relctl writes under the status folder."""


@dataclass(frozen=True)
class Publication:
    """A document of the release published as a Confluence page (`plan.publications`)."""

    path: str
    """Under the status folder: notes/<release>.md, decisions/<release>-<n>.md."""
    title: str
    digest: str
    """Of the Markdown to publish: a new one makes the publication Pending again."""
    state: DeliveryState = DeliveryState.PENDING
    page: str = ""
    """The page's id, once created: an update finds its page by it."""
    version: int = 0
    """The page version relctl last wrote."""
    attempts: int = 0
    at: datetime | None = None
    retry: datetime | None = None
    response: str = ""


def publication_document(p: Publication) -> dict[str, Any]:
    raw: dict[str, Any] = {
        "path": p.path, "title": p.title, "digest": p.digest, "state": p.state.value,
        "page": p.page, "version": p.version or None, "attempts": p.attempts or None,
        "at": None if p.at is None else p.at.isoformat(),
        "retry": None if p.retry is None else p.retry.isoformat(), "response": p.response,
    }  # fmt: skip
    return {k: v for k, v in raw.items() if v not in (None, "")}


def publication_from(
    raw: Mapping[str, Any], parse_time: Callable[[Any, str], datetime | None], where: str
) -> Publication:
    path = str(raw["path"])
    if not PUBLISHED_PATH.match(path):
        raise ValueError(f"{where}.path: {path[:80]!r} is not a document relctl writes")
    page = str(raw.get("page", ""))
    if page and not page.isdigit():
        raise ValueError(f"{where}.page: {page[:40]!r} is not a page id")
    return Publication(
        path=path,
        title=str(raw["title"])[:255],
        digest=str(raw["digest"])[:64],
        state=DeliveryState(str(raw.get("state", "Pending"))),
        page=page,
        version=int(raw.get("version", 0)),
        attempts=int(raw.get("attempts", 0)),
        at=parse_time(raw.get("at"), f"{where}.at"),
        retry=parse_time(raw.get("retry"), f"{where}.retry"),
        response=str(raw.get("response", ""))[:200],
    )
