"""`relctl controller` as a process over a sandbox World: started on a free port, its JSON
log lines collected, its endpoints read over HTTP."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families

from controller.sandbox.world import World, git

SECRET = "webhook-secret-for-tests"


class Replica:
    def __init__(
        self, world: World, workdir: Path, identity: str, clock: Path, *extra: str
    ) -> None:
        self.identity = identity
        self.lines: list[str] = []
        self.logs: list[dict[str, Any]] = []
        self._port: int | None = None
        self._ready = threading.Event()
        env = {**os.environ, **world.env, "RELCTL_WEBHOOK_SECRET": SECRET}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "controller",
                "controller",
                "--listen",
                "127.0.0.1:0",
                "--clock-file",
                str(clock),
                "--identity",
                identity,
                *extra,
            ],
            cwd=workdir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._ready.wait(30)
        assert self._port is not None, f"{identity} did not start: {''.join(self.lines)}"
        self.http = httpx.Client(base_url=f"http://127.0.0.1:{self._port}", timeout=10)

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.lines.append(line)
            if "listening on http://" in line:
                self._port = int(line.rsplit(":", 1)[1])
                self._ready.set()
            elif line.startswith("{"):
                self.logs.append(json.loads(line))
        self._ready.set()

    def metrics(self) -> dict[str, float]:
        """`name{label=value,...}` → value, for every sample."""
        found = {}
        for family in text_string_to_metric_families(self.http.get("/metrics").text):
            for sample in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                found[f"{sample.name}{{{labels}}}" if labels else sample.name] = sample.value
        return found

    def passes(self) -> float:
        m = self.metrics()
        return m.get("relctl_passes_total{result=ok}", 0) + m.get(
            "relctl_passes_total{result=error}", 0
        )

    def status(self) -> dict[str, Any]:
        return dict(self.http.get("/api/status").json())

    def logged(self, message: str) -> bool:
        return any(entry.get("msg") == message for entry in self.logs)

    def terminate(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=30)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(timeout=10)

    def close(self) -> None:
        if self.process.poll() is None:
            self.kill()
        self._reader.join(timeout=10)
        if self.process.stderr is not None:
            self.process.stderr.close()
        self.http.close()


def wait_for(what: str, check: Callable[[], object], timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def clone(world: World, name: str) -> Path:
    """Another replica's own working clone of the remote."""
    path = world.workspace / name
    git(world.workspace, "clone", "-q", str(world.remote), str(path))
    return path
