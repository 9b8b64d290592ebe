"""A leader that loses its Lease in the middle of a pass stops before its next action and
records nothing: the new leader will plan the rest from the same records, as after a
crash. The controller runs in-process over the emulators and a bare remote."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.manifests.config import ClusterConfig, ControllerConfig
from controller.reconcile.connect import Adapters, connect
from controller.reconcile.executor import Result
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World
from tests.support.faults import Fault

REPO = Path(__file__).resolve().parents[2]
SHOP = REPO / "tests" / "data" / "shop"
"""The shop the tests are written against (not the demo's releases/, which may change)."""
NOW = datetime(2026, 11, 23, 11, tzinfo=UTC)


def test_a_leader_that_loses_the_lease_mid_pass_stops_and_records_nothing(
    tmp_path: Path,
) -> None:
    with World(SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml") as world:
        eu = world.clusters["prod-eu"]
        eu.ensure_namespace("relctl")
        settings = ClusterConfig(context="prod-eu", kubeconfig=str(world.kubeconfig))
        elector = Elector(
            KubeCluster.connect("prod-eu", settings, world.env), "relctl", "lease", "me", 15
        )
        usurper = KubeCluster.connect("prod-eu", settings, world.env)
        controller = Controller(
            Reconciler(world.controller, {**os.environ, **world.env}),
            clock=lambda: NOW,
            elector=elector,
            timing=Timing(interval=3600, retry=0.05),
        )
        stolen = threading.Event()

        def steal(method: str, path: str) -> None:
            """At the pass's first write to a flag target, another replica takes the lease."""
            if stolen.is_set() or not ("/configmaps" in path or "/featureflags" in path):
                return
            stolen.set()
            api = client.CoordinationV1Api(usurper.api)
            for _ in range(20):  # the leader may renew between our read and our write: 409
                lease = api.read_namespaced_lease("lease", "relctl")
                lease.spec.holder_identity = "usurper"
                lease.spec.renew_time = datetime.now(UTC)
                try:
                    api.replace_namespaced_lease("lease", "relctl", lease)
                    break
                except ApiException as exc:
                    if exc.status != 409:
                        raise
            deadline = time.monotonic() + 10
            while controller.leading and time.monotonic() < deadline:
                time.sleep(0.02)

        eu.after_write = steal
        before = world.log()
        runner = threading.Thread(target=controller.run)
        runner.start()
        try:
            deadline = time.monotonic() + 30
            while controller.view.report is None and time.monotonic() < deadline:
                time.sleep(0.05)
            report = controller.view.report
            assert report is not None and stolen.is_set()
            results = [o.result for o in report.outcomes]
            assert results[0] is Result.DONE  # the action under way finished
            assert results[1:] == [Result.SKIPPED, Result.SKIPPED]
            assert all("lost the lease" in o.detail for o in report.outcomes[1:])
            assert report.commit is None and world.log() == before  # nothing recorded
            assert not controller.leading
            # The loop goes round as a standby (twice, its heartbeat says) and runs no pass.
            for _ in range(2):
                beat = controller.heartbeat
                deadline = time.monotonic() + 10
                while controller.heartbeat == beat and time.monotonic() < deadline:
                    time.sleep(0.02)
                assert controller.heartbeat != beat
            assert controller.view.report is report  # a standby runs no pass
            flags = world.clusters["prod-us"].requests("POST")
            assert not [p for _, p, _ in flags if "featureflags" in p]
        finally:
            controller.stop()
            runner.join(timeout=30)
            usurper.close()
        assert not runner.is_alive()


def test_a_leader_whose_passes_keep_failing_hands_over(tmp_path: Path) -> None:
    """The leader cannot reach the workload clusters (they are black holes to it, with
    deadlines on every call); it fails, reports not ready, gives its lease up, and the
    standby — which reaches them — takes over and reconciles."""
    with (
        World(SHOP, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml") as world,
        Fault("black-hole") as hole,
    ):
        eu = world.clusters["prod-eu"]
        eu.ensure_namespace("relctl")
        settings = ClusterConfig(context="prod-eu", kubeconfig=str(world.kubeconfig))
        blind_config = tmp_path / "blind-kubeconfig"
        text = world.kubeconfig.read_text()
        for sandbox in world.clusters.values():
            text = text.replace(sandbox.url, hole.url)
        blind_config.write_text(text)
        env = {**os.environ, **world.env}

        def blind(config: ControllerConfig, _: Mapping[str, str]) -> Adapters:
            adapters = connect(config, {**env, "KUBECONFIG": str(blind_config)})
            for cluster in adapters.clusters.values():
                cluster.set_timeout(0.3, 0.3)
            return adapters

        def replica(name: str, reconciler: Reconciler) -> Controller:
            elector = Elector(
                KubeCluster.connect("prod-eu", settings, world.env), "relctl", "lease", name, 3
            )
            return Controller(
                reconciler,
                clock=lambda: NOW,
                elector=elector,
                timing=Timing(
                    interval=3600, retry=0.1, backoff=0.1, give_up_after=2, stand_down=30
                ),
            )

        hung = replica("hung", Reconciler(world.controller, env, adapters=blind))
        threads = [threading.Thread(target=hung.run)]
        threads[0].start()
        standby_root = tmp_path / "standby"
        subprocess.run(["git", "clone", "-q", str(world.remote), str(standby_root)], check=True)
        standby = replica("standby", Reconciler(standby_root, env))
        try:
            deadline = time.monotonic() + 30
            while not hung.leading and time.monotonic() < deadline:
                time.sleep(0.02)
            assert hung.leading
            started = time.monotonic()
            threads.append(threading.Thread(target=standby.run))
            threads[1].start()
            while not standby.leading and time.monotonic() < deadline:
                time.sleep(0.02)
            failover = time.monotonic() - started
            assert standby.leading and not hung.leading, (hung.view.report, standby.view.report)
            assert hung.view.report is not None and not hung.view.report.ok
            print(f"failover from a failing leader: {failover:.2f} s")
            while standby.view.report is None and time.monotonic() < deadline:
                time.sleep(0.02)
            assert standby.view.report is not None and standby.view.report.ok
        finally:
            hung.stop()
            standby.stop()
            for thread in threads:
                thread.join(timeout=20)
