"""What the API server refuses before it stores an object: a body its kind's schema
cannot decode (`kube_schemas`), names, the namespace and name a request's URL gives, and
a Deployment's spec (replicas, selector, template, containers). Messages are the API
server's. Other kinds' semantic rules are not checked (see the README's sandbox section)."""

from __future__ import annotations

import re
from typing import Any

from controller.sandbox import kube_schemas
from controller.sandbox.kube_store import Object, ResourceType, Store, StoreError

SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
SUBDOMAIN_TEXT = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, "
    "'-' or '.', and must start and end with an alphanumeric character (e.g. "
    "'example.com', regex used for validation is "
    "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)


def check(
    store: Store,
    resource: ResourceType,
    obj: Any,
    namespace: str | None,
    name: str | None,
    query: dict[str, str] | None = None,
) -> None:
    """StoreError (400 or 422, with the API server's message) when `obj` may not be stored
    at the namespace and name the request's URL gives. With `fieldValidation=Strict` (as
    kubectl sends it), a Deployment's unknown fields are refused too."""
    if not isinstance(obj, dict):
        raise StoreError(400, "BadRequest", f"the body of the request is not a {resource.kind}")
    meta = obj.get("metadata") or {}
    if not isinstance(meta, dict):
        raise StoreError(400, "BadRequest", "metadata must be an object")
    given_ns = meta.get("namespace")
    if resource.namespaced and namespace and given_ns and given_ns != namespace:
        raise StoreError(
            400,
            "BadRequest",
            "the namespace of the provided object does not match the namespace sent on the request",
        )
    given_name = meta.get("name")
    if name is not None and given_name and given_name != name:
        raise StoreError(
            400,
            "BadRequest",
            f"the name of the object ({given_name}) does not match the name on the URL ({name})",
        )
    group = f".{resource.group}" if resource.group else ""
    label = f'{resource.kind}{group} "{given_name or name or ""}"'
    problems: list[str] = []
    if given_name and not (isinstance(given_name, str) and SUBDOMAIN.match(given_name)):
        problems.append(f'metadata.name: Invalid value: "{given_name}": {SUBDOMAIN_TEXT}')
    kube_schemas.check(store, resource, obj, (query or {}).get("fieldValidation") == "Strict")
    if (resource.group, resource.kind) == ("apps", "Deployment"):
        problems += _deployment(obj.get("spec"))
    if problems:
        raise StoreError(422, "Invalid", f"{label} is invalid: " + ", ".join(problems))


def _deployment(spec: Any) -> list[str]:
    if not isinstance(spec, dict):
        return ["spec: Required value"]
    problems = []
    replicas = spec.get("replicas", 1)
    if isinstance(replicas, int) and replicas < 0:
        problems.append(
            f"spec.replicas: Invalid value: {replicas}: must be greater than or equal to 0"
        )
    selector = spec.get("selector")
    found = spec.get("template")
    template: dict[str, Any] = found if isinstance(found, dict) else {}
    labels = ((template.get("metadata") or {}).get("labels")) or {}
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        problems.append("spec.selector: Required value")
    else:
        wanted = selector.get("matchLabels") or {}
        if isinstance(wanted, dict) and any(labels.get(k) != v for k, v in wanted.items()):
            problems.append(
                f"spec.template.metadata.labels: Invalid value: {_go_map(labels)}: "
                "`selector` does not match template `labels`"
            )
    containers = (template.get("spec") or {}).get("containers") if template else None
    if not containers:
        problems.append("spec.template.spec.containers: Required value")
    else:
        for n, container in enumerate(containers):
            if not isinstance(container, dict) or not container.get("name"):
                problems.append(f"spec.template.spec.containers[{n}].name: Required value")
            if not isinstance(container, dict) or not container.get("image"):
                problems.append(f"spec.template.spec.containers[{n}].image: Required value")
    return problems


def _go_map(labels: Object) -> str:
    return "map[string]string{" + ", ".join(f'"{k}":"{v}"' for k, v in labels.items()) + "}"
