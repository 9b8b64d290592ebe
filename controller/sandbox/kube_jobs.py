"""Jobs, as the job controller runs them: each attempt is a Pod (labelled `job-name` and
`batch.kubernetes.io/controller-uid`, the Job's selector) that succeeds `step` seconds
after it starts, unless its image is marked bad: then it fails, and the Job tries again
until more than `backoffLimit` (6) attempts failed. A Job ends with its `Complete` or
`Failed` condition True (`kubectl wait --for=condition=complete`), and `kubectl logs
job/NAME` reads its Pod."""

from __future__ import annotations

import copy
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType, Store
from controller.sandbox.kube_workloads import PODS, owned_by

TYPE = ResourceType("batch", "v1", "jobs", "Job", True, True, (), "job")
JOBS = ("batch", "v1", "jobs")
UID = "batch.kubernetes.io/controller-uid"
STAMP = "2026-01-01T00:00:00Z"


def tick(store: Store, now: float, step: float, bad: set[str], seen: dict[str, float]) -> None:
    """Advance every Job; `seen`: Job uid → when it started (the simulator's clock)."""
    for (namespace, name), job in list(store.objects.get(JOBS, {}).items()):
        status = job.get("status") or {}
        if any(c.get("status") == "True" for c in status.get("conditions") or []):
            continue  # finished
        uid = job["metadata"]["uid"]
        job = _selected(store, job)
        started = seen.setdefault(uid, now)
        attempts = int((now - started) / step) if step > 0 else 0
        spec = job.get("spec") or {}
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
        failing = any(c.get("image") in bad for c in containers)
        limit = int(spec.get("backoffLimit", 6))
        pods = owned_by(store, PODS, namespace, uid)
        if failing:
            failed = min(attempts, limit + 1)
            done = failed > limit
            succeeded = 0
        else:
            failed, done, succeeded = 0, attempts >= 1, 1 if attempts >= 1 else 0
        wanted = failed + (0 if done and failing else 1)
        for n in range(len(pods), wanted):
            _pod(store, job, n)
        pods = sorted(owned_by(store, PODS, namespace, uid), key=lambda p: p["metadata"]["name"])
        for n, pod in enumerate(pods):
            phase = "Failed" if n < failed else "Succeeded" if succeeded else "Running"
            _phase(store, pod, phase)
        active = 0 if done else 1
        new: dict[str, Any] = {
            "startTime": STAMP,
            "active": active,
            "succeeded": succeeded,
            "failed": failed,
            "ready": active,
        }
        if done:
            kind, reason = ("Failed", "BackoffLimitExceeded") if failing else ("Complete", "")
            new["conditions"] = [
                {
                    "type": kind,
                    "status": "True",
                    "reason": reason,
                    "message": "Job has reached the specified backoff limit" if failing else "",
                    "lastProbeTime": STAMP,
                    "lastTransitionTime": STAMP,
                }
            ]
            if not failing:
                new["completionTime"] = STAMP
        if new != status:
            store.update(
                store.types[JOBS], namespace, name, {**job, "status": new}, subresource="status"
            )


def _selected(store: Store, job: Object) -> Object:
    """What the API server defaults on a new Job: its selector and its pods' labels."""
    uid, name = job["metadata"]["uid"], job["metadata"]["name"]
    spec = job.get("spec") or {}
    if (spec.get("selector") or {}).get("matchLabels", {}).get(UID) == uid:
        return job
    labelled = copy.deepcopy(job)
    labelled["spec"]["selector"] = {"matchLabels": {UID: uid}}
    labels = labelled["spec"].setdefault("template", {}).setdefault("metadata", {})
    labels.setdefault("labels", {}).update({UID: uid, "job-name": name})
    meta = job["metadata"]
    return store.update(store.types[JOBS], meta["namespace"], name, labelled)


def _pod(store: Store, job: Object, n: int) -> None:
    template = (job.get("spec") or {}).get("template") or {}
    meta = job["metadata"]
    body = {
        "metadata": {
            "name": f"{meta['name']}-{n}",
            "labels": copy.deepcopy((template.get("metadata") or {}).get("labels") or {}),
            "ownerReferences": [
                {
                    "apiVersion": "batch/v1",
                    "kind": "Job",
                    "name": meta["name"],
                    "uid": meta["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        },
        "spec": {**copy.deepcopy(template.get("spec") or {}), "nodeName": "sandbox"},
    }
    store.create(store.types[PODS], meta["namespace"], body)


def _phase(store: Store, pod: Object, phase: str) -> None:
    if (pod.get("status") or {}).get("phase") == phase:
        return
    containers = (pod.get("spec") or {}).get("containers") or []
    code = {"Succeeded": 0, "Failed": 1}.get(phase)
    state: dict[str, Any] = (
        {"running": {"startedAt": STAMP}}
        if code is None
        else {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}}
    )
    status = {
        "phase": phase,
        "conditions": [{"type": "Ready", "status": "True" if code is None else "False"}],
        "containerStatuses": [
            {
                "name": c.get("name", ""),
                "image": c.get("image", ""),
                "ready": code is None,
                "restartCount": 0,
                "state": state,
            }
            for c in containers
        ],
    }
    meta = pod["metadata"]
    store.update(
        store.types[PODS],
        meta["namespace"],
        meta["name"],
        {**pod, "status": status},
        subresource="status",
    )
