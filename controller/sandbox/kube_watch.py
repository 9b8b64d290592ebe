"""WATCH requests: a stream of the changes to one kind of object, as the API server sends
them (a 410 once the resourceVersion asked for is too old)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable

from controller.sandbox import kube_select
from controller.sandbox.kube_api import Reply, status_error
from controller.sandbox.kube_select import selected
from controller.sandbox.kube_store import ResourceType, Store, StoreError

MAX_WATCH_SECONDS = 300


def watch(
    store: Store, resource: ResourceType, namespace: str | None, query: dict[str, str]
) -> Reply:
    """A WATCH: the objects (unless resuming from a resourceVersion), then each change, as
    JSON lines, until `timeoutSeconds` (at most MAX_WATCH_SECONDS)."""
    kube_select.check(query)
    timeout = min(float(query.get("timeoutSeconds") or MAX_WATCH_SECONDS), MAX_WATCH_SECONDS)
    since = query.get("resourceVersion") or "0"
    if not since.isdigit():
        return status_error(400, "BadRequest", f"invalid resource version: {since!r}")
    if int(since) > store.revision:  # the API server waits for it, then says so
        return status_error(
            504, "Timeout", f"Too large resource version: {since}, current: {store.revision}"
        )

    def stream(send: Callable[[bytes], None]) -> None:
        deadline = time.monotonic() + timeout
        with store.lock:
            if since in ("", "0"):
                items, revision = store.list(resource, namespace)
                initial = [{"type": "ADDED", "object": o} for o in items if selected(o, query)]
            else:
                revision = int(since)
                initial = []
        for added in initial:
            send(json.dumps(added).encode() + b"\n")
        while time.monotonic() < deadline:
            with store.lock:
                try:
                    pending = list(store.events_since(revision))
                except StoreError as exc:
                    send(
                        json.dumps(
                            {
                                "type": "ERROR",
                                "object": status_error(exc.code, exc.reason, exc.message).body,
                            }
                        ).encode()
                        + b"\n"
                    )
                    return
                if not pending:
                    store.changed.wait(min(1.0, max(0.0, deadline - time.monotonic())))
                    continue
                revision = pending[-1].revision
            for event in pending:
                obj = event.object
                same = (
                    event.resource.group,
                    event.resource.version,
                    event.resource.plural,
                ) == (resource.group, resource.version, resource.plural)
                in_namespace = namespace is None or (
                    obj.get("metadata", {}).get("namespace") == namespace
                )
                if same and in_namespace and selected(obj, query):
                    send(json.dumps({"type": event.type, "object": obj}).encode() + b"\n")

    return Reply(200, stream=stream)
