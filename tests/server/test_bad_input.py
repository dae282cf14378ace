"""Every bad input gets its documented error or close code, and the server keeps
serving other clients (protocol.md §5, §6; DESIGN.md principle 5)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_core.auth import sign_challenge
from hearth_core.errors import CloseCode, ErrorCode
from hearth_core.frames import Auth, Error, Hello, Send, ServerHello, Subscribe, Synced
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import UNIT, ProtocolClient
from .conftest import Connect, make_room, payload, subscribe

ROOM = "Qm9vdGgxMjM0NTY3ODkwYW"


class Bystander:
    """A client in a room that must keep being served while others misbehave."""

    def __init__(self, client: ProtocolClient, room: str) -> None:
        self.client, self.room, self.count = client, room, 0

    async def still_served(self) -> None:
        self.count += 1
        await self.client.ok(Send(room=self.room, id=f"b{self.count}", payload=payload("b")))
        [got] = await self.client.messages(self.room, 1)
        assert got.seq == self.count


@pytest.fixture
async def bystander(connect: Connect) -> Bystander:
    client = await connect()
    room, me = await make_room(client)
    await subscribe(client, room, me)
    await client.next_of(Synced)
    return Bystander(client, room)


def send_json(room: str = ROOM, body: str = '"aGk="') -> str:
    return f'{{"type": "send", "room": "{room}", "id": "x", "payload": {body}}}'


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        ('{"type": "send", "room": ', ErrorCode.BAD_JSON, None),
        ("[1, 2, 3]", ErrorCode.NOT_OBJECT, "$"),
        ('{"type": "shout", "text": "hi"}', ErrorCode.UNKNOWN_TYPE, "$.type"),
        (
            '{"type": "send", "room": "' + ROOM + '", "id": "x"}',
            ErrorCode.MISSING_FIELD,
            "$.payload",
        ),
        (
            '{"type": "send", "room": 12, "id": "x", "payload": ""}',
            ErrorCode.INVALID_FIELD,
            "$.room",
        ),
        (send_json(body="42"), ErrorCode.INVALID_FIELD, "$.payload"),
        (send_json(body='"not base64!"'), ErrorCode.INVALID_BASE64, "$.payload"),
        (
            '{"type": "typing", "room": "' + ROOM + '", "active": true, "x": 1}',
            ErrorCode.UNKNOWN_FIELD,
            "$.x",
        ),
        (
            '{"type": "subscribe", "room": "' + ROOM + '", "identity": "AAAA", "after": -1}',
            ErrorCode.INVALID_FIELD,
            "$.identity",
        ),
    ],
)
async def test_undecodable_frames(
    connect: Connect, bystander: Bystander, raw: str, code: ErrorCode, field: str | None
) -> None:
    bad = await connect()
    await bad.send_raw(raw)
    error = await bad.next_of(Error)
    assert (error.code, error.field) == (code, field)
    await bystander.still_served()
    # The offender's connection is still usable.
    await bad.new_identity()


async def test_binary_frame_is_refused(connect: Connect, bystander: Bystander) -> None:
    bad = await connect()
    await bad.send_raw(b'{"type": "hello", "versions": [1]}')
    assert (await bad.next_of(Error)).code is ErrorCode.BINARY_FRAME
    await bystander.still_served()
    await bad.new_identity()


async def test_send_before_hello_and_before_auth(connect: Connect, bystander: Bystander) -> None:
    early = await connect(hello=False)
    await early.send_frame(Send(ref=1, room=bystander.room, id="x", payload=b"x"))
    error = await early.next_of(Error)
    assert (error.code, error.ref) == (ErrorCode.HELLO_REQUIRED, 1)
    await early.hello()
    await early.send_frame(Send(ref=2, room=bystander.room, id="x", payload=b"x"))
    error = await early.next_of(Error)
    assert (error.code, error.ref) == (ErrorCode.NOT_AUTHENTICATED, 2)
    await early.send_frame(Hello(versions=[1]))
    assert (await early.next_of(Error)).code is ErrorCode.ALREADY_HELLO
    await bystander.still_served()


async def test_bad_signature(connect: Connect, bystander: Bystander) -> None:
    bad = await connect()
    key = Ed25519PrivateKey.generate()
    identity, signature = sign_challenge(key, bytes(32))  # not this connection's nonce
    answer = await bad.request(Auth(identity=identity, signature=signature))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.BAD_SIGNATURE
    # A signature from another connection (a replay) is refused the same way.
    other = await connect()
    stolen_id, stolen_sig = sign_challenge(key, other.server_hello.nonce)  # type: ignore[union-attr]
    answer = await bad.request(Auth(identity=stolen_id, signature=stolen_sig))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.BAD_SIGNATURE
    # The unauthenticated identity cannot act.
    answer = await bad.request(Subscribe(room=bystander.room, identity=identity))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.NOT_AUTHENTICATED
    await bystander.still_served()


async def test_oversize_frame_closes_1009(
    connect: Connect, bystander: Bystander, server: HearthServer
) -> None:
    bad = await connect()
    await bad.send_raw("x" * (server.config.max_frame + 1))
    assert await bad.wait_closed() == CloseCode.MESSAGE_TOO_BIG
    await bystander.still_served()


async def test_invalid_utf8_closes_1007(connect: Connect, bystander: Bystander) -> None:
    bad = await connect()
    await bad.send_raw(b'{"type": "\xff"}', text=True)
    assert await bad.wait_closed() == CloseCode.INVALID_DATA
    await bystander.still_served()


async def test_unsupported_version_closes_4002(connect: Connect, bystander: Bystander) -> None:
    bad = await connect(hello=False)
    await bad.send_frame(Hello(versions=[7, 9]))
    error = await bad.next_of(Error)
    assert error.code is ErrorCode.UNSUPPORTED_VERSION
    assert await bad.wait_closed() == CloseCode.UNSUPPORTED_VERSION
    await bystander.still_served()


async def test_payload_over_the_configured_limit(connect: Connect, bystander: Bystander) -> None:
    client = bystander.client
    limit = client.server_hello.limits.max_payload  # type: ignore[union-attr]
    answer = await client.request(
        Send(room=bystander.room, id="big", payload=payload("big", limit + 1))
    )
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.PAYLOAD_TOO_LARGE
    answer = await client.ok(Send(room=bystander.room, id="max", payload=payload("max", limit)))
    assert answer.seq == 1
    [got] = await client.messages(bystander.room, 1)
    assert len(got.payload) == limit


async def test_cursor_ahead(connect: Connect, bystander: Bystander) -> None:
    client = bystander.client
    identity = next(iter(client.keys))
    answer = await client.request(Subscribe(room=bystander.room, identity=identity, after=5))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.CURSOR_AHEAD


@pytest.fixture
async def quick_hello_server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(replace(config, hello_timeout=0.3 * UNIT)) as running:
        yield running


async def test_no_hello_closes_4001(quick_hello_server: HearthServer) -> None:
    silent = await ProtocolClient.connect(quick_hello_server.url)
    assert await silent.wait_closed() == CloseCode.HELLO_TIMEOUT
    # A client that says hello in time is unaffected by the timer.
    polite = await ProtocolClient.connect(quick_hello_server.url)
    hello = await polite.hello()
    assert isinstance(hello, ServerHello)
    await polite.new_identity()
    await polite.close()


async def test_frame_flood_is_rate_limited(config: ServerConfig) -> None:
    async with HearthServer(replace(config, frame_rate=1.0, frame_burst=5)) as running:
        client = await ProtocolClient.connect(running.url)
        await client.hello()  # 1 frame
        for _ in range(8):
            await client.send_raw("{}")
        errors = [await client.next_of(Error) for _ in range(8)]
        codes = [e.code for e in errors]
        assert codes[:4] == [ErrorCode.MISSING_FIELD] * 4
        assert set(codes[4:]) == {ErrorCode.RATE_LIMITED}
        assert all(e.retry_after and e.retry_after > 0 for e in errors[4:])
        await client.close()
