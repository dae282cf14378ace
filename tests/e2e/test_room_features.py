"""Typing, presence, nicknames, room state changes, bans and fingerprints through a real server.

protocol.md §4.8 (presence, typing), §12.7 (server-proposed removal and ban), and
the engine's encrypted announcements (pseudonyms, room state).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from hearth_client import events as ev
from hearth_client.errors import ClientUsageError
from hearth_client.keystore import Keystore
from hearth_core.room_roles import Role

from .conftest import PASSPHRASE, TIMEOUT
from .test_recovery import _converged, _room_with


async def test_typing_presence_nick_and_room_state(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob"])
    (alice, ra), (bob, rb) = made
    bob_id = bob.room(room).me
    await bob.set_typing(room, True)
    await ra.wait_for(lambda e: isinstance(e, ev.TypingChanged) and e.member == bob_id and e.active)
    assert next(m for m in alice.members(room) if m.member == bob_id).typing
    await bob.set_pseudonym(room, "willow-renamed")
    await ra.wait_for(
        lambda e: isinstance(e, ev.PseudonymChanged) and e.pseudonym == "willow-renamed"
    )
    await alice.set_room_state(room, topic="a new topic for tonight")
    await rb.wait_for(
        lambda e: isinstance(e, ev.RoomStateChanged) and e.topic == "a new topic for tonight"
    )
    assert bob.room(room).name == "circle"
    with pytest.raises(ClientUsageError, match="facilitator"):
        await bob.set_room_state(room, name="mine now")
    with pytest.raises(ClientUsageError, match="facilitator"):
        await bob.remove(room, alice.room(room).me)
    carol, rc = await engines("carol")
    invite = await alice.create_invite(room)
    await carol.join(invite.code, pseudonym="fern-in-the-shade")
    carol_id = carol.room(room).me
    await ra.wait_for(
        lambda e: isinstance(e, ev.PresenceChanged) and e.member == carol_id and e.online
    )
    assert next(m for m in alice.members(room) if m.member == carol_id).online
    # Fingerprints: what alice computes for carol is what carol computes for herself.
    await rc.until(lambda: len(carol.members(room)) == 3)
    assert alice.fingerprint(room, carol_id) == carol.fingerprint(room)
    assert alice.safety_number(room, carol_id) == carol.safety_number(room, alice.room(room).me)


async def test_ban_removes_through_a_server_proposal(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, ra), (bob, rb), (carol, rc) = made
    epoch = alice.room(room).epoch
    bob_id = bob.room(room).me
    await alice.ban(room, bob_id)
    # bob is told at once (member_update banned, protocol.md §4.8), not at its next connect.
    left = await rb.wait_for(lambda e: isinstance(e, ev.RoomLeft))
    assert left == ev.RoomLeft(room, ev.LeaveReason.BANNED)
    assert bob.room(room).status == "left"
    with pytest.raises(ClientUsageError):
        await bob.send(room, "still here?")
    await ra.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == bob_id)
    await rc.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == bob_id)
    await _converged(room, [(alice, ra), (carol, rc)])
    assert alice.room(room).epoch == epoch + 1
    await carol.send(room, "after the ban")
    assert (await ra.texts(room, 1))[-1] == "after the ban"
    assert "after the ban" not in [m.text for m in rb.messages(room)]
    # A removal by commit: carol learns from the commit itself (her MLS check decides,
    # protocol.md §12.8); the server's member_update removed that follows adds no event.
    await alice.remove(room, carol.room(room).me)
    await rc.wait_for(lambda e: isinstance(e, ev.RoomLeft))
    await ra.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == carol.room(room).me)
    await alice.send(room, "just me")
    await ra.texts(room, 2)
    assert [e for e in rc.events if isinstance(e, ev.RoomLeft)] == [
        ev.RoomLeft(room, ev.LeaveReason.REMOVED)
    ]
    assert [e for e in rb.events if isinstance(e, ev.RoomLeft)] == [
        ev.RoomLeft(room, ev.LeaveReason.BANNED)
    ]


async def test_memberships_are_unlinkable_across_rooms(engines: Any, tmp_path: Path) -> None:
    alice, _ = await engines("alice")
    bob, rb = await engines("bob")
    first = (await alice.create_room("first room", pseudonym="river-one")).room
    second = (await alice.create_room("second room", pseudonym="river-two")).room
    invite = await alice.create_invite(second)
    await bob.join(invite.code, pseudonym="willow-by-the-brook")
    await rb.until(lambda: len(bob.members(second)) == 2)
    ids = {alice.room(first).me, alice.room(second).me}
    assert len(ids) == 2  # a fresh auth identity per membership
    keys = {alice.fingerprint(first), alice.fingerprint(second)}
    assert len(keys) == 2  # and a fresh MLS signature key
    # What bob can see of alice in the second room says nothing about the first.
    seen = {m.member for m in bob.members(second)} | {m.fingerprint for m in bob.members(second)}
    assert alice.room(first).me not in seen
    assert alice.fingerprint(first) not in seen
    # The profile itself, opened as a user would once the engine is closed.
    await alice.close()  # closing again at teardown is a no-op
    with Keystore.open(tmp_path / "alice", PASSPHRASE) as keystore:
        memberships = keystore.memberships()
    assert len({m.auth_key for m in memberships}) == len(memberships) == 2
    assert len({m.signature_key for m in memberships}) == 2


async def test_events_async_iterator_delivers_in_order(engines: Any) -> None:
    alice, _ = await engines("alice")
    room = (await alice.create_room("iter room", pseudonym="river-runs-deep")).room
    bob, rb = await engines("bob")
    await bob.join((await alice.create_invite(room)).code, pseudonym="willow-by-the-brook")
    await rb.wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
    stream = alice.events()
    got: list[str] = []

    async def read() -> None:
        async for event in stream:
            if isinstance(event, ev.MessageReceived) and not event.own:
                got.append(event.text)
                if len(got) == 3:
                    return

    reader = asyncio.ensure_future(read())
    await asyncio.sleep(0)  # the iterator subscribes on its first step
    for text in ["one", "two", "three"]:
        await bob.send(room, text)
    async with asyncio.timeout(TIMEOUT):
        await reader
    await stream.aclose()
    assert got == ["one", "two", "three"]
    assert alice.room(room).unread == 3
    alice.mark_read(room)
    assert alice.room(room).unread == 0
    assert [m.text for m in alice.history(room)][-3:] == ["one", "two", "three"]


async def test_a_co_facilitator_can_act_and_members_see_the_role(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, ra), (bob, rb), (carol, rc) = made
    bob_id, carol_id = bob.room(room).me, carol.room(room).me
    with pytest.raises(ClientUsageError, match="facilitator"):
        await bob.set_role(room, carol_id, Role.FACILITATOR)
    await alice.set_role(room, bob_id, Role.FACILITATOR)
    await rc.wait_for(
        lambda e: (
            isinstance(e, ev.RoleChanged) and e.member == bob_id and e.role is Role.FACILITATOR
        )
    )
    await rb.until(lambda: bob.room(room).role is Role.FACILITATOR)
    # The new facilitator's removal is accepted by the server and by every client.
    await bob.remove(room, carol_id)
    await ra.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == carol_id)
    await _converged(room, [(alice, ra), (bob, rb)])
    roles = {m.member: m.role for m in alice.members(room)}
    assert roles == {alice.room(room).me: Role.FACILITATOR, bob_id: Role.FACILITATOR}
