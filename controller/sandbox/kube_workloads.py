"""ReplicaSets and Pods owned by Deployments, kept as the deployment and ReplicaSet
controllers keep them, so that `kubectl get pods`, `kubectl rollout history`,
`kubectl rollout undo` and `kubectl logs` work against the emulator.

Each pod template a Deployment has had is one ReplicaSet (`NAME-HASH`, labelled with
its `pod-template-hash`, owned by the Deployment, annotated with its revision); going
back to an earlier template (`rollout undo`) reuses its ReplicaSet under a new revision.
The ReplicaSet of the current template holds the updated replicas, the older ones the
rest; each replica is a Pod (Running, Ready when the rollout says it is available).
Deleting a Deployment deletes what it owns."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType, Store

REVISION = "deployment.kubernetes.io/revision"
HASH = "pod-template-hash"
TYPES = (
    ResourceType("apps", "v1", "replicasets", "ReplicaSet", True, True, ("rs",), "replicaset"),
    ResourceType("", "v1", "pods", "Pod", True, True, ("po",), "pod"),
)
SETS = ("apps", "v1", "replicasets")
PODS = ("", "v1", "pods")


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).hexdigest()
    return "".join(c for c in digest if c in "bcdfghjklmnpqrstvwxz2456789")[:10]


def owned_by(store: Store, key: tuple[str, str, str], namespace: str, uid: str) -> list[Object]:
    return [
        o
        for (ns, _), o in store.objects.get(key, {}).items()
        if ns == namespace
        and any(r.get("uid") == uid for r in o["metadata"].get("ownerReferences") or [])
    ]


def sync(store: Store, deployment: Object, status: dict[str, Any], ready: bool) -> None:
    """Bring the Deployment's ReplicaSets and Pods in line with its `status`; `ready`:
    whether its new replicas become ready (False for an image that never does)."""
    meta = deployment["metadata"]
    namespace, uid = meta["namespace"], meta["uid"]
    template = (deployment.get("spec") or {}).get("template") or {}
    sets = owned_by(store, SETS, namespace, uid)
    revisions = [int(s["metadata"].get("annotations", {}).get(REVISION, 0)) for s in sets]
    current = next((s for s in sets if _template_of(s) == _canonical(template)), None)
    if current is None:
        current = _new_set(store, deployment, template, max(revisions, default=0) + 1)
        sets.append(current)
    elif int(current["metadata"]["annotations"].get(REVISION, 0)) < max(revisions, default=0):
        undone = copy.deepcopy(current)  # an undo: the old template, a new revision
        undone["metadata"]["annotations"][REVISION] = str(max(revisions) + 1)
        current = store.update(store.types[SETS], namespace, undone["metadata"]["name"], undone)
        sets = [current if s["metadata"]["uid"] == current["metadata"]["uid"] else s for s in sets]
    revision = current["metadata"]["annotations"][REVISION]
    if (meta.get("annotations") or {}).get(REVISION) != revision:
        # The deployment controller writes the revision on the Deployment too.
        annotated = copy.deepcopy(deployment)
        annotated["metadata"].setdefault("annotations", {})[REVISION] = revision
        store.update(store.types[("apps", "v1", "deployments")], namespace, meta["name"], annotated)
    updated = int(status.get("updatedReplicas", 0))
    others = max(0, int(status.get("replicas", 0)) - updated)
    newest_first = sorted(
        sets, key=lambda s: -int(s["metadata"].get("annotations", {}).get(REVISION, 0))
    )
    for replica_set in newest_first:
        mine = replica_set["metadata"]["uid"] == current["metadata"]["uid"]
        wanted = updated if mine else 0
        if not mine and others:
            wanted, others = others, 0  # the newest older set keeps the old replicas
        _scale(store, replica_set, wanted, ready or not mine)


def _template_of(replica_set: Object) -> Any:
    template = copy.deepcopy((replica_set.get("spec") or {}).get("template") or {})
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH, None)
    return _canonical(template)


def _canonical(value: Any) -> Any:
    """A template as compared: fields set to null or to an empty object (kubectl writes
    `creationTimestamp: null` and `resources: {}`) are as good as absent, as the API
    server's defaulting makes them."""
    if isinstance(value, dict):
        found = {k: _canonical(v) for k, v in value.items()}
        return {k: v for k, v in found.items() if v is not None and v != {}}
    if isinstance(value, list):
        return [_canonical(v) for v in value]
    return value


