"""Messages end to end over real websockets and a real SQLite file (protocol.md §4.7, §8, §9)."""

from __future__ import annotations

import asyncio

from hearth_core.frames import Ack, Message, Send, Subscribe, Subscribed, Synced

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
