"""Network faults on 127.0.0.1 for fault-injection tests: a black hole (accepts, never
answers), a resetter (accepts, then resets the connection), and an overloaded server
(answers every request 503, or 429 with Retry-After)."""

from __future__ import annotations

import socket
import struct
import threading


class Fault:
    """A TCP listener on a free port of 127.0.0.1 that misbehaves in one way."""

    def __init__(self, kind: str) -> None:
        assert kind in ("black-hole", "reset", "503", "429")
        self.kind = kind
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.sock.getsockname()[1])
        self.held: list[socket.socket] = []
        self.accepted = 0
        self._stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Fault:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self.held:
            conn.close()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            if self.kind == "black-hole":
                self.held.append(conn)  # read nothing, answer nothing
            elif self.kind in ("503", "429"):
                conn.recv(65536)
                reason = "Service Unavailable" if self.kind == "503" else "Too Many Requests"
                conn.sendall(
                    f"HTTP/1.1 {self.kind} {reason}\r\nRetry-After: 1\r\n"
                    "Content-Type: application/json\r\nContent-Length: 2\r\n"
                    "Connection: close\r\n\r\n{}".encode()
                )
                conn.close()
            else:
                conn.recv(65536)
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()  # RST
