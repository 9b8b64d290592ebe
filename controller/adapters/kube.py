"""The Kubernetes adapter, on the official client. One `KubeCluster` per named cluster,
each with its own `ApiClient` built from a kubeconfig context or the pod's in-cluster
config; the process-wide default configuration is never used, so clusters never mix.

- `observe`: one LIST of Deployments per namespace (never a GET per Deployment), with the
  rollout status judged as `kubectl rollout status` judges it.
- `set_image`: a strategic merge patch of one container's image, guarded by the
  `resourceVersion` that was observed. The Deployment is annotated with the release and
  the image it replaced. On a conflict the Deployment is read again and the decision
  re-made: if someone else changed that container's image meanwhile, relctl does not
  overwrite it (the error says so and the next pass re-plans); otherwise the patch is
  retried on the fresh version.
- `rollback`: restores the image recorded in the annotation (not `rollout undo`'s
  previous ReplicaSet, which may be someone else's change).
- `event`: a core/v1 Event about what the controller did.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from controller.adapters.errors import AdapterError
from controller.errors import Disposition, for_status
from controller.manifests.config import ClusterConfig
from controller.plan.flags import FlagTarget
from controller.plan.observed import (
    ATTEMPT_ANNOTATION,
    PREVIOUS_IMAGE,
    RELEASE_ANNOTATION,
    ObservedWorkload,
    rollout_state,
)


class KubeError(AdapterError):
    """The cluster refused or could not be reached."""


TIMEOUT = (5.0, 30.0)
"""(connect, read) seconds of every request that does not name its own."""


class TimedApiClient(client.ApiClient):
    """An ApiClient whose every request has a deadline: the generated API methods pass
    `_request_timeout=None` unless told otherwise, which waits forever on a black hole."""

    timeout: tuple[float, float] = TIMEOUT

    def call_api(self, *args: Any, **kwargs: Any) -> Any:
        if kwargs.get("_request_timeout") is None:
            kwargs["_request_timeout"] = self.timeout
        return super().call_api(*args, **kwargs)


def _error(cluster: KubeCluster, what: str, exc: Exception) -> KubeError:
    """relctl's error for a failed request (counted on the cluster, for metrics)."""
    cluster.errors += 1
    if isinstance(exc, ApiException):
        status = exc.status or 0
        return KubeError(
            f"cluster {cluster.name}: {what} failed with {status} {exc.reason}",
            disposition=for_status(status),
            requeue_after=_retry_after(exc),
        )
    return KubeError(
        f"cluster {cluster.name}: {what} failed: {exc}", disposition=Disposition.TRANSIENT
    )


def _retry_after(exc: ApiException) -> float | None:
    """Seconds from the answer's Retry-After header (delta-seconds), if it has one."""
    value = (exc.headers or {}).get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


