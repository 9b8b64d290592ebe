"""The controller's HTTP server under abuse, over real sockets: chunked bodies, slow
clients, floods, replays, oversized and malformed requests, too many connections."""

from __future__ import annotations

import io
import logging
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from controller.manifests.loading import load
from controller.reconcile import logs, webhooks
from controller.reconcile.http import Limits
from controller.reconcile.loop import Controller, View
from controller.reconcile.passes import Reconciler
from controller.reconcile.server import Server

REPO = Path(__file__).resolve().parents[2]
SECRET = "webhook-secret-for-tests"
BODY = b'{"ref":"refs/heads/main","after":"1f0c2d"}'


@pytest.fixture
def controller(tmp_path: Path) -> Controller:
    controller = Controller(Reconciler(tmp_path, {}))
    state = load(REPO).states[0]
    controller.view = View(state, {}, None, datetime(2026, 11, 23, 12, tzinfo=UTC))
    return controller


@pytest.fixture
def server(controller: Controller) -> Iterator[Server]:
    limits = Limits(idle_timeout=1.0, request_deadline=1.0, max_connections=64)
    server = Server(controller, "127.0.0.1", 0, lambda: SECRET, limits).start()
    try:
        yield server
    finally:
        server.stop()


def raw(server: Server, data: bytes, *, read: bool = True) -> bytes:
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        sock.sendall(data)
        if not read:
            return b""
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
        return b"".join(chunks)


def signed(body: bytes = BODY) -> dict[str, str]:
    return {"X-Hub-Signature-256": webhooks.sign(SECRET, body), "X-GitHub-Event": "push"}


def test_a_chunked_body_is_a_body_not_a_second_request(server: Server) -> None:
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
    head = (
        "POST /webhook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        f"X-Hub-Signature-256: {webhooks.sign(SECRET, BODY)}\r\nConnection: close\r\n\r\n"
    )
    answer = raw(server, head.encode() + chunked)
    assert answer.startswith(b"HTTP/1.1 202 ")
    assert answer.count(b"HTTP/1.1") == 1
    assert server.http.stats.served == 1


def test_slow_clients_are_cut_off(server: Server) -> None:
    socks = []
    for _ in range(20):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=5)
        sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # ... and the rest never comes
        socks.append(sock)
    idle = socket.create_connection(("127.0.0.1", server.port), timeout=5)  # sends nothing
    socks.append(idle)
    try:
        started = time.monotonic()
        for sock in socks:
            assert sock.recv(1024) == b""  # closed by the server
        assert time.monotonic() - started < 5
        assert server.http.stats.cut_off == 21
        assert httpx.get(f"http://127.0.0.1:{server.port}/healthz").status_code == 200
    finally:
        for sock in socks:
            sock.close()


def test_a_trickle_does_not_extend_the_deadline(server: Server) -> None:
    # 34 header bytes, one every 0.1 s: 3.4 s in all, past the 1 s request deadline.
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
        started = time.monotonic()
        for byte in request:
            try:
                sock.sendall(bytes([byte]))
            except OSError:
                break  # the server has closed the connection
            time.sleep(0.1)  # the slow client's pace (this is the fault, not a wait)
        assert sock.recv(1024) == b""  # cut off, never answered
    assert time.monotonic() - started < 5
    assert server.http.stats.cut_off == 1


def test_replayed_deliveries_trigger_one_pass(server: Server, controller: Controller) -> None:
    url = f"http://127.0.0.1:{server.port}/webhook"
    answers = [
        httpx.post(url, content=BODY, headers={**signed(), "X-GitHub-Delivery": f"id-{n}"})
        for n in range(100)
    ]
    assert [a.status_code for a in answers].count(202) == 1
    assert {a.status_code for a in answers[1:]} == {200}
    text = controller.metrics.text().decode()
    assert 'relctl_webhooks_total{outcome="accepted"} 1.0' in text
    assert 'relctl_webhooks_total{outcome="duplicate"} 99.0' in text
    other = b'{"ref":"refs/heads/main","after":"2a9e"}'
    assert httpx.post(url, content=other, headers=signed(other)).status_code == 202


def test_an_unsigned_flood_is_logged_once(server: Server) -> None:
    stream = io.StringIO()
    logs.configure(stream, logging.INFO)
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{server.port}") as http:
            for _ in range(300):
                assert http.post("/webhook", content=b"{}").status_code == 401
    finally:
        logging.getLogger(logs.LOGGER).handlers.clear()
    lines = [line for line in stream.getvalue().splitlines() if "webhook rejected" in line]
    assert len(lines) == 1


def test_oversized_and_malformed_requests(server: Server) -> None:
    big = b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
    assert raw(server, big).startswith(b"HTTP/1.1 413 ")
    assert raw(server, b"NOT HTTP AT ALL\r\n\r\n").startswith(b"HTTP/1.1 400 ")
    huge_header = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 40000 + b"\r\n\r\n"
    answer = raw(server, huge_header)
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 ") or b" 400 " in answer[:20]
    assert httpx.get(f"http://127.0.0.1:{server.port}/nope").status_code == 404
    assert httpx.put(f"http://127.0.0.1:{server.port}/healthz").status_code == 405


def test_connections_beyond_the_limit_are_refused(server: Server) -> None:
    socks = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(64)]
    try:
        deadline = time.monotonic() + 5
        while server.http.stats.open < 64 and time.monotonic() < deadline:
            time.sleep(0.01)
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as extra:
            assert extra.recv(1024) == b""  # closed at once
        assert server.http.stats.refused >= 1
    finally:
        for sock in socks:
            sock.close()


def test_health_answers_fast_under_a_flood(server: Server) -> None:
    base = f"http://127.0.0.1:{server.port}"
    stop = threading.Event()

    def flood(path: str) -> None:
        with httpx.Client(base_url=base, timeout=30) as http:
            while not stop.is_set():
                http.get(path)

    with ThreadPoolExecutor(24) as pool:
        for n in range(24):
            pool.submit(flood, "/calendar.ics" if n % 2 else "/api/status")
        timings = []
        with httpx.Client(base_url=base) as http:
            for _ in range(60):
                started = time.monotonic()
                assert http.get("/healthz").status_code == 200
                timings.append(time.monotonic() - started)
        stop.set()
    # Generous bounds for a noisy machine; bench/http_server.py measures the real figures.
    assert statistics.median(timings) < 0.25
    assert max(timings) < 1.0


def test_the_webhook_secret_is_read_at_each_delivery(
    controller: Controller, tmp_path: Path
) -> None:
    # Started before the Secret was mounted (or with a bad relctl.yaml): once the file is
    # there, deliveries are verified, without a restart; a rotation applies at once.
    from controller.adapters import secrets

    path = tmp_path / "webhook-secret"
    env = {"RELCTL_WEBHOOK_SECRET_FILE": str(path)}

    def secret() -> str | None:
        return secrets.optional(secrets.WEBHOOK_SECRET, env)

    server = Server(controller, "127.0.0.1", 0, secret).start()
    try:
        url = f"http://127.0.0.1:{server.port}/webhook"
        assert httpx.post(url, content=BODY, headers=signed()).status_code == 401
        path.write_text(SECRET + "\n")
        assert httpx.post(url, content=BODY, headers=signed()).status_code == 202
        path.write_text("rotated\n")
        other = b'{"after":"3"}'
        assert httpx.post(url, content=other, headers=signed(other)).status_code == 401
        rotated = {"X-Hub-Signature-256": webhooks.sign("rotated", other)}
        assert httpx.post(url, content=other, headers=rotated).status_code == 202
    finally:
        server.stop()
