"""A lean RFC 6455 client for the load generator: asyncio.Protocol, no per-frame coroutines.

The load generator must not be the bottleneck on a 2-core machine where it shares
the CPU with the server it measures. The ``websockets`` client spends tens of
microseconds of Python per received frame; this one parses unmasked server frames
in a single ``data_received`` loop and hands each text message to a callback.
It masks what it sends (RFC 6455 §5.3, with ``websockets``' C ``apply_mask``),
answers pings (§5.5.2) and closes (§5.5.1). It offers no extension, so no
compression is negotiated (§9). Only loopback addresses are used by the benchmarks.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import random
import struct
from collections.abc import Callable
from typing import cast

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the wheel ships the C extension
    from websockets.utils import apply_mask

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"  # RFC 6455 §1.3
OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA

MessageCallback = Callable[[bytes], None]


class WebSocketClientError(Exception):
    """The server broke the handshake or framing (the peer's fault), or the link closed."""


def frame(opcode: int, payload: bytes) -> bytes:
    """One final, masked client frame (RFC 6455 §5.2)."""
    mask = random.randbytes(4)
    length = len(payload)
    if length < 126:
        header = struct.pack("!BB", 0x80 | opcode, 0x80 | length)
    elif length < 65536:
        header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, length)
    else:
        header = struct.pack("!BBQ", 0x80 | opcode, 0x80 | 127, length)
    return header + mask + apply_mask(payload, mask)


class RawWebSocket(asyncio.Protocol):
    """One client connection. Set :attr:`on_message` to receive text and binary messages."""

    def __init__(self, host: str, port: int, path: str, subprotocol: str | None) -> None:
        self.on_message: MessageCallback | None = None
        self.transport: asyncio.Transport | None = None
        self.closed: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self.open: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox: asyncio.Queue[bytes] = asyncio.Queue()  # used when on_message is None
        self._key = base64.b64encode(os.urandom(16))
        self._request = (
            f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {self._key.decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n"
            + (f"Sec-WebSocket-Protocol: {subprotocol}\r\n" if subprotocol else "")
            + "\r\n"
        ).encode()
        self._buffer = bytearray()
        self._fragments: list[bytes] = []
        self._fragment_opcode = 0
        self.close_code = 0

    # ------------------------------------------------------------------ asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast("asyncio.Transport", transport)  # uvloop's is not a subclass
        self.transport.write(self._request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.open.done():
            self.open.set_exception(WebSocketClientError(f"connection lost in handshake: {exc}"))
        if not self.closed.done():
            self.closed.set_result(self.close_code or 1006)

    def data_received(self, data: bytes) -> None:
        buffer = self._buffer
        buffer += data
        if not self.open.done():
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            self._check_handshake(bytes(buffer[:end]))
            del buffer[: end + 4]
            if self.open.done() and self.open.exception() is not None:
                return
        self._parse(buffer)

    # ------------------------------------------------------------------ protocol
    def _check_handshake(self, head: bytes) -> None:
        lines = head.split(b"\r\n")
        if not lines[0].startswith(b"HTTP/1.1 101"):
            self.open.set_exception(WebSocketClientError(f"handshake refused: {lines[0]!r}"))
            self._abort()
            return
        expected = base64.b64encode(hashlib.sha1(self._key + GUID).digest())
        headers = {
            k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])
        }
        if headers.get(b"sec-websocket-accept") != expected:
            self.open.set_exception(WebSocketClientError("bad Sec-WebSocket-Accept"))
            self._abort()
            return
        self.open.set_result(None)

    def _parse(self, buffer: bytearray) -> None:
        offset = 0
        size = len(buffer)
        while size - offset >= 2:
            first, second = buffer[offset], buffer[offset + 1]
            if second & 0x80:
                self._fail("server frame is masked (RFC 6455 §5.1)")
                return
            length = second & 0x7F
            start = offset + 2
            if length == 126:
                if size - start < 2:
                    break
                length = (buffer[start] << 8) | buffer[start + 1]
                start += 2
            elif length == 127:
                if size - start < 8:
                    break
                (length,) = struct.unpack_from("!Q", buffer, start)
                start += 8
            end = start + length
            if end > size:
                break
            payload = bytes(buffer[start:end])
            offset = end
            self._frame(first & 0x80, first & 0x0F, payload)
        if offset:
            del buffer[:offset]

    def _frame(self, fin: int, opcode: int, payload: bytes) -> None:
        if opcode in (OP_TEXT, OP_BINARY):
            if fin:
                self._deliver(payload)
            else:
                self._fragment_opcode, self._fragments = opcode, [payload]
        elif opcode == OP_CONT:
            self._fragments.append(payload)
            if fin:
                whole, self._fragments = b"".join(self._fragments), []
                self._deliver(whole)
        elif opcode == OP_PING:
            self._write(frame(OP_PONG, payload))
        elif opcode == OP_CLOSE:
            self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
            self._write(frame(OP_CLOSE, payload[:2]))
            self._abort()

    def _deliver(self, payload: bytes) -> None:
        if self.on_message is not None:
            self.on_message(payload)
        else:
            self.inbox.put_nowait(payload)

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _fail(self, reason: str) -> None:
        self.close_code = 1002
        if not self.closed.done():
            self.closed.set_exception(WebSocketClientError(reason))
        self._abort()

    def _abort(self) -> None:
        if self.transport is not None:
            self.transport.close()

    # ------------------------------------------------------------------ API
    def send_text(self, payload: bytes) -> None:
        """Queue one text message (the caller guarantees UTF-8)."""
        self._write(frame(OP_TEXT, payload))

    async def recv(self, within: float) -> bytes:
        """The next message when no callback is set (used for request/response set-up)."""
        return await asyncio.wait_for(self.inbox.get(), within)

    def close(self) -> None:
        """Send a normal close (1000) and drop the connection."""
        self._write(frame(OP_CLOSE, struct.pack("!H", 1000)))
        self._abort()


async def connect(
    host: str, port: int, path: str = "/", *, subprotocol: str | None = None, within: float = 30
) -> RawWebSocket:
    """Open a client connection to ``ws://host:port/path`` and finish the handshake."""
    loop = asyncio.get_running_loop()
    _, protocol = await asyncio.wait_for(
        loop.create_connection(lambda: RawWebSocket(host, port, path, subprotocol), host, port),
        within,
    )
    await asyncio.wait_for(asyncio.shield(protocol.open), within)
    return protocol
