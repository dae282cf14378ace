"""A minimal protocol-level client for tests (protocol.md §3, §4).

It speaks the wire protocol with the real codec and real Ed25519 keys, keeps every
frame it receives, and lets a test wait for the one it needs::

    client = await ProtocolClient.connect(url)
    await client.hello()
    me = await client.new_identity()
    created = await client.request(CreateRoom(identity=me, pseudonym="river"))
"""

from __future__ import annotations

import asyncio
import itertools
import os
import ssl
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from hearth_core.auth import sign_challenge
from hearth_core.codec import decode_server_frame, encode_frame
from hearth_core.frames import Auth, Authed, Error, Hello, Message, ServerFrame, ServerHello

#: One scaled time unit for every timeout in the server tests (no timing asserts).
UNIT = float(os.environ.get("HEARTH_TEST_UNIT", "1.0"))
TIMEOUT = 10 * UNIT
F = TypeVar("F")


class ClientClosedError(Exception):
    """The server closed the connection before the expected frame arrived."""


class ProtocolClient:
    """One websocket connection speaking protocol v1."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.frames: list[ServerFrame] = []
        self._arrived = asyncio.Event()
        self._refs = itertools.count(1)
        self.keys: dict[bytes, Ed25519PrivateKey] = {}
        self.server_hello: ServerHello | None = None
        self.closed = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def connect(
        cls, url: str, *, ssl_context: ssl.SSLContext | None = None, **kwargs: Any
    ) -> ProtocolClient:
        ws = await connect(url, ssl=ssl_context, compression=None, open_timeout=TIMEOUT, **kwargs)
        return cls(ws)

    async def _read(self) -> None:
        try:
            async for raw in self.ws:
                self.frames.append(decode_server_frame(raw))
                self._arrived.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._arrived.set()

    @property
    def close_code(self) -> int | None:
        return self.ws.close_code

    async def close(self) -> None:
        await self.ws.close()
        await self._reader

    # ------------------------------------------------------------ sending

    async def send_frame(self, frame: msgspec.Struct) -> None:
        await self.ws.send(encode_frame(frame), text=True)

    async def send_raw(self, data: str | bytes, *, text: bool | None = None) -> None:
        await self.ws.send(data, text=text)

    async def request(self, frame: F, within: float = TIMEOUT) -> Any:
        """Send ``frame`` with a fresh ``ref`` and return the answer carrying that ref."""
        ref = next(self._refs)
        frame = msgspec.structs.replace(frame, ref=ref)  # type: ignore[type-var]
        await self.send_frame(frame)  # type: ignore[arg-type]
        return await self.wait_for(lambda f: getattr(f, "ref", None) == ref, within)

    async def ok(self, frame: Any, within: float = TIMEOUT) -> Any:
        """Like ``request`` but fail the test on an ``error`` answer."""
        answer = await self.request(frame, within)
        assert not isinstance(answer, Error), answer
        return answer

    # ------------------------------------------------------------ receiving

    async def wait_for(
        self, predicate: Callable[[ServerFrame], bool], within: float = TIMEOUT
    ) -> ServerFrame:
        """Remove and return the first received frame matching ``predicate``."""
        async with asyncio.timeout(within):
            while True:
                for index, frame in enumerate(self.frames):
                    if predicate(frame):
                        return self.frames.pop(index)
                if self.closed:
                    raise ClientClosedError(f"closed with {self.close_code}")
                self._arrived.clear()
                await self._arrived.wait()

    async def next_of(self, kind: type[F], within: float = TIMEOUT) -> F:
        """The next frame of type ``kind``."""
        frame = await self.wait_for(lambda f: isinstance(f, kind), within)
        assert isinstance(frame, kind)
        return frame

    async def messages(self, room: str, count: int, within: float = TIMEOUT) -> list[Message]:
        """The next ``count`` ``message`` frames of ``room``, in arrival order."""
        got: list[Message] = []
        async with asyncio.timeout(within):
            while True:
                keep: list[ServerFrame] = []
                for frame in self.frames:
                    if len(got) < count and isinstance(frame, Message) and frame.room == room:
                        got.append(frame)
                    else:
                        keep.append(frame)
                self.frames = keep
                if len(got) == count:
                    return got
                if self.closed:
                    raise ClientClosedError(f"closed with {self.close_code}")
                self._arrived.clear()
                await self._arrived.wait()

    async def wait_closed(self, within: float = TIMEOUT) -> int | None:
        async with asyncio.timeout(within):
            await self._reader
        return self.close_code

    # ------------------------------------------------------------ session helpers

    async def hello(self, versions: list[int] | None = None) -> ServerHello:
        await self.send_frame(Hello(versions=versions or [1]))
        self.server_hello = await self.next_of(ServerHello)
        return self.server_hello

    async def new_identity(self) -> bytes:
        """Make an Ed25519 identity and authenticate it on this connection (§3.2)."""
        assert self.server_hello is not None
        key = Ed25519PrivateKey.generate()
        identity, signature = sign_challenge(key, self.server_hello.nonce)
        answer = await self.ok(Auth(identity=identity, signature=signature))
        assert isinstance(answer, Authed)
        self.keys[identity] = key
        return identity

    async def auth_existing(self, key: Ed25519PrivateKey) -> bytes:
        """Authenticate an identity made earlier (on another connection)."""
        assert self.server_hello is not None
        identity, signature = sign_challenge(key, self.server_hello.nonce)
        await self.ok(Auth(identity=identity, signature=signature))
        self.keys[identity] = key
        return identity