class KubeCluster:
    """One cluster."""

    def __init__(self, name: str, api: client.ApiClient) -> None:
        self.name = name
        self.api = api
        self.apps = client.AppsV1Api(api)
        self.core = client.CoreV1Api(api)
        self.requests = 0
        self.errors = 0

    @classmethod
    def connect(
        cls, name: str, settings: ClusterConfig, env: Mapping[str, str] | None = None
    ) -> KubeCluster:
        """A client for this cluster alone (never the process-wide default)."""
        try:
            configuration = client.Configuration()
            if settings.in_cluster:
                config.load_incluster_config(client_configuration=configuration)
            else:
                # $KUBECONFIG is read now: the client library reads it once, at import.
                # `relctl --kubeconfig/--context` (RELCTL_KUBECONFIG, RELCTL_CONTEXT[_<CLUSTER>])
                # override relctl.yaml for the person running the command.
                source = env or os.environ
                kubeconfig = (
                    source.get("RELCTL_KUBECONFIG")
                    or settings.kubeconfig
                    or source.get("KUBECONFIG")
                    or None
                )
                variable = "RELCTL_CONTEXT_" + re.sub(r"[^A-Z0-9]", "_", name.upper())
                context = source.get(variable) or source.get("RELCTL_CONTEXT") or settings.context
                config.load_kube_config(
                    config_file=kubeconfig,
                    context=context,
                    client_configuration=configuration,
                    persist_config=False,
                )
        except (config.ConfigException, OSError, ValueError) as exc:
            where = (
                "in-cluster config"
                if settings.in_cluster
                else f"kubeconfig context {settings.context!r}"
            )
            raise KubeError(
                f"cluster {name}: cannot load the {where}: {exc}", disposition=Disposition.STALLED
            ) from None
        # One retry of a failed connection (a pooled one may have gone stale); more would
        # multiply the deadline of a black-holed cluster.
        configuration.retries = 1
        return cls(name, TimedApiClient(configuration))

    def close(self) -> None:
        self.api.close()

    def set_timeout(self, connect: float, read: float) -> None:
        """The deadline of this cluster's requests (the elector's must beat the lease)."""
        if isinstance(self.api, TimedApiClient):
            self.api.timeout = (connect, read)

    def observe(self, namespaces: Iterable[str]) -> dict[tuple[str, str], ObservedWorkload]:
        """Every Deployment of `namespaces`, one LIST each."""
        found: dict[tuple[str, str], ObservedWorkload] = {}
        for namespace in sorted(set(namespaces)):
            try:
                self.requests += 1
                # Raw JSON: the client's models cost ~0.2 ms a Deployment to build.
                raw: Any = self.apps.list_namespaced_deployment(namespace, _preload_content=False)
                listed = json.loads(raw.data)
            except (ApiException, HTTPError, ValueError) as exc:
                raise _error(self, f"listing Deployments in {namespace}", exc) from None
            for item in listed.get("items") or ():
                workload = self._workload(item)
                found[(workload.namespace, workload.deployment)] = workload
        return found

    def _workload(self, item: Any) -> ObservedWorkload:
        """An ObservedWorkload from a Deployment as the API serves it (JSON, camelCase);
        a client model is turned back into that form first."""
        if not isinstance(item, dict):
            item = self.api.sanitize_for_serialization(item)
        spec = item.get("spec") or {}
        status = item.get("status") or {}
        meta = item.get("metadata") or {}
        desired = spec.get("replicas")
        desired = 1 if desired is None else int(desired)
        conditions = {c.get("type"): c for c in status.get("conditions") or ()}
        progressing = conditions.get("Progressing") or {}
        generation = int(meta.get("generation") or 0)
        observed = int(status.get("observedGeneration") or 0)
        updated = int(status.get("updatedReplicas") or 0)
        available = int(status.get("availableReplicas") or 0)
        state, message = rollout_state(
            generation,
            observed,
            desired,
            int(status.get("replicas") or 0),
            updated,
            available,
            progressing.get("reason"),
        )
        containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or ()
        return ObservedWorkload(
            cluster=self.name,
            namespace=str(meta.get("namespace")),
            deployment=str(meta.get("name")),
            images={str(c.get("name")): str(c.get("image")) for c in containers},
            generation=generation,
            observed_generation=observed,
            replicas=desired,
            updated_replicas=updated,
            ready_replicas=int(status.get("readyReplicas") or 0),
            available_replicas=available,
            unavailable_replicas=int(status.get("unavailableReplicas") or 0),
            rollout=state,
            message=message,
            resource_version=str(meta.get("resourceVersion") or ""),
            annotations=dict(meta.get("annotations") or {}),
        )

    def get(self, namespace: str, deployment: str) -> ObservedWorkload:
        try:
            self.requests += 1
            return self._workload(self.apps.read_namespaced_deployment(deployment, namespace))
        except (ApiException, HTTPError) as exc:
            raise _error(self, f"reading {namespace}/{deployment}", exc) from None

    def set_image(
        self,
        seen: ObservedWorkload,
        container: str,
        image: str,
        release: str,
        attempt: int = 1,
        *,
        attempts: int = 5,
    ) -> ObservedWorkload:
        """Set one container's image, guarded by the version `seen` was observed at."""
        if container not in seen.images:
            raise KubeError(
                f"cluster {self.name}: {seen.namespace}/{seen.deployment} has no "
                f"container {container!r}",
                disposition=Disposition.STALLED,
            )
        current = seen
        for _ in range(attempts):
            if current.images[container] == image:
                return current  # already there: nothing to do (idempotent)
            if current.images[container] != seen.images[container]:
                raise KubeError(
                    f"cluster {self.name}: the image of {container} in {seen.namespace}/"
                    f"{seen.deployment} changed to {current.images[container]} since it was "
                    f"observed ({seen.images[container]}); not overwriting someone else's "
                    "change",
                    disposition=Disposition.WAITING,
                )
            same = seen.annotations.get(RELEASE_ANNOTATION) == release and seen.annotations.get(
                ATTEMPT_ANNOTATION, "1"
            ) == str(attempt)
            previous = (
                seen.annotations.get(PREVIOUS_IMAGE + container)
                if same
                else current.images[container]
            )
            body = {
                "metadata": {
                    "resourceVersion": current.resource_version,
                    "annotations": {
                        RELEASE_ANNOTATION: release,
                        ATTEMPT_ANNOTATION: str(attempt),
                        PREVIOUS_IMAGE + container: previous or current.images[container],
                    },
                },
                "spec": {
                    "template": {"spec": {"containers": [{"name": container, "image": image}]}}
                },
            }
            try:
                self.requests += 1
                patched = self.apps.patch_namespaced_deployment(
                    seen.deployment, seen.namespace, body
                )
                return self._workload(patched)
            except ApiException as exc:
                if exc.status != 409:
                    raise _error(
                        self, f"patching {seen.namespace}/{seen.deployment}", exc
                    ) from None
            except HTTPError as exc:
                raise _error(self, f"patching {seen.namespace}/{seen.deployment}", exc) from None
            current = self.get(seen.namespace, seen.deployment)  # re-read, then re-decide
        raise KubeError(
            f"cluster {self.name}: {seen.namespace}/{seen.deployment} kept "
            "changing; giving up this pass",
            disposition=Disposition.WAITING,
        )

    def rollback(self, seen: ObservedWorkload, container: str) -> ObservedWorkload:
        """Restore the image recorded before relctl's last change of `container`."""
        previous = seen.annotations.get(PREVIOUS_IMAGE + container)
        if not previous:
            raise KubeError(
                f"cluster {self.name}: {seen.namespace}/{seen.deployment} records "
                f"no previous image for {container}; nothing to roll back to",
                disposition=Disposition.STALLED,
            )
        release = seen.annotations.get(RELEASE_ANNOTATION, "")
        attempt = seen.annotations.get(ATTEMPT_ANNOTATION, "1")
        restored = self.set_image(
            seen, container, previous, release, int(attempt) if attempt.isdigit() else 1
        )
        return restored

    def event(
        self, seen: ObservedWorkload, reason: str, message: str, kind: str = "Normal"
    ) -> None:
        """Record a core/v1 Event on the Deployment."""
        now = datetime.now(UTC)
        body = client.CoreV1Event(
            metadata=client.V1ObjectMeta(generate_name=f"{seen.deployment}.relctl-"),
            involved_object=client.V1ObjectReference(
                kind="Deployment",
                api_version="apps/v1",
                name=seen.deployment,
                namespace=seen.namespace,
                resource_version=seen.resource_version,
            ),
            reason=reason,
            message=message,
            type=kind,
            first_timestamp=now,
            last_timestamp=now,
            count=1,
            source=client.V1EventSource(component="relctl"),
            reporting_component="relctl",
            reporting_instance="relctl",
        )
        try:
            self.requests += 1
            self.core.create_namespaced_event(seen.namespace, body)
        except (ApiException, HTTPError) as exc:
            raise _error(self, f"recording an event on {seen.deployment}", exc) from None


