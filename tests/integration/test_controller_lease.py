"""A leader that loses its Lease in the middle of a pass stops before its next action and
records nothing: the new leader will plan the rest from the same records, as after a
crash. The controller runs in-process over the emulators and a bare remote."""

from __future__ import annotations

import os
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from kubernetes import client

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.manifests.config import ClusterConfig
from controller.reconcile.executor import Result
from controller.reconcile.loop import Controller, Timing
from controller.reconcile.passes import Reconciler
from controller.sandbox.world import World

REPO = Path(__file__).resolve().parents[2]
NOW = datetime(2026, 11, 23, 11, tzinfo=UTC)


def test_a_leader_that_loses_the_lease_mid_pass_stops_and_records_nothing(
    tmp_path: Path,
) -> None:
    with World(REPO, tmp_path, jira_seed=REPO / "tests/data/jira/shop.yaml") as world:
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
            lease = api.read_namespaced_lease("lease", "relctl")
            lease.spec.holder_identity = "usurper"
            lease.spec.renew_time = datetime.now(UTC)
            api.replace_namespaced_lease("lease", "relctl", lease)
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
            time.sleep(0.5)
            assert not controller.leading
            assert controller.view.report is report  # a standby runs no pass
            flags = world.clusters["prod-us"].requests("POST")
            assert not [p for _, p, _ in flags if "featureflags" in p]
        finally:
            controller.stop()
            runner.join(timeout=30)
            usurper.close()
        assert not runner.is_alive()
