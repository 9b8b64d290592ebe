"""Benchmark: the git deployment method against the kubernetes one, in the real
reconciler (in process) over the Kubernetes emulator and a bare environment repository.

N components (one Deployment each), each with its image in its own Kustomize file of one
environment repository. Reported for each method (median of the passes):
- a quiet pass (nothing due): with the git method every pass fetches the repository and
  reads every locator (for drift);
- the pass that starts the rollout of a release of all N components: relctl changes one
  component a pass (it waits for each to complete), so this is one patch, or one commit
  (fetch, rewrite, commit, push).

    .venv/bin/python bench/gitops.py [--components 100] [--passes 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path

import yaml

from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World, git

DEPARTURE = datetime.fromisoformat("2026-12-08T14:00:00+01:00")
IMAGE = "registry.bench.example/c{n}"


def tree(root: Path, components: int, method: str) -> None:
    (root / "releases/components").mkdir(parents=True)
    (root / "releases/releases").mkdir(parents=True)
    spec: dict[str, object] = {
        "mode": "enforce",
        "timezone": "UTC",
        "jira": {"flavor": "cloud"},
        "clusters": {"prod": {"context": "prod"}},
    }
    if method == "git":
        spec["environments"] = {"bench-env": {"branch": "main"}}
    config = {"apiVersion": "relctl.dev/v1alpha1", "kind": "ControllerConfig",
              "metadata": {"name": "bench"}, "spec": spec}  # fmt: skip
    (root / "relctl.yaml").write_text(yaml.safe_dump(config), encoding="utf-8")
    for n in range(components):
        workload: dict[str, object] = {
            "cluster": "prod", "namespace": "bench", "deployment": f"c{n}", "container": "app",
        }  # fmt: skip
        component: dict[str, object] = {
            "jiraProject": "SHOP", "image": IMAGE.format(n=n), "owner": "team",
            "workloads": [workload],
        }  # fmt: skip
        if method == "git":
            component["deploy"] = {"method": "git", "environment": "bench-env"}
            workload["locator"] = {
                "file": f"apps/c{n}/kustomization.yaml", "kustomizeImage": IMAGE.format(n=n),
            }  # fmt: skip
        document = {"apiVersion": "relctl.dev/v1alpha1", "kind": "Component",
                    "metadata": {"name": f"c{n}"}, "spec": component}  # fmt: skip
        (root / f"releases/components/c{n}.yaml").write_text(yaml.safe_dump(document))


def release(components: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "relctl.dev/v1alpha1",
            "kind": "Release",
            "metadata": {"name": "everything"},
            "spec": {
                "version": "bench-2.0.0",
                "date": DEPARTURE.isoformat(),
                "components": [{"name": f"c{n}", "version": "2.0.0"} for n in range(components)],
            },
        }
    )


def environment(workspace: Path, components: int) -> Path:
    bare = workspace / "env.git"
    git(workspace, "init", "-q", "--bare", "-b", "main", str(bare))
    seed = workspace / "env-seed"
    git(workspace, "clone", "-q", str(bare), str(seed))
    for n in range(components):
        folder = seed / f"apps/c{n}"
        folder.mkdir(parents=True)
        (folder / "kustomization.yaml").write_text(
            f'resources: []\nimages:\n  - name: {IMAGE.format(n=n)}\n    newTag: "0.0.0"\n'
        )
    git(seed, "add", "-A")
    git(seed, "commit", "-q", "-m", "environments")
    git(seed, "push", "-q", "origin", "main")
    return bare


def measure(components: int, passes: int, method: str) -> tuple[float, float, int]:
    with tempfile.TemporaryDirectory(prefix="relctl-bench-") as folder:
        workspace = Path(folder)
        source = workspace / "source"
        tree(source, components, method)
        world = World(source, workspace / "world", jira_seed=Path("tests/data/jira/shop.yaml"))
        (workspace / "world").mkdir()
        with world:
            if method == "git":
                world.env["RELCTL_ENVIRONMENT_BENCH_ENV_URL"] = str(
                    environment(workspace, components)
                )
            reconciler = Reconciler(world.controller, {**os.environ, **world.env})
            try:
                quiet = []
                now = DEPARTURE - timedelta(days=30)
                reconciler.run(now)  # first pass: records, clones
                for _ in range(passes):
                    now += timedelta(minutes=1)
                    started = time.perf_counter()
                    report = reconciler.run(now)
                    quiet.append(time.perf_counter() - started)
                    assert report.error is None, report.error
                world.push_change(
                    "Ship everything", {"releases/releases/everything.yaml": release(components)}
                )
                report = reconciler.run(DEPARTURE - timedelta(days=1))
                started = time.perf_counter()
                report = reconciler.run(DEPARTURE)
                rollout = time.perf_counter() - started
                done = sum(
                    1 for o in report.outcomes if o.action.kind == "set-image" and not o.failed
                )
            finally:
                reconciler.close()
        shutil.rmtree(workspace, ignore_errors=True)
    return statistics.median(quiet), rollout, done


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--components", type=int, default=100)
    parser.add_argument("--passes", type=int, default=5)
    args = parser.parse_args()
    print(f"{args.components} components; median of {args.passes} quiet passes")
    print("| method | quiet pass | pass changing one image | images changed |")
    print("|---|---|---|---|")
    for method in ("kubernetes", "git"):
        quiet, rollout, done = measure(args.components, args.passes, method)
        print(f"| {method} | {quiet:.2f} s | {rollout:.2f} s | {done} |")


if __name__ == "__main__":
    main()
