"""Step Jobs on a cluster (the official client): create one idempotently, list the ones
relctl made, and read a failed one's exit code and the tail of its Pod's log.

- `run_job`: a create; a 409 AlreadyExists reads the Job and accepts it when its labels
  are this step's (a restarted controller finds its Job instead of making another), and
  refuses a stranger's Job of the same name.
- `observe_jobs`: one LIST per namespace, by the `managed-by` label; a failed Job's Pods
  are listed by `job-name` and the newest failed one's log tail read (bounded by lines
  and bytes) — only for Jobs whose outcome is not recorded yet (`wanted`).

Needs: jobs create/get/list, pods list, pods/log get (`adapters.rbac`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from controller.adapters.kube import KubeCluster, KubeError, _error
from controller.errors import Disposition
from controller.plan.steps import (
    LOG_LINES,
    MANAGED_BY,
    RELEASE_LABEL,
    Condition,
    JobSpec,
    JobState,
    ObservedJob,
    judge,
)

LOG_BYTES = 16 * 1024
"""Bytes of a Pod's log read at most (the API's `limitBytes`)."""


def body_of(spec: JobSpec) -> dict[str, Any]:
    """The Job as the API takes it: no retries of its Pods by the kubelet (the Job's
    backoffLimit counts attempts), the deadline as activeDeadlineSeconds."""
    labels = dict(spec.labels)
    env: list[dict[str, Any]] = []
    for e in spec.env:
        if e.secret is not None:
            ref = {"secretKeyRef": {"name": e.secret[0], "key": e.secret[1]}}
            env.append({"name": e.name, "valueFrom": ref})
        else:
            env.append({"name": e.name, "value": e.value or ""})
    container: dict[str, Any] = {"name": "step", "image": spec.image}
    if spec.command:
        container["command"] = list(spec.command)
    if spec.args:
        container["args"] = list(spec.args)
    if env:
        container["env"] = env
    if spec.env_from:
        container["envFrom"] = [{"secretRef": {"name": n}} for n in spec.env_from]
    job: dict[str, Any] = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": spec.name, "namespace": spec.namespace, "labels": labels},
        "spec": {
            "backoffLimit": spec.backoff_limit,
            "activeDeadlineSeconds": spec.deadline,
            "template": {
                "metadata": {"labels": labels},
                "spec": {"restartPolicy": "Never", "containers": [container]},
            },
        },
    }
    if spec.ttl is not None:
        job["spec"]["ttlSecondsAfterFinished"] = spec.ttl
    return job


def run_job(cluster: KubeCluster, spec: JobSpec) -> bool:
    """Create the step's Job; False when it already existed (created by an earlier pass)."""
    batch = client.BatchV1Api(cluster.api)
    try:
        cluster.requests += 1
        body: Any = body_of(spec)  # the client serializes a dict as it stands
        batch.create_namespaced_job(spec.namespace, body)
        return True
    except ApiException as exc:
        if exc.status != 409:
            raise _error(cluster, f"creating Job {spec.namespace}/{spec.name}", exc) from None
    except HTTPError as exc:
        raise _error(cluster, f"creating Job {spec.namespace}/{spec.name}", exc) from None
    try:
        cluster.requests += 1
        found = batch.read_namespaced_job(spec.name, spec.namespace)
    except (ApiException, HTTPError) as exc:
        raise _error(cluster, f"reading Job {spec.namespace}/{spec.name}", exc) from None
    labels = (found.metadata.labels or {}) if found.metadata else {}
    if any(labels.get(k) != v for k, v in spec.labels):
        raise KubeError(
            f"cluster {cluster.name}: a Job {spec.namespace}/{spec.name} exists that relctl "
            "did not create for this step; rename or delete it",
            disposition=Disposition.STALLED,
        )
    return False


def observe_jobs(
    cluster: KubeCluster, namespaces: Iterable[str], wanted: frozenset[str]
) -> dict[str, ObservedJob]:
    """`cluster/namespace/name` → every Job relctl made in `namespaces`; failed ones in
    `wanted` (keys) with their exit code and log tail."""
    batch = client.BatchV1Api(cluster.api)
    found: dict[str, ObservedJob] = {}
    selector = "=".join(MANAGED_BY)
    for namespace in sorted(set(namespaces)):
        try:
            cluster.requests += 1
            raw: Any = batch.list_namespaced_job(
                namespace, label_selector=selector, _preload_content=False
            )
            listed = json.loads(raw.data)
        except (ApiException, HTTPError, ValueError) as exc:
            raise _error(cluster, f"listing Jobs in {namespace}", exc) from None
        for item in listed.get("items") or ():
            meta = item.get("metadata") or {}
            status = item.get("status") or {}
            conditions = [
                Condition(
                    str(c.get("type", "")),
                    str(c.get("status", "")),
                    str(c.get("reason") or ""),
                    str(c.get("message") or ""),
                )
                for c in status.get("conditions") or ()
            ]
            state, reason = judge(conditions)
            job = ObservedJob(
                cluster.name,
                namespace,
                str(meta.get("name", "")),
                str((meta.get("labels") or {}).get(RELEASE_LABEL, "")),
                state,
                reason,
            )
            if state is JobState.FAILED and job.key in wanted:
                code, log = _failed_pod(cluster, namespace, job.name)
                job = replace(job, exit_code=code, log=log)
            found[job.key] = job
    return found


def _newest(pod: dict[str, Any]) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return str(meta.get("creationTimestamp") or ""), str(meta.get("name") or "")


def _failed_pod(cluster: KubeCluster, namespace: str, job: str) -> tuple[int | None, str]:
    """The newest failed Pod of the Job: its container's exit code and its log's tail.
    A Pod already gone (deleted with the Job's deadline) leaves neither."""
    try:
        cluster.requests += 1
        raw: Any = cluster.core.list_namespaced_pod(
            namespace, label_selector=f"job-name={job}", _preload_content=False
        )
        pods = json.loads(raw.data).get("items") or []
    except (ApiException, HTTPError, ValueError) as exc:
        raise _error(cluster, f"listing the Pods of Job {namespace}/{job}", exc) from None
    failed = [p for p in pods if (p.get("status") or {}).get("phase") == "Failed"]
    if not failed:
        return None, ""
    pod = max(
        failed, key=lambda p: (p["metadata"].get("creationTimestamp") or "", p["metadata"]["name"])
    )
    code = None
    for status in (pod.get("status") or {}).get("containerStatuses") or ():
        terminated = (status.get("state") or {}).get("terminated") or {}
        if terminated.get("exitCode") is not None:
            code = int(terminated["exitCode"])
    try:
        cluster.requests += 1
        text = cluster.core.read_namespaced_pod_log(
            pod["metadata"]["name"],
            namespace,
            tail_lines=LOG_LINES,
            limit_bytes=LOG_BYTES,
        )
    except (ApiException, HTTPError) as exc:
        text = f"(its log could not be read: {_error(cluster, 'reading a log', exc)})"
    return code, str(text)
