"""Structured logs: one JSON object per line on standard error, each carrying the id of
the pass it belongs to. Fields are passed as `extra={"fields": {...}}`. Callers must
never put a secret in a message or a field; nothing here can tell one apart."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import IO, Any

LOGGER = "relctl"
_pass_id: contextvars.ContextVar[int | None] = contextvars.ContextVar("pass_id", default=None)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        pass_id = _pass_id.get()
        if pass_id is not None:
            document["pass"] = pass_id
        fields = getattr(record, "fields", None)
        if isinstance(fields, Mapping):
            document.update(fields)
        if record.exc_info and record.levelno >= logging.ERROR:
            document["exception"] = self.formatException(record.exc_info)
        return json.dumps(document, default=str, sort_keys=False)


def configure(stream: IO[str] | None = None, level: int = logging.INFO) -> logging.Logger:
    """The `relctl` logger, writing JSON lines to `stream` (standard error)."""
    logger = logging.getLogger(LOGGER)
    logger.handlers.clear()
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    return logger


@contextmanager
def in_pass(pass_id: int) -> Iterator[None]:
    """Stamp every record logged inside with the pass id."""
    token = _pass_id.set(pass_id)
    try:
        yield
    finally:
        _pass_id.reset(token)


def fields(**values: Any) -> dict[str, Any]:
    return {"fields": values}