def _new_set(store: Store, deployment: Object, template: Any, revision: int) -> Object:
    meta = deployment["metadata"]
    digest = template_hash(template)
    labeled = copy.deepcopy(template)
    labeled.setdefault("metadata", {}).setdefault("labels", {})[HASH] = digest
    selector = copy.deepcopy(((deployment.get("spec") or {}).get("selector")) or {})
    selector.setdefault("matchLabels", {})[HASH] = digest
    body = {
        "metadata": {
            "name": f"{meta['name']}-{digest}",
            "labels": labeled["metadata"]["labels"],
            "annotations": {REVISION: str(revision)},
            "ownerReferences": [_owner(deployment)],
        },
        "spec": {"replicas": 0, "selector": selector, "template": labeled},
    }
    return store.create(store.types[SETS], meta["namespace"], body)


def _scale(store: Store, replica_set: Object, replicas: int, ready: bool) -> None:
    meta = replica_set["metadata"]
    namespace, name = meta["namespace"], meta["name"]
    pods = sorted(
        owned_by(store, PODS, namespace, meta["uid"]), key=lambda p: p["metadata"]["name"]
    )
    for pod in pods[replicas:]:
        store.delete(store.types[PODS], namespace, pod["metadata"]["name"])
    for n in range(len(pods), replicas):
        _pod(store, replica_set, f"{name}-{template_hash([name, n])[:5]}", ready)
    current = store.get(store.types[SETS], namespace, name)
    status = {
        "replicas": replicas,
        "fullyLabeledReplicas": replicas,
        "readyReplicas": replicas if ready else 0,
        "availableReplicas": replicas if ready else 0,
        "observedGeneration": current["metadata"].get("generation", 1),
    }
    changed = {**current, "spec": {**current["spec"], "replicas": replicas}}
    store.update(store.types[SETS], namespace, name, changed)
    latest = store.get(store.types[SETS], namespace, name)
    if latest.get("status") != status:
        store.update(
            store.types[SETS], namespace, name, {**latest, "status": status}, subresource="status"
        )


def _pod(store: Store, replica_set: Object, name: str, ready: bool) -> None:
    template = (replica_set.get("spec") or {}).get("template") or {}
    spec = copy.deepcopy(template.get("spec") or {})
    containers = spec.get("containers") or []
    state = {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if ready else {
        "waiting": {"reason": "ImagePullBackOff", "message": "the image never becomes ready"}
    }  # fmt: skip
    body = {
        "metadata": {
            "name": name,
            "labels": copy.deepcopy((template.get("metadata") or {}).get("labels") or {}),
            "ownerReferences": [_owner(replica_set)],
        },
        "spec": {**spec, "nodeName": "sandbox"},
        "status": {
            "phase": "Running" if ready else "Pending",
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
            "containerStatuses": [
                {
                    "name": c.get("name", ""),
                    "image": c.get("image", ""),
                    "imageID": image_id(c.get("image", "")),
                    "ready": ready,
                    "restartCount": 0,
                    "state": state,
                }
                for c in containers
            ],
        },
    }
    status = body["status"]  # create drops a status: it is the kubelet's to write
    created = store.create(store.types[PODS], replica_set["metadata"]["namespace"], body)
    store.update(
        store.types[PODS],
        created["metadata"]["namespace"],
        name,
        {**created, "status": status},
        subresource="status",
    )


def _owner(obj: Object) -> dict[str, Any]:
    return {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def collect(store: Store, owner: Object) -> None:
    """Garbage collection: what `owner` (a Deployment or ReplicaSet) owned goes too."""
    meta = owner["metadata"]
    for key in (SETS, PODS):
        for child in owned_by(store, key, meta.get("namespace", ""), meta["uid"]):
            store.delete(
                store.types[key], child["metadata"]["namespace"], child["metadata"]["name"]
            )
            collect(store, child)


def image_id(image: str) -> str:
    """The digest a kubelet reports of the image it pulled (a container status needs one)."""
    digest = hashlib.sha256(image.encode()).hexdigest()
    return f"{image.rsplit(':', 1)[0]}@sha256:{digest}"


def log(
    pod: Object,
    container: str | None,
    printed: str | None = None,
    tail_lines: str | None = None,
    limit_bytes: str | None = None,
) -> bytes:
    """What `kubectl logs` shows of an emulated Pod's container: a line saying it started,
    then what it `printed`; the last `tailLines` lines, at most `limitBytes` bytes (from
    the start, as the kubelet cuts)."""
    containers = (pod.get("spec") or {}).get("containers") or []
    chosen = next((c for c in containers if c.get("name") == container), None)
    chosen = chosen or (containers[0] if containers else {})
    text = (
        f"relctl sandbox: container {chosen.get('name', '')} of pod "
        f"{pod['metadata']['name']} started from {chosen.get('image', '')}\n"
    ) + (printed.rstrip("\n") + "\n" if printed else "")
    if tail_lines is not None and tail_lines.isdigit():
        lines = text.splitlines(keepends=True)
        text = "".join(lines[len(lines) - int(tail_lines) :]) if int(tail_lines) else ""
    data = text.encode()
    if limit_bytes is not None and limit_bytes.isdigit():
        data = data[: int(limit_bytes)]
    return data
