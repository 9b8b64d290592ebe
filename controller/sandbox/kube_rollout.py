"""A rollout simulator for the Kubernetes API emulator: after a Deployment's template
changes (its `generation` grows), a background ticker advances `.status` through the
same fields the deployment controller sets — `observedGeneration`, `replicas`,
`updatedReplicas`, `readyReplicas`, `availableReplicas`, `unavailableReplicas` and the
`Available` / `Progressing` conditions — one replica every `step` seconds. A Deployment
running an image marked bad never gets a new replica ready: after `deadline` seconds its
`Progressing` condition turns False with reason `ProgressDeadlineExceeded`, as a real
controller does after `progressDeadlineSeconds`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.sandbox.kube_store import Store, StoreError


@dataclass
class _Rollout:
    generation: int
    started: float
    bad: bool


@dataclass
class RolloutSimulator:
    store: Store
    step: float = 0.2
    """Seconds for each new replica to become ready."""
    deadline: float = 2.0
    """Seconds before a stuck rollout is ProgressDeadlineExceeded."""
    bad_images: set[str] = field(default_factory=set)
    clock: Callable[[], float] = time.monotonic
    _rollouts: dict[tuple[str, str], _Rollout] = field(default_factory=dict)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="rollouts")
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def mark_bad(self, image: str) -> None:
        """Rollouts to `image` will never become ready."""
        with self.store.lock:
            self.bad_images.add(image)

    def _run(self) -> None:
        while not self._stop.wait(min(0.05, self.step / 4)):
            self.tick()

    def tick(self) -> None:
        with self.store.lock:
            deployments = self.store.find_type("apps", "v1", "deployments")
            for (namespace, name), obj in list(
                self.store.objects[("apps", "v1", "deployments")].items()
            ):
                try:
                    status = self._status(namespace, name, obj)
                except (TypeError, ValueError, KeyError, AttributeError):
                    continue  # a shape the API would refuse: it stalls, no other rollout
                if status != obj.get("status"):
                    try:
                        self.store.update(
                            deployments,
                            namespace,
                            name,
                            {
                                "metadata": {"resourceVersion": obj["metadata"]["resourceVersion"]},
                                "status": status,
                            },
                            subresource="status",
                        )
                    except StoreError:
                        continue  # changed meanwhile: the next tick sees the new object

    def _status(self, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        generation = int(obj["metadata"].get("generation", 1))
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        images = {
            c.get("image")
            for c in ((spec.get("template") or {}).get("spec") or {}).get("containers", [])
        }
        key = (namespace, name)
        rollout = self._rollouts.get(key)
        if rollout is None or rollout.generation != generation:
            rollout = _Rollout(generation, now, bool(images & self.bad_images))
            self._rollouts[key] = rollout
        elapsed = now - rollout.started
        previous = obj.get("status") or {}
        old = {c.get("type"): c for c in previous.get("conditions", [])}
        if rollout.bad:
            ready = min(replicas, int(previous.get("availableReplicas", 0)))
            stuck = elapsed >= self.deadline
            status = {
                "observedGeneration": generation,
                "replicas": replicas + 1,
                "updatedReplicas": 1,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": replicas + 1 - ready,
                "conditions": [
                    _condition(
                        old,
                        "Available",
                        ready >= replicas,
                        "MinimumReplicasAvailable"
                        if ready >= replicas
                        else "MinimumReplicasUnavailable",
                    ),
                    _condition(
                        old,
                        "Progressing",
                        not stuck,
                        "ProgressDeadlineExceeded" if stuck else "ReplicaSetUpdated",
                        f'ReplicaSet "{name}-{generation}" has timed out progressing.'
                        if stuck
                        else f'ReplicaSet "{name}-{generation}" is progressing.',
                    ),
                ],
            }
            return status
        done = min(replicas, int(elapsed / self.step))
        if done >= replicas:
            return {
                "observedGeneration": generation,
                "replicas": replicas,
                "updatedReplicas": replicas,
                "readyReplicas": replicas,
                "availableReplicas": replicas,
                "conditions": [
                    _condition(old, "Available", True, "MinimumReplicasAvailable"),
                    _condition(
                        old,
                        "Progressing",
                        True,
                        "NewReplicaSetAvailable",
                        f'ReplicaSet "{name}-{generation}" has successfully progressed.',
                    ),
                ],
            }
        return {
            "observedGeneration": generation,
            "replicas": replicas + 1,
            "updatedReplicas": done,
            "readyReplicas": replicas,
            "availableReplicas": replicas,
            "unavailableReplicas": 1,
            "conditions": [
                _condition(old, "Available", True, "MinimumReplicasAvailable"),
                _condition(
                    old,
                    "Progressing",
                    True,
                    "ReplicaSetUpdated",
                    f'ReplicaSet "{name}-{generation}" is progressing.',
                ),
            ],
        }


def _condition(
    old: dict[str, Any], kind: str, ok: bool, reason: str, message: str = ""
) -> dict[str, Any]:
    status = "True" if ok else "False"
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    before = old.get(kind) or {}
    unchanged = before.get("status") == status and before.get("reason") == reason
    return {
        "type": kind,
        "status": status,
        "reason": reason,
        "message": message
        or f"Deployment {'has' if ok else 'does not have'} minimum availability.",
        "lastUpdateTime": before.get("lastUpdateTime", now) if unchanged else now,
        "lastTransitionTime": before.get("lastTransitionTime", now)
        if before.get("status") == status
        else now,
    }
