"""Server-side printing: a list or an object as a `meta.k8s.io/v1` Table, which is what
`kubectl get` asks for (`Accept: application/json;as=Table;...`) and prints. Columns as
the API server's printers give them for the kinds the emulator knows; NAME and AGE for
the rest."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType

Column = tuple[str, str, int]
"""(name, type, priority: 0 shown by default, 1 with -o wide)."""


def wanted(accept: str) -> bool:
    return "as=Table" in accept


def table(resource: ResourceType, items: list[Object], revision: str) -> Object:
    columns = _columns(resource)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": revision},
        "columnDefinitions": [
            {
                "name": name,
                "type": kind,
                "format": "name" if name == "Name" else "",
                "description": name,
                "priority": priority,
            }
            for name, kind, priority in columns
        ],
        "rows": [
            {
                "cells": _cells(resource, obj),
                "object": {
                    "kind": "PartialObjectMetadata",
                    "apiVersion": "meta.k8s.io/v1",
                    "metadata": obj.get("metadata") or {},
                },
            }
            for obj in items
        ],
    }


COLUMNS: dict[str, list[Column]] = {
    "Deployment": [("Ready", "string", 0), ("Up-to-date", "integer", 0),
                   ("Available", "integer", 0), ("Age", "string", 0),
                   ("Containers", "string", 1), ("Images", "string", 1),
                   ("Selector", "string", 1)],
    "Namespace": [("Status", "string", 0), ("Age", "string", 0)],
    "Pod": [("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0),
            ("Age", "string", 0)],
    "ReplicaSet": [("Desired", "integer", 0), ("Current", "integer", 0),
                   ("Ready", "integer", 0), ("Age", "string", 0)],
    "ConfigMap": [("Data", "integer", 0), ("Age", "string", 0)],
    "Job": [("Status", "string", 0), ("Completions", "string", 0), ("Age", "string", 0)],
    "Lease": [("Holder", "string", 0), ("Age", "string", 0)],
}  # fmt: skip
"""Kind → its columns after Name, as the API server's printers give them."""


def _columns(resource: ResourceType) -> list[Column]:
    return [("Name", "string", 0), *COLUMNS.get(resource.kind, [("Age", "string", 0)])]


def _cells(resource: ResourceType, obj: Object) -> list[Any]:
    meta = obj.get("metadata") or {}
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    name, age = meta.get("name", ""), age_of(meta.get("creationTimestamp"))
    if (resource.group, resource.kind) == ("apps", "Deployment"):
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        selector = (spec.get("selector") or {}).get("matchLabels") or {}
        return [
            name,
            f"{status.get('readyReplicas', 0)}/{spec.get('replicas', 1)}",
            status.get("updatedReplicas", 0),
            status.get("availableReplicas", 0),
            age,
            ",".join(c.get("name", "") for c in containers),
            ",".join(c.get("image", "") for c in containers),
            ",".join(f"{k}={v}" for k, v in sorted(selector.items())),
        ]
    if resource.kind == "Namespace":
        return [name, status.get("phase", "Active"), age]
    if resource.kind == "Pod":
        containers = status.get("containerStatuses") or []
        ready = sum(1 for c in containers if c.get("ready"))
        waiting = next(
            (
                c["state"]["waiting"].get("reason")
                for c in containers
                if "waiting" in c.get("state", {})
            ),
            None,
        )
        restarts = sum(int(c.get("restartCount", 0)) for c in containers)
        return [
            name,
            f"{ready}/{len(containers)}",
            waiting or status.get("phase", ""),
            str(restarts),
            age,
        ]
    if resource.kind == "ReplicaSet":
        return [
            name,
            spec.get("replicas", 0),
            status.get("replicas", 0),
            status.get("readyReplicas", 0),
            age,
        ]
    if resource.kind == "ConfigMap":
        return [name, len(obj.get("data") or {}) + len(obj.get("binaryData") or {}), age]
    if resource.kind == "Job":
        held = {c["type"] for c in status.get("conditions") or [] if c.get("status") == "True"}
        order = ("Complete", "Failed", "Suspended", "FailureTarget", "SuccessCriteriaMet")
        state = next((kind for kind in order if kind in held), "Running")  # the printer's order
        completions = f"{status.get('succeeded', 0)}/{spec.get('completions', 1)}"
        return [name, state, completions, age]
    if resource.kind == "Lease":
        return [name, spec.get("holderIdentity", ""), age]
    return [name, age]


def age_of(stamp: Any, now: datetime | None = None) -> str:
    """How long ago, as kubectl writes it (`42s`, `3m12s`, `5h`, `2d3h`, `12d`)."""
    if not isinstance(stamp, str):
        return "<unknown>"
    try:
        then = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return "<unknown>"
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    minutes, hours, days = seconds // 60, seconds // 3600, seconds // 86400
    if seconds < 120:
        return f"{seconds}s"
    if minutes < 10:
        return f"{minutes}m{seconds % 60}s" if seconds % 60 else f"{minutes}m"
    if hours < 3:
        return f"{minutes}m"
    if hours < 8:
        return f"{hours}h{minutes % 60}m" if minutes % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if days < 8:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d"
