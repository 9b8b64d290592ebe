"""The schemas of the kinds the emulator serves, and what the API server does with them.

Built-in kinds take their schema from the JSON Schemas that the `kubernetes-validate`
package ships for each Kubernetes release (the API server's own OpenAPI definitions);
custom kinds from their CRD's `openAPIV3Schema`. From them:

- `check` decodes an object as the API server does: a built-in field of the wrong type is
  a 400 (`cannot unmarshal string into Go struct field DeploymentSpec.spec.replicas of
  type int32`); a custom field of the wrong type, a missing required field or a value
  outside an enum is a 422 naming the field; an unknown field is dropped, or refused with
  `fieldValidation=Strict` (`strict decoding error: unknown field "spec.colour"`);
- `definitions` / `openapi_schemas` give the schemas for the `/openapi/v2` and
  `/openapi/v3` documents (`kubectl explain` reads them).
"""

from __future__ import annotations

import copy
import functools
import importlib.resources
import json
from dataclasses import dataclass, field
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType, Store, StoreError

SCHEMA_RELEASE = "v1.31.0"
"""The Kubernetes release whose schemas are used: the one the emulator says it is."""
PREFIX = "#/$defs/"


@functools.cache
def definitions() -> dict[str, Any]:
    """Every built-in definition by its OpenAPI name (`io.k8s.api.apps.v1.Deployment`)."""
    base = importlib.resources.files("kubernetes_validate") / "kubernetes-json-schema"
    text = (base / f"{SCHEMA_RELEASE}-local" / "_definitions.json").read_text()
    found: dict[str, Any] = json.loads(text)["$defs"]
    return found


@functools.cache
def _by_kind() -> dict[tuple[str, str, str], str]:
    found = {}
    for name, schema in definitions().items():
        for gvk in schema.get("x-kubernetes-group-version-kind", []):
            found[(gvk["group"], gvk["version"], gvk["kind"])] = name
    return found


def builtin_name(resource: ResourceType) -> str | None:
    return _by_kind().get((resource.group, resource.version, resource.kind))


def crd_schema(store: Store, resource: ResourceType) -> dict[str, Any] | None:
    """A custom kind's `openAPIV3Schema` from its CRD in the store, if it declares one."""
    crds = store.objects.get(("apiextensions.k8s.io", "v1", "customresourcedefinitions"), {})
    crd = crds.get(("", f"{resource.plural}.{resource.group}"))
    for version in ((crd or {}).get("spec") or {}).get("versions") or []:
        if version.get("name") == resource.version:
            schema = (version.get("schema") or {}).get("openAPIV3Schema")
            return schema if isinstance(schema, dict) else None
    return None


@dataclass
class _Found:
    decode: str = ""
    invalid: list[str] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)


def check(store: Store, resource: ResourceType, obj: Object, strict: bool) -> None:
    """Decode `obj` as a `resource` (dropping unknown fields in place), or StoreError."""
    name = builtin_name(resource)
    builtin = name is not None
    schema: Any = {"$ref": PREFIX + name} if name else crd_schema(store, resource)
    if schema is None:
        return
    found = _Found()
    # metadata is the API server's own (ObjectMeta), whatever a CRD's schema says of it
    skip = ("status",) if builtin else ("status", "metadata")
    body = {k: v for k, v in obj.items() if k not in skip}
    _walk(body, schema, "", resource.kind, builtin, found)
    obj.update(body)
    kind = resource.kind
    if found.decode:
        raise StoreError(
            400,
            "BadRequest",
            f'{kind} in version "{resource.version}" cannot be handled as a {kind}: '
            + found.decode,
        )
    if strict and found.unknown:
        fields = ", ".join(f'unknown field "{p}"' for p in found.unknown)
        raise StoreError(
            400,
            "BadRequest",
            f'{kind} in version "{resource.version}" cannot be handled as a {kind}: '
            f"strict decoding error: {fields}",
        )
    if found.invalid:
        group = f".{resource.group}" if resource.group else ""
        label = f'{kind}{group} "{(obj.get("metadata") or {}).get("name", "")}"'
        raise StoreError(422, "Invalid", f"{label} is invalid: " + ", ".join(found.invalid))


