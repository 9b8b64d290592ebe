"""Benchmark: how fast /healthz answers while the controller's HTTP server is abused,
for relctl's server (asyncio + h11, rendered-once bodies, liveness on the event loop) and
for the peer it replaced (the standard library's ThreadingHTTPServer, rendering each
request, as relctl had before).

The server runs in a process of its own with the repository's manifests loaded; the
floods run in another process; this one probes /healthz every 20 ms and reports the
median, p99 and max latency, and how many slow connections are still open at the end.

Scenarios: no load; 16 clients flooding /api/status; 100 concurrent /calendar.ics
requests, again and again; 100 slowloris connections (a header byte every second).

    .venv/bin/python bench/http_server.py [--seconds 10]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[1]
NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def serve(impl: str, port_file: Path) -> None:
    """The server under test, until killed."""
    from controller.manifests.loading import load
    from controller.reconcile.loop import Controller, View
    from controller.reconcile.passes import Reconciler
    from controller.reconcile.server import Server, calendar_ics, status_document

    controller = Controller(Reconciler(Path(tempfile.mkdtemp()), {}))
    controller.view = View(load(REPO).states[0], {}, None, NOW)
    if impl == "relctl":
        port = Server(controller, "127.0.0.1", 0, lambda: "secret").start().port
    else:

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            timeout = 15

            def log_message(self, *_: Any) -> None:
                pass

            def do_GET(self) -> None:
                if self.path == "/healthz":
                    body = b"ok\n"
                elif self.path == "/calendar.ics":
                    body = calendar_ics(controller.view) or b""
                else:
                    body = json.dumps(status_document(controller), indent=2).encode()
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        httpd.daemon_threads = True
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        port = httpd.server_address[1]
    port_file.write_text(str(port))
    threading.Event().wait()


def flood(kind: str, port: int, seconds: float) -> None:
    """Load from its own process, so that it does not share the probe's interpreter."""
    base = f"http://127.0.0.1:{port}"
    end = time.monotonic() + seconds

    def status() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < end:
                http.get("/api/status")

    def calendar() -> None:
        with httpx.Client(base_url=base, timeout=60) as http:
            while time.monotonic() < end:
                http.get("/calendar.ics")

    def slowloris() -> None:
        sock = socket.create_connection(("127.0.0.1", port))
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")
        while time.monotonic() < end:
            try:
                sock.sendall(b"X")
            except OSError:
                return  # cut off by the server
            time.sleep(1.0)

    work, count = {"status": (status, 16), "calendar": (calendar, 100)}.get(kind, (slowloris, 100))
    with ThreadPoolExecutor(count) as pool:
        for _ in range(count):
            pool.submit(work)


def probe(port: int, seconds: float) -> list[float]:
    timings = []
    end = time.monotonic() + seconds
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                http.get("/healthz")
            except httpx.HTTPError:
                timings.append(30.0)
                continue
            timings.append(time.monotonic() - started)
            time.sleep(0.02)
    return timings


def open_connections(port: int) -> int:
    """Established connections whose server end is `port`."""
    out = subprocess.run(["ss", "-tn", "state", "established"], capture_output=True, text=True)
    return sum(
        len(parts) >= 4 and parts[2] == f"127.0.0.1:{port}"
        for parts in (line.split() for line in out.stdout.splitlines()[1:])
    )


def scenario(impl: str, kind: str, seconds: float) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as folder:
        port_file = Path(folder) / "port"
        server = subprocess.Popen([sys.executable, __file__, "serve", impl, str(port_file)])
        try:
            while not port_file.exists() or not port_file.read_text():
                time.sleep(0.05)
            port = int(port_file.read_text())
            load = None
            if kind != "idle":
                load = subprocess.Popen(
                    [sys.executable, __file__, "flood", kind, str(port), str(seconds + 2)]
                )
                time.sleep(1.5)  # let the load build up
            timings = probe(port, seconds)
            held = open_connections(port) if kind == "slowloris" else 0
            if load is not None:
                load.kill()
                load.wait()
        finally:
            server.kill()
            server.wait()
    timings.sort()
    return {
        "median_ms": 1000 * statistics.median(timings),
        "p99_ms": 1000 * timings[int(len(timings) * 0.99) - 1],
        "max_ms": 1000 * timings[-1],
        "probes": len(timings),
        "slow_connections_open": held,
    }


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "serve":
        serve(sys.argv[2], Path(sys.argv[3]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "flood":
        flood(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    print("| load | server | /healthz median | p99 | max | slow connections open |")
    print("|---|---|---|---|---|---|")
    for kind in ("idle", "status", "calendar", "slowloris"):
        for impl in ("relctl", "http.server"):
            r = scenario(impl, kind, args.seconds)
            print(
                f"| {kind} | {impl} | {r['median_ms']:.1f} ms | {r['p99_ms']:.1f} ms | "
                f"{r['max_ms']:.1f} ms | {r['slow_connections_open']:.0f} |",
                flush=True,
            )


if __name__ == "__main__":
    main()
