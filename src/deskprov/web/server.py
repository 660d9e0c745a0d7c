"""aiohttp's HTTP server with what an unauthenticated client may hold bounded.

aiohttp bounds one header line (8 KiB) and the number of headers (64), not their sum, nor how
many connections nobody has authenticated: 300 sockets each trickling 60 headers of 8 KiB held
~1 MB apiece. Here a connection may send at most ``head_bytes`` of request head before its
request is parsed (more and it is cut off), and at most ``untrusted`` connections that have not
yet shown a valid token, API key or session are kept: a new one beyond that closes the oldest
idle one. A body nobody vouched for is not read: the connection is closed after the answer.
After an attack (many connections cut off, few left), memory is handed back to the system.

aiohttp's own answers to requests it cannot parse carry the parser's message, which quotes the
request line (a provisioning token included): here they are a bare status.

``GuardedRunner`` is aiohttp's ``AppRunner`` with these. ``run`` serves one process: the
applications on listening sockets it is given (``deskprov.sockets`` binds them first: a taken
port fails at once, and a supervisor hands the same sockets to a worker it restarts); then the
applications start (the database is brought up to date, the key file read), and only then does
the process say where it listens. The phones' listener and, when ``DESKPROV_ADMIN_PORT`` is set,
the management listener each get their own guarded runner.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import socket
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.streams import StreamReader
from aiohttp.web_protocol import RequestHandler

from deskprov.security.tls import LiveTls
from deskprov.settings import Settings
from deskprov.sockets import BACKLOG, Listeners
from deskprov.web.accesslog import RedactingAccessLogger, batch_access_log
from deskprov.web.limits import HTTP_LIMITS

log = logging.getLogger(__name__)


RELEASE_EVERY = 30.0  # seconds at least between two releases of memory


@dataclass(frozen=True)
class ConnectionLimits:
    # Bytes of request head (request line and headers) a connection may send before its
    # request is parsed. A phone's head is ~300 bytes, a browser's with cookies a few KiB.
    head_bytes: int = 16 * 1024
    # Connections kept open that have not yet carried an authenticated request. A phone's
    # connection counts until its token is checked (a few milliseconds).
    untrusted: int = 1024
    # After this many connections were cut off (head too long, evicted, a body left unread),
    # memory is handed back once few connections are left open.
    release_after: int = 100


class Connection(RequestHandler):
    """One client connection: counts the bytes of each request head as they arrive."""

    __slots__ = ("_body", "_guard", "_head_bytes", "trusted")

    def __init__(self, guard: GuardedServer, **kwargs: Any) -> None:
        super().__init__(guard, **kwargs)
        self._guard = guard
        self._head_bytes = 0
        self._body: StreamReader | None = None  # the body being received, if any
        self.trusted = False

    def data_received(self, data: bytes) -> None:
        body = self._body
        in_head = body is None or body.is_eof()  # (else these are bytes of a body)
        parsed = self._request_count
        super().data_received(data)
        if self._request_count != parsed:  # a head was parsed: count the next one afresh
            # (a head that came whole in one large read is measured once parsed)
            long = in_head and self._head_bytes + len(data) > self._guard.limits.head_bytes
            self._head_bytes = 0
            self._body = self._messages[-1][1] if self._messages else None
            if long and any(_head_size(m) > self._guard.limits.head_bytes for m in self._messages):
                self._cut()
        elif in_head:
            self._head_bytes += len(data)
            if self._head_bytes > self._guard.limits.head_bytes:
                self._cut()

    def _cut(self) -> None:
        self._guard.cut += 1
        self._messages.clear()
        if self.transport is not None:
            self.transport.abort()  # (at once: what the parser holds is freed)

    async def finish_response(
        self, request: web.BaseRequest, resp: web.StreamResponse, start_time: float | None
    ) -> tuple[web.StreamResponse, bool]:
        """After the answer, a body nobody vouched for is not read to its end (aiohttp would
        read and drop it for up to 10 s, buffering as it goes): the connection is closed."""
        answered = await super().finish_response(request, resp, start_time)
        if not self.trusted and not request.content.is_eof():
            self._guard.cut += 1
            self.force_close()
        return answered

    def handle_error(
        self,
        request: Any,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """aiohttp's answer, without its body (the parser's message quotes the request)."""
        answer = super().handle_error(request, status, exc, message)
        response = web.Response(status=answer.status)
        response.force_close()
        return response

    def trust(self) -> None:
        if not self.trusted:
            self.trusted = True
            self._guard.untrusted.pop(self, None)


def _head_size(message: tuple[Any, Any]) -> int:
    head = message[0]
    raw = getattr(head, "raw_headers", None)  # (None for a request the parser refused)
    if raw is None:
        return 0
    return len(head.path) + sum(len(name) + len(value) + 4 for name, value in raw)


class GuardedServer(web.Server):
    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limits = limits
        self.untrusted: OrderedDict[Connection, None] = OrderedDict()  # oldest first
        self.cut = 0  # connections cut off since memory was last released
        self._open = 0
        self._release_due = 0.0
        self._released = -RELEASE_EVERY

    def __call__(self) -> Connection:
        return Connection(self, loop=self._loop, **self._kwargs)

    def connection_made(self, handler: RequestHandler, transport: asyncio.Transport) -> None:
        super().connection_made(handler, transport)
        if isinstance(handler, Connection):
            self.untrusted[handler] = None
            if len(self.untrusted) > self.limits.untrusted:
                self._evict()
        self._open += 1

    def connection_lost(self, handler: RequestHandler, exc: BaseException | None = None) -> None:
        super().connection_lost(handler, exc)
        self._open -= 1
        if isinstance(handler, Connection):
            self.untrusted.pop(handler, None)
        # After an attack (many connections cut off, few left open), memory goes back to the
        # system, at most once every RELEASE_EVERY seconds.
        if (
            self.cut >= self.limits.release_after
            and self._open <= self.limits.release_after // 4
            and not self._release_due
        ):
            self.cut = 0
            now = self._loop.time()
            self._release_due = max(now + 1.0, self._released + RELEASE_EVERY)
            self._loop.call_at(self._release_due, self._release)

    def _release(self) -> None:
        self._release_due = 0.0
        self._released = self._loop.time()
        release_memory()
        log.info(
            "memory released after connections were cut off (%.0f ms)",
            (self._loop.time() - self._released) * 1000,
        )

    def _evict(self) -> None:
        """Close the oldest untrusted connection that is not in the middle of a request."""
        for conn in self.untrusted:
            if not conn._request_in_progress:
                break
        else:
            return
        del self.untrusted[conn]
        self.cut += 1
        if conn.transport is not None:
            conn.transport.abort()


class GuardedRunner(web.AppRunner):
    __slots__ = ("_limits",)

    def __init__(
        self, app: web.Application, *, limits: ConnectionLimits | None = None, **kwargs: Any
    ) -> None:
        super().__init__(app, **kwargs)
        self._limits = limits or ConnectionLimits()

    async def _make_server(self) -> web.Server:
        plain = await super()._make_server()  # (the application started, as aiohttp does it)
        return GuardedServer(
            plain.request_handler,
            request_factory=plain.request_factory,
            handler_cancellation=plain.handler_cancellation,
            loop=plain._loop,
            limits=self._limits,
            **plain._kwargs,
        )


def trust(request: web.BaseRequest) -> None:
    """The request carried a valid token, API key or session: its connection no longer
    counts as unauthenticated."""
    conn = request.protocol
    if isinstance(conn, Connection) and not conn.trusted:
        conn.trust()


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``, if the C library has one (looked up in the process itself:
    ``ctypes.util.find_library`` would run ``ldconfig``)."""
    try:
        return getattr(ctypes.CDLL(None), "malloc_trim", None)
    except OSError:
        return None


