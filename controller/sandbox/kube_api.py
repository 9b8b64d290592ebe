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
