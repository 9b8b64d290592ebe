"""`relctl sandbox jira` as a real process: it serves the seed until interrupted."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import DATA


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_sandbox_jira_serves_its_seed() -> None:
    port = _free_port()
    relctl = Path(sys.executable).parent / "relctl"
    process = subprocess.Popen(
        [
            str(relctl),
            "sandbox",
            "jira",
            "--port",
            str(port),
            "--seed",
            str(DATA / "jira" / "shop.yaml"),
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/rest/api/3"
        auth = ("relctl@shop.example", "sandbox-token")
        for _ in range(100):
            try:
                response = httpx.get(f"{url}/project/SHOP/versions", auth=auth)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert [v["name"] for v in response.json()] == ["2026.24", "2026.25"]
        assert httpx.get(f"{url}/myself", auth=("relctl@shop.example", "x")).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=10)
    assert process.returncode == 0
    assert f"on http://127.0.0.1:{port}" in stderr
