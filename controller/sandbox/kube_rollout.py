"""A rollout simulator for the Kubernetes API emulator: after a Deployment's pod template
changes, a background ticker advances `.status` through the same fields the deployment
controller sets — `observedGeneration`, `replicas`, `updatedReplicas`, `readyReplicas`,
`availableReplicas`, `unavailableReplicas` and the `Available` / `Progressing`
conditions — one replica every `step` seconds, with the surge and unavailability of its
rolling-update strategy (25% each by default). Scaling alone is not a rollout. A paused
Deployment observes its spec but does not progress (`Progressing` is Unknown,
`DeploymentPaused`), and its paused time does not count towards the deadline. A
Deployment running an image marked bad never gets a new replica ready: after its
`progressDeadlineSeconds` (the simulator's `deadline` when it has none) its
`Progressing` condition turns False with reason `ProgressDeadlineExceeded`.
"""

from __future__ import annotations

import contextlib
import json
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from controller.sandbox import kube_jobs, kube_workloads
from controller.sandbox.kube_store import Store, StoreError


@dataclass
class _Rollout:
    template: str
    """The pod template rolled out (its JSON): a new one is a new rollout."""
    seen: float
    bad: bool
    elapsed: float = 0.0
    """Seconds the rollout has progressed: time spent paused does not count."""
    complete: bool = False


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
    job_outcomes: dict[str, list[kube_jobs.JobOutcome]] = field(default_factory=dict)
    """Image → how Jobs running it end (a bad image: exit 1)."""
    _jobs: dict[str, float] = field(default_factory=dict)
    """Job uid → when the simulator first saw it."""
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
        """Rollouts to `image` will never become ready; Jobs running it fail (exit 1)."""
        with self.store.lock:
            self.bad_images.add(image)
            self.job_outcomes.setdefault(image, []).append(kube_jobs.JobOutcome())

    def mark_job(
        self,
        image: str,
        *,
        exit_code: int = 1,
        log: str = "",
        hang: bool = False,
        command: str = "",
    ) -> None:
        """Jobs running `image` (with `command` among their command and args) exit with
        `exit_code` after printing `log`, or `hang` until their deadline."""
        outcome = kube_jobs.JobOutcome(exit_code, log, hang, command)
        with self.store.lock:
            found = self.job_outcomes.setdefault(image, [])
            found.insert(0, outcome)  # the latest word first

    def _run(self) -> None:
        while not self._stop.wait(min(0.05, self.step / 4)):
            self.tick()

    def tick(self) -> None:
        with self.store.lock, contextlib.suppress(StoreError):
            kube_jobs.tick(self.store, self.clock(), self.step, self.job_outcomes, self._jobs)
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
                        updated = self.store.update(
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
                    bad = self._rollouts[(namespace, name)].bad
                    with contextlib.suppress(StoreError):  # changed meanwhile: next tick
                        kube_workloads.sync(self.store, updated, status, ready=not bad)

    def _status(self, namespace: str, name: str, obj: dict[str, Any]) -> dict[str, Any]:
        now = self.clock()
        generation = int(obj["metadata"].get("generation", 1))
        spec = obj.get("spec") or {}
        replicas = int(spec.get("replicas", 1))
        template = spec.get("template") or {}
        images = {c.get("image") for c in (template.get("spec") or {}).get("containers", [])}
        paused = bool(spec.get("paused"))
        key = (namespace, name)
        digest = json.dumps(template, sort_keys=True)
        rollout = self._rollouts.get(key)
        if rollout is None or rollout.template != digest:
            # A new pod template is a new rollout; scaling or pausing alone is not.
            rollout = _Rollout(digest, now, bool(images & self.bad_images))
            self._rollouts[key] = rollout
        if not paused:
            rollout.elapsed += now - rollout.seen  # a paused rollout neither moves nor times out
        rollout.seen = now
        elapsed = rollout.elapsed
        previous = obj.get("status") or {}
        old = {c.get("type"): c for c in previous.get("conditions", [])}
        surge, unavailable = _strategy(spec, replicas)
        revision = f'ReplicaSet "{name}-{generation}"'
        deadline = float(spec.get("progressDeadlineSeconds") or self.deadline)
        if rollout.bad:
            ready = min(replicas - unavailable, int(previous.get("availableReplicas", 0)))
            stuck = not paused and elapsed >= deadline
            created = max(1, surge + unavailable)
            progressing = (
                _condition(old, "Progressing", None, "DeploymentPaused", "Deployment is paused")
                if paused
                else _condition(
                    old,
                    "Progressing",
                    not stuck,
                    "ProgressDeadlineExceeded" if stuck else "ReplicaSetUpdated",
                    f"{revision} has timed out progressing."
                    if stuck
                    else f"{revision} is progressing.",
                )
            )
            return {
                "observedGeneration": generation,
                "replicas": replicas - unavailable + created,
                "updatedReplicas": created,
                "readyReplicas": ready,
                "availableReplicas": ready,
                "unavailableReplicas": replicas - unavailable + created - ready,
                "conditions": [
                    _condition(
                        old,
                        "Available",
                        ready >= replicas - unavailable,
                        "MinimumReplicasAvailable"
                        if ready >= replicas - unavailable
                        else "MinimumReplicasUnavailable",
                    ),
                    progressing,
                ],
            }
        done = min(replicas, int(elapsed / self.step))
        if done >= replicas:
            rollout.complete = True
        if rollout.complete:
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
                        f"{revision} has successfully progressed.",
                    ),
                ],
            }
        return {
            "observedGeneration": generation,
            "replicas": replicas + surge,
            "updatedReplicas": done,
            "readyReplicas": replicas - unavailable,
            "availableReplicas": replicas - unavailable,
            "unavailableReplicas": surge + unavailable,
            "conditions": [
                _condition(old, "Available", True, "MinimumReplicasAvailable"),
                _condition(old, "Progressing", None, "DeploymentPaused", "Deployment is paused")
                if paused
                else _condition(
                    old, "Progressing", True, "ReplicaSetUpdated", f"{revision} is progressing."
                ),
            ],
        }


def _strategy(spec: dict[str, Any], replicas: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) of a rolling update as replica counts: 25% each by
    default, surge rounded up and unavailability down, as the deployment controller
    resolves them."""
    strategy = spec.get("strategy") or {}
    if strategy.get("type") == "Recreate":
        return 0, replicas
    rolling = strategy.get("rollingUpdate") or {}
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, up=True)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the API refuses both zero; the controller would need one
    return surge, min(unavailable, replicas)


def _resolve(value: Any, replicas: int, *, up: bool) -> int:
    if isinstance(value, str) and value.endswith("%"):
        share = float(value[:-1]) * replicas / 100
        return math.ceil(share) if up else math.floor(share)
    return int(value)


def _condition(
    old: dict[str, Any], kind: str, ok: bool | None, reason: str, message: str = ""
) -> dict[str, Any]:
    status = "Unknown" if ok is None else "True" if ok else "False"
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