def _type_of(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    return {dict: "object", list: "array", str: "string", float: "number"}.get(type(value), "null")


def _types(schema: dict[str, Any]) -> set[str]:
    given = schema.get("type")
    if given is None:
        return set()
    types = {given} if isinstance(given, str) else set(given)
    return types - {"null"}


def _fits(value: Any, types: set[str]) -> bool:
    kind = _type_of(value)
    return not types or kind in types or (kind == "integer" and "number" in types)


def _go_type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(PREFIX).split(".")
        return f"{name[-2]}.{name[-1]}"
    types = _types(schema)
    if "integer" in types:
        return str(schema.get("format", "int64"))
    if "array" in types:
        return "[]" + _go_type(schema.get("items") or {})
    if "object" in types:
        return "map[string]" + _go_type(schema.get("additionalProperties") or {"type": "string"})
    return {"boolean": "bool", "number": "float64"}.get(next(iter(types), ""), "string")


def _walk(
    value: Any, schema: dict[str, Any], path: str, owner: str, builtin: bool, found: _Found
) -> None:
    if found.decode:
        return
    outer = schema
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(PREFIX)
        schema = definitions()[name]
        owner = name.rsplit(".", 1)[-1]
    if value is None and (builtin or schema.get("nullable")):
        return
    alternatives = schema.get("oneOf") or schema.get("anyOf")
    if alternatives or schema.get("x-kubernetes-int-or-string"):
        allowed = set().union(*(_types(a) for a in alternatives or [])) or {"integer", "string"}
        if not _fits(value, allowed):
            _wrong(value, outer, schema, path, owner, builtin, found)
        return
    if not _fits(value, _types(schema)):
        _wrong(value, outer, schema, path, owner, builtin, found)
        return
    where = path.lstrip(".")
    enum = schema.get("enum")
    if enum and value not in enum:
        choices = ", ".join(json.dumps(e) for e in enum)
        found.invalid.append(
            f"{where}: Unsupported value: {json.dumps(value)}: supported values: {choices}"
        )
    if isinstance(value, dict):
        for required in schema.get("required", []):
            if required not in value:
                found.invalid.append(f"{where + '.' if where else ''}{required}: Required value")
        properties = schema.get("properties") or {}
        extra = schema.get("additionalProperties")
        keep = (
            schema.get("x-kubernetes-preserve-unknown-fields")
            or schema.get("x-kubernetes-embedded-resource")
            or (builtin and not properties and extra is None)  # raw JSON: FieldsV1, ...
        )
        for key in list(value):
            inner = f"{path}.{key}"
            if (
                value[key] is None
                and not builtin
                and not (properties.get(key) or {}).get("nullable")
            ):
                del value[key]  # a custom kind's null is pruned, not stored
            elif key in properties:
                _walk(value[key], properties[key], inner, owner, builtin, found)
            elif isinstance(extra, dict):
                _walk(value[key], extra, inner, owner, builtin, found)
            elif not keep and extra is not True:
                found.unknown.append(inner.lstrip("."))
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for index, item in enumerate(value):
            _walk(item, schema["items"], f"{path}[{index}]", owner, builtin, found)


def _wrong(
    value: Any,
    outer: dict[str, Any],
    schema: dict[str, Any],
    path: str,
    owner: str,
    builtin: bool,
    found: _Found,
) -> None:
    where = path.lstrip(".")
    kind = _type_of(value)
    if builtin:
        json_kind = {"integer": "number", "boolean": "bool"}.get(kind, kind)
        plain = "".join(p.split("[")[0] + "." for p in where.split(".")).rstrip(".")
        found.decode = (
            f"json: cannot unmarshal {json_kind} into Go struct field {owner}.{plain} "
            f"of type {_go_type(outer)}"
        )
        return
    wanted = sorted(_types(schema)) or ["integer", "string"]
    found.invalid.append(
        f'{where}: Invalid value: "{kind}": {where} in body must be of type '
        f'{" or ".join(wanted)}: "{kind}"'
    )


# --- the OpenAPI documents ----------------------------------------------------------------


def _openapi(schema: Any) -> Any:
    """A schema as the OpenAPI documents carry it: `#/components/schemas/` references and
    one type, not a list with null."""
    if isinstance(schema, list):
        return [_openapi(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key == "$ref" and isinstance(value, str):
            out[key] = "#/components/schemas/" + value.removeprefix(PREFIX)
        elif key == "type" and isinstance(value, list):
            rest = [t for t in value if t != "null"]
            out[key] = rest[0] if len(rest) == 1 else rest
        else:
            out[key] = _openapi(value)
    return out


def _closure(names: list[str]) -> set[str]:
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen or name not in definitions():
            continue
        seen.add(name)
        text = json.dumps(definitions()[name])
        for part in text.split(f'"{PREFIX}')[1:]:
            todo.append(part.split('"', 1)[0])
    return seen


def openapi_schemas(store: Store, resources: list[ResourceType]) -> dict[str, Any]:
    """`components.schemas` (or v2 `definitions`) for these kinds and what they refer to;
    each kind's schema under the name `schema_name` gives it."""
    names = [n for n in (builtin_name(r) for r in resources) if n]
    schemas = {n: _openapi(definitions()[n]) for n in sorted(_closure(names))}
    meta = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    for r in resources:
        if builtin_name(r):
            continue
        custom = copy.deepcopy(crd_schema(store, r) or {"type": "object"})
        custom.setdefault("x-kubernetes-preserve-unknown-fields", "properties" not in custom)
        custom.setdefault("properties", {})["metadata"] = {"$ref": f"#/components/schemas/{meta}"}
        custom["x-kubernetes-group-version-kind"] = [
            {"group": r.group, "version": r.version, "kind": r.kind}
        ]
        schemas[schema_name(r)] = custom
        for n in sorted(_closure([meta])):
            schemas.setdefault(n, _openapi(definitions()[n]))
    return schemas


def schema_name(r: ResourceType) -> str:
    """A kind's schema name in the OpenAPI documents."""
    found = builtin_name(r)
    if found:
        return found
    group = ".".join(reversed(r.group.split("."))) if r.group else "core"
    return f"{group}.{r.version}.{r.kind}"