def release_memory() -> None:
    """Free what the cut-off connections left behind and give it back to the system. They
    leave reference cycles that outlive the collector's young generations (``deskprov serve``
    raises its thresholds), so this is a full collection, which walks the long-lived caches too
    (~20-40 ms in a small server; more with many phones' caches): hence only after an attack
    and at most once every ``RELEASE_EVERY`` seconds. Then the C allocator's free pages (glibc
    keeps them otherwise)."""
    gc.collect()
    trim = _malloc_trim()
    if trim is not None:
        trim(0)


def run(
    settings: Settings,
    listeners: Listeners,
    *,
    tls: LiveTls | None = None,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Serve until SIGTERM or SIGINT."""
    # The cyclic garbage collector, at its defaults, walks the server's long-lived caches
    # (tokens, user agents, rendered files, URL states) often enough to stall the loop for
    # 100-300 ms: p99 of cached fetches at 10,000 phones was 290 ms, 23 ms with the young
    # generation collected every 50,000 allocations instead of 700. Older generations still
    # get collected.
    gc.set_threshold(50_000, 20, 100)
    with contextlib.suppress(web.GracefulExit, KeyboardInterrupt):
        asyncio.run(_serve(settings, listeners, tls, on_ready))


async def _serve(
    settings: Settings,
    listeners: Listeners,
    tls: LiveTls | None,
    on_ready: Callable[[], None] | None,
) -> None:
    # (here: the application's handlers import this module)
    from deskprov.app import create_apps
    from deskprov.appkeys import SERVICES

    access_log = logging.getLogger("aiohttp.access")
    if settings.access_log:
        batch_access_log(access_log, as_json=settings.log_format == "json")
    apps = create_apps(settings)
    context = tls.context if tls else None
    runners: list[GuardedRunner] = []
    management = "management API, admin pages, /metrics"
    sides: list[tuple[web.Application, Sequence[socket.socket], str]] = [
        (apps.phones, listeners.phones, "phones" if apps.admin else f"phones, {management}")
    ]
    if apps.admin is not None:
        sides.append((apps.admin, listeners.admin, management))
    try:
        for app, sockets, what in sides:
            runner = GuardedRunner(
                app,
                handle_signals=not runners,
                access_log=access_log if settings.access_log else None,
                access_log_class=RedactingAccessLogger,
                **HTTP_LIMITS,
            )
            await runner.setup()  # (the phones' app first: it opens the database)
            runners.append(runner)
            if app is apps.phones:
                app[SERVICES].phone.renderer.warm()
            for sock in sockets:
                site = web.SockSite(runner, sock, ssl_context=context, backlog=BACKLOG)
                await site.start()
                log.info("listening on %s (%s)", _url(sock, context is not None), what)
        if on_ready is not None:
            on_ready()
        while True:
            await asyncio.sleep(1)
            if tls is not None:
                tls.refresh()
    finally:
        for runner in reversed(runners):
            await runner.cleanup()


def _url(sock: socket.socket, secure: bool) -> str:
    host, port = sock.getsockname()[:2]
    host = f"[{host}]" if ":" in host else host
    return f"{'https' if secure else 'http'}://{host}:{port}"
