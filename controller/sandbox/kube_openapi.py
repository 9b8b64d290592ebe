"""The OpenAPI documents, as the API server publishes them: under `/openapi/v3` an index of
group versions and for each one its paths and the schema of each kind with every schema it
refers to; under `/openapi/v2` one Swagger 2.0 document of everything. kubectl downloads
the v3 documents before `apply`, `create`, `replace` and `edit` (from the
`fieldValidation` parameter of a path it learns that the server validates fields itself)
and for `kubectl explain`. The schemas are those `kube_schemas` validates with.

`/openapi/v2` is served as JSON: a client asking only for the protobuf encoding (kubectl
does, for `explain --output plaintext-openapiv2`) gets 406 Not Acceptable."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from controller.sandbox import kube_schemas
from controller.sandbox.kube_store import ResourceType, Store

_CACHE: dict[tuple[Any, ...], dict[str, Any]] = {}
"""Documents by what they are made of: the kinds served and the CRDs' resourceVersions."""

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
    key = (prefix, *sorted(_made_of(store, resources)))
    if key not in _CACHE:
        if len(_CACHE) > 64:
            _CACHE.clear()
        _CACHE[key] = _document(store, resources)
    return _CACHE[key]


def _made_of(store: Store, resources: list[ResourceType]) -> list[tuple[str, ...]]:
    crds = store.objects.get(("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {})
    made: list[tuple[str, ...]] = []
    for r in resources:
        meta = (crds.get(("", f"{r.plural}.{r.group}")) or {}).get("metadata") or {}
        stamp = (str(meta.get("uid")), str(meta.get("resourceVersion")))
        made.append((r.group, r.version, r.plural, r.kind, str(r.namespaced), *stamp))
    return made


def _document(store: Store, resources: list[ResourceType]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas = kube_schemas.openapi_schemas(store, resources)
    for r in resources:
        name = kube_schemas.schema_name(r)
        ref = {"$ref": f"#/components/schemas/{name}"}
        body = {"content": {"application/json": {"schema": ref}}}
        answer = {"200": {"description": "OK", "content": {"application/json": {"schema": ref}}}}
        scope = "/namespaces/{namespace}" if r.namespaced else ""
        collection = f"/{_prefix(r.group, r.version)}{scope}/{r.plural}"
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
        "info": {"title": "Kubernetes", "version": kube_schemas.SCHEMA_RELEASE},
        "paths": paths,
        "components": {"schemas": schemas},
    }


def _hash(found: Any) -> str:
    return hashlib.sha512(json.dumps(found, sort_keys=True).encode()).hexdigest().upper()[:128]


def swagger(store: Store) -> dict[str, Any]:
    """`GET /openapi/v2`: every kind's paths and definitions in one Swagger 2.0 document."""
    paths: dict[str, Any] = {}
    definitions: dict[str, Any] = {}
    for prefix in sorted(_versions(store)):
        found = document(store, prefix) or {}
        paths.update(found.get("paths", {}))
        definitions.update(found.get("components", {}).get("schemas", {}))
    text = json.dumps({"paths": paths, "definitions": definitions})
    whole = json.loads(text.replace('"#/components/schemas/', '"#/definitions/'))
    for operations in whole["paths"].values():
        for operation in operations.values():
            body = operation.pop("requestBody", None)
            answer = operation["responses"]["200"]
            schema = answer.pop("content")["application/json"]["schema"]
            answer["schema"] = schema
            operation["parameters"] = [
                {"name": p["name"], "in": "query", "type": "string", "uniqueItems": True}
                for p in operation.get("parameters", [])
            ]
            if body is not None:
                operation["parameters"].append(
                    {"name": "body", "in": "body", "required": True, "schema": schema}
                )
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": kube_schemas.SCHEMA_RELEASE},
        **whole,
    }
