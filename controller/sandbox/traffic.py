"""A traffic simulator: what the workloads of a Kubernetes emulator would report to
Prometheus if users were calling them, so that a real Prometheus can scrape it and
relctl's analyses can query it.

Per Deployment it serves, at `/metrics` in Prometheus' text format:

- `http_requests_total{namespace, deployment, code}`: requests answered 200 or 500;
- `http_request_duration_seconds` (a histogram, the same labels but `code`).

What a workload serves follows the images it runs: each ready replica of each of its
ReplicaSets serves `rate` requests a second, with the error ratio and latency of the
image that ReplicaSet runs, as the rollout simulator moves replicas from the old to the
new. An image is healthy (0.2 % errors, 80 ms) unless marked `ERRORING` (12 % errors) or
`SLOW` (four times the latency); a workload marked idle serves nothing.
Counters grow with the wall clock between scrapes, as a real service's do."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from controller.sandbox import kube_workloads
from controller.sandbox.http import QuietHandler, QuietServer
from controller.sandbox.kube_store import Store

BUCKETS = (0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(frozen=True)
class Profile:
    errors: float = 0.002
    """Share of requests answered 500."""
    latency: float = 0.08
    """Seconds every request takes."""


HEALTHY = Profile()
ERRORING = Profile(errors=0.12)
SLOW = Profile(latency=0.32)


@dataclass
class _Counters:
    ok: float = 0.0
    errors: float = 0.0
    buckets: list[float] = field(default_factory=lambda: [0.0] * (len(BUCKETS) + 1))
    total_seconds: float = 0.0


class TrafficSimulator:
    """The simulator over one emulator's store; `start()` serves `/metrics`."""

    def __init__(
        self, store: Store, rate: float = 10.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.store = store
        self.rate = rate
        """Requests a second per ready replica."""
        self.clock = clock
        self.profiles: dict[str, Profile] = {}
        """Image → how it serves (healthy when not here)."""
        self.idle: set[tuple[str, str]] = set()
        """(namespace, deployment) that serve no requests."""
        self.lock = threading.Lock()
        self._counters: dict[tuple[str, str], _Counters] = {}
        self._last: float | None = None
        self._server: QuietServer | None = None

    def mark(self, image: str, profile: Profile) -> None:
        with self.lock:
            self.profiles[image] = profile

    def set_idle(self, namespace: str, deployment: str, idle: bool = True) -> None:
        with self.lock:
            (self.idle.add if idle else self.idle.discard)((namespace, deployment))

    def advance(self) -> None:
        """Serve the requests of the time since the last call."""
        with self.lock:
            now = self.clock()
            elapsed = 0.0 if self._last is None else max(0.0, now - self._last)
            self._last = now
            kind_key = ("apps", "v1", "deployments")
            with self.store.lock:
                deployments = [o for (_, _), o in self.store.objects[kind_key].items()]
                for obj in deployments:
                    meta = obj["metadata"]
                    key = (meta.get("namespace", ""), meta["name"])
                    counters = self._counters.setdefault(key, _Counters())
                    if key in self.idle or not elapsed:
                        continue
                    self._serve(counters, obj, elapsed)

    def _serve(self, counters: _Counters, obj: dict[str, Any], elapsed: float) -> None:
        for replicas, template in self._serving(obj):
            profile = self._profile(template)
            requests = self.rate * replicas * elapsed
            if requests <= 0:
                continue
            counters.errors += requests * profile.errors
            counters.ok += requests * (1 - profile.errors)
            index = next((i for i, b in enumerate(BUCKETS) if profile.latency <= b), len(BUCKETS))
            counters.buckets[index] += requests
            counters.total_seconds += requests * profile.latency

    def _serving(self, obj: dict[str, Any]) -> list[tuple[int, dict[str, Any]]]:
        """(ready replicas, pod template) of each ReplicaSet the Deployment owns; the
        Deployment's own replicas and template before it has any."""
        meta = obj["metadata"]
        sets = kube_workloads.owned_by(
            self.store, kube_workloads.SETS, meta.get("namespace", ""), meta.get("uid", "")
        )
        if not sets:
            spec = obj.get("spec") or {}
            return [(int(spec.get("replicas") or 0), spec.get("template") or {})]
        return [
            (
                int((s.get("status") or {}).get("readyReplicas") or 0),
                (s.get("spec") or {}).get("template") or {},
            )
            for s in sets
        ]

    def _profile(self, template: dict[str, Any]) -> Profile:
        containers = (template.get("spec") or {}).get("containers") or []
        worst = HEALTHY
        for container in containers:
            found = self.profiles.get(str(container.get("image", "")), HEALTHY)
            if found.errors > worst.errors or found.latency > worst.latency:
                worst = found
        return worst

    def exposition(self) -> str:
        """`/metrics`, in Prometheus' text format."""
        self.advance()
        lines = [
            "# HELP http_requests_total Requests served, by response code.",
            "# TYPE http_requests_total counter",
        ]
        with self.lock:
            items = sorted(self._counters.items())
        for (namespace, name), c in items:
            where = f'namespace="{namespace}",deployment="{name}"'
            lines.append(f'http_requests_total{{{where},code="200"}} {c.ok:.6f}')
            lines.append(f'http_requests_total{{{where},code="500"}} {c.errors:.6f}')
        lines += [
            "# HELP http_request_duration_seconds Time to serve a request.",
            "# TYPE http_request_duration_seconds histogram",
        ]
        for (namespace, name), c in items:
            where = f'namespace="{namespace}",deployment="{name}"'
            cumulative = 0.0
            for bound, count in zip((*BUCKETS, float("inf")), c.buckets, strict=True):
                cumulative += count
                le = "+Inf" if bound == float("inf") else f"{bound:g}"
                lines.append(
                    f'http_request_duration_seconds_bucket{{{where},le="{le}"}} {cumulative:.6f}'
                )
            lines.append(f"http_request_duration_seconds_sum{{{where}}} {c.total_seconds:.6f}")
            lines.append(f"http_request_duration_seconds_count{{{where}}} {cumulative:.6f}")
        return "\n".join(lines) + "\n"

    # --- serving ---------------------------------------------------------------------------

    def start(self, port: int = 0) -> TrafficSimulator:
        self.advance()
        self._server = QuietServer(("127.0.0.1", port), _handler_for(self))
        self._server.start("traffic-simulator")
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.stop()
            self._server = None

    @property
    def url(self) -> str:
        assert self._server is not None, "the simulator is not serving"
        return self._server.url

    @property
    def address(self) -> str:
        """host:port, as a Prometheus scrape target names it."""
        return self.url.split("://", 1)[1]


def _handler_for(simulator: TrafficSimulator) -> type[QuietHandler]:
    class Handler(QuietHandler):
        server_version = "relctl-traffic-simulator"

        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404)
                return
            body = simulator.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler
