"""``HearthServer``: the websockets server, HTTP endpoints, purge task and shutdown
(protocol.md §2, §10).

    async with HearthServer(config) as server:   # listening on server.port
        await stop_event.wait()
    # leaving the block: graceful shutdown, every pending write committed
"""

from __future__ import annotations

import asyncio
import contextlib
import http
import ssl
import time
from collections.abc import Callable
from types import TracebackType

import structlog
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.http11 import Request, Response

from hearth_server.config import ServerConfig
from hearth_server.connection import serve_connection
from hearth_server.hooks import Hooks
from hearth_server.hub import Hub
from hearth_server.logs import configure_logging, get_logger
from hearth_server.metrics import Metrics
from hearth_server.storage import Store
from hearth_server.storage.sqlite import SqliteStore

#: Seconds a client refused for ``max_connections`` is told to wait (``Retry-After``).
RETRY_AFTER_FULL = 5


def wall_clock_ms() -> int:
    """Milliseconds since the Unix epoch."""
    return time.time_ns() // 1_000_000


class HearthServer:
    """One Hearth server instance: store, hub, websockets listener, background tasks."""

    def __init__(
        self,
        config: ServerConfig,
        *,
        store: Store | None = None,
        clock_ms: Callable[[], int] = wall_clock_ms,
        hooks: Hooks | None = None,
        _skip_room_rule_for_tests: bool = False,
    ) -> None:
        self.config = config
        self.metrics = Metrics()
        if not structlog.is_configured():
            configure_logging(config.log_level)
        self.log = get_logger()
        self.clock_ms = clock_ms
        if store is None:
            sqlite = SqliteStore(
                config.db,
                clock_ms=clock_ms,
                max_batch=config.commit_batch,
                synchronous=config.sqlite_synchronous,
            )
            sqlite.on_commit = self.metrics.observe_commit
            store = sqlite
        self.store = store
        # ``_skip_room_rule_for_tests`` is for in-process tests ONLY (issue 5: "when a test
        # server forwards it anyway"): the server then accepts handshakes that break the
        # room rule (protocol.md §12.8). No flag or config key can set it.
        self.hub = Hub(
            config,
            store,
            self.metrics,
            clock_ms=clock_ms,
            log=self.log,
            hooks=hooks,
            skip_room_rule=_skip_room_rule_for_tests,
        )
        self._server: Server | None = None
        self._purger: asyncio.Task[None] | None = None
        self._stopped = False

    # ------------------------------------------------------------ lifecycle

    async def start(self) -> None:
        """Open the store, listen, start the purge task."""
        await self.store.open()
        await self.hub.load_ds_key()
        self._server = await serve(
            self._handler,
            self.config.host,
            self.config.port,
            process_request=self._process_request,
            ssl=self._ssl_context(),
            max_size=self.config.max_frame,
            compression="deflate" if self.config.compression else None,
            ping_interval=self.config.ping_interval,
            ping_timeout=self.config.ping_timeout,
            close_timeout=self.config.close_timeout,
            server_header=None,
        )
        self._purger = asyncio.create_task(self._purge_loop(), name="hearth-purge")
        self.log.info("listening", port=self.port, tls=self.config.cert is not None)

    async def stop(self) -> None:
        """Graceful shutdown (protocol.md §6, 1001): refuse new requests, commit every
        pending write (its acks and messages are queued), give outboxes a moment to
        drain, close every connection with 1001, close the store."""
        if self._stopped:
            return
        self._stopped = True
        self.hub.closing = True
        self.log.info("shutting_down", count=len(self.hub.sessions))
        if self._purger is not None:
            self._purger.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._purger
        if self._server is not None:
            self._server.server.close()  # stop accepting; open connections stay for now
        await self.store.close()  # commits what is queued; callbacks queue acks
        flushes = [s.outbox.flushed() for s in list(self.hub.sessions)]
        if flushes:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.config.shutdown_grace):
                    await asyncio.gather(*flushes)
        if self._server is not None:
            self._server.close(close_connections=True)
            await self._server.wait_closed()
        self.log.info("stopped")

    async def __aenter__(self) -> HearthServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def port(self) -> int:
        """The port actually bound (useful with ``port = 0``)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    @property
    def url(self) -> str:
        """The websocket URL of this server on its configured host."""
        scheme = "wss" if self.config.cert is not None else "ws"
        return f"{scheme}://{self.config.host}:{self.port}/ws"

    def _ssl_context(self) -> ssl.SSLContext | None:
        if self.config.cert is None or self.config.key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self.config.cert, self.config.key)
        return context

    # ------------------------------------------------------------ background

    async def purge_now(self) -> int:
        """Apply retention once (protocol.md §10) and drop idle rooms from memory;
        return how many messages went."""
        removed = await self.store.purge_expired(self.clock_ms())
        if removed:
            self.metrics.purged.inc(removed)
            self.log.info("purged", count=removed)
        self.hub.prune_buckets()
        evicted = self.hub.rooms.evict()
        if evicted:
            self.log.debug("rooms_evicted", count=evicted)
        return removed

    async def _purge_loop(self) -> None:
        while True:
            await asyncio.sleep(self.config.purge_interval)
            try:
                await self.purge_now()
            except Exception as exc:  # keep purging later; never crash the server
                self.log.error("purge_failure", error=type(exc).__name__)

    # ------------------------------------------------------------ websockets hooks

    async def _handler(self, ws: ServerConnection) -> None:
        await serve_connection(self.hub, ws)

    def _process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        """protocol.md §2.2: /healthz, /metrics and /ws on one port, GET only."""
        path = request.path.split("?", 1)[0]
        if path not in ("/healthz", "/metrics", "/ws"):
            return conn.respond(http.HTTPStatus.NOT_FOUND, "not found\n")
        if getattr(request, "method", "GET") != "GET":
            return conn.respond(http.HTTPStatus.METHOD_NOT_ALLOWED, "GET only\n")
        if path == "/healthz":
            if self.hub.closing:
                return conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "shutting down\n")
            return conn.respond(http.HTTPStatus.OK, "ok\n")
        if path == "/metrics":
            body, content_type = self.metrics.render(request.headers.get("Accept", ""))
            headers = Headers([("Content-Type", content_type), ("Content-Length", str(len(body)))])
            return Response(200, "OK", headers, body)
        return self._admit_websocket(conn)

    def _admit_websocket(self, conn: ServerConnection) -> Response | None:
        """protocol.md §2.1, §7: refuse the handshake with 503 while ``max_connections``
        websockets are open. Counted in O(1) from the server's set of connections whose
        handler runs (closing ones included until they are gone): ``Server.connections``
        builds a new set on each call, which made connecting n clients cost O(n²)
        (bench/RESULTS.md, connections)."""
        if len(conn.server.all_connections) < self.config.max_connections:
            return None
        self.metrics.connections_refused.inc()
        self.log.warning("connection_refused", reason="max_connections")
        response = conn.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "too many connections\n")
        response.headers["Retry-After"] = str(RETRY_AFTER_FULL)
        return response
