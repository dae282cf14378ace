"""Recovery through a real server: commit races, kill -9, server restart, lost state.

issue 5 "Must show": two commits in one epoch (one wins, both converge, nothing
lost); kill -9 between sending a commit and its acknowledgement converges on
restart; the server restarts mid-session and every client resumes with no loss.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

from hearth_client import events as ev
from hearth_client.engine import Engine
from hearth_client.keystore import GROUP_SUFFIX, GROUPS_DIR

from .conftest import PASSPHRASE, TIMEOUT, Recorder, ServerHandle, reopen

ROOT = Path(__file__).resolve().parents[2]


async def _room_with(engines: Any, names: list[str]) -> tuple[str, list[tuple[Engine, Recorder]]]:
    made = [await engines(name) for name in names]
    owner = made[0][0]
    room = (await owner.create_room("circle", pseudonym=names[0])).room
    invite = await owner.create_invite(room, max_uses=20)
    for engine, recorder in made[1:]:
        await engine.join(invite.code, pseudonym=f"p-{len(engine.rooms())}")
        await recorder.wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
    return room, made


async def _converged(room: str, members: list[tuple[Engine, Recorder]]) -> None:
    for engine, recorder in members:
        await recorder.until(
            lambda e=engine: (
                e.room(room).epoch == members[0][0].room(room).epoch
                and e.tree_hash(room) == members[0][0].tree_hash(room)
            )
        )


async def test_two_commits_in_one_epoch_one_wins_both_converge(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, ra), (bob, rb), (carol, _) = made
    start = alice.room(room).epoch
    carol_id = carol.room(room).me
    # Both commits are built for the same epoch before either reaches the server.
    await asyncio.gather(alice.remove(room, carol_id), bob.update_keys(room))
    members = [(alice, ra), (bob, rb)]
    await _converged(room, members)
    assert alice.room(room).epoch == start + 2  # the loser redid its commit after the winner
    assert alice.stats["commit_races_lost"] + bob.stats["commit_races_lost"] == 1
    assert carol_id not in {m.member for m in alice.members(room)}
    # Nothing lost: both read each other in the final epoch.
    await alice.send(room, "after the race from a")
    await bob.send(room, "after the race from b")
    for recorder in (ra, rb):
        texts = await recorder.texts(room, 2)
        assert texts[-2:] == ["after the race from a", "after the race from b"]


async def test_concurrent_external_joins_both_get_in(engines: Any) -> None:
    room, made = await _room_with(engines, ["alice"])
    (alice, ra) = made[0]
    (dave, rd), (erin, re_) = await engines("dave"), await engines("erin")
    invite = await alice.create_invite(room, max_uses=2)
    await asyncio.gather(
        dave.join(invite.code, pseudonym="ash-after-rain"),
        erin.join(invite.code, pseudonym="birch-at-dawn"),
    )
    await _converged(room, [(alice, ra), (dave, rd), (erin, re_)])
    assert len(alice.members(room)) == 3


async def test_server_restart_mid_session_no_loss(engines: Any, server: ServerHandle) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    before = [f"before restart {i}" for i in range(3)]
    for (engine, _), text in zip(made, before, strict=True):
        await engine.send(room, text)
    for _, recorder in made:
        await recorder.until(lambda r=recorder: len(r.messages(room)) >= 3)
    await server.stop()
    for _, recorder in made:
        await recorder.wait_for(
            lambda e: (
                isinstance(e, ev.ConnectionChanged) and e.state is ev.ConnectionState.RECONNECTING
            )
        )
    # A message sent while the server is down waits for the connection, then goes.
    during = asyncio.ensure_future(made[1][0].send(room, "sent while the server was down"))
    await asyncio.sleep(0)
    assert not during.done()
    await server.start()
    async with asyncio.timeout(TIMEOUT):
        await during
    before.append("sent while the server was down")
    for _, recorder in made:
        await recorder.wait_for(
            lambda e: isinstance(e, ev.ConnectionChanged) and e.state is ev.ConnectionState.ONLINE
        )
    after = [f"after restart {i}" for i in range(3)]
    for (engine, _), text in zip(made, after, strict=True):
        await engine.send(room, text)
    for _, recorder in made:
        await recorder.until(lambda r=recorder: len(r.messages(room)) >= 7)
        got = [m.text for m in recorder.messages(room)]
        assert got == before + after  # once each, in order
        seqs = [m.seq for m in recorder.messages(room)]
        assert seqs == sorted(set(seqs))


async def test_kill_9_between_commit_and_ack_converges(
    engines: Any, server: ServerHandle, tmp_path: Path
) -> None:
    room, made = await _room_with(engines, ["alice", "bob", "carol"])
    (alice, _), (bob, rb), (carol, _) = made
    carol_id = carol.room(room).me
    await alice.close()  # the profile is now the crash process's
    env = {**os.environ, "HEARTH_PASSPHRASE": PASSPHRASE}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.e2e.crash_client",
        str(tmp_path / "alice"),
        server.url,
        room,
        carol_id,
        cwd=ROOT,
        env=env,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    async with asyncio.timeout(TIMEOUT * 3):
        _, err = await proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err.decode()[-2000:]
    revived, ra = await reopen(tmp_path / "alice", server)
    try:
        await ra.until(lambda: carol_id not in {m.member for m in revived.members(room)})
        await rb.until(lambda: carol_id not in {m.member for m in bob.members(room)})
        await _converged(room, [(revived, ra), (bob, rb)])
        await revived.send(room, "back after the crash")
        assert (await rb.texts(room, 1))[-1] == "back after the crash"
    finally:
        await revived.close()


async def test_lost_local_state_rejoins_by_external_commit(
    engines: Any, server: ServerHandle, tmp_path: Path
) -> None:
    room, made = await _room_with(engines, ["alice", "bob"])
    (alice, ra), (bob, _) = made
    epoch = alice.room(room).epoch
    await bob.close()
    for path in (tmp_path / "bob" / GROUPS_DIR).glob(f"*{GROUP_SUFFIX}"):
        path.unlink()
    revived, rr = await reopen(tmp_path / "bob", server)
    try:
        await rr.wait_for(lambda e: isinstance(e, ev.RoomJoined) and e.room == room)
        await revived.wait_synced(room, TIMEOUT)
        await _converged(room, [(alice, ra), (revived, rr)])
        assert alice.room(room).epoch == epoch + 1
        assert len(alice.members(room)) == 2  # the old leaf was replaced, not duplicated
        assert revived.stats["rejoins"] == 1
        # Pseudonyms are announced again after the rejoin, so both sides know each other.
        await rr.until(lambda: {m.pseudonym for m in revived.members(room)} == {"alice", "p-0"})
        assert revived.room(room).pseudonym == "p-0"  # our own, kept by the keystore
        await revived.send(room, "I lost my phone but not my seat")
        assert (await ra.texts(room, 1))[-1] == "I lost my phone but not my seat"
    finally:
        await revived.close()


async def test_send_right_after_start_waits_for_the_current_epoch(
    engines: Any, server: ServerHandle, tmp_path: Path
) -> None:
    """A member back from offline sends at once: the text is encrypted for the epoch the
    room is in now, so a member who joined while it was away reads it too."""
    room, made = await _room_with(engines, ["alice", "bob"])
    (alice, _ra), (bob, _) = made
    await bob.close()
    carol, rc = await engines("carol")
    invite = await alice.create_invite(room)
    await carol.join(invite.code, pseudonym="carol")
    await rc.wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
    revived, _ = await reopen(tmp_path / "bob", server)
    try:
        await revived.send(room, "back, and caught up")  # no wait_synced first
        assert revived.room(room).epoch == alice.room(room).epoch
        assert (await rc.texts(room, 1))[-1] == "back, and caught up"
    finally:
        await revived.close()
