"""A real Prometheus (the `prometheus` binary, Debian's package) on a free port of
127.0.0.1, scraping the sandbox's traffic simulators every second: what the demo and the
tests query. Its data lives in a directory of the caller's and goes with it.

    with PrometheusServer(workdir, {"prod": simulator.address}) as prometheus:
        httpx.get(f"{prometheus.url}/api/v1/query", params={"query": "up"})
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import yaml

SCRAPE_INTERVAL = "1s"


class PrometheusMissing(RuntimeError):
    """No `prometheus` binary on this machine."""


def binary() -> str | None:
    return shutil.which("prometheus")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrometheusServer:
    """`targets`: cluster name → host:port of the traffic simulator of that cluster (its
    series get the label `cluster`)."""

    def __init__(self, workdir: Path, targets: Mapping[str, str]) -> None:
        self.workdir = workdir
        self.targets = dict(targets)
        self.port = 0
        self._process: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> PrometheusServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, ready_within: float = 30.0) -> PrometheusServer:
        found = binary()
        if found is None:
            raise PrometheusMissing(
                "Prometheus is not installed (Debian/Ubuntu: apt-get install prometheus)"
            )
        self.workdir.mkdir(parents=True, exist_ok=True)
        config = self.workdir / "prometheus.yml"
        config.write_text(yaml.safe_dump(self._config()), encoding="utf-8")
        self.port = _free_port()
        log = (self.workdir / "prometheus.log").open("wb")
        self._process = subprocess.Popen(
            [
                found,
                f"--config.file={config}",
                f"--storage.tsdb.path={self.workdir / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1d",
                "--web.enable-lifecycle",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_scraped(ready_within)
        return self

    def _config(self) -> dict[str, object]:
        return {
            "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": "1s"},
            "scrape_configs": [
                {
                    "job_name": f"traffic-{cluster}",
                    "static_configs": [{"targets": [target], "labels": {"cluster": cluster}}],
                }
                for cluster, target in sorted(self.targets.items())
            ],
        }

    def _wait_until_scraped(self, within: float) -> None:
        """Until every target has been scraped once (`up` is 1 for each)."""
        deadline = time.monotonic() + within
        while True:
            assert self._process is not None
            if self._process.poll() is not None:
                log = (self.workdir / "prometheus.log").read_text(errors="replace")
                raise RuntimeError(f"Prometheus exited at start:\n{log[-2000:]}")
            try:
                answer = httpx.get(f"{self.url}/api/v1/query", params={"query": "up"}, timeout=2)
                up = answer.json()["data"]["result"] if answer.status_code == 200 else []
                if len([r for r in up if r["value"][1] == "1"]) >= len(self.targets):
                    return
            except (httpx.HTTPError, ValueError, KeyError):
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Prometheus did not scrape its targets within {within:g} s")
            time.sleep(0.1)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        self._process = None
