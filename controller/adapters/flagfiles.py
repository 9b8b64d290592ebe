"""Feature flags kept in an environment repository's file, for a GitOps agent to apply:
a FeatureFlag (OpenFeature Operator) or ConfigMap manifest in YAML, or flagd's JSON
itself (a file whose name ends in .json, for flagd's file sync).

`read` gives the flags map the file holds (None when there is no file yet); `write` gives
the file's text holding a flagd document's flags. A YAML file is edited round trip
(ruamel.yaml): only the flags change; the manifest's other fields, its other documents
and its comments stay. A file without the resource the target names, or not of its
shape, is a `LocatorError` naming it. Nothing here touches git or the network.
"""

from __future__ import annotations

import io
import json
from collections.abc import Mapping
from typing import Any

from ruamel.yaml.comments import CommentedMap
from ruamel.yaml.error import YAMLError
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, LiteralScalarString

from controller.adapters.kube import FLAG_GROUP, FLAG_VERSION
from controller.adapters.locators import MAX_BYTES, LocatorError, plain, round_trip
from controller.plan.flags import FlagTarget


def _json(target: FlagTarget) -> bool:
    return target.file.endswith(".json")


def _quoted(value: Any) -> Any:
    """`value` with every string a YAML 1.1 reader would take for another type quoted:
    ruamel.yaml writes YAML 1.2, where `on`, `off`, `yes` and `no` are strings, but
    kubectl and most agents read YAML 1.1, where they are booleans (a variant named
    `on` would become `true`): `locators.plain` says which."""
    if isinstance(value, Mapping):
        return CommentedMap((_quoted(k), _quoted(v)) for k, v in value.items())
    if isinstance(value, list):
        return [_quoted(v) for v in value]
    if isinstance(value, str):
        return value if plain(value) and "\n" not in value else DoubleQuotedScalarString(value)
    return value


def _flags_of(document: Any, where: str) -> dict[str, Any]:
    flags = document.get("flags", {}) if isinstance(document, Mapping) else None
    if not isinstance(flags, Mapping):
        raise LocatorError(f"{where} is not a flagd document (no 'flags' object)")
    plain: dict[str, Any] = json.loads(json.dumps(flags))  # plain dicts and lists
    return plain


def _load(text: str, where: str) -> list[Any]:
    if len(text) > MAX_BYTES:
        raise LocatorError(f"{where} is larger than {MAX_BYTES // 1024} KiB")
    try:
        return list(round_trip().load_all(io.StringIO(text)))
    except YAMLError as exc:
        raise LocatorError(f"{where} is not YAML: {str(exc).splitlines()[0]}") from None


def _resource(documents: list[Any], target: FlagTarget, where: str) -> CommentedMap:
    for document in documents:
        if (
            isinstance(document, CommentedMap)
            and document.get("kind") == target.kind
            and (document.get("metadata") or {}).get("name") == target.name
        ):
            return document
    raise LocatorError(f"{where} has no {target.kind} named {target.name}")


def read(text: str | None, target: FlagTarget, where: str) -> dict[str, Any] | None:
    """The flags map the file holds; None when the file does not exist (yet)."""
    if text is None:
        return None
    if _json(target):
        if len(text) > MAX_BYTES:
            raise LocatorError(f"{where} is larger than {MAX_BYTES // 1024} KiB")
        try:
            return _flags_of(json.loads(text), where)
        except ValueError as exc:
            raise LocatorError(f"{where} is not JSON: {exc}") from None
    resource = _resource(_load(text, where), target, where)
    if target.kind == "ConfigMap":
        data = resource.get("data") or {}
        held = data.get(target.key) if isinstance(data, Mapping) else None
        if held is None:
            return None
        try:
            return _flags_of(json.loads(str(held)), f"{where} key {target.key}")
        except ValueError as exc:
            raise LocatorError(f"{where} key {target.key} is not JSON: {exc}") from None
    spec = resource.get("spec") or {}
    flag_spec = spec.get("flagSpec") if isinstance(spec, Mapping) else None
    return _flags_of(flag_spec or {"flags": {}}, where)


def write(text: str | None, target: FlagTarget, document: Mapping[str, Any], where: str) -> str:
    """The file's text holding `document` (a flagd document): a new file when `text` is
    None, else `text` with only the flags changed."""
    if _json(target):
        return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    flags = _quoted(json.loads(json.dumps(document.get("flags", {}))))
    rendered = json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    yaml = round_trip()
    if text is None:
        documents: list[Any] = [_fresh(target, flags, rendered)]
    else:
        documents = _load(text, where)
        resource = _resource(documents, target, where)
        if target.kind == "ConfigMap":
            data = resource.setdefault("data", CommentedMap())
            if not isinstance(data, CommentedMap):
                raise LocatorError(f"{where}: the ConfigMap's data is not a mapping")
            data[target.key] = LiteralScalarString(rendered)
        else:
            spec = resource.setdefault("spec", CommentedMap())
            flag_spec = spec.setdefault("flagSpec", CommentedMap())
            if not isinstance(flag_spec, CommentedMap):
                raise LocatorError(f"{where}: the FeatureFlag's spec.flagSpec is not a mapping")
            flag_spec["flags"] = flags
    out = io.StringIO()
    yaml.dump_all(documents, out)
    return out.getvalue()


def _fresh(target: FlagTarget, flags: dict[str, Any], rendered: str) -> dict[str, Any]:
    metadata = {
        "name": target.name,
        "namespace": target.namespace,
        "labels": {"app.kubernetes.io/managed-by": "relctl"},
    }
    if target.kind == "ConfigMap":
        data = {target.key: LiteralScalarString(rendered)}
        return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": metadata, "data": data}
    return {
        "apiVersion": f"{FLAG_GROUP}/{FLAG_VERSION}",
        "kind": "FeatureFlag",
        "metadata": metadata,
        "spec": {"flagSpec": {"flags": flags}},
    }
