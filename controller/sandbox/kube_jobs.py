"""Jobs, as the job controller runs them: each attempt is a Pod (labelled `job-name` and
`batch.kubernetes.io/controller-uid`, the Job's selector) that succeeds `step` seconds
after it starts, unless its image (and command) is marked (`JobOutcome`): then it exits
with the marked code and log, and the Job tries again until more than `backoffLimit` (6)
attempts failed; a hanging one runs until the Job's `activeDeadlineSeconds`. A Job ends
as Kubernetes 1.31 ends one: `FailureTarget` then `Failed` (reason BackoffLimitExceeded
or DeadlineExceeded), or `SuccessCriteriaMet` then `Complete`, each True
(`kubectl wait --for=condition=complete`); `kubectl logs job/NAME` reads its Pod."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from controller.sandbox.kube_store import Object, ResourceType, Store
from controller.sandbox.kube_workloads import PODS, image_id, owned_by

TYPE = ResourceType("batch", "v1", "jobs", "Job", True, True, (), "job")
JOBS = ("batch", "v1", "jobs")
UID = "batch.kubernetes.io/controller-uid"
STAMP = "2026-01-01T00:00:00Z"
KILLED = 137
"""A container's exit code when its Pod is killed at the Job's deadline (SIGKILL)."""


@dataclass(frozen=True)
class JobOutcome:
    """How a marked Job's Pods end."""

    exit_code: int = 1
    log: str = ""
    """What each Pod prints (its `kubectl logs`)."""
    hang: bool = False
    """Never ends: the Job fails at its activeDeadlineSeconds."""
    command: str = ""
    """Only Pods whose command and args contain this (one image, several steps)."""


def outcome_of(job: Object, outcomes: Mapping[str, list[JobOutcome]]) -> JobOutcome | None:
    spec = ((job.get("spec") or {}).get("template") or {}).get("spec") or {}
    for container in spec.get("containers") or []:
        words = " ".join([*(container.get("command") or []), *(container.get("args") or [])])
        for outcome in outcomes.get(container.get("image", ""), []):
            if outcome.command in words:
                return outcome
    return None


def tick(
    store: Store,
    now: float,
    step: float,
    outcomes: Mapping[str, list[JobOutcome]],
    seen: dict[str, float],
) -> None:
    """Advance every Job; `seen`: Job uid → when it started (the simulator's clock)."""
    for (namespace, name), job in list(store.objects.get(JOBS, {}).items()):
        status = job.get("status") or {}
        if any(c.get("status") == "True" for c in status.get("conditions") or []):
            continue  # finished
        uid = job["metadata"]["uid"]
        job = _selected(store, job)
        started = seen.setdefault(uid, now)
        elapsed = now - started
        attempts = int(elapsed / step) if step > 0 else 0
        spec = job.get("spec") or {}
        outcome = outcome_of(job, outcomes)
        failing = outcome is not None and (outcome.hang or outcome.exit_code != 0)
        limit = int(spec.get("backoffLimit", 6))
        deadline = spec.get("activeDeadlineSeconds")
        expired = deadline is not None and elapsed >= float(deadline)
        if outcome is not None and outcome.hang:
            failed, succeeded, done = 0, 0, expired
        elif failing:
            failed, succeeded = min(attempts, limit + 1), 0
            done = failed > limit or expired
        else:
            failed, succeeded = 0, 1 if attempts >= 1 else 0
            done = attempts >= 1 or expired
        reason = ""
        if done and not succeeded:
            reason = "DeadlineExceeded" if expired and failed <= limit else "BackoffLimitExceeded"
        ending = succeeded or not done or reason == "DeadlineExceeded"
        wanted = failed + (1 if ending else 0)  # the running, killed or succeeded one
        pods = owned_by(store, PODS, namespace, uid)
        for n in range(len(pods), wanted):
            _pod(store, job, n, outcome)
        pods = sorted(owned_by(store, PODS, namespace, uid), key=lambda p: p["metadata"]["name"])
        code = outcome.exit_code if outcome is not None and not outcome.hang else 1
        for n, pod in enumerate(pods):
            if n < failed:
                _phase(store, pod, "Failed", code)
            elif succeeded:
                _phase(store, pod, "Succeeded", 0)
            elif reason == "DeadlineExceeded":
                _phase(store, pod, "Failed", KILLED)  # killed at the deadline
                failed += 1
            else:
                _phase(store, pod, "Running", None)
        active = 0 if done else 1
        new: dict[str, Any] = {
            "startTime": STAMP,
            "active": active,
            "succeeded": succeeded,
            "failed": failed,
            "ready": active,
        }
        if done:
            new["conditions"] = _ended(reason)
            if succeeded:
                new["completionTime"] = STAMP
        if new != status:
            store.update(
                store.types[JOBS], namespace, name, {**job, "status": new}, subresource="status"
            )


MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
}


def _ended(reason: str) -> list[dict[str, str]]:
    """The terminal conditions, the interim one first (as 1.31's job controller sets)."""
    kinds = ("FailureTarget", "Failed") if reason else ("SuccessCriteriaMet", "Complete")
    return [
        {
            "type": kind,
            "status": "True",
            "reason": reason or ("CompletionsReached" if kind == "SuccessCriteriaMet" else ""),
            "message": MESSAGES.get(reason, "Reached expected number of succeeded pods"),
            "lastProbeTime": STAMP,
            "lastTransitionTime": STAMP,
        }
        for kind in kinds
    ]


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


def _pod(store: Store, job: Object, n: int, outcome: JobOutcome | None) -> None:
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
    made = store.create(store.types[PODS], meta["namespace"], body)
    if outcome is not None and outcome.log:
        store.logs[(meta["namespace"], made["metadata"]["name"])] = outcome.log


def _phase(store: Store, pod: Object, phase: str, code: int | None) -> None:
    if (pod.get("status") or {}).get("phase") == phase:
        return
    containers = (pod.get("spec") or {}).get("containers") or []
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
                "imageID": image_id(c.get("image", "")),
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
