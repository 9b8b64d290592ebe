"""Label and field selectors, as the API server parses them and matches list and watch
requests by them, and list paging (`limit`, `continue`)."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from controller.sandbox.kube_store import Object, StoreError


def _labels_match(labels: dict[str, str], selector: str) -> bool:
    for term in _split_terms(selector):
        term = term.strip()
        if not term:
            continue
        found = re.fullmatch(r"([\w./-]+)\s+(in|notin)\s+\(([^)]*)\)", term)
        if found:
            key, op, values = (
                found.group(1),
                found.group(2),
                {v.strip() for v in found.group(3).split(",")},
            )
            if (labels.get(key) in values) != (op == "in") or (op == "in" and key not in labels):
                return False
        elif "!=" in term:
            key, value = (s.strip() for s in term.split("!=", 1))
            if labels.get(key) == value:
                return False
        elif "=" in term:
            key, value = (s.strip() for s in term.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
        elif term.startswith("!"):
            if term[1:] in labels:
                return False
        elif term not in labels:
            return False
    return True


def _split_terms(selector: str) -> list[str]:
    """Split on commas outside parentheses."""
    terms, depth, current = [], 0, ""
    for char in selector:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == "," and depth == 0:
            terms.append(current)
            current = ""
        else:
            current += char
    return [*terms, current]


def _field(obj: Object, path: str) -> str | None:
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return str(node)


def selected(obj: Object, query: dict[str, str]) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if query.get("labelSelector") and not _labels_match(labels, query["labelSelector"]):
        return False
    for term in (query.get("fieldSelector") or "").split(","):
        if not term.strip():
            continue
        negate = "!=" in term
        key, value = (s.strip() for s in re.split(r"!=|==|=", term, maxsplit=1))
        if (_field(obj, key) == value) == negate:
            return False
    return True


_KEY = r"(?:[a-z0-9A-Z.-]+/)?[a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?"
_VALUE = r"([a-zA-Z0-9]([-a-zA-Z0-9_.]*[a-zA-Z0-9])?)?"
_TERM = re.compile(
    rf"^\s*(!?\s*{_KEY}|{_KEY}\s*(=|==|!=)\s*{_VALUE}|"
    rf"{_KEY}\s+(in|notin)\s+\(\s*{_VALUE}(\s*,\s*{_VALUE})*\s*\))\s*$"
)
_FIELD = re.compile(r"^\s*[a-zA-Z0-9_.]+\s*(=|==|!=)\s*[^,=!]*$")


def check(query: dict[str, str]) -> None:
    """StoreError 400, as the API server answers a selector it cannot parse (rather than
    an empty list)."""
    for term in _split_terms(query.get("labelSelector") or ""):
        if term.strip() and not _TERM.match(term):
            raise StoreError(
                400, "BadRequest", f"unable to parse requirement: found '{term.strip()}'"
            )
    for term in (query.get("fieldSelector") or "").split(","):
        if term.strip() and not _FIELD.match(term):
            raise StoreError(400, "BadRequest", f"invalid selector: '{term.strip()}'")


def page(
    items: list[Object], query: dict[str, str], revision: int
) -> tuple[list[Object], dict[str, Any]]:
    """`limit` and `continue`: a chunk of a list, and the list metadata that says whether
    (and how) to ask for the next one."""
    start = 0
    token = query.get("continue")
    if token:
        try:
            start = int(json.loads(base64.urlsafe_b64decode(token.encode()))["start"])
        except (ValueError, KeyError, TypeError):
            raise StoreError(
                400, "BadRequest", "continue key is not valid: incorrect encoded start"
            ) from None
    metadata: dict[str, Any] = {"resourceVersion": str(revision)}
    try:
        limit = int(query.get("limit") or 0)
    except ValueError:
        raise StoreError(400, "BadRequest", "limit must be a whole number") from None
    if limit <= 0:
        return items[start:], metadata
    chunk = items[start : start + limit]
    left = len(items) - start - len(chunk)
    if left > 0:
        following = {"start": start + limit, "rv": revision}
        metadata["continue"] = base64.urlsafe_b64encode(json.dumps(following).encode()).decode()
        metadata["remainingItemCount"] = left
    return chunk, metadata
