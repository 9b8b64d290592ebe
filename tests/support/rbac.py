"""Kubernetes API requests (as the API emulator logged them) turned into the
(API group, resource, verb) triples RBAC rules grant."""

from __future__ import annotations

from controller.adapters import rbac
from controller.sandbox.kube import KubeSandbox

VERBS = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}


def triple(method: str, path: str) -> tuple[str, str, str] | None:
    """None for discovery and other non-resource paths."""
    parts = [p for p in path.split("?", 1)[0].split("/") if p]
    if parts[:1] == ["api"] and len(parts) >= 3:
        group, rest = "", parts[2:]
    elif parts[:1] == ["apis"] and len(parts) >= 4:
        group, rest = parts[1], parts[3:]
    else:
        return None
    if rest[:1] == ["namespaces"]:
        if len(rest) < 3:
            return None  # a Namespace itself
        rest = rest[2:]
    resource, named = rest[0], len(rest) > 1
    if method == "GET":
        verb = "watch" if "watch=" in path else ("get" if named else "list")
    else:
        verb = VERBS[method]
    return group, resource, verb


def used(sandbox: KubeSandbox) -> set[tuple[str, str, str]]:
    found = set()
    for method, path, _ in sandbox.requests():
        t = triple(method, path)
        if t is not None:
            found.add(t)
    return found


def granted(rules: tuple[rbac.Rule, ...]) -> set[tuple[str, str, str]]:
    return {(g, r, v) for g, r, verbs in rules for v in verbs}
