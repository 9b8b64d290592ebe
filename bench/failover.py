"""Benchmark: time to fail over from a hung leader, with the controller's production
settings (Kubernetes deadlines 5 s connect / 30 s read with one retry, backoff from 5 s,
give up after 3 failed passes, a 15 s lease renewed every 2 s).

Two replicas run in this process over the emulators and a bare remote. The first leads,
but every workload cluster is a black hole to it (it accepts connections and never
answers); the Lease's cluster stays reachable, so it keeps renewing. The second stands by
with working clusters. Reported: seconds from the standby's start to its first
successful pass as leader, and the hung leader's failed passes before it gave up.

    .venv/bin/python bench/failover.py [--read-timeout 30]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.manifests.config import ClusterConfig, ControllerConfig
from controller.reconcile.connect import Adapters, connect
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 11, tzinfo=UTC)


def black_hole() -> tuple[int, list[object]]:
    import socket

    listener = socket.create_server(("127.0.0.1", 0))
    held: list[object] = [listener]

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return int(listener.getsockname()[1]), held


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--read-timeout", type=float, default=30.0)
    args = parser.parse_args()
    port, held = black_hole()
    with (
        tempfile.TemporaryDirectory() as folder,
        World(REPO, Path(folder), jira_seed=REPO / "tests/data/jira/shop.yaml") as world,
    ):
        world.clusters["prod-eu"].ensure_namespace("relctl")
        blind = Path(folder) / "blind-kubeconfig"
        text = world.kubeconfig.read_text()
        for sandbox in world.clusters.values():
            text = text.replace(sandbox.url, f"http://127.0.0.1:{port}")
        blind.write_text(text)
        env = {**os.environ, **world.env}

        def blinded(config: ControllerConfig, _: Mapping[str, str]) -> Adapters:
            adapters = connect(config, {**env, "KUBECONFIG": str(blind)})
            for cluster in adapters.clusters.values():
                cluster.set_timeout(5.0, args.read_timeout)
            return adapters

        def replica(name: str, reconciler: Reconciler) -> Controller:
            settings = ClusterConfig(context="prod-eu", kubeconfig=str(world.kubeconfig))
            lease = KubeCluster.connect("prod-eu", settings, world.env)
            lease.set_timeout(5.0, 5.0)
            return Controller(
                reconciler,
                clock=lambda: NOW,
                elector=Elector(lease, "relctl", "relctl-controller", name, 15.0),
                timing=Timing(interval=60, retry=2.0, stand_down=60.0),
            )

        hung = replica("hung", Reconciler(world.controller, env, adapters=blinded))
        threads = [threading.Thread(target=hung.run, daemon=True)]
        threads[0].start()
        while not hung.leading:
            time.sleep(0.05)
        standby_root = Path(folder) / "standby"
        subprocess.run(["git", "clone", "-q", str(world.remote), str(standby_root)], check=True)
        standby = replica("standby", Reconciler(standby_root, env))
        started = time.monotonic()
        threads.append(threading.Thread(target=standby.run, daemon=True))
        threads[1].start()
        while not (standby.leading and standby.view.report and standby.view.report.ok):
            time.sleep(0.05)
        seconds = time.monotonic() - started
        failed = hung.metrics.passes.labels("error")._value.get()
        print(
            f"read timeout {args.read_timeout:g} s: fail-over in {seconds:.1f} s "
            f"(the hung leader failed {failed:.0f} passes, then gave its lease up)"
        )
        hung.stop()
        standby.stop()
        for thread in threads:
            thread.join(timeout=60)
    for sock in held:
        sock.close()  # type: ignore[attr-defined]


if __name__ == "__main__":
    main()
