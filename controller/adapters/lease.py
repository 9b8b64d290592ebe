"""Leader election on a coordination.k8s.io/v1 Lease, written for relctl's loop.

The client library's helper blocks its thread, cannot be stopped and never releases the
lease, so a standby would wait a whole lease duration after a clean shutdown. This
elector is a step function instead: the loop calls `try_acquire_or_renew()` every retry
period, `release()` on SIGTERM (the holder is cleared, so a standby takes over at its next
try), and leadership is judged as client-go judges it: a lease held by someone else is
expired when its record has not changed for `duration` by *our* clock (no trust in the
other side's timestamps). Every write is guarded by the Lease's resourceVersion, so two
candidates can never both win: the loser's write is a 409.

A webhook may reach a standby (the Service spreads deliveries over every replica). The
standby then asks the leader for a pass by stamping an annotation on the Lease; the
leader sees the stamp change at its next renewal. No other channel between replicas is
needed, and no permission beyond the Lease's own.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException
from urllib3.exceptions import HTTPError

from controller.adapters.kube import KubeCluster, KubeError

REQUEST_ANNOTATION = "relctl.dev/pass-requested-at"


@dataclass
class Elector:
    cluster: KubeCluster
    namespace: str
    name: str
    identity: str
    duration: float = 15.0
    """Seconds a lease stays valid without renewal."""
    clock: Callable[[], float] = time.monotonic
    leader: bool = False
    _seen: tuple[str, str] | None = None
    """(holder, renewTime) of the last record observed, and when (by our clock)."""
    _seen_at: float = 0.0
    _request_seen: str | None = None
    requested: bool = False
    """Set when another replica asked for a pass since the last `take_request()`."""

    @property
    def api(self) -> client.CoordinationV1Api:
        return client.CoordinationV1Api(self.cluster.api)

    def try_acquire_or_renew(self) -> bool:
        """One election step; returns whether this candidate leads now."""
        return self._step(retry=True)

    def _step(self, *, retry: bool) -> bool:
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
        except ApiException as exc:
            if exc.status != 404:
                return self._lost(exc)
            return self._create()
        except HTTPError as exc:
            return self._lost(exc)
        self._note_request(lease)
        spec = lease.spec or client.V1LeaseSpec()
        holder = spec.holder_identity or ""
        record = (holder, str(spec.renew_time))
        now = self.clock()
        if record != self._seen:
            self._seen, self._seen_at = record, now
        duration = spec.lease_duration_seconds or self.duration
        expired = not holder or now - self._seen_at >= duration
        if holder != self.identity and not expired:
            self.leader = False
            return False
        stamp = datetime.now(UTC)
        if holder != self.identity:
            spec.acquire_time = stamp
            spec.lease_transitions = (spec.lease_transitions or 0) + 1
        spec.holder_identity = self.identity
        spec.lease_duration_seconds = int(self.duration)
        spec.renew_time = stamp
        lease.spec = spec
        try:
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except ApiException as exc:
            if exc.status == 409 and retry and holder == self.identity:
                # A standby's pass request changed the Lease meanwhile; read it again.
                return self._step(retry=False)
            return self._lost(exc)  # 409: another candidate wrote first
        except HTTPError as exc:
            return self._lost(exc)
        self.leader = True
        return True

    def _create(self) -> bool:
        stamp = datetime.now(UTC)
        body = client.V1Lease(
            metadata=client.V1ObjectMeta(name=self.name, namespace=self.namespace),
            spec=client.V1LeaseSpec(
                holder_identity=self.identity,
                lease_duration_seconds=int(self.duration),
                acquire_time=stamp,
                renew_time=stamp,
                lease_transitions=0,
            ),
        )
        try:
            self.api.create_namespaced_lease(self.namespace, body)
        except (ApiException, HTTPError) as exc:
            return self._lost(exc)  # 409 AlreadyExists: someone else created it first
        self.leader = True
        return True

    def _lost(self, exc: Any) -> bool:
        self.leader = False
        if isinstance(exc, ApiException) and exc.status in (404, 409):
            return False
        raise KubeError(
            f"cluster {self.cluster.name}: leader election on lease "
            f"{self.namespace}/{self.name} failed: {exc}"
        )

    def _note_request(self, lease: Any) -> None:
        stamp = ((lease.metadata and lease.metadata.annotations) or {}).get(REQUEST_ANNOTATION)
        if stamp is not None and stamp != self._request_seen:
            self.requested = self._request_seen is not None or self.leader
        self._request_seen = stamp

    def take_request(self) -> bool:
        """Whether a pass was asked for by another replica (and forget the request)."""
        asked, self.requested = self.requested, False
        return asked

    def request_pass(self) -> None:
        """Ask the leader, whoever it is, for a pass now (a standby got a webhook)."""
        body = {"metadata": {"annotations": {REQUEST_ANNOTATION: datetime.now(UTC).isoformat()}}}
        try:
            self.api.patch_namespaced_lease(self.name, self.namespace, body)
        except (ApiException, HTTPError) as exc:
            raise KubeError(
                f"cluster {self.cluster.name}: asking the leader for a pass through lease "
                f"{self.namespace}/{self.name} failed: {exc}"
            ) from None

    def release(self) -> None:
        """Give the lease up now (on SIGTERM), so a standby need not wait for it to expire."""
        if not self.leader:
            return
        self.leader = False
        try:
            lease = self.api.read_namespaced_lease(self.name, self.namespace)
            spec = lease.spec
            if spec is None or spec.holder_identity != self.identity:
                return
            spec.holder_identity = None
            spec.lease_duration_seconds = 1
            spec.renew_time = datetime.now(UTC)
            self.api.replace_namespaced_lease(self.name, self.namespace, lease)
        except (ApiException, HTTPError):
            return  # the lease expires on its own
