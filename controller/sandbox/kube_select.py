"""Label and field selectors, as the API server matches list and watch requests by them."""

from __future__ import annotations

import re
from typing import Any

from controller.sandbox.kube_store import Object


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
