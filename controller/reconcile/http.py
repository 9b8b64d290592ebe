"""A small HTTP/1.1 server on asyncio and h11 (the protocol library httpx is built on),
for the controller's endpoints. It exists for the guarantees `http.server` lacks:

- a request must arrive whole (headers and body) within `request_deadline` seconds of its
  first byte, and the first byte within `idle_timeout` of the connection opening or the
  last response: slow clients are cut off, never held;
- h11 parses the request, so a chunked body is a body (never a second request), and
  headers and bodies are bounded (`max_header_bytes`, `max_body`);
- at most `max_connections` connections are open; more are refused at once;
- a handler marked `inline` (health, readiness) answers on the event loop itself, so it
  never waits behind a slow or heavy request; the others run on a small thread pool
  whose size bounds the work they can do at once;
- a response that the client does not read within `write_timeout` ends the connection.

It knows nothing of relctl: routes map (method, path) to handlers returning a `Reply`; a
route whose path is `*` answers every other path of its method.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import h11


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    """Lower-case names."""
    body: bytes
    peer: str


@dataclass(frozen=True)
class Reply:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"
    headers: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Route:
    handler: Callable[[Request], Reply]
    inline: bool = False
    """Answer on the event loop: only for handlers that never block."""


@dataclass
class Limits:
    idle_timeout: float = 5.0
    request_deadline: float = 10.0
    write_timeout: float = 10.0
    max_connections: int = 128
    max_header_bytes: int = 16 * 1024
    max_body: int = 1 << 20
    workers: int = 4


@dataclass
class Stats:
    """Counters for tests and metrics."""

    open: int = 0
    refused: int = 0
    cut_off: int = 0
    served: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class HttpServer:
    """Serves `routes` on (host, port) from a thread of its own; port 0 picks one."""

    def __init__(
        self,
        routes: Mapping[tuple[str, str], Route],
        host: str,
        port: int,
        limits: Limits | None = None,
        not_found: Callable[[Request], Reply] | None = None,
    ) -> None:
        self.routes = dict(routes)
        self.limits = limits or Limits()
        self.not_found = not_found or (lambda _: Reply(404, b"not found\n"))
        self.stats = Stats()
        self._pool = ThreadPoolExecutor(self.limits.workers, thread_name_prefix="http-work")
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.Server | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._run, name="http", daemon=True)
        self._failure: BaseException | None = None
        self._address = (host, port)

    @property
    def port(self) -> int:
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def start(self) -> HttpServer:
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure
        return self

    def stop(self) -> None:
        """Stop listening, end every open connection, and return when the thread is done."""
        if self._loop.is_running():
            done = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
            with contextlib.suppress(Exception):
                done.result(timeout=10)
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._pool.shutdown(wait=False, cancel_futures=True)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        current = asyncio.current_task()
        tasks = [t for t in asyncio.all_tasks() if t is not current]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._server = self._loop.run_until_complete(
                asyncio.start_server(self._connection, *self._address, backlog=256)
            )
        except OSError as exc:
            self._failure = exc
            self._ready.set()
            return
        self._ready.set()
        try:
            self._loop.run_forever()
        finally:
            self._server.close()
            with contextlib.suppress(Exception):
                self._loop.run_until_complete(self._server.wait_closed())
            self._loop.close()

    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        stats = self.stats
        with stats.lock:
            if stats.open >= self.limits.max_connections:
                stats.refused += 1
                writer.close()
                return
            stats.open += 1
        peer = str(writer.get_extra_info("peername") or "")
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.limits.max_header_bytes)
        try:
            while True:
                try:
                    request = await self._receive(conn, reader, peer)
                except TimeoutError:
                    with stats.lock:
                        stats.cut_off += 1
                    return
                if request is None:
                    return
                if isinstance(request, Reply):  # the request itself was refused
                    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        await self._send(conn, writer, request, close=True, head=False)
                    return
                reply = await self._dispatch(request)
                keep = conn.our_state is h11.SEND_RESPONSE and conn.their_state is h11.DONE
                head = request.method == "HEAD"
                await self._send(conn, writer, reply, close=not keep, head=head)
                with stats.lock:
                    stats.served += 1
                if conn.our_state is h11.MUST_CLOSE or not keep:
                    return
                conn.start_next_cycle()
        except (ConnectionError, h11.LocalProtocolError, TimeoutError, asyncio.CancelledError):
            return
        finally:
            with stats.lock:
                stats.open -= 1
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _receive(
        self, conn: h11.Connection, reader: asyncio.StreamReader, peer: str
    ) -> Request | Reply | None:
        """The next whole request, None when the client is done, or a refusal."""
        limits = self.limits
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        head: h11.Request | None = None
        body = bytearray()
        while True:
            try:
                event = conn.next_event()
            except h11.RemoteProtocolError as exc:
                status = exc.error_status_hint
                return Reply(status, f"bad request: {exc}\n".encode())
            if event is h11.NEED_DATA:
                now = loop.time()
                timeout = limits.idle_timeout if deadline is None else deadline - now
                if timeout <= 0:
                    raise TimeoutError
                async with asyncio.timeout(timeout):
                    data = await reader.read(65536)
                if deadline is None and data:
                    deadline = loop.time() + limits.request_deadline
                conn.receive_data(data)
                continue
            if isinstance(event, h11.Request):
                head = event
                size = len(event.target) + sum(len(k) + len(v) + 4 for k, v in event.headers)
                if size > limits.max_header_bytes:
                    return Reply(431, b"request headers too large\n")
                length = _content_length(event)
                if length is not None and length > limits.max_body:
                    return Reply(413, b"body too large\n")
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > limits.max_body:
                    return Reply(413, b"body too large\n")
            elif isinstance(event, h11.EndOfMessage):
                assert head is not None
                target = head.target.decode("latin-1")
                path, _, query = target.partition("?")
                headers = {
                    k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers
                }
                return Request(head.method.decode("ascii"), path, query, headers, bytes(body), peer)
            elif isinstance(event, h11.ConnectionClosed):
                return None
            else:  # pragma: no cover - h11 has no other server-side events
                return None

    async def _dispatch(self, request: Request) -> Reply:
        method = "GET" if request.method == "HEAD" else request.method
        route = self.routes.get((method, request.path)) or self.routes.get((method, "*"))
        if route is None:
            known = {p for _, p in self.routes}
            if request.path in known:
                return Reply(405, b"method not allowed\n")
            return self.not_found(request)
        if route.inline:
            return route.handler(request)
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, route.handler, request)
        except Exception:  # noqa: BLE001 - one failed request never ends the server
            return Reply(500, b"internal error\n")

    async def _send(
        self,
        conn: h11.Connection,
        writer: asyncio.StreamWriter,
        reply: Reply,
        *,
        close: bool,
        head: bool,
    ) -> None:
        headers = [
            ("Content-Type", reply.content_type),
            ("Content-Length", str(len(reply.body))),
            ("Cache-Control", "no-store"),
            ("Server", "relctl"),
            *reply.headers,
        ]
        if close:
            headers.append(("Connection", "close"))
        parts = [conn.send(h11.Response(status_code=reply.status, headers=headers))]
        if not head and reply.body:
            parts.append(conn.send(h11.Data(data=reply.body)))
        parts.append(conn.send(h11.EndOfMessage()))
        writer.write(b"".join(p for p in parts if p))
        async with asyncio.timeout(self.limits.write_timeout):
            await writer.drain()


def _content_length(event: h11.Request) -> int | None:
    for name, value in event.headers:
        if name.lower() == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
