"""OpenAPI v3 documents, as the API server publishes them under `/openapi/v3`: an index of
group versions, and for each one its paths and a schema per kind. kubectl downloads them
before `apply`, `create`, `replace` and `edit`: from the `fieldValidation` parameter of a
path it learns that the server validates fields itself, and leaves validation to it.

The schemas name their kind (`x-kubernetes-group-version-kind`) but describe no fields:
the emulator checks what `kube_validate` knows, not the full schema of each kind."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.sandbox.kube_store import ResourceType, Store

WRITE_PARAMETERS = [
    {"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": True}}
    for name in ("dryRun", "fieldManager", "fieldValidation")
]


def _prefix(group: str, version: str) -> str:
    return f"apis/{group}/{version}" if group else f"api/{version}"


def _versions(store: Store) -> dict[str, list[ResourceType]]:
    found: dict[str, list[ResourceType]] = {}
    for resource in store.types.values():
        found.setdefault(_prefix(resource.group, resource.version), []).append(resource)
    return found


def index(store: Store) -> dict[str, Any]:
    """`GET /openapi/v3`: each group version's document, by a URL carrying its hash."""
    return {
        "paths": {
            prefix: {
                "serverRelativeURL": f"/openapi/v3/{prefix}?hash={_hash(document(store, prefix))}"
            }
            for prefix in sorted(_versions(store))
        }
    }


def document(store: Store, prefix: str) -> dict[str, Any] | None:
    """`GET /openapi/v3/<prefix>` (`apis/apps/v1`, `api/v1`), or None when it is unknown."""
    resources = _versions(store).get(prefix)
    if resources is None:
        return None
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for r in resources:
        name = _schema_name(r)
        schemas[name] = {
            "type": "object",
            "description": f"{r.kind} ({r.api_version})",
            "x-kubernetes-preserve-unknown-fields": True,
            "x-kubernetes-group-version-kind": [
                {"group": r.group, "version": r.version, "kind": r.kind}
            ],
        }
        ref = {"$ref": f"#/components/schemas/{name}"}
        body = {"content": {"application/json": {"schema": ref}}}
        answer = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        collection = f"/{prefix}{scope}/{r.plural}"
        gvk = {"group": r.group, "version": r.version, "kind": r.kind}
        paths[collection] = {
            "get": {
                "responses": answer,
                "x-kubernetes-action": "list",
                "x-kubernetes-group-version-kind": gvk,
            },
            "post": {
                "parameters": WRITE_PARAMETERS,
                "requestBody": body,
                "responses": answer,
                "x-kubernetes-action": "post",
                "x-kubernetes-group-version-kind": gvk,
            },
        }
        writes = {
            verb: {
                "parameters": WRITE_PARAMETERS,
                "requestBody": body,
                "responses": answer,
                "x-kubernetes-action": action,
                "x-kubernetes-group-version-kind": gvk,
            }
            for verb, action in (("put", "put"), ("patch", "patch"))
        }
        paths[f"{collection}/{{name}}"] = {
            "get": {
                "responses": answer,
                "x-kubernetes-action": "get",
                "x-kubernetes-group-version-kind": gvk,
            },
            "delete": {
                "responses": answer,
                "x-kubernetes-action": "delete",
                "x-kubernetes-group-version-kind": gvk,
            },
            **writes,
        }
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.31.0"},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _schema_name(r: ResourceType) -> str:
    group = ".".join(reversed(r.group.split("."))) if r.group else "core"
    return f"io.k8s.api.{group}.{r.version}.{r.kind}"


def _hash(found: Any) -> str:
    return hashlib.sha512(json.dumps(found, sort_keys=True).encode()).hexdigest().upper()[:128]
