"""The receive loop of one websocket connection (protocol.md §2, §3, §5).

Each text message is decoded once (``hearth_core.codec``); a frame that does not
decode, a binary message, a frame before ``hello`` or over the connection's frame
rate gets an ``error`` frame and the connection keeps going. Handlers for one
connection run one after another, in arrival order; ``send`` never waits for storage
(its acknowledgement follows the commit), so a client may pipeline sends.

A connection must say ``hello`` within ``hello_timeout`` (close 4001) and then
authenticate a first identity within ``auth_timeout`` (close 4003, protocol.md §3.2,
§6); only the waits for messages are timed, never a handler.
"""

from __future__ import annotations

import asyncio
import time
import traceback

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from hearth_core.codec import decode_client_frame
from hearth_core.errors import CloseCode, ErrorCode, FrameError
from hearth_core.frames import Hello
from hearth_server.errors import RequestError, StoreError
from hearth_server.handlers import HANDLERS
from hearth_server.hub import Hub
from hearth_server.session import Session


async def serve_connection(hub: Hub, ws: ServerConnection) -> None:
    """Serve one client until it disconnects or is disconnected."""
    session = Session(hub, ws)
    hub.sessions.add(session)
    hub.metrics.connections.inc()
    hub.log.debug("connection_opened", conn=session.conn_id)
    try:
        if not await _handshake(hub, session, ws):
            return
        async for raw in ws:
            await _handle(hub, session, raw)
    except ConnectionClosed:
        pass
    finally:
        session.close_all()
        hub.sessions.discard(session)
        hub.metrics.connections.dec()
        hub.log.debug("connection_closed", conn=session.conn_id, close_code=ws.close_code)


async def _recv_until(ws: ServerConnection, deadline: float) -> str | bytes:
    """The next message; ``TimeoutError`` at ``deadline`` (loop time). Only the wait is
    bounded: a handler is never cancelled half way."""
    async with asyncio.timeout_at(deadline):
        return await ws.recv()


async def _handshake(hub: Hub, session: Session, ws: ServerConnection) -> bool:
    """Wait for ``hello`` within ``hello_timeout`` (close 4001), then for a first
    authenticated identity within ``auth_timeout`` of ``server_hello`` (close 4003),
    handling every frame meanwhile (protocol.md §3.1, §3.2, §6). False once closed."""
    loop = asyncio.get_running_loop()
    phases = (
        ("hello", hub.config.hello_timeout, CloseCode.HELLO_TIMEOUT),
        ("auth", hub.config.auth_timeout, CloseCode.AUTH_TIMEOUT),
    )
    for awaited, timeout, close_code in phases:
        deadline = loop.time() + timeout
        try:
            while session.version is None if awaited == "hello" else not session.identities:
                await _handle(hub, session, await _recv_until(ws, deadline))
        except TimeoutError:
            hub.metrics.handshake_timeouts.labels(awaited).inc()
            hub.log.debug(f"{awaited}_timeout", conn=session.conn_id, close_code=int(close_code))
            await ws.close(close_code, f"no {awaited} in time")
            return False
    return True


async def _handle(hub: Hub, session: Session, raw: str | bytes) -> None:
    """Decode and dispatch one websocket message; every failure becomes an error frame."""
    if isinstance(raw, bytes):
        session.send_error(ErrorCode.BINARY_FRAME, "binary messages are not accepted")
        return
    wait = session.frame_bucket.take(time.monotonic())
    if wait > 0.0:
        session.send_error(ErrorCode.RATE_LIMITED, "frame rate limit exceeded", retry_after=wait)
        return
    try:
        frame = decode_client_frame(raw)
    except FrameError as exc:
        session.send_error(exc.code, exc.message, field=exc.field)
        return
    ref: int | None = getattr(frame, "ref", None)
    hub.metrics.frame_counter(type(frame)).inc()
    if session.version is None and not isinstance(frame, Hello):
        session.send_error(ErrorCode.HELLO_REQUIRED, "say hello first", ref=ref)
        return
    if hub.closing:
        session.send_error(ErrorCode.SHUTTING_DOWN, "the server is shutting down", ref=ref)
        return
    try:
        await HANDLERS[type(frame)](hub, session, frame)
    except RequestError as exc:
        session.send_error(
            exc.code,
            exc.message,
            ref=ref,
            room=exc.room,
            retry_after=exc.retry_after,
            field=exc.field,
            epoch=exc.epoch,
        )
    except FrameError as exc:  # a hearth_core check on MLS bytes (protocol.md §5.6)
        session.send_error(exc.code, exc.message, ref=ref, field=exc.field)
    except StoreError as exc:
        hub.log.error("store_failure", conn=session.conn_id, error=type(exc).__name__)
        session.send_error(ErrorCode.INTERNAL, "storage failed; retry later", ref=ref)
    except Exception as exc:  # a bug: report it without the exception's message (may hold data)
        hub.log.error(
            "handler_failure",
            conn=session.conn_id,
            error=type(exc).__name__,
            trace="".join(traceback.format_tb(exc.__traceback__)),
        )
        session.send_error(ErrorCode.INTERNAL, "internal error", ref=ref)
