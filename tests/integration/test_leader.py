"""Leader election on a Lease in the API emulator: acquire, renew, release on SIGTERM for
an immediate takeover, takeover after expiry when the leader is killed, never two
leaders."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller.adapters.kube import KubeCluster
from controller.adapters.lease import Elector
from controller.manifests.config import ClusterConfig
from controller.sandbox.kube import KubeSandbox


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[KubeSandbox, Path, KubeCluster]]:
    with KubeSandbox() as sandbox:
        sandbox.ensure_namespace("relctl")
        path = sandbox.kubeconfig(tmp_path / "kubeconfig", context="prod")
        kube = KubeCluster.connect(
            "prod", ClusterConfig.model_validate({"context": "prod", "kubeconfig": str(path)})
        )
        yield sandbox, path, kube
        kube.close()


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def holder(sandbox: KubeSandbox) -> str | None:
    leases = sandbox.store.find_type("coordination.k8s.io", "v1", "leases")
    return sandbox.store.get(leases, "relctl", "relctl-controller")["spec"].get("holderIdentity")


def test_acquire_renew_release(cluster: tuple[KubeSandbox, Path, KubeCluster]) -> None:
    sandbox, _, kube = cluster
    clock = Clock()
    a = Elector(kube, "relctl", "relctl-controller", "a", duration=10, clock=clock)
    b = Elector(kube, "relctl", "relctl-controller", "b", duration=10, clock=clock)
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()
    clock.now += 5
    assert a.try_acquire_or_renew() and not b.try_acquire_or_renew()  # renewed
    a.release()
    assert holder(sandbox) is None
    assert b.try_acquire_or_renew() and holder(sandbox) == "b"  # at once, no expiry wait
    assert not a.try_acquire_or_renew()


def test_expired_lease_is_taken_over(cluster: tuple[KubeSandbox, Path, KubeCluster]) -> None:
    sandbox, _, kube = cluster
    clock = Clock()
    a = Elector(kube, "relctl", "relctl-controller", "a", duration=10, clock=clock)
    b = Elector(kube, "relctl", "relctl-controller", "b", duration=10, clock=clock)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock.now += 9.9  # a died and stopped renewing; not expired yet by b's clock
    assert not b.try_acquire_or_renew()
    clock.now += 0.2
    assert b.try_acquire_or_renew() and holder(sandbox) == "b"
    assert not a.try_acquire_or_renew()  # a comes back: b's fresh record is not expired


def test_simultaneous_candidates_never_both_win(
    cluster: tuple[KubeSandbox, Path, KubeCluster],
) -> None:
    _, _, kube = cluster
    for attempt in range(5):
        name = f"race-{attempt}"
        electors = [Elector(kube, "relctl", name, f"c{n}", duration=10) for n in range(4)]
        results: list[bool] = []
        barrier = threading.Barrier(len(electors))

        def campaign(elector: Elector, barrier: threading.Barrier, results: list[bool]) -> None:
            barrier.wait()
            results.append(elector.try_acquire_or_renew())

        threads = [threading.Thread(target=campaign, args=(e, barrier, results)) for e in electors]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(True) == 1


class Candidate:
    """A `relctl leader` process; its role changes are read from its output."""

    def __init__(self, kubeconfig: Path, identity: str) -> None:
        relctl = Path(sys.executable).parent / "relctl"
        self.identity = identity
        self.events: list[tuple[float, bool]] = []
        self.process = subprocess.Popen(
            [
                str(relctl),
                "leader",
                "--kubeconfig",
                str(kubeconfig),
                "--context",
                "prod",
                "--identity",
                identity,
                "--duration",
                "2",
                "--retry",
                "0.1",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.events.append((time.monotonic(), bool(json.loads(line)["leader"])))

    @property
    def leading(self) -> bool:
        return bool(self.events) and self.events[-1][1]

    def wait_for(self, leading: bool, seconds: float) -> float:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.events and self.leading is leading:
                return self.events[-1][0]
            time.sleep(0.02)
        raise AssertionError(f"{self.identity} never became leader={leading}")


def test_processes_take_over_on_sigterm_at_once_and_on_sigkill_after_expiry(
    cluster: tuple[KubeSandbox, Path, KubeCluster],
) -> None:
    sandbox, kubeconfig, _ = cluster
    first = Candidate(kubeconfig, "first")
    first.wait_for(True, 10)
    second = Candidate(kubeconfig, "second")
    second.wait_for(False, 10)
    try:
        stopped = time.monotonic()
        first.process.send_signal(signal.SIGTERM)
        assert first.process.wait(timeout=10) == 0
        took_over = second.wait_for(True, 5)
        assert took_over - stopped < 1.0  # released: no waiting for the 2 s lease to expire
        third = Candidate(kubeconfig, "third")
        third.wait_for(False, 10)
        killed = time.monotonic()
        second.process.kill()  # SIGKILL: nothing released
        took_over = third.wait_for(True, 10)
        assert 1.5 <= took_over - killed <= 5.0  # waits out the lease (2 s), then takes over
        assert holder(sandbox) == "third"
    finally:
        for candidate in (first, second, locals().get("third")):
            if candidate is not None and candidate.process.poll() is None:
                candidate.process.terminate()
                candidate.process.wait(timeout=10)
            if candidate is not None:
                candidate.process.stdout.close()  # type: ignore[union-attr]
                candidate.process.stderr.close()  # type: ignore[union-attr]
