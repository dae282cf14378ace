"""A test server that forwards a rogue commit: every client refuses it (protocol.md §12.8).

``_skip_room_rule_for_tests`` is the server's in-process-only switch for this test.
"""

from __future__ import annotations

from typing import Any

import pytest

from hearth_client import events as ev

from .test_authority import rogue_commit
from .test_recovery import _room_with


@pytest.fixture
def server_options() -> dict[str, Any]:
    return {"_skip_room_rule_for_tests": True}


async def test_clients_refuse_a_forwarded_rogue_removal(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, _ra), (bob, _rb), (carol, _rc) = made
    epoch = alice.room(room).epoch
    carol_hex = ev.member_identity(carol.room(room).me).hex()
    _, request = await rogue_commit(bob, room, carol_hex)
    await request  # this test server accepted it and fans it out
    for engine, recorder in made:
        await recorder.wait_for(
            lambda e: isinstance(e, ev.EngineErrorEvent) and e.code == "commit_refused"
        )
        assert engine.room(room).epoch == epoch
    assert carol.room(room).status == "member"
    group = bob.group_state(room)
    assert group is not None
    assert group.phase.value == "active"  # bob dropped his own refused commit too
