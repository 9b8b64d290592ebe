"""Benchmark: reconcile passes of the real controller process at scale.

The emulators hold 20 Jira projects with 20,000 issues and one cluster with 3,000
Deployments in 50 namespaces; the repository declares 1,000 components (3 workloads
each), 1,000 dated releases (one fixVersion each, already in Jira) and 20 staged flags
in one FeatureFlag. Every request to either emulator waits 20 ms. `relctl controller`
runs as its own process (so its CPU time and memory are its own); passes are triggered
by signed webhooks. Reported: the first pass, and the median of no-change passes —
wall time, CPU time, Jira and Kubernetes requests, writes anywhere, and peak RSS.

    .venv/bin/python bench/reconcile.py [--releases 1000] [--passes 5] [--latency 0.02]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, datetime, timedelta
from pathlib import Path

import httpx
import yaml

from controller.reconcile.webhooks import sign
from controller.sandbox.world import World, git

NOW = "2026-11-23T12:00:00+00:00"
SECRET = "bench-secret"
TICKS = os.sysconf("SC_CLK_TCK")
SEARCHES = ("/search", "/search/jql")
"""POSTs that read: JQL searches."""


def generate(root: Path, releases: int, projects: int, namespaces: int, issues: int) -> Path:
    """The repository tree and the Jira seed file; returns the seed's path."""
    (root / "releases").mkdir(parents=True)
    config = {
        "apiVersion": "relctl.dev/v1alpha1",
        "kind": "ControllerConfig",
        "metadata": {"name": "bench"},
        "spec": {
            "mode": "enforce",
            "timezone": "UTC",
            "jira": {
                "url": "https://jira.bench.example",
                "flavor": "cloud",
            },
            "clusters": {"prod": {"context": "prod"}},
        },
    }
    (root / "relctl.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    keys = [f"P{n:02d}" for n in range(projects)]
    docs: list[dict[str, object]] = []
    seed_projects = {k: {"key": k, "versions": [], "issues": []} for k in keys}
    first = date(2026, 11, 26)
    for n in range(releases):
        project = keys[n % projects]
        name = f"svc-{n:04d}"
        day = first + timedelta(days=n % 180)
        docs.append(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "Component",
                "metadata": {"name": name},
                "spec": {
                    "jiraProject": project,
                    "image": f"registry.bench.example/{name}",
                    "owner": "team-bench",
                    "workloads": [
                        {
                            "cluster": "prod",
                            "namespace": f"ns-{(n * 3 + w) % namespaces:02d}",
                            "deployment": f"{name}-{w}",
                            "container": "app",
                        }
                        for w in range(3)
                    ],
                },
            }
        )
        version = f"{name}-2.0.0"
        docs.append(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "Release",
                "metadata": {"name": f"{name}-2-0-0"},
                "spec": {
                    "version": version,
                    "date": f"{day.isoformat()}T10:00:00Z",
                    "components": [{"name": name, "version": "2.0.0"}],
                    "rollback": {"auto": True},
                },
            }
        )
        seed_projects[project]["versions"].append(  # type: ignore[attr-defined]
            {"name": version, "releaseDate": day.isoformat()}
        )
    for n in range(issues):
        release = n % releases
        seed_projects[keys[release % projects]]["issues"].append(  # type: ignore[attr-defined]
            {
                "summary": f"Change {n}",
                "type": ("Story", "Bug", "Task")[n % 3],
                "status": ("To Do", "In Progress", "Done", "Done")[n % 4],
                "fixVersions": [f"svc-{release:04d}-2.0.0"],
            }
        )
    for n in range(20):
        docs.append(
            {
                "apiVersion": "relctl.dev/v1alpha1",
                "kind": "FeatureFlag",
                "metadata": {"name": f"flag-{n:02d}"},
                "spec": {
                    "description": "A staged flag.",
                    "owner": "team-bench",
                    "variants": {"on": True, "off": False},
                    "defaultVariant": "off",
                    "rollout": {
                        "variant": "on",
                        "stages": [
                            {"percent": 10, "at": "2026-11-01T10:00:00Z"},
                            {"percent": 100, "at": "2027-02-01T10:00:00Z"},
                        ],
                    },
                    "target": {
                        "kind": "FeatureFlag",
                        "cluster": "prod",
                        "namespace": "ns-00",
                        "name": "bench-flags",
                    },
                    "removeBy": "2027-12-31",
                },
            }
        )
    for start in range(0, len(docs), 100):
        path = root / "releases" / f"part-{start // 100:03d}.yaml"
        path.write_text(yaml.safe_dump_all(docs[start : start + 100]), encoding="utf-8")
    seed = {
        "users": [{"email": "bench@relctl.local", "token": "bench"}],
        "projects": list(seed_projects.values()),
    }
    path = root.parent / "jira-seed.yaml"
    path.write_text(yaml.dump(seed, Dumper=yaml.CSafeDumper), encoding="utf-8")
    return path


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Counts:
    def __init__(self, world: World) -> None:
        self.world = world

    def snapshot(self) -> tuple[int, int, int, int, int]:
        jira = self.world.jira.requests()
        kube = [r for c in self.world.clusters.values() for r in c.requests()]
        commits = int(git(self.world.remote, "rev-list", "--count", "HEAD"))
        return (
            len(jira),
            sum(r.method != "GET" and not r.path.endswith(SEARCHES) for r in jira),
            len(kube),
            sum(r[0] != "GET" for r in kube),
            commits,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--releases", type=int, default=1000)
    parser.add_argument("--projects", type=int, default=20)
    parser.add_argument("--namespaces", type=int, default=50)
    parser.add_argument("--issues", type=int, default=20_000)
    parser.add_argument("--latency", type=float, default=0.02)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="relctl-bench-") as folder:
        tmp = Path(folder)
        seed = generate(tmp / "source", args.releases, args.projects, args.namespaces, args.issues)
        world = World(tmp / "source", tmp, jira_seed=seed, latency=args.latency)
        now = datetime.fromisoformat(NOW)
        world.set_time(now - timedelta(hours=1))  # the issues exist before the first pass
        world.start()
        world.set_time(now)
        for cluster in world.clusters.values():
            cluster.rollouts.tick()  # a settled cluster before the controller looks
            cluster.rollouts.stop()
        clock = tmp / "clock"
        clock.write_text(NOW, encoding="utf-8")
        counts = Counts(world)
        before = counts.snapshot()
        process = subprocess.Popen(
            [
                sys.executable, "-m", "controller", "controller",
                "--listen", "127.0.0.1:0", "--clock-file", str(clock), "--interval", "1h",
            ],
            cwd=world.controller,
            env={**os.environ, **world.env, "RELCTL_WEBHOOK_SECRET": SECRET},
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert process.stderr is not None
        line = process.stderr.readline()
        port = int(line.rsplit(":", 1)[1])
        threading.Thread(target=lambda: process.stderr.read(), daemon=True).start()  # type: ignore[union-attr]
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=300)

        def last() -> dict[str, object]:
            return dict(http.get("/api/status").json()["lastPass"] or {})

        while not last():
            time.sleep(0.05)
        first = last()
        first_cpu = cpu_seconds(process.pid)
        after_first = counts.snapshot()
        rows = []
        for n in range(args.passes):
            cpu, snap, seen = cpu_seconds(process.pid), counts.snapshot(), last()["id"]
            body = b'{"ref":"refs/heads/main","after":"%d"}' % n
            http.post("/webhook", content=body, headers={"X-Hub-Signature-256": sign(SECRET, body)})
            while last()["id"] == seen:
                time.sleep(0.01)
            report, now = last(), counts.snapshot()
            rows.append(
                (
                    float(report["seconds"]),  # type: ignore[arg-type]
                    cpu_seconds(process.pid) - cpu,
                    now[0] - snap[0],
                    now[2] - snap[2],
                    (now[1] - snap[1]) + (now[3] - snap[3]) + (now[4] - snap[4]),
                )
            )
        rss = peak_rss_mib(process.pid)
        process.terminate()
        process.wait(timeout=60)
        http.close()
        world.stop()

    kube_ns = args.namespaces
    print(
        f"{args.releases} releases, {args.releases * 3} workloads in {kube_ns} namespaces, "
        f"{args.projects} Jira projects, {args.issues} issues, {args.latency * 1000:g} ms "
        f"latency per request"
    )
    print(
        f"first pass:     {float(first['seconds']):6.2f} s wall, {first_cpu:5.2f} s CPU "  # type: ignore[arg-type]
        f"(with start-up), Jira {after_first[0] - before[0]} req "
        f"({after_first[1] - before[1]} writes), Kubernetes {after_first[2] - before[2]} req "
        f"({after_first[3] - before[3]} writes), {after_first[4] - before[4]} commit(s)"
    )
    med = [statistics.median(col) for col in zip(*rows, strict=True)]
    print(
        f"no-change pass: {med[0]:6.2f} s wall, {med[1]:5.2f} s CPU, Jira {med[2]:g} req, "
        f"Kubernetes {med[3]:g} req (namespaces + 1 = {kube_ns + 1}), writes {med[4]:g} "
        f"(median of {args.passes}; max writes {max(r[4] for r in rows)})"
    )
    print(f"peak RSS of the controller process: {rss:.0f} MiB")


if __name__ == "__main__":
    main()
