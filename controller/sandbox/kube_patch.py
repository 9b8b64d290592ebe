"""The three patch types the Kubernetes API accepts, for the API emulator.

- JSON merge patch (RFC 7386): maps merge recursively, `null` deletes, lists replace.
- JSON patch (RFC 6902): add, remove, replace, move, copy, test on JSON pointers.
- Strategic merge patch: as merge patch, except that lists of objects with a merge key
  (containers by `name`, ports by `containerPort`, …) merge element by element; the
  directives `$patch: replace|delete|merge`, `$setElementOrder/<list>` and `$retainKeys`
  are understood and never stored.

Pure functions on JSON values; they raise `PatchError` (the emulator answers 422/400).
"""

from __future__ import annotations

import copy
from typing import Any

# Merge keys of the list fields relctl and kubectl patch (from the Kubernetes API's
# x-kubernetes-patch-merge-key annotations).
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "env": "name",
    "ports": "containerPort",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "volumes": "name",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "tolerations": "key",
    "conditions": "type",
    "ownerReferences": "uid",
}


class PatchError(ValueError):
    """A patch that cannot be applied."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise PatchError(f"invalid JSON pointer {path!r}")
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _parent(document: Any, parts: list[str]) -> tuple[Any, str]:
    node = document
    for part in parts[:-1]:
        if isinstance(node, list):
            try:
                node = node[int(part)]
            except (ValueError, IndexError):
                raise PatchError(f"no element {part} in a list of {len(node)}") from None
        elif isinstance(node, dict) and part in node:
            node = node[part]
        else:
            raise PatchError(f"path segment {part!r} does not exist")
    return node, parts[-1]


def _get(document: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return document
    parent, last = _parent(document, parts)
    try:
        return parent[int(last)] if isinstance(parent, list) else parent[last]
    except (KeyError, ValueError, IndexError):
        raise PatchError(f"{path} does not exist") from None


def _add(document: Any, path: str, value: Any) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(document, parts)
    if isinstance(parent, list):
        index = len(parent) if last == "-" else int(last)
        if not 0 <= index <= len(parent):
            raise PatchError(f"index {index} out of range in {path}")
        parent.insert(index, value)
    elif isinstance(parent, dict):
        parent[last] = value
    else:
        raise PatchError(f"cannot add to {path}")
    return document


def _remove(document: Any, path: str) -> Any:
    parts = _pointer(path)
    parent, last = _parent(document, parts)
    try:
        if isinstance(parent, list):
            del parent[int(last)]
        else:
            del parent[last]
    except (KeyError, ValueError, IndexError, TypeError):
        raise PatchError(f"{path} does not exist") from None
    return document


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902."""
    if not isinstance(operations, list):
        raise PatchError("a JSON patch is a list of operations")
    document = copy.deepcopy(target)
    for operation in operations:
        if not isinstance(operation, dict) or "op" not in operation or "path" not in operation:
            raise PatchError(f"invalid operation {operation!r}")
        op, path = operation["op"], operation["path"]
        if op == "add":
            document = _add(document, path, copy.deepcopy(operation.get("value")))
        elif op == "remove":
            document = _remove(document, path)
        elif op == "replace":
            _get(document, path)
            document = (
                _add(_remove(document, path), path, copy.deepcopy(operation.get("value")))
                if _pointer(path)
                else copy.deepcopy(operation.get("value"))
            )
        elif op in ("move", "copy"):
            value = copy.deepcopy(_get(document, operation["from"]))
            if op == "move":
                document = _remove(document, operation["from"])
            document = _add(document, path, value)
        elif op == "test":
            if _get(document, path) != operation.get("value"):
                raise PatchError(f"test failed at {path}")
        else:
            raise PatchError(f"unknown operation {op!r}")
    return document


def strategic_merge_patch(target: Any, patch: Any) -> Any:
    """Kubernetes' strategic merge patch for the fields in `MERGE_KEYS`."""
    return _strategic(copy.deepcopy(target), patch)


def _strategic(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    directive = patch.get("$patch")
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if k != "$patch"}
    if directive == "delete":
        return None
    result = target if isinstance(target, dict) else {}
    orders = {k.split("/", 1)[1]: v for k, v in patch.items() if k.startswith("$setElementOrder/")}
    retain = patch.get("$retainKeys")
    for key, value in patch.items():
        if key.startswith("$"):
            continue
        if value is None:
            result.pop(key, None)
        elif (
            key in MERGE_KEYS
            and isinstance(value, list)
            and all(isinstance(v, dict) for v in value)
        ):
            result[key] = _merge_list(result.get(key) or [], value, MERGE_KEYS[key])
        elif isinstance(value, dict):
            merged = _strategic(result.get(key), value)
            if merged is None:
                result.pop(key, None)
            else:
                result[key] = merged
        else:
            result[key] = copy.deepcopy(value)
    for key, order in orders.items():
        if key in result and key in MERGE_KEYS and isinstance(result[key], list):
            result[key] = _reorder(result[key], order, MERGE_KEYS[key])
    if isinstance(retain, list):
        for key in list(result):
            if key not in retain:
                del result[key]
    return result


def _merge_list(current: list[Any], patch: list[Any], key: str) -> list[Any]:
    merged = [copy.deepcopy(item) for item in current]
    index = {item.get(key): n for n, item in enumerate(merged) if isinstance(item, dict)}
    for element in patch:
        if element.get("$patch") == "replace":
            return [{k: v for k, v in e.items() if k != "$patch"} for e in patch]
        name = element.get(key)
        if name is None:
            raise PatchError(f"an element of a list merged by {key!r} has no {key!r}")
        if element.get("$patch") == "delete":
            merged = [m for m in merged if not (isinstance(m, dict) and m.get(key) == name)]
            index = {item.get(key): n for n, item in enumerate(merged)}
            continue
        if name in index:
            merged[index[name]] = _strategic(merged[index[name]], element)
        else:
            merged.append(_strategic({}, element))
            index[name] = len(merged) - 1
    return merged


def _reorder(items: list[Any], order: list[Any], key: str) -> list[Any]:
    """Apply `$setElementOrder`: listed elements first, in its order; others after."""
    wanted = [o.get(key) for o in order if isinstance(o, dict)]
    position = {name: n for n, name in enumerate(wanted)}
    return sorted(items, key=lambda item: position.get(item.get(key), len(position)))
