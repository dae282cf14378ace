"""Server test fixtures: a real server on a loopback port over a real SQLite file,
real websocket clients, and a log check after every test (DESIGN.md principle 2)."""

from __future__ import annotations

import base64
import io
import re
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path

import pytest

from hearth_core.frames import CreateInvite, CreateRoom, InviteCreated, Join, RoomCreated, Subscribe
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig
from hearth_server.logs import configure_logging

from .client import ProtocolClient

#: Every payload in the server tests starts with this, so logs can be searched for it.
MARK = b"SECRET-PAYLOAD"
IP_PATTERN = re.compile(r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b|::1|::ffff:")


def payload(n: int | str, size: int = 0) -> bytes:
    body = MARK + b"-" + str(n).encode()
    return body + b"." * max(0, size - len(body))


def leaks(text: str) -> list[str]:
    """Payload markers (raw or base64) and IP addresses found in log text."""
    found = []
    for needle in (MARK.decode(), base64.b64encode(MARK).decode()[:16]):
        if needle in text:
            found.append(needle)
    found.extend(IP_PATTERN.findall(text))
    return found


@pytest.fixture(autouse=True)
def server_logs() -> io.StringIO:
    """Capture the server's logs (debug level) and fail the test if they leak anything."""
    stream = io.StringIO()
    configure_logging("debug", stream)
    yield stream
    text = stream.getvalue()
    assert not leaks(text), f"server logs leaked {leaks(text)}"


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "hearth.db",
        close_timeout=5.0,
        send_rate=10_000.0,  # the rate-limit tests lower these
        send_burst=10_000,
        frame_rate=10_000.0,
        frame_burst=10_000,
        ping_interval=60.0,
        ping_timeout=60.0,
    )


@pytest.fixture
async def server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(config) as running:
        yield running


Connect = Callable[..., Awaitable[ProtocolClient]]


@pytest.fixture
async def connect(server: HearthServer) -> AsyncIterator[Connect]:
    """Open clients that said hello; all are closed after the test."""
    clients: list[ProtocolClient] = []

    async def open_client(*, hello: bool = True, url: str | None = None) -> ProtocolClient:
        client = await ProtocolClient.connect(url or server.url)
        clients.append(client)
        if hello:
            await client.hello()
        return client

    yield open_client
    for client in clients:
        if not client.closed:
            await client.close()


async def make_room(
    client: ProtocolClient, *, waiting_room: bool = False, **kwargs: object
) -> tuple[str, bytes]:
    """Create a room with a fresh identity; returns (room, identity)."""
    me = await client.new_identity()
    created = await client.ok(
        CreateRoom(identity=me, pseudonym="river", waiting_room=waiting_room, **kwargs)  # type: ignore[arg-type]
    )
    assert isinstance(created, RoomCreated)
    return created.room, me


async def invite(client: ProtocolClient, room: str, **kwargs: object) -> InviteCreated:
    answer = await client.ok(CreateInvite(room=room, **kwargs))  # type: ignore[arg-type]
    assert isinstance(answer, InviteCreated)
    return answer


async def join_room(
    client: ProtocolClient, secret: str, pseudonym: str = "willow"
) -> tuple[str, bytes]:
    me = await client.new_identity()
    joined = await client.ok(Join(identity=me, invite=secret, pseudonym=pseudonym))
    return joined.room, me


async def subscribe(client: ProtocolClient, room: str, identity: bytes, after: int = 0) -> None:
    await client.ok(Subscribe(room=room, identity=identity, after=after))


__all__ = ["replace"]
