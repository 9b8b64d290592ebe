"""Field ownership, as the API server keeps it in `metadata.managedFields` (FieldsV1).

Every write names a manager (`fieldManager`, else the User-Agent up to its first `/`):
- an update (POST, PUT, a patch) makes its manager the owner of the fields it changed,
  and takes them from the others;
- a server-side apply makes its manager the owner of every field it applies; a field
  another manager owns with a different value is a conflict (409) unless `force=true`,
  which takes it over; a field the manager applied before and applies no more is removed
  from the object, unless another manager owns it too.

Lists of objects with a `name` (containers, env, ports, volumes) are keyed by it
(`k:{"name":"web"}`); other lists are owned whole. Scale subresource writes leave the
managed fields as they are."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.kube_store import Object, StoreError

Path = tuple[str, ...]
META_OWNED = ("labels", "annotations", "finalizers", "ownerReferences")
ITEM = "."


def manager_of(query: dict[str, str], headers: dict[str, str]) -> str:
    given = query.get("fieldManager")
    if given:
        return given
    return headers.get("user-agent", "").split("/", 1)[0] or "unknown"


def leaves(obj: Object) -> dict[Path, Any]:
    """Each owned field's path and its value (a list item's own path ends in `.`)."""
    found: dict[Path, Any] = {}
    for key, value in obj.items():
        if key in ("apiVersion", "kind", "status"):
            continue
        if key == "metadata":
            for field in META_OWNED:
                if field in (value or {}):
                    _walk(value[field], ("f:metadata", f"f:{field}"), found)
            continue
        _walk(value, (f"f:{key}",), found)
    return found


def _keyed(value: Any) -> bool:
    return (
        isinstance(value, list)
        and bool(value)
        and all(isinstance(i, dict) and isinstance(i.get("name"), str) for i in value)
    )


def _walk(value: Any, prefix: Path, found: dict[Path, Any]) -> None:
    if isinstance(value, dict) and value:
        for key, item in value.items():
            _walk(item, (*prefix, f"f:{key}"), found)
    elif _keyed(value):
        for item in value:
            key = (*prefix, "k:" + json.dumps({"name": item["name"]}, separators=(",", ":")))
            found[(*key, ITEM)] = None
            for field, inner in item.items():
                _walk(inner, (*key, f"f:{field}"), found)
    else:
        found[prefix] = value


def encode(paths: set[Path]) -> dict[str, Any]:
    tree: dict[str, Any] = {}
    for path in sorted(paths):
        node = tree
        for part in path:
            node = node.setdefault(part, {})
    return tree


def decode(tree: Any, prefix: Path = ()) -> set[Path]:
    if not isinstance(tree, dict) or not tree:
        return {prefix} if prefix else set()
    paths: set[Path] = set()
    for part, node in tree.items():
        paths |= decode(node, (*prefix, str(part)))
    return paths


def _entries(obj: Object | None) -> list[dict[str, Any]]:
    found = ((obj or {}).get("metadata") or {}).get("managedFields") or []
    return [e for e in found if isinstance(e, dict) and isinstance(e.get("manager"), str)]


def _with(
    entries: list[dict[str, Any]], sets: list[set[Path]], api_version: str
) -> list[dict[str, Any]]:
    kept = []
    for entry, paths in zip(entries, sets, strict=True):
        if not paths:
            continue
        if decode(entry.get("fieldsV1")) != paths:
            entry = {
                **entry,
                "apiVersion": api_version,
                "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "fieldsV1": encode(paths),
            }
        kept.append(entry)
    return kept


def _entry(manager: str, operation: str, api_version: str) -> dict[str, Any]:
    return {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "fieldsType": "FieldsV1",
        "fieldsV1": {},
    }


def update(current: Object | None, new: Object, manager: str) -> Object:
    """`new` (what a create, replace or patch stores) with the managed fields after it."""
    api_version = str(new.get("apiVersion", ""))
    before, after = leaves(current or {}), leaves(new)
    changed = {p for p, v in after.items() if p not in before or before[p] != v}
    removed = set(before) - set(after)
    entries = copy.deepcopy(_entries(current))
    if not any(e["manager"] == manager and e.get("operation") == "Update" for e in entries):
        entries.append(_entry(manager, "Update", api_version))
    sets = []
    for entry in entries:
        paths = decode(entry.get("fieldsV1")) - removed
        mine = entry["manager"] == manager and entry.get("operation") == "Update"
        sets.append(paths | changed if mine else paths - changed)
    new.setdefault("metadata", {})["managedFields"] = _with(entries, sets, api_version)
    return new


def apply(
    current: Object | None, merged: Object, applied: Object, manager: str, force: bool
) -> Object:
    """`merged` (the applied configuration merged into the live object) with the fields
    this manager stopped applying removed and the managed fields after it; a 409 Conflict
    when another manager owns an applied field with another value and `force` is off."""
    api_version = str(merged.get("apiVersion", ""))
    live, config = leaves(current or {}), leaves(applied)
    entries = copy.deepcopy(_entries(current))
    if not any(e["manager"] == manager and e.get("operation") == "Apply" for e in entries):
        entries.append(_entry(manager, "Apply", api_version))
    sets = [decode(e.get("fieldsV1")) for e in entries]
    mine = next(
        i for i, e in enumerate(entries) if e["manager"] == manager and e["operation"] == "Apply"
    )
    differ = {p for p, v in config.items() if p in live and live[p] != v}
    conflicts: dict[str, list[Path]] = {}
    for i, (entry, paths) in enumerate(zip(entries, sets, strict=True)):
        if i != mine and entry["manager"] != manager:
            clash = sorted(paths & differ)
            if clash:
                conflicts.setdefault(entry["manager"], []).extend(clash)
    if conflicts and not force:
        raise _conflict(conflicts, api_version)
    if force:
        sets = [s if i == mine else s - differ for i, s in enumerate(sets)]
    others = set().union(*(s for i, s in enumerate(sets) if i != mine))
    # A field applied before whose children are applied now (an empty map filled) is
    # their parent: not a field the manager stopped applying.
    parents = {path[:n] for path in config for n in range(1, len(path))}
    dropped = sets[mine] - set(config) - others - parents
    kept = set(config) | parents | others
    for path in sorted(dropped, key=len, reverse=True):
        _remove(merged, path)
        # A map the removal emptied goes too, unless it is applied or owned itself
        # (an entry of a map is one applied field, its keys and all).
        for n in range(len(path) - 1, 0, -1):
            parent = path[:n]
            if parent in kept or parent[-1].startswith("k:") or _value(merged, parent) != {}:
                break
            _remove(merged, parent)
    sets[mine] = set(config)
    gone = set(live) - set(leaves(merged))
    sets = [s - gone if i != mine else s for i, s in enumerate(sets)]
    merged.setdefault("metadata", {})["managedFields"] = _with(entries, sets, api_version)
    return merged


def _conflict(conflicts: dict[str, list[Path]], api_version: str) -> StoreError:
    count = sum(len(p) for p in conflicts.values())
    lines = []
    for manager, paths in conflicts.items():
        fields = [_dotted(p) for p in paths]
        many = len(fields) > 1
        head = f'conflict{"s" if many else ""} with "{manager}" using {api_version}'
        lines.append(head + (":\n- " + "\n- ".join(fields) if many else f": {fields[0]}"))
    message = f"Apply failed with {count} conflict{'s' if count > 1 else ''}: " + "\n".join(lines)
    return StoreError(409, "Conflict", message)


def _dotted(path: Path) -> str:
    parts = []
    for part in path:
        if part == ITEM:
            continue
        if part.startswith("k:"):
            parts.append(f"[name={json.loads(part[2:])['name']}]")
        else:
            parts.append("." + part[2:])
    return "".join(parts)


def _value(obj: Any, path: Path) -> Any:
    """The value at a path of map fields (None past a list or a missing key)."""
    node = obj
    for part in path:
        if not part.startswith("f:") or not isinstance(node, dict) or part[2:] not in node:
            return None
        node = node[part[2:]]
    return node


def _remove(obj: Any, path: Path) -> None:
    """Take one owned field (or list item, for a path ending in `.`) out of `obj`."""
    node = obj
    for i, part in enumerate(path):
        last = i == len(path) - 1 or (i == len(path) - 2 and path[-1] == ITEM)
        if part.startswith("f:"):
            if not isinstance(node, dict) or part[2:] not in node:
                return
            if last:
                del node[part[2:]]
                return
            node = node[part[2:]]
        elif part.startswith("k:"):
            name = json.loads(part[2:])["name"]
            if not isinstance(node, list):
                return
            index = next((j for j, item in enumerate(node) if item.get("name") == name), None)
            if index is None:
                return
            if last:
                del node[index]
                return
            node = node[index]
