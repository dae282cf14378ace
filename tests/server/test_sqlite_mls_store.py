"""The MLS part of the SQLite store (protocol.md §12.9): migration 2 over a version-1
database, atomic and one-time KeyPackages, handshakes with their effects, removals,
bans and the persisted server key."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from hearth_core.errors import ErrorCode
from hearth_core.rules import MemberStatus, Role
from hearth_server.errors import RequestError
from hearth_server.storage import (
    CheckedUpload,
    GroupRecord,
    HandshakeWrite,
    MemberRecord,
    NewMessage,
    RoomRecord,
)
from hearth_server.storage.migrations import MIGRATIONS
from hearth_server.storage.sqlite import SqliteStore

ROOM = "r" * 22
A, B = b"A" * 32, b"B" * 32
NOW = 1_800_000_000_000


def clock() -> int:
    return NOW


def _group(epoch: int = 0) -> GroupRecord:
    return GroupRecord(ROOM, b"g" * 16, epoch, 0, 0, b"info%d" % epoch, b"tree")


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await s.open()
    await s.create_mls_room(
        RoomRecord(ROOM, 0, b"", True, None),
        MemberRecord(ROOM, A, "a", Role.FACILITATOR, MemberStatus.MEMBER, 0),
        _group(),
    )
    yield s
    await s.close()


async def test_migration_2_upgrades_a_version_1_database(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    with sqlite3.connect(path) as db:
        db.executescript(MIGRATIONS[0][1])
        db.execute(
            "INSERT INTO rooms (id, created_ms, metadata, waiting_room) VALUES ('x', 0, x'', 0)"
        )
        db.execute(
            "INSERT INTO messages (room, seq, sender, client_id, ts_ms, payload)"
            " VALUES ('x', 1, x'00', 'm', 0, x'01')"
        )
        db.execute("PRAGMA user_version=1")
    store = SqliteStore(path, clock_ms=clock)
    await store.open()
    try:
        (old,) = await store.read_messages("x", 0, 10)
        assert (old.kind, old.epoch) == ("application", None)
        assert await store.get_group("x") is None
    finally:
        await store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0] == 3


async def test_keypackages_are_atomic_one_time_and_capped(store: SqliteStore) -> None:
    def kp(n: int, expires: int = NOW + 1000) -> CheckedUpload:
        return CheckedUpload(b"ref%d" % n, b"kp%d" % n, expires)

    assert await store.store_key_packages(B, [kp(1), kp(2), kp(3, expires=NOW - 1)], NOW, 10) == 2
    with pytest.raises(RequestError) as info:
        await store.store_key_packages(B, [kp(4), kp(1)], NOW, 10)
    assert info.value.code is ErrorCode.KEY_PACKAGE_REUSED
    assert await store.key_package_stock(B, NOW) == 2  # kp4 was not stored either
    with pytest.raises(RequestError) as capped:
        await store.store_key_packages(B, [kp(5), kp(6)], NOW, 3)
    assert capped.value.code is ErrorCode.LIMIT_EXCEEDED
    assert await store.claim_key_package(ROOM, B, NOW) == (b"kp1", 1)
    assert await store.claim_key_package(ROOM, B, NOW) == (b"kp2", 0)
    assert await store.claim_key_package(ROOM, B, NOW) is None  # kp3 expired
    assert await store.claimed_for(ROOM, frozenset({b"ref1", b"ref2", b"ref3"})) == {
        b"ref1": B,
        b"ref2": B,
    }
    assert await store.claimed_for("other" * 4 + "xx", frozenset({b"ref1"})) == {}


async def test_commit_with_effects_in_one_transaction(store: SqliteStore) -> None:
    commit = HandshakeWrite(
        NewMessage(ROOM, A, "c1", b"commit", kind="commit", epoch=0),
        group=_group(1),
        welcome=b"welcome",
        welcome_epoch=1,
        welcome_to=(B,),
    )
    result = await store.append_handshake(commit)
    assert (result.seq, result.duplicate) == (1, False)
    again = await store.append_handshake(commit)
    assert (again.seq, again.duplicate) == (1, True)
    group = await store.get_group(ROOM)
    assert group is not None
    assert (group.epoch, group.epoch_seq, group.group_info) == (1, 1, b"info1")
    assert await store.welcomes_for(ROOM, B) == [(1, 1, b"welcome")]
    assert await store.welcomes_for(ROOM, A) == []
    proposal = HandshakeWrite(NewMessage(ROOM, A, "p1", b"prop", kind="proposal", epoch=1))
    await store.append_handshake(proposal)
    assert await store.epoch_proposals(ROOM, 1) == [b"prop"]
    assert await store.epoch_proposals(ROOM, 0) == []
    found = await store.find_message(ROOM, A, "p1")
    assert found is not None
    assert found.seq == 2


async def test_removals_bans_and_server_key(store: SqliteStore, tmp_path: Path) -> None:
    await store.add_removal(ROOM, A, ban=True)
    assert await store.pending_removals(ROOM) == [A]
    assert await store.is_banned(ROOM, A)
    assert await store.list_members(ROOM) == []
    await store.drop_removal(ROOM, A)
    assert await store.pending_removals(ROOM) == []
    made: list[bytes] = []

    def make() -> bytes:
        made.append(b"k" * 32)
        return made[-1]

    assert await store.server_key("ds", make) == b"k" * 32
    assert await store.server_key("ds", make) == b"k" * 32
    assert len(made) == 1
    with pytest.raises(RequestError) as info:
        await store.create_mls_room(
            RoomRecord("s" * 22, 0, b"", True, None),
            MemberRecord("s" * 22, B, "b", Role.FACILITATOR, MemberStatus.MEMBER, 0),
            _group(),
        )
    assert info.value.code is ErrorCode.WRONG_GROUP
    assert await store.get_room("s" * 22) is None
