"""Typing, presence, nicknames, room state changes, bans and fingerprints through a real server.

protocol.md §4.8 (presence, typing), §12.7 (server-proposed removal and ban), and
the engine's encrypted announcements (pseudonyms, room state).
"""

from __future__ import annotations

from typing import Any

import pytest

from hearth_client import events as ev
from hearth_client.errors import ClientUsageError

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
    await ra.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == bob_id)
    await rc.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == bob_id)
    await _converged(room, [(alice, ra), (carol, rc)])
    assert alice.room(room).epoch == epoch + 1
    await carol.send(room, "after the ban")
    assert (await ra.texts(room, 1))[-1] == "after the ban"
    assert "after the ban" not in [m.text for m in rb.messages(room)]
