"""Idle rooms leave memory and come back from the store unchanged (rooms.py,
protocol.md §8.1 sequence continuity, §12.9 MLS public state), on real loopback
sockets and real SQLite files."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hearth_core.frames import Ack, CommitAccepted, Send, Subscribe, Subscribed
from hearth_core.rules import MemberStatus, Role
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig
from hearth_server.errors import StoreError
from hearth_server.rooms import RoomRegistry, append_tracked
from hearth_server.storage import AppendResult, MemberRecord, NewMessage, RoomRecord
from hearth_server.storage.sqlite import SqliteStore

from .client import TIMEOUT, ProtocolClient
from .conftest import MARK, invite, join_room, make_room, payload, replace, subscribe
from .mls_fixtures import admit, create_mls_room, join_by_invite


async def disconnected(server: HearthServer, remaining: int = 0) -> None:
    """Wait (bounded) until the server has finished the closed connections."""
    async with asyncio.timeout(TIMEOUT):
        while len(server.hub.sessions) > remaining:  # noqa: ASYNC110 - bounded poll
            await asyncio.sleep(0.01)


def evicted_total(server: HearthServer) -> float:
    return server.metrics.registry.get_sample_value("hearth_rooms_evicted_total") or 0.0


async def connected(server: HearthServer) -> ProtocolClient:
    client = await ProtocolClient.connect(server.url)
    await client.hello()
    return client


@pytest.fixture
async def evicting_server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(replace(config, room_idle=0.0)) as running:
        yield running


async def test_an_evicted_room_resumes_gap_free(evicting_server: HearthServer) -> None:
    server = evicting_server
    alice, bob = await connected(server), await connected(server)
    room, me = await make_room(alice)
    secret = (await invite(alice, room)).secret
    _, you = await join_room(bob, secret)
    await subscribe(alice, room, me)
    for n in range(3):
        assert (await alice.ok(Send(room=room, id=f"a{n}", payload=payload(n)))).seq == n + 1
    # Bound rooms never leave memory, whatever their age.
    await server.purge_now()
    assert server.hub.rooms.cached(room) is not None
    keys = {me: alice.keys[me], you: bob.keys[you]}
    await alice.close()
    await bob.close()
    await disconnected(server)
    await server.purge_now()
    assert len(server.hub.rooms) == 0
    assert evicted_total(server) == 1
    # Next use loads it again: head, members and roles come from the store.
    alice = await connected(server)
    await alice.auth_existing(keys[me])
    answer = await alice.ok(Subscribe(room=room, identity=me, after=3))
    assert isinstance(answer, Subscribed)
    assert (answer.head, answer.role) == (3, Role.FACILITATOR)
    for n in range(3, 5):
        ack = await alice.ok(Send(room=room, id=f"a{n}", payload=payload(n)))
        assert isinstance(ack, Ack)
        assert ack.seq == n + 1
    # A repeated client id from before the eviction is still recognised (§8.3).
    again = await alice.ok(Send(room=room, id="a0", payload=payload(0)))
    assert (again.seq, again.duplicate) == (1, True)
    bob = await connected(server)
    await bob.auth_existing(keys[you])
    await subscribe(bob, room, you)
    history = await bob.messages(room, 5)
    assert [m.seq for m in history] == [1, 2, 3, 4, 5]
    assert all(m.payload.startswith(MARK) for m in history)
    await alice.close()
    await bob.close()


async def test_rooms_beyond_rooms_cached_go_least_recently_used_first(
    config: ServerConfig,
) -> None:
    async with HearthServer(replace(config, rooms_cached=1, room_idle=3600.0)) as server:
        first, second = await connected(server), await connected(server)
        room1, me1 = await make_room(first)
        room2, _ = await make_room(second)
        # Both are bound: the cap is exceeded rather than dropping a room in use.
        assert len(server.hub.rooms) == 2
        key1 = first.keys[me1]
        await first.close()
        await disconnected(server, 1)
        room3, _ = await make_room(second)  # adding a room drops the quiescent room1
        assert server.hub.rooms.cached(room1) is None
        assert server.hub.rooms.cached(room2) is not None
        assert server.hub.rooms.cached(room3) is not None
        assert evicted_total(server) == 1
        first = await connected(server)
        await first.auth_existing(key1)
        answer = await first.ok(Subscribe(room=room1, identity=me1, after=0))
        assert isinstance(answer, Subscribed)
        ack = await first.ok(Send(room=room1, id="x", payload=payload("x")))
        assert ack.seq == 1
        await first.close()
        await second.close()


CREATOR = b"i" * 32


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    """A real SQLite store holding rooms ``aaa...`` and ``bbb...``."""
    sqlite = SqliteStore(tmp_path / "hearth.db", clock_ms=lambda: 1)
    await sqlite.open()
    try:
        for room_id in ("a" * 22, "b" * 22):
            record = RoomRecord(room_id, 1, b"", False, None)
            creator = MemberRecord(
                room_id, CREATOR, "river", Role.FACILITATOR, MemberStatus.MEMBER, 1
            )
            await sqlite.create_room(record, creator)
        yield sqlite
    finally:
        await sqlite.close()


async def test_a_room_with_an_uncommitted_write_stays(store: SqliteStore) -> None:
    """The commit callback of a queued write fans out to the Room that queued it."""
    registry = RoomRegistry(store, idle_after=0.0, keep=10)
    room = await registry.load("a" * 22)
    assert room is not None
    results: list[AppendResult | StoreError] = []
    committed = asyncio.Event()

    def done(result: AppendResult | StoreError) -> None:
        results.append(result)
        committed.set()

    append_tracked(store, room, NewMessage(room.id, CREATOR, "m1", payload(1), {}), done)
    assert registry.evict() == 0  # nothing awaited since: the write is not committed
    assert registry.cached(room.id) is room
    async with asyncio.timeout(TIMEOUT):
        await committed.wait()
    assert isinstance(results[0], AppendResult)
    assert registry.evict() == 1
    reloaded = await registry.load(room.id)
    assert reloaded is not None
    assert reloaded is not room
    assert reloaded.head == 1


async def test_a_room_in_a_handshake_stays(store: SqliteStore) -> None:
    registry = RoomRegistry(store, idle_after=0.0, keep=10)
    room = await registry.load("a" * 22)
    assert room is not None
    async with room.handshake_lock:
        assert registry.evict() == 0
    assert registry.evict() == 1


async def test_a_room_just_loaded_is_kept_over_the_cap(store: SqliteStore) -> None:
    """With ``keep`` reached by rooms in use, loading another exceeds the cap rather
    than dropping the room the caller is about to bind."""
    evicted: list[int] = []
    registry = RoomRegistry(store, idle_after=3600.0, keep=1, on_evict=evicted.append)
    busy = await registry.load("a" * 22)
    assert busy is not None
    busy.writes += 1  # a write awaiting its commit: in use
    loaded = await registry.load("b" * 22)
    assert loaded is not None
    assert registry.cached("b" * 22) is loaded
    assert len(registry) == 2
    assert evicted == []
    # The next pass drops the least recently used quiescent room to honour the cap.
    assert registry.evict() == 1
    assert registry.cached("a" * 22) is busy
    assert evicted == [1]
    busy.writes -= 1


async def test_an_evicted_mls_room_continues_its_group(evicting_server: HearthServer) -> None:
    server = evicting_server
    c1, c2 = await connected(server), await connected(server)
    creator = await create_mls_room(c1)
    secret = (await invite(c1, creator.room)).secret
    joiner = await join_by_invite(c2, secret)
    await joiner.upload(1)
    assert isinstance(await admit(creator, joiner), CommitAccepted)  # epoch 1, seq 1
    await creator.catch_up(1)
    await joiner.subscribe()
    before = await creator.say(b"before")
    assert isinstance(before, Ack)
    assert before.seq == 2
    creator.seen = before.seq  # its own message: not processed again on resume
    keys = (c1.keys[creator.identity], c2.keys[joiner.identity])
    await c1.close()
    await c2.close()
    await disconnected(server)
    await server.purge_now()
    assert len(server.hub.rooms) == 0
    # Both come back; the server rebuilt the PublicGroup from its store.
    for member, key in zip((creator, joiner), keys, strict=True):
        member.client = await connected(server)
        await member.client.auth_existing(key)
        await member.subscribe()
    (said,) = await joiner.catch_up(1)
    assert said.seq == 2
    update = await creator.send_commit(creator.commit())  # epoch 2 on the rebuilt state
    assert isinstance(update, CommitAccepted)
    assert update.seq == 3
    (commit,) = await joiner.catch_up(1)
    assert commit.seq == 3
    assert joiner.group is not None
    assert creator.group is not None
    assert joiner.group.epoch == creator.group.epoch == 2
    assert isinstance(await joiner.say(b"after"), Ack)
    own_commit, after = await creator.catch_up(2)
    assert (own_commit.seq, after.seq) == (3, 4)
    for member in (creator, joiner):
        await member.client.close()


def test_room_settings_are_checked() -> None:
    from hearth_server.errors import ConfigError

    with pytest.raises(ConfigError, match="room_idle must be at least 0"):
        ServerConfig(room_idle=-1.0).validate()
    with pytest.raises(ConfigError, match="rooms_cached must be greater than 0"):
        ServerConfig(rooms_cached=0).validate()
