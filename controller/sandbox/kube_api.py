"""The Kubernetes API emulator's reply values, shared by its modules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass
class Reply:
    status: int
    body: Any = None
    stream: Callable[[Callable[[bytes], None]], None] | None = None


def status_error(code: int, reason: str, message: str) -> Reply:
    return Reply(
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def deleted_status(name: str, group: str, plural: str, uid: str) -> dict[str, object]:
    """The API server's answer to a DELETE that deleted."""
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": group, "kind": plural, "uid": uid},
    }
