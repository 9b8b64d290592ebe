"""Benchmark: an analysis-heavy reconcile pass against a real Prometheus.

100 releases in monitoring, one component each (one Deployment), each release watched by
an Analysis of 3 metrics: 300 measurements due every pass. The traffic simulator serves
the 100 Deployments' traffic and Prometheus (Debian's package) scrapes it every second.
`relctl reconcile --once` runs as its own process on the wall clock. Reported per
measuring pass (median): wall time, the queries Prometheus answered (its own
`prometheus_http_requests_total`, on its /metrics), and the same pass with the analyses
taken out of the releases, for the cost of measuring.

    .venv/bin/python bench/analysis.py [--releases 100] [--passes 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import yaml

from controller.plan.records import from_yaml
from controller.sandbox.world import World, git

METRICS = [
    {
        "name": "error-ratio",
        "query": 'sum(rate(http_requests_total{deployment="{{ deployment }}",code=~"5.."}[10s]))'
        ' / sum(rate(http_requests_total{deployment="{{ deployment }}"}[10s]))',
        "failWhen": "> 5%",
        "interval": "1s",
    },
    {
        "name": "latency",
        "query": 'sum(rate(http_request_duration_seconds_sum{deployment="{{ deployment }}"}[10s]))'
        ' / sum(rate(http_request_duration_seconds_count{deployment="{{ deployment }}"}[10s]))',
        "failWhen": "> 0.5",
        "interval": "1s",
    },
    {
        "name": "throughput",
        "query": 'sum(rate(http_requests_total{deployment="{{ deployment }}"}[10s]))',
        "passWhen": "> 0",
        "noData": "hold",
        "interval": "1s",
    },
]


def generate(root: Path, releases: int, analysed: bool) -> Path:
    (root / "releases").mkdir(parents=True, exist_ok=True)
    config = {
        "apiVersion": "relctl.dev/v1alpha1",
        "kind": "ControllerConfig",
        "metadata": {"name": "bench"},
        "spec": {
            "mode": "enforce",
            "timezone": "UTC",
            "jira": {"flavor": "cloud"},
            "clusters": {"prod": {"context": "prod"}},
        },
    }
    (root / "relctl.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    when = (datetime.now(UTC) - timedelta(minutes=5)).isoformat(timespec="seconds")
    docs: list[dict[str, object]] = [
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Analysis",
            "metadata": {"name": "http"},
            "spec": {"metrics": METRICS},
        }
    ]
    for n in range(releases):
        name = f"svc-{n:03d}"
        workload = {"cluster": "prod", "namespace": f"ns-{n % 10}", "deployment": name}
        docs.append(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "Component",
                "metadata": {"name": name},
                "spec": {
                    "jiraProject": "BENCH",
                    "image": f"registry.bench.example/{name}",
                    "owner": "team-bench",
                    "workloads": [{**workload, "container": "app"}],
                },
            }
        )
        triggers = {"analysis": ["http"]} if analysed else {}
        docs.append(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "Release",
                "metadata": {"name": f"{name}-2-0-0"},
                "spec": {
                    "version": f"{name}-2.0.0",
                    "date": when,
                    "components": [{"name": name, "version": "2.0.0"}],
                    "rollback": {"auto": True, "triggers": triggers},
                },
            }
        )
    (root / "releases" / "all.yaml").write_text(yaml.safe_dump_all(docs), encoding="utf-8")
    seed = {
        "users": [{"email": "bench@relctl.local", "token": "bench"}],
        "projects": [{"key": "BENCH", "versions": [], "issues": []}],
    }
    path = root.parent / "jira-seed.yaml"
    path.write_text(yaml.safe_dump(seed), encoding="utf-8")
    return path


def reconcile(world: World) -> float:
    env = {k: v for k, v in {**os.environ, **world.env}.items() if k != "RELCTL_NOW"}
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "controller", "reconcile", "--once"],
        cwd=world.controller,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return time.perf_counter() - started


def queries(world: World) -> float:
    """Queries Prometheus has answered so far, by its own /metrics."""
    assert world.prometheus is not None
    text = httpx.get(f"{world.prometheus.url}/metrics").text
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("prometheus_http_requests_total{")
        and ('handler="/api/v1/query"' in line or 'handler="/api/v1/query_range"' in line)
    )


def phases(world: World) -> list[str]:
    git(world.human, "pull", "-q")
    folder = world.human / "status" / "releases"
    return [
        from_yaml(p.read_text(encoding="utf-8"), str(p)).phase.name
        for p in sorted(folder.glob("*.yaml"))
    ]


def run(releases: int, passes: int, analysed: bool) -> tuple[list[float], list[float]]:
    with tempfile.TemporaryDirectory(prefix="relctl-bench-") as folder:
        tmp = Path(folder)
        seed = generate(tmp / "source", releases, analysed)
        with World(tmp / "source", tmp, jira_seed=seed, metrics=True) as world:
            for _ in range(10):  # GO, ROLLOUT, DEPLOYED: until every release is monitored
                reconcile(world)
                found = phases(world)
                if len(found) == releases and set(found) == {"MONITORING"}:
                    break
            else:
                raise SystemExit(f"the releases never all reached MONITORING: {set(phases(world))}")
            walls, asked = [], []
            for _ in range(passes):
                time.sleep(1.0)  # the metrics' interval: every measurement is due again
                before = queries(world)
                walls.append(reconcile(world))
                asked.append(queries(world) - before)
            return walls, asked


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=100)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    walls, asked = run(args.releases, args.passes, analysed=True)
    plain, _ = run(args.releases, args.passes, analysed=False)
    print(f"{args.releases} releases in monitoring, {len(METRICS)} metrics each")
    print(f"measuring pass: median wall {statistics.median(walls):.2f} s")
    print(f"  queries answered by Prometheus per pass: {sorted(asked)}")
    print(f"same pass without analyses: median wall {statistics.median(plain):.2f} s")
    print(f"  walls with analyses {[round(w, 2) for w in walls]}")
    print(f"  walls without       {[round(w, 2) for w in plain]}")


if __name__ == "__main__":
    main()