FLAG_GROUP, FLAG_VERSION, FLAG_PLURAL = "core.openfeature.dev", "v1beta1", "featureflags"
MANAGED_BY = {"app.kubernetes.io/managed-by": "relctl"}


def read_flags(cluster: KubeCluster, target: FlagTarget) -> dict[str, Any] | None:
    """The flagd `flags` map applied at `target`, or None when there is none."""
    try:
        cluster.requests += 1
        if target.kind == "ConfigMap":
            found = cluster.core.read_namespaced_config_map(target.name, target.namespace)
            return _flags_of(target, found)
        custom = client.CustomObjectsApi(cluster.api)
        resource: Any = custom.get_namespaced_custom_object(
            FLAG_GROUP, FLAG_VERSION, target.namespace, FLAG_PLURAL, target.name
        )
        return _flags_of(target, resource)
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise _error(cluster, f"reading {target.describe()}", exc) from None
    except (HTTPError, ValueError) as exc:
        raise _error(cluster, f"reading {target.describe()}", exc) from None


def _flags_of(target: FlagTarget, resource: Any) -> dict[str, Any] | None:
    """The flags map of a listed ConfigMap (`V1ConfigMap`) or FeatureFlag (a dict)."""
    if target.kind == "ConfigMap":
        text = (resource.data or {}).get(target.key)
        return dict(json.loads(text).get("flags", {})) if text else None
    return dict(((resource.get("spec") or {}).get("flagSpec") or {}).get("flags", {}))


