"""Benchmark: observing a large cluster through the Kubernetes adapter.

3,000 Deployments across 50 namespaces in the API emulator; the adapter observes them
all (one LIST per namespace) with the official client. Reports requests, wall time and
the peak memory the observation added. Usage:

    .venv/bin/python bench/kube.py [--deployments 3000] [--namespaces 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
import tracemalloc
from pathlib import Path

from controller.adapters.kube import KubeCluster
from controller.manifests.config import ClusterConfig
from controller.sandbox.kube import KubeSandbox


def deployment(name: str, namespace: str) -> dict[str, object]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "namespace": namespace, "labels": {"app": name}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": f"registry/{name}:1.0"},
                        {"name": "envoy", "image": "envoy:1.30"},
                    ]
                },
            },
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=3000)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    namespaces = [f"ns-{n:02d}" for n in range(args.namespaces)]
    with KubeSandbox() as sandbox, tempfile.TemporaryDirectory() as tmp:
        sandbox.rollouts.stop()  # a settled cluster: no status churn while measuring
        for n in range(args.deployments):
            sandbox.apply(deployment(f"svc-{n:04d}", namespaces[n % len(namespaces)]))
        sandbox.rollouts.tick()
        path = sandbox.kubeconfig(Path(tmp) / "kubeconfig", context="bench")
        cluster = KubeCluster.connect(
            "bench", ClusterConfig.model_validate({"context": "bench", "kubeconfig": str(path)})
        )
        times, requests, found = [], [], 0
        for _ in range(args.repeat):
            before_http = len(sandbox.requests())
            started = time.perf_counter()
            found = len(cluster.observe(namespaces))
            times.append(time.perf_counter() - started)
            requests.append(len(sandbox.requests()) - before_http)
        tracemalloc.start()
        cluster.observe(namespaces)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        cluster.close()
    print(
        f"{args.deployments} Deployments in {args.namespaces} namespaces, "
        f"median of {args.repeat} full observes:"
    )
    print(
        f"  requests per observe: {requests[-1]} (target <= namespaces + 1 = "
        f"{args.namespaces + 1}); per-Deployment requests: 0"
    )
    print(f"  workloads observed:   {found}")
    print(f"  wall time:            {statistics.median(times):.2f} s")
    print(f"  peak memory added:    {peak / 2**20:.1f} MiB (tracemalloc, one observe)")


if __name__ == "__main__":
    main()
