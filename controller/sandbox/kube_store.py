"""The Kubernetes API emulator's storage: resource types, objects, resourceVersions and
the event history that watches replay.

Every write bumps one cluster-wide resourceVersion counter, as etcd's revision does; an
update carrying a stale `metadata.resourceVersion` is a conflict (409). `generation`
increases when anything outside `metadata` and `status` changes. Types with a `status`
subresource ignore status in writes to the main resource. No HTTP here.
"""

from __future__ import annotations

import copy
import threading
import uuid
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

Object = dict[str, Any]


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool
    status: bool = False
    short_names: tuple[str, ...] = ()
    singular: str = ""
    verbs: tuple[str, ...] = ("create", "delete", "get", "list", "patch", "update", "watch")

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version


BUILTIN = (
    ResourceType("", "v1", "namespaces", "Namespace", False, True, ("ns",), "namespace"),
    ResourceType("", "v1", "configmaps", "ConfigMap", True, False, ("cm",), "configmap"),
    ResourceType("", "v1", "events", "Event", True, False, ("ev",), "event"),
    ResourceType("apps", "v1", "deployments", "Deployment", True, True, ("deploy",), "deployment"),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease", True, False, (), "lease"),
    ResourceType("events.k8s.io", "v1", "events", "Event", True, False, ("ev",), "event"),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        False,
        True,
        ("crd", "crds"),
        "customresourcedefinition",
    ),
)


class StoreError(Exception):
    def __init__(self, code: int, reason: str, message: str) -> None:
        super().__init__(message)
        self.code, self.reason, self.message = code, reason, message


PRECONDITIONS = {"uid": "UID", "resourceVersion": "ResourceVersion"}
"""A DELETE's preconditions, as the API server's message names them."""


@dataclass
class WatchEvent:
    revision: int
    type: str
    resource: ResourceType
    object: Object


@dataclass
class Store:
    """All objects, under one lock; `changed` wakes watchers."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    changed: threading.Condition = field(init=False)
    types: dict[tuple[str, str, str], ResourceType] = field(default_factory=dict)
    objects: dict[tuple[str, str, str], dict[tuple[str, str], Object]] = field(default_factory=dict)
    revision: int = 1000
    history: deque[WatchEvent] = field(default_factory=lambda: deque(maxlen=10_000))
    logs: dict[tuple[str, str], str] = field(default_factory=dict)
    """(namespace, Pod) → what its container printed, when a test said (Jobs)."""
    _dry: bool = False

    def __post_init__(self) -> None:
        self.changed = threading.Condition(self.lock)
        for resource in BUILTIN:
            self.register(resource)
        self.objects[("", "v1", "namespaces")][("", "default")] = self._stamp(
            {
                "apiVersion": "v1",
                "kind": "Namespace",
                "metadata": {"name": "default"},
                "spec": {"finalizers": ["kubernetes"]},
                "status": {"phase": "Active"},
            }
        )

    def register(self, resource: ResourceType) -> None:
        key = (resource.group, resource.version, resource.plural)
        self.types[key] = resource
        self.objects.setdefault(key, {})

    def find_type(self, group: str, version: str, plural: str) -> ResourceType:
        resource = self.types.get((group, version, plural))
        if resource is None:
            raise StoreError(
                404, "NotFound", f"the server could not find the requested resource ({plural})"
            )
        return resource

    # --- writes -------------------------------------------------------------------------

    def _stamp(self, obj: Object, generation: int = 1) -> Object:
        self.revision += 1
        meta = obj.setdefault("metadata", {})
        meta.setdefault("uid", str(uuid.uuid4()))
        meta.setdefault("creationTimestamp", _now())
        meta["resourceVersion"] = str(self.revision)
        meta["generation"] = generation
        return obj

    def _record(self, kind: str, resource: ResourceType, obj: Object) -> None:
        if self._dry:
            return
        self.history.append(WatchEvent(self.revision, kind, resource, copy.deepcopy(obj)))
        self.changed.notify_all()

    @contextmanager
    def dry_run(self) -> Iterator[None]:
        """`dryRun=All`: the writes inside are validated and answered as if made, then
        undone: nothing stored, no watch event, the revision as it was."""
        with self.lock:
            saved = {key: dict(collection) for key, collection in self.objects.items()}
            revision = self.revision
            self._dry = True
            try:
                yield
            finally:
                self._dry = False
                self.revision = revision
                for key, collection in saved.items():
                    self.objects[key] = collection

    def create(self, resource: ResourceType, namespace: str, obj: Object) -> Object:
        with self.lock:
            meta = obj.setdefault("metadata", {})
            if not meta.get("name"):
                prefix = meta.get("generateName")
                if not prefix:
                    raise StoreError(
                        422,
                        "Invalid",
                        f"{resource.kind} is invalid: "
                        "metadata.name: Required value: name or generateName "
                        "is required",
                    )
                meta["name"] = prefix + uuid.uuid4().hex[:5]
            if resource.namespaced:
                self._namespace_exists(namespace)
                meta["namespace"] = namespace
            else:
                meta.pop("namespace", None)
            objects = self.objects[(resource.group, resource.version, resource.plural)]
            key = (namespace if resource.namespaced else "", meta["name"])
            if key in objects:
                raise StoreError(
                    409,
                    "AlreadyExists",
                    f"{resource.plural}.{resource.group or ''}"
                    f' "{meta["name"]}" already exists'.replace('. "', ' "'),
                )
            for extra in ("resourceVersion", "uid", "creationTimestamp", "generation"):
                meta.pop(extra, None)
            obj["apiVersion"], obj["kind"] = resource.api_version, resource.kind
            if resource.status and resource.kind != "Namespace":
                obj.pop("status", None)
            stored = self._stamp(copy.deepcopy(obj))
            objects[key] = stored
            self._record("ADDED", resource, stored)
            return copy.deepcopy(stored)

    def _namespace_exists(self, namespace: str) -> None:
        if ("", namespace) not in self.objects[("", "v1", "namespaces")]:
            raise StoreError(404, "NotFound", f'namespaces "{namespace}" not found')

    def get(self, resource: ResourceType, namespace: str, name: str) -> Object:
        with self.lock:
            return copy.deepcopy(self._current(resource, namespace, name))

    def _current(self, resource: ResourceType, namespace: str, name: str) -> Object:
        objects = self.objects[(resource.group, resource.version, resource.plural)]
        found = objects.get((namespace if resource.namespaced else "", name))
        if found is None:
            group = f".{resource.group}" if resource.group else ""
            raise StoreError(404, "NotFound", f'{resource.plural}{group} "{name}" not found')
        return found

    def update(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        obj: Object,
        *,
        subresource: str = "",
    ) -> Object:
        """Replace an object (or only its status), checking resourceVersion if given."""
        with self.lock:
            current = self._current(resource, namespace, name)
            meta = obj.get("metadata") or {}
            given = meta.get("resourceVersion")
            if given and given != current["metadata"]["resourceVersion"]:
                group = f".{resource.group}" if resource.group else ""
                raise StoreError(
                    409,
                    "Conflict",
                    f"Operation cannot be fulfilled on "
                    f'{resource.plural}{group} "{name}": the object has been '
                    "modified; please apply your changes to the latest version "
                    "and try again",
                )
            new = copy.deepcopy(obj)
            new["apiVersion"], new["kind"] = resource.api_version, resource.kind
            keep = (
                "uid",
                "creationTimestamp",
                "namespace",
                "name",
                "deletionTimestamp",
                "deletionGracePeriodSeconds",
            )
            new_meta = new.setdefault("metadata", {})
            for key in keep:
                if key in current["metadata"]:
                    new_meta[key] = current["metadata"][key]
            if subresource == "status":
                merged = copy.deepcopy(current)
                merged["status"] = new.get("status", {})
                new = merged
            elif resource.status:
                new["status"] = copy.deepcopy(current.get("status", {}))
            generation = current["metadata"].get("generation", 1)
            if _spec_of(new) != _spec_of(current):
                generation += 1
            if new == current:
                return copy.deepcopy(current)
            if new["metadata"].get("deletionTimestamp") and not new["metadata"].get("finalizers"):
                self.objects[(resource.group, resource.version, resource.plural)][
                    (namespace if resource.namespaced else "", name)
                ] = new  # its last finalizer is gone: now it goes
                return self.delete(resource, namespace, name)
            stored = self._stamp(new, generation)
            self.objects[(resource.group, resource.version, resource.plural)][
                (namespace if resource.namespaced else "", name)
            ] = stored
            self._record("MODIFIED", resource, stored)
            return copy.deepcopy(stored)

    def delete(
        self,
        resource: ResourceType,
        namespace: str,
        name: str,
        preconditions: dict[str, Any] | None = None,
    ) -> Object:
        """Delete an object; one with finalizers only gets its deletionTimestamp (it goes
        when an update removes the last finalizer). `preconditions` (uid,
        resourceVersion) must hold, or 409."""
        with self.lock:
            current = self._current(resource, namespace, name)
            meta = current["metadata"]
            for field in PRECONDITIONS:
                wanted = (preconditions or {}).get(field)
                if wanted is not None and wanted != meta.get(field):
                    raise StoreError(
                        409,
                        "Conflict",
                        f'Operation cannot be fulfilled on {resource.plural} "{name}": '
                        f"Precondition failed: {PRECONDITIONS[field]} in precondition: "
                        f"{wanted}, {PRECONDITIONS[field]} in object meta: {meta.get(field)}",
                    )
            if meta.get("finalizers"):
                if meta.get("deletionTimestamp"):
                    return copy.deepcopy(current)
                deleting = copy.deepcopy(current)
                deleting["metadata"]["deletionTimestamp"] = _now()
                deleting["metadata"]["deletionGracePeriodSeconds"] = 0
                stored = self._stamp(deleting, meta.get("generation", 1))
                self.objects[(resource.group, resource.version, resource.plural)][
                    (namespace if resource.namespaced else "", name)
                ] = stored
                self._record("MODIFIED", resource, stored)
                return copy.deepcopy(stored)
            del self.objects[(resource.group, resource.version, resource.plural)][
                (namespace if resource.namespaced else "", name)
            ]
            self.revision += 1
            current = copy.deepcopy(current)
            current["metadata"]["resourceVersion"] = str(self.revision)
            self._record("DELETED", resource, current)
            return current

    def empty_namespace(self, namespace: str) -> None:
        """What the namespace controller does when a namespace is deleted: every object in
        it goes too (each with its DELETED event)."""
        with self.lock:
            for resource in list(self.types.values()):
                if not resource.namespaced:
                    continue
                collection = self.objects[(resource.group, resource.version, resource.plural)]
                for ns, name in [key for key in collection if key[0] == namespace]:
                    self.delete(resource, ns, name)

    # --- reads --------------------------------------------------------------------------

    def list(self, resource: ResourceType, namespace: str | None) -> tuple[list[Object], int]:
        with self.lock:
            objects = self.objects[(resource.group, resource.version, resource.plural)]
            items = [
                copy.deepcopy(o)
                for (ns, _), o in sorted(objects.items())
                if namespace is None or ns == namespace
            ]
            return items, self.revision

    def events_since(self, revision: int) -> Iterator[WatchEvent]:
        oldest = self.history[0].revision if self.history else self.revision + 1
        if revision + 1 < oldest and revision < self.revision and self.history:
            raise StoreError(410, "Expired", f"too old resource version: {revision} ({oldest - 1})")
        return (e for e in list(self.history) if e.revision > revision)


def _spec_of(obj: Object) -> Object:
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
