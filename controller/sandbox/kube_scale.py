"""The `scale` subresource of Deployments (`kubectl scale`, autoscalers): an
`autoscaling/v1` Scale read from, and written to, the Deployment's replicas."""

from __future__ import annotations

from typing import Any

from controller.sandbox import kube_patch
from controller.sandbox.kube_store import Object, ResourceType, Store, StoreError

SUBRESOURCE = {
    "singularName": "",
    "namespaced": True,
    "group": "autoscaling",
    "version": "v1",
    "kind": "Scale",
    "verbs": ["get", "patch", "update"],
}
"""Its discovery entry, beside `deployments` (clients find the Scale's group there)."""


def view(obj: Object) -> Object:
    meta = obj["metadata"]
    labels = ((obj.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            key: meta[key]
            for key in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
            if key in meta
        },
        "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 1)},
        "status": {
            "replicas": (obj.get("status") or {}).get("replicas", 0),
            "selector": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        },
    }


def request(
    store: Store,
    resource: ResourceType,
    namespace: str,
    name: str,
    method: str,
    content_type: str,
    payload: Any,
) -> Object:
    """GET, PUT or PATCH the Scale of a Deployment; the Scale after it (StoreError else)."""
    with store.lock:
        current = store.get(resource, namespace, name)
        scale = view(current)
        if method == "GET":
            return scale
        if method == "PUT":
            wanted = payload if isinstance(payload, dict) else {}
        elif method == "PATCH":
            if content_type == "application/json-patch+json":
                wanted = kube_patch.json_patch(scale, payload)
            elif isinstance(payload, dict):
                wanted = kube_patch.merge_patch(scale, payload)
            else:
                raise StoreError(400, "BadRequest", "a Scale patch is a JSON object")
        else:
            raise StoreError(405, "MethodNotAllowed", f"{method} is not supported on scale")
        replicas = (wanted.get("spec") or {}).get("replicas")
        if isinstance(replicas, bool) or not isinstance(replicas, int) or replicas < 0:
            raise StoreError(
                422,
                "Invalid",
                f'Scale.autoscaling "{name}" is invalid: spec.replicas: Invalid value: '
                f"{replicas!r}: must be greater than or equal to 0",
            )
        changed = {**current, "spec": {**(current.get("spec") or {}), "replicas": replicas}}
        given = (wanted.get("metadata") or {}).get("resourceVersion")
        changed["metadata"] = {
            **current["metadata"],
            "resourceVersion": given or current["metadata"]["resourceVersion"],
        }
        return view(store.update(resource, namespace, name, changed))