def read_all_flags(
    cluster: KubeCluster, targets: Iterable[FlagTarget]
) -> dict[FlagTarget, dict[str, Any] | None]:
    """The flags at every target of this cluster, in few requests: one LIST of the
    FeatureFlags of every namespace, and one LIST per namespace of the ConfigMaps relctl
    manages (labelled); a ConfigMap target not among them (made by hand, or absent) is
    read alone."""
    targets = sorted(set(targets))
    found: dict[FlagTarget, dict[str, Any] | None] = {}
    wanted = {(t.namespace, t.name): t for t in targets if t.kind != "ConfigMap"}
    try:
        if wanted:
            cluster.requests += 1
            custom = client.CustomObjectsApi(cluster.api)
            listed: Any = custom.list_cluster_custom_object(FLAG_GROUP, FLAG_VERSION, FLAG_PLURAL)
            for item in listed.get("items", []):
                meta = item.get("metadata") or {}
                target = wanted.get((str(meta.get("namespace")), str(meta.get("name"))))
                if target is not None:
                    found[target] = _flags_of(target, item)
            found.update({t: None for t in wanted.values() if t not in found})
        maps = [t for t in targets if t.kind == "ConfigMap"]
        for namespace in sorted({t.namespace for t in maps}):
            cluster.requests += 1
            items = cluster.core.list_namespaced_config_map(
                namespace, label_selector="app.kubernetes.io/managed-by=relctl"
            ).items
            by_name = {item.metadata.name: item for item in items if item.metadata}
            for target in (t for t in maps if t.namespace == namespace):
                if target.name in by_name:
                    found[target] = _flags_of(target, by_name[target.name])
                else:
                    found[target] = read_flags(cluster, target)
    except (ApiException, HTTPError, ValueError) as exc:
        raise _error(cluster, "listing flag resources", exc) from None
    return found


def apply_flags(cluster: KubeCluster, target: FlagTarget, document: Mapping[str, Any]) -> bool:
    """Make `target` hold `document` (a flagd document); True when something changed."""
    flags_map = dict(document.get("flags", {}))
    current = read_flags(cluster, target)
    if current == flags_map:
        return False
    meta = client.V1ObjectMeta(name=target.name, namespace=target.namespace, labels=MANAGED_BY)
    try:
        cluster.requests += 1
        if target.kind == "ConfigMap":
            data = {target.key: json.dumps(document, indent=2, sort_keys=True)}
            if current is None and not _configmap_exists(cluster, target):
                cluster.core.create_namespaced_config_map(
                    target.namespace, client.V1ConfigMap(metadata=meta, data=data)
                )
            else:
                # The label makes the ConfigMap one of those a pass LISTs.
                cluster.core.patch_namespaced_config_map(
                    target.name,
                    target.namespace,
                    {"metadata": {"labels": MANAGED_BY}, "data": data},
                )
            return True
        custom = client.CustomObjectsApi(cluster.api)
        if current is None:
            body = {
                "apiVersion": f"{FLAG_GROUP}/{FLAG_VERSION}",
                "kind": "FeatureFlag",
                "metadata": {
                    "name": target.name,
                    "namespace": target.namespace,
                    "labels": MANAGED_BY,
                },
                "spec": {"flagSpec": {"flags": flags_map}},
            }
            custom.create_namespaced_custom_object(
                FLAG_GROUP, FLAG_VERSION, target.namespace, FLAG_PLURAL, body
            )
        else:
            # Replace the flags wholesale, guarded by the resourceVersion just read.
            resource: Any = custom.get_namespaced_custom_object(
                FLAG_GROUP, FLAG_VERSION, target.namespace, FLAG_PLURAL, target.name
            )
            resource.setdefault("spec", {}).setdefault("flagSpec", {})["flags"] = flags_map
            custom.replace_namespaced_custom_object(
                FLAG_GROUP, FLAG_VERSION, target.namespace, FLAG_PLURAL, target.name, resource
            )
        return True
    except (ApiException, HTTPError) as exc:
        raise _error(cluster, f"applying flags to {target.describe()}", exc) from None


def _configmap_exists(cluster: KubeCluster, target: FlagTarget) -> bool:
    try:
        cluster.core.read_namespaced_config_map(target.name, target.namespace)
        return True
    except ApiException as exc:
        if exc.status == 404:
            return False
        raise _error(cluster, f"reading {target.describe()}", exc) from None
