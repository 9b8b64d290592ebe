"""A PATCH on one object, for the API emulator: the patch type the Content-Type names
(`kube_patch`), validation (`kube_validate`), then field ownership (`kube_fields`)."""

from __future__ import annotations

from typing import Any

from controller.sandbox import kube_fields, kube_patch, kube_validate
from controller.sandbox.kube_api import Reply, status_error
from controller.sandbox.kube_store import ResourceType, Store

BUILTIN_GROUPS = ("", "apps", "coordination.k8s.io", "events.k8s.io")
"""Groups whose kinds take a strategic merge patch (custom resources do not)."""


def patch(
    store: Store,
    resource: ResourceType,
    namespace: str,
    name: str,
    sub: str,
    headers: dict[str, str],
    payload: Any,
    query: dict[str, str],
) -> Reply:
    kind = headers.get("content-type", "").split(";")[0].strip()
    if kind != "application/json-patch+json" and not isinstance(payload, dict):
        return status_error(
            400,
            "BadRequest",
            "json: cannot unmarshal array into Go value of type map[string]interface {}",
        )
    builtin = resource.group in BUILTIN_GROUPS
    manager = kube_fields.manager_of(query, headers)
    with store.lock:
        current = store.get(resource, namespace, name)
        if kind == "application/json-patch+json":
            patched = kube_patch.json_patch(current, payload)
        elif kind == "application/merge-patch+json":
            patched = kube_patch.merge_patch(current, payload)
        elif kind == "application/apply-patch+yaml":
            merge = kube_patch.strategic_merge_patch if builtin else kube_patch.merge_patch
            patched = merge(current, payload)
        elif kind == "application/strategic-merge-patch+json":
            if not builtin:
                return status_error(
                    415,
                    "UnsupportedMediaType",
                    "the body of the request "
                    "was in an unknown format - accepted media types "
                    "include: application/json-patch+json, "
                    "application/merge-patch+json, "
                    "application/apply-patch+yaml",
                )
            patched = kube_patch.strategic_merge_patch(current, payload)
        else:
            return status_error(415, "UnsupportedMediaType", f"unsupported patch type {kind!r}")
        requested = (
            ((payload or {}).get("metadata") or {}).get("resourceVersion")
            if isinstance(payload, dict)
            else None
        )
        if sub != "status":
            patched.setdefault("metadata", {})["managedFields"] = current["metadata"].get(
                "managedFields", []
            )
            if kind == "application/apply-patch+yaml":
                force = query.get("force") == "true"
                patched = kube_fields.apply(current, patched, payload, manager, force)
            else:
                patched = kube_fields.update(current, patched, manager)
            kube_validate.check(store, resource, patched, namespace or None, name, query)
        patched.setdefault("metadata", {})["resourceVersion"] = (
            requested or current["metadata"]["resourceVersion"]
        )
        return Reply(200, store.update(resource, namespace, name, patched, subresource=sub))
