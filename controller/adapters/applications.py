"""The GitOps agent's objects, read with the official client's custom objects API: an
Argo CD Application's status (sync, revision, health, the last operation), or a Flux
Kustomization's or HelmRelease's (`lastAppliedRevision` and the `Ready` condition) — what
says whether the agent applied relctl's commit, and why not. Read only (`get`), never
written: the agent owns them.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from controller.adapters.kube import KubeCluster, _error
from controller.manifests.deploy import Application
from controller.plan.observed import ApplicationState

KINDS = {
    "Application": ("argoproj.io", "v1alpha1", "applications"),
    "Kustomization": ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations"),
    "HelmRelease": ("helm.toolkit.fluxcd.io", "v2", "helmreleases"),
}


def read_application(cluster: KubeCluster, application: Application) -> ApplicationState:
    group, version, plural = KINDS[application.kind]
    objects = client.CustomObjectsApi(cluster.api)
    try:
        cluster.requests += 1
        found: Any = objects.get_namespaced_custom_object(
            group, version, application.namespace, plural, application.name
        )
    except (ApiException, HTTPError) as exc:
        raise _error(cluster, f"reading {application.describe()}", exc) from None
    status = found.get("status") or {} if isinstance(found, dict) else {}
    if application.kind != "Application":
        return _flux(status, application.kind == "HelmRelease")
    sync = status.get("sync") or {}
    operation = status.get("operationState") or {}
    return ApplicationState(
        str(sync.get("status") or "Unknown"),
        str(sync.get("revision") or ""),
        str((status.get("health") or {}).get("status") or "Unknown"),
        str(operation.get("phase") or ""),
        str(operation.get("message") or "")[:500],
    )


def _flux(status: dict[str, Any], helm: bool) -> ApplicationState:
    """A Flux object's status: Ready's status and reason, the revision it applied, and
    Ready's message when it is False. A Kustomization's `lastAppliedRevision` is
    `main@sha1:<commit>`; a HelmRelease's `lastAttemptedRevision` (v2; v2beta1 had
    `lastAppliedRevision`) is the chart's version, `1.4.0+<commit>` for a chart from git
    with `reconcileStrategy: Revision`."""
    ready: dict[str, Any] = next(
        (c for c in status.get("conditions") or () if c.get("type") == "Ready"), {}
    )
    applied = str(
        (status.get("lastAttemptedRevision") if helm else None)
        or status.get("lastAppliedRevision")
        or ""
    )
    if "sha1:" in applied:
        applied = applied.rpartition(":")[2]
    elif helm and "+" in applied:
        applied = applied.rpartition("+")[2]
    state = str(ready.get("status") or "Unknown")
    return ApplicationState(
        "Ready" if state == "True" else "NotReady",
        applied,
        str(ready.get("reason") or "Unknown"),
        "Failed" if state == "False" else "",
        str(ready.get("message") or "")[:500],
    )
