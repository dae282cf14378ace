"""Resume and idempotency over real connections (protocol.md §8.3, §9)."""

from __future__ import annotations

import asyncio
from dataclasses import replace

from hearth_core.frames import Ack, Send, Subscribe, Subscribed, Synced
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import ProtocolClient
from .conftest import Connect, invite, join_room, make_room, payload, subscribe


async def test_client_cut_mid_stream_resumes_without_gap_or_duplicate(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    room, _alice_id = await make_room(alice)
    _, bob_id = await join_room(bob, (await invite(alice, room)).secret)
    await subscribe(bob, room, bob_id)
    await bob.next_of(Synced)
    for i in range(60):
        await alice.send_frame(Send(room=room, id=f"m{i}", payload=payload(i)))
    got = await bob.messages(room, 20)
    bob.ws.transport.abort()  # the network drops mid-stream
    await bob.wait_closed()
    seen = [m.seq for m in got] + [
        m.seq for m in bob.frames if hasattr(m, "seq") and m.room == room
    ]  # type: ignore[union-attr]
    last = max(seen)
    for i in range(60, 100):
        await alice.send_frame(Send(room=room, id=f"m{i}", payload=payload(i)))
    for _ in range(100):
        await alice.next_of(Ack)
    again = await connect()
    await again.auth_existing(bob.keys[bob_id])
    await again.ok(Subscribe(room=room, identity=bob_id, after=last))
    rest = await again.messages(room, 100 - last)
    assert [m.seq for m in rest] == list(range(last + 1, 101))
    assert [m.payload for m in rest] == [payload(i) for i in range(last, 100)]
    assert (await again.next_of(Synced)).seq == 100


async def test_history_paging_races_live_sends(config: ServerConfig) -> None:
    """Subscribing from 0 while a burst is being stored: every message once, in order."""
    async with HearthServer(replace(config, page_size=8, outbox_frames=64)) as running:
        alice = await ProtocolClient.connect(running.url)
        bob = await ProtocolClient.connect(running.url)
        await alice.hello()
        await bob.hello()
        room, _ = await make_room(alice)
        _, bob_id = await join_room(bob, (await invite(alice, room)).secret)
        for i in range(30):
            await alice.send_frame(Send(room=room, id=f"early{i}", payload=payload(i)))
        await asyncio.gather(*(alice.next_of(Ack) for _ in range(1)))
        burst = [
            alice.send_frame(Send(room=room, id=f"live{i}", payload=payload(f"l{i}")))
            for i in range(200)
        ]
        subscribing = bob.ok(Subscribe(room=room, identity=bob_id, after=0))
        await asyncio.gather(subscribing, *burst)
        got = await bob.messages(room, 230)
        assert [m.seq for m in got] == list(range(1, 231))
        await alice.close()
        await bob.close()


async def test_repeated_client_message_id_is_stored_once(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    room, alice_id = await make_room(alice)
    _, bob_id = await join_room(bob, (await invite(alice, room)).secret)
    await subscribe(bob, room, bob_id)
    await bob.next_of(Synced)
    first = await alice.ok(Send(room=room, id="once", payload=payload("once")))
    again = await alice.ok(Send(room=room, id="once", payload=payload("once")))
    assert isinstance(first, Ack)
    assert isinstance(again, Ack)
    assert (again.seq, again.ts, again.duplicate) == (first.seq, first.ts, True)
    # From another connection of the same identity, after a reconnect: still the original.
    other = await connect()
    await other.auth_existing(alice.keys[alice_id])
    await other.ok(Subscribe(room=room, identity=alice_id))
    third = await other.ok(Send(room=room, id="once", payload=payload("once")))
    assert (third.seq, third.duplicate) == (first.seq, True)
    await alice.ok(Send(room=room, id="next", payload=payload("next")))
    got = await bob.messages(room, 2)
    assert [(m.seq, m.payload) for m in got] == [(1, payload("once")), (2, payload("next"))]
    fresh = await connect()
    await fresh.auth_existing(bob.keys[bob_id])
    answer = await fresh.ok(Subscribe(room=room, identity=bob_id))
    assert isinstance(answer, Subscribed)
    assert answer.head == 2
    assert [m.seq for m in await fresh.messages(room, 2)] == [1, 2]
    assert (await fresh.next_of(Synced)).seq == 2
