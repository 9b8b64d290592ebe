"""HTTP plumbing both emulators share: a threaded server on which a client hanging up is
not an error, and a request handler base that keeps connections alive (HTTP/1.1) and
stderr quiet (each emulator keeps its own request log)."""

from __future__ import annotations

import ssl
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    scheme = "http"

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (a timeout test, say), or whose TLS handshake failed, is
        not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], ConnectionError | ssl.SSLError):
            return
        super().handle_error(request, client_address)

    def use_tls(self, cert: Path, key: Path) -> None:
        """Serve HTTPS with this certificate (the handshake happens in each connection's
        own thread, so a slow client holds up no other)."""
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.socket = context.wrap_socket(
            self.socket, server_side=True, do_handshake_on_connect=False
        )
        self.scheme = "https"

    def start(self, name: str) -> None:
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True, name=name).start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"{self.scheme}://{host!s}:{port}"


class QuietHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    """A reply's headers and body go out as written: with Nagle's algorithm the body waits
    for the client's delayed ACK of the headers, some 40 ms a request on loopback."""

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.settimeout(10)
            self.request.do_handshake()
            self.request.settimeout(None)
        super().setup()

    def body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def lowered_headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def log_message(self, format: str, *args: Any) -> None:
        return
