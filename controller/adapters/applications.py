"""Argo CD Applications, read with the official client's custom objects API: the status
that says whether the GitOps agent synced relctl's commit, how healthy it is, and why a
sync failed. Read only (`get`), never written: the agent owns it.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from controller.adapters.kube import KubeCluster, _error
from controller.manifests.deploy import Application
from controller.plan.observed import ApplicationState

GROUP, VERSION, PLURAL = "argoproj.io", "v1alpha1", "applications"


def read_application(cluster: KubeCluster, application: Application) -> ApplicationState:
    objects = client.CustomObjectsApi(cluster.api)
    try:
        cluster.requests += 1
        found: Any = objects.get_namespaced_custom_object(
            GROUP, VERSION, application.namespace, PLURAL, application.name
        )
    except (ApiException, HTTPError) as exc:
        raise _error(cluster, f"reading {application.describe()}", exc) from None
    status = found.get("status") or {} if isinstance(found, dict) else {}
    sync = status.get("sync") or {}
    operation = status.get("operationState") or {}
    return ApplicationState(
        str(sync.get("status") or "Unknown"),
        str(sync.get("revision") or ""),
        str((status.get("health") or {}).get("status") or "Unknown"),
        str(operation.get("phase") or ""),
        str(operation.get("message") or "")[:500],
    )
