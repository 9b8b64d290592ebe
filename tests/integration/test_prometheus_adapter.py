"""The Prometheus adapter when Prometheus is not there: an error, never a hang, and one
deadline a pass, not one per query."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime, timedelta

from controller.adapters.prometheus import Prometheus

NOW = datetime.now(UTC)


def test_a_prometheus_that_never_answers_costs_one_deadline_until_retried() -> None:
    with socket.socket() as silent:  # accepts connections, never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen(16)
        prometheus = Prometheus(f"http://127.0.0.1:{silent.getsockname()[1]}", timeout=0.5)
        started = time.monotonic()
        readings = [prometheus.instant("up", NOW) for _ in range(5)]
        readings.append(prometheus.mean("up", NOW - timedelta(hours=1), NOW))
        ranged = prometheus.values("up", NOW - timedelta(hours=1), NOW, timedelta(minutes=1))
        elapsed = time.monotonic() - started
        assert all(r.error == "Prometheus did not answer within 0.5 s" for r in readings)
        assert ranged.error == readings[0].error and ranged.values == ()
        assert prometheus.requests == 1 and elapsed < 1.5
        prometheus.retry()
        assert prometheus.instant("up", NOW).error == readings[0].error
        assert prometheus.requests == 2
        prometheus.close()


def test_an_unreachable_prometheus_is_an_error() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed once the block ends
    prometheus = Prometheus(f"http://127.0.0.1:{port}", timeout=2)
    assert prometheus.instant("up", NOW).error.startswith("Prometheus is unreachable")
    assert prometheus.instant("up", NOW).value is None and prometheus.requests == 1
    prometheus.close()
