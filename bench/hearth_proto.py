"""The load generator's side of the Hearth protocol (protocol.md v1), on the lean client.

Each simulated member is its own connection and its own Ed25519 identity
(protocol.md §3.2: hello, signed challenge). The first member of a room creates it
(§4.3) and an invite for the others (§4.4), who join (§4.5); then every member
subscribes (§4.6), so each ``send`` (§4.7) is acknowledged to its sender after the
durable commit and delivered as ``message`` to every subscriber, the sender's own
connection included. Frames are built and parsed with ``hearth_core``'s codec.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench import wsclient
from bench.common import BenchError
from hearth_core.auth import sign_challenge
from hearth_core.codec import decode_server_frame, encode_frame
from hearth_core.frames import (
    Ack,
    Auth,
    CreateInvite,
    CreateRoom,
    Error,
    Hello,
    InviteCreated,
    Join,
    Joined,
    Limits,
    Message,
    RoomCreated,
    Send,
    ServerFrame,
    ServerHello,
    Subscribe,
    Synced,
)

DELIVERY, ACK, ERROR = 0, 1, 2  # what inspect() found, as in bench.loadgen
PATH = "/ws"  # protocol.md §2.1
STEP = 30.0  # seconds allowed for one set-up answer


@dataclass
class HearthClient:
    """One connected, authenticated member bound to one room."""

    ws: wsclient.RawWebSocket
    key: Ed25519PrivateKey
    identity: bytes = b""
    room: str = ""
    refs: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    sent: int = 0
    limits: Limits | None = None

    def send_frame(self, payload: bytes, stamp: int) -> bytes:
        """A ``send`` frame; its client message id carries the send instant, which the
        ``ack`` echoes (protocol.md §4.7), so acknowledgement latency is measured too."""
        self.sent += 1
        return encode_frame(Send(room=self.room, id=f"t{stamp}", payload=payload))

    async def request(self, frame: object, ref: int, until: type | None = None) -> ServerFrame:
        """Send ``frame`` and return the answer carrying ``ref`` (or, with ``until``, the
        first frame of that type); other frames that arrive meanwhile are dropped."""
        self.ws.send_text(encode_frame(frame))  # type: ignore[arg-type]
        for _ in range(100_000):
            answer = decode_server_frame(await self.ws.recv(STEP))
            if isinstance(answer, Error) and answer.ref == ref:
                raise BenchError(
                    f"Hearth refused {type(frame).__name__}: {answer.code} ({answer.message})"
                )
            if until is not None:
                if isinstance(answer, until):
                    return answer
            elif getattr(answer, "ref", None) == ref:
                return answer
        raise BenchError(f"no answer to {type(frame).__name__}")


async def connect_member(port: int, key: Ed25519PrivateKey | None = None) -> HearthClient:
    """Open ``/ws``, say hello and authenticate ``key`` (default: a fresh identity),
    protocol.md §3.1, §3.2."""
    ws = await wsclient.connect("127.0.0.1", port, PATH, within=STEP)
    client = HearthClient(ws, key or Ed25519PrivateKey.generate())
    hello = await client.request(Hello(versions=[1]), 0, until=ServerHello)
    assert isinstance(hello, ServerHello)
    client.limits = hello.limits
    if hello.ds_key is None:  # protocol.md §3.2: the transcript binds the server's key
        raise BenchError("server_hello carries no ds_key to sign the challenge against")
    identity, signature = sign_challenge(client.key, ds_key=hello.ds_key, nonce=hello.nonce)
    ref = next(client.refs)
    await client.request(Auth(ref=ref, identity=identity, signature=signature), ref)
    client.identity = identity
    return client


async def open_room(
    port: int,
    size: int,
    index: int,
    *,
    first: HearthClient | None = None,
    subscribe_all: bool = True,
) -> list[HearthClient]:
    """Connect ``size`` members (``first``, when given, is the first), make a room with the
    first, join the rest; subscribe all of them, or with ``subscribe_all=False`` none (a
    joined member is bound to the room and may send, protocol.md §3.3)."""
    fresh = size - (1 if first else 0)
    members = list(await asyncio.gather(*(connect_member(port) for _ in range(fresh))))
    if first is not None:
        members.insert(0, first)
    owner = members[0]
    ref = next(owner.refs)
    created = await owner.request(
        CreateRoom(ref=ref, identity=owner.identity, pseudonym=f"bench-{index}-0"), ref
    )
    assert isinstance(created, RoomCreated)
    owner.room = created.room
    if size > 1:
        ref = next(owner.refs)
        invite = await owner.request(
            CreateInvite(ref=ref, room=created.room, max_uses=size - 1, waiting_room=False), ref
        )
        assert isinstance(invite, InviteCreated)

        async def join(number: int, member: HearthClient) -> None:
            join_ref = next(member.refs)
            joined = await member.request(
                Join(
                    ref=join_ref,
                    identity=member.identity,
                    invite=invite.secret,
                    pseudonym=f"bench-{index}-{number}",
                ),
                join_ref,
            )
            assert isinstance(joined, Joined)
            member.room = joined.room

        await asyncio.gather(*(join(n, m) for n, m in enumerate(members[1:], start=1)))
    if subscribe_all:
        await asyncio.gather(*(subscribe(m) for m in members))
    return members


async def subscribe(member: HearthClient, after: int = 0) -> Synced:
    """Subscribe from ``after`` and wait for ``synced`` (protocol.md §4.6)."""
    ref = next(member.refs)
    synced = await member.request(
        Subscribe(ref=ref, room=member.room, identity=member.identity, after=after),
        ref,
        until=Synced,
    )
    assert isinstance(synced, Synced)
    return synced


class HearthSession:
    """The load generator's Session for Hearth: rooms set up as above."""

    def __init__(self, port: int, worker: int) -> None:
        self.port = port
        self.worker = worker

    async def open_room(self, room: int, size: int) -> list[HearthClient]:
        return await open_room(self.port, size, room)

    def inspect(self, message: bytes) -> tuple[int, bytes | int | str] | None:
        """(DELIVERY, payload) for a ``message``, (ACK, send instant) for an ``ack``,
        (ERROR, code) for an ``error``, None for anything else (presence, members)."""
        frame = decode_server_frame(message)
        if isinstance(frame, Message):
            return DELIVERY, frame.payload
        if isinstance(frame, Ack):
            return ACK, int(frame.id[1:])
        if isinstance(frame, Error):
            return ERROR, str(frame.code)
        return None
