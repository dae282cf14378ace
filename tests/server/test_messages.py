"""Messages end to end over real websockets and a real SQLite file (protocol.md §4.7, §8, §9)."""

from __future__ import annotations

import asyncio
import random
import sqlite3

from hearth_core.codec import encode_frame
from hearth_core.errors import ErrorCode
from hearth_core.frames import Ack, Error, Message, Send, Subscribe, Subscribed, Synced
from hearth_server.app import HearthServer

from .conftest import Connect, invite, join_room, make_room, payload, subscribe


async def test_two_clients_in_order_and_a_third_resumes_history(connect: Connect) -> None:
    alice, bob, carol = await connect(), await connect(), await connect()
    room, alice_id = await make_room(alice)
    await subscribe(alice, room, alice_id)
    ticket = await invite(alice, room, max_uses=2)
    _, bob_id = await join_room(bob, ticket.secret)
    await subscribe(bob, room, bob_id)
    await alice.next_of(Synced)
    await bob.next_of(Synced)
    acks = []
    for i in range(10):
        sender = alice if i % 2 == 0 else bob
        ack = await sender.ok(Send(room=room, id=f"m{i}", payload=payload(i)))
        assert isinstance(ack, Ack)
        acks.append(ack.seq)
    assert acks == list(range(1, 11))
    for client in (alice, bob):
        got = await client.messages(room, 10)
        assert [m.seq for m in got] == list(range(1, 11))
        assert [m.payload for m in got] == [payload(i) for i in range(10)]
        assert [m.sender for m in got] == [alice_id if i % 2 == 0 else bob_id for i in range(10)]
    # Carol joins later and resumes the whole history, then gets live messages.
    _, carol_id = await join_room(carol, ticket.secret, "oak")
    await subscribe(carol, room, carol_id)
    history = await carol.messages(room, 10)
    assert [m.seq for m in history] == list(range(1, 11))
    synced = await carol.next_of(Synced)
    assert synced.seq == 10
    await bob.ok(Send(room=room, id="late", payload=payload("late")))
    [live] = await carol.messages(room, 1)
    assert (live.seq, live.payload) == (11, payload("late"))


async def test_resume_after_a_cursor(connect: Connect) -> None:
    alice = await connect()
    room, me = await make_room(alice)
    for i in range(5):
        await alice.ok(Send(room=room, id=f"m{i}", payload=payload(i)))
    other = await connect()
    await other.auth_existing(alice.keys[me])
    answer = await other.ok(Subscribe(room=room, identity=me, after=3))
    assert isinstance(answer, Subscribed)
    assert answer.head == 5
    got = await other.messages(room, 2)
    assert [m.seq for m in got] == [4, 5]
    assert (await other.next_of(Synced)).seq == 5


async def test_pipelined_sends_are_acked_in_order(connect: Connect) -> None:
    alice = await connect()
    room, me = await make_room(alice)
    await subscribe(alice, room, me)
    await alice.next_of(Synced)
    for i in range(40):
        await alice.send_frame(Send(ref=1000 + i, room=room, id=f"p{i}", payload=payload(i)))
    acks = [await alice.next_of(Ack) for _ in range(40)]
    assert [a.seq for a in acks] == list(range(1, 41))
    assert [a.ref for a in acks] == [1000 + i for i in range(40)]
    got = await alice.messages(room, 40)
    assert [m.seq for m in got] == list(range(1, 41))
    await asyncio.sleep(0)
    assert not [f for f in alice.frames if isinstance(f, Message)]


async def test_an_ack_means_the_message_is_already_committed(
    connect: Connect, server: HearthServer
) -> None:
    """Read the database file with an independent connection as each ack arrives (§8.2)."""
    alice = await connect()
    room, _ = await make_room(alice)
    for i in range(20):
        await alice.send_frame(Send(room=room, id=f"d{i}", payload=payload(i)))
    with sqlite3.connect(server.config.db) as db:
        for _ in range(20):
            ack = await alice.next_of(Ack)
            row = db.execute(
                "SELECT payload FROM messages WHERE room = ? AND seq = ?", (room, ack.seq)
            ).fetchone()
            assert row is not None
            assert bytes(row[0]) == payload(ack.id[1:])


async def test_random_garbage_never_hurts_the_server(connect: Connect) -> None:
    """Mutated frames only ever produce documented error codes; everyone stays served."""
    rng = random.Random(20261128)
    alice, fuzzer = await connect(), await connect()
    room, alice_id = await make_room(alice)
    await subscribe(alice, room, alice_id)
    await alice.next_of(Synced)
    me = await fuzzer.new_identity()
    seeds = [
        encode_frame(Send(room=room, id="f", payload=b"abc")),
        encode_frame(Subscribe(room=room, identity=me, after=0)),
        b'{"type": "typing", "room": "' + room.encode() + b'", "active": true}',
        b'{"type": "hello", "versions": [1]}',
    ]
    for _ in range(300):
        data = bytearray(rng.choice(seeds))
        for _ in range(rng.randint(1, 4)):
            kind = rng.randrange(3)
            pos = rng.randrange(len(data))
            if kind == 0:
                data[pos] = rng.randrange(32, 127)
            elif kind == 1:
                del data[pos:]
                if not data:
                    data = bytearray(b"{")
            else:
                data.insert(pos, rng.choice(b'{}[]":,0x\\'))
        await fuzzer.send_raw(bytes(data).decode("ascii", "replace"))
    ping = await fuzzer.request(Subscribe(room=room, identity=me))
    assert isinstance(ping, Error)  # still answering, in order, after all that
    codes = {f.code for f in fuzzer.frames if isinstance(f, Error)}
    assert codes <= set(ErrorCode)
    assert ErrorCode.BAD_JSON in codes
    await alice.ok(Send(room=room, id="still", payload=payload("still")))
    [got] = await alice.messages(room, 1)
    assert got.payload == payload("still")
