"""A member too far behind (retention purged commits it never saw) rejoins (issue 5).

protocol.md §10 (retention, ``purged_through``) and §12.3 (rejoin replacing our own
leaf). The server runs on a clock the test moves forward, so the purge needs no
waiting.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from hearth_client import events as ev

from .conftest import ServerHandle, reopen
from .test_recovery import _converged, _room_with

DAY_MS = 86_400_000
NOW = [int(time.time() * 1000)]


@pytest.fixture
def server_options() -> dict[str, Any]:
    return {"clock_ms": lambda: NOW[0]}


async def test_member_behind_purged_history_rejoins(
    engines: Any, server: ServerHandle, tmp_path: Path
) -> None:
    room, made = await _room_with(engines, ["alice", "bob"])
    (alice, ra), (bob, _) = made
    bob_epoch = bob.room(room).epoch
    await bob.close()
    await alice.update_keys(room)  # epochs bob never sees
    await alice.update_keys(room)
    await alice.send(room, "said while bob was away")
    NOW[0] += 400 * DAY_MS  # past any retention
    assert server.server is not None
    assert await server.server.purge_now() > 0
    revived, rr = await reopen(tmp_path / "bob", server)
    try:
        await rr.wait_for(lambda e: isinstance(e, ev.RoomJoined) and e.room == room)
        await _converged(room, [(alice, ra), (revived, rr)])
        assert revived.room(room).epoch > bob_epoch + 2
        assert revived.stats["rejoins"] == 1
        assert len(alice.members(room)) == 2  # bob's old leaf was replaced
        await revived.send(room, "back, and caught up")
        assert (await ra.texts(room, 2))[-1] == "back, and caught up"
    finally:
        await revived.close()
