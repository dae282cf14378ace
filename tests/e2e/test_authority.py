"""Facilitator authority, checked by the server and by every client (issue 5, protocol.md §12.8).

A non-facilitator's removal commit is refused by the server; when a test server
forwards it anyway (``_skip_room_rule_for_tests``, in process only), every client
refuses it and stays in its epoch.
"""

from __future__ import annotations

from typing import Any

import pytest

from hearth_client import events as ev
from hearth_client.errors import ServerRefusedError
from hearth_core.frames import CommitFrame
from hearth_mls.group_state import Phase
from hearth_mls.proposals import Remove

from .test_recovery import _room_with


async def rogue_commit(bob: Any, room: str, victim: str) -> Any:
    """Have ``bob``'s engine sign and send a Remove of ``victim`` it would never send.

    The one place these tests reach into the engine (its room session and its
    connection), on purpose: the commit must be signed with bob's leaf key and sent on
    bob's authenticated socket, and the engine's public API has no way to do either
    for a commit its own rule refuses (protocol.md §12.8). Building it from public
    state would need those private keys, so a public "send any commit" method would
    be a test-only hole in the engine; this helper keeps the reach in one spot.
    """
    session = bob._sessions[room]
    leaf = session.leaf_of(bytes.fromhex(victim))
    assert leaf is not None
    frame = session.start_commit([Remove(leaf)], None)
    return session, bob._conn.request(
        CommitFrame(room=room, id=frame.id, commit=frame.commit, group_info=frame.group_info)
    )


async def test_server_refuses_a_members_removal(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, _), (bob, _), (carol, _) = made
    epoch = alice.room(room).epoch
    carol_hex = ev.member_identity(carol.room(room).me).hex()
    session, request = await rogue_commit(bob, room, carol_hex)
    with pytest.raises(ServerRefusedError) as refused:
        await request
    assert refused.value.code == "authority_denied"
    session.abandon_commit()
    assert session.group.phase is Phase.ACTIVE
    assert {e.room(room).epoch for e, _ in made} == {epoch}
    await bob.send(room, "still fine")  # nothing was lost by the refusal
