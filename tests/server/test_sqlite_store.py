"""SQLite specifics of the store: WAL, synchronous=FULL, migrations, group commit (§8.2)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import sqlite3
from pathlib import Path

from hearth_core.rules import MemberStatus, Role
from hearth_server.errors import StoreError
from hearth_server.storage import AppendResult, MemberRecord, NewMessage, RoomRecord
from hearth_server.storage.migrations import MIGRATIONS
from hearth_server.storage.sqlite import SqliteStore


def clock() -> int:
    return 1_800_000_000_000


async def test_pragmas_and_migrations(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == MIGRATIONS[-1][0]
    # Reopening applies nothing twice.
    again = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await again.open()
    await again.close()


async def test_concurrent_appends_share_one_commit(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await store.open()
    batches: list[int] = []
    store.on_commit = lambda size, _seconds: batches.append(size)
    try:
        await store.create_room(
            RoomRecord("r" * 22, 0, b"", False, None),
            MemberRecord("r" * 22, b"A" * 32, "a", Role.FACILITATOR, MemberStatus.MEMBER, 0),
        )
        batches.clear()
        results: list[AppendResult | StoreError] = []
        for i in range(200):
            store.append_nowait(NewMessage("r" * 22, b"A" * 32, f"m{i}", b"x"), results.append)
        await store.append(NewMessage("r" * 22, b"A" * 32, "last", b"x"))
        assert len(results) == 200
        assert batches == [201]  # all queued before the writer ran: one transaction
    finally:
        await store.close()


async def test_synchronous_full_on_the_writer(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await store.open()
    try:
        assert store._writer is not None
        async with store._writer.execute("PRAGMA synchronous") as cur:
            row = await cur.fetchone()
        assert row is not None
        assert row[0] == 2
    finally:
        await store.close()
    await asyncio.sleep(0)


async def test_synchronous_full_on_the_append_connection(tmp_path: Path) -> None:
    """Appends commit on their own connection: it must be as durable (protocol.md §8.2)."""
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await store.open()
    try:
        conn, thread = store._append_conn, store._append_thread
        assert conn is not None
        assert thread is not None
        loop = asyncio.get_running_loop()
        rows = await loop.run_in_executor(
            thread,
            lambda: [
                conn.execute("PRAGMA synchronous").fetchone(),
                conn.execute("PRAGMA journal_mode").fetchone(),
            ],
        )
        assert rows == [(2,), ("wal",)]
    finally:
        await store.close()


async def test_a_long_run_with_a_repeat_is_redone_one_by_one(tmp_path: Path) -> None:
    """Over 100 appends in one run take the explicit transaction; a repeated client id
    there is redone one by one, and the trigger keeps rooms.head_seq (migration 3)."""
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock)
    await store.open()
    room = "r" * 22
    try:
        await store.create_room(
            RoomRecord(room, 0, b"", False, None),
            MemberRecord(room, b"A" * 32, "a", Role.FACILITATOR, MemberStatus.MEMBER, 0),
        )
        first = await store.append(NewMessage(room, b"A" * 32, "m0", b"x"))
        results: list[AppendResult | StoreError] = []
        for i in range(150):  # m0 again, then 149 fresh ones
            store.append_nowait(NewMessage(room, b"A" * 32, f"m{i}", b"x"), results.append)
        last = await store.append(NewMessage(room, b"A" * 32, "last", b"x"))
        assert isinstance(results[0], AppendResult)
        assert (results[0].seq, results[0].duplicate) == (first.seq, True)
        fresh = [r.seq for r in results[1:] if isinstance(r, AppendResult)]
        assert fresh == list(range(2, 151))
        assert last.seq == 151
    finally:
        await store.close()
    with sqlite3.connect(tmp_path / "h.db") as db:
        assert db.execute("SELECT head_seq FROM rooms").fetchone()[0] == 151
        assert db.execute("SELECT count(*) FROM messages").fetchone()[0] == 151


async def test_checkpoints_run_off_the_write_path(tmp_path: Path) -> None:
    """No commit checkpoints (wal_autocheckpoint=0 on both writing connections); the
    store's own checkpoint connection copies the WAL in, and close truncates it."""
    store = SqliteStore(tmp_path / "h.db", clock_ms=clock, checkpoint_interval=0.01)
    await store.open()
    room = "r" * 22
    try:
        assert store._writer is not None
        async with store._writer.execute("PRAGMA wal_autocheckpoint") as cur:
            assert await cur.fetchone() == (0,)
        conn, thread = store._append_conn, store._append_thread
        assert conn is not None
        loop = asyncio.get_running_loop()
        got = await loop.run_in_executor(
            thread, lambda: conn.execute("PRAGMA wal_autocheckpoint").fetchone()
        )
        assert got == (0,)
        await store.create_room(
            RoomRecord(room, 0, b"", False, None),
            MemberRecord(room, b"A" * 32, "a", Role.FACILITATOR, MemberStatus.MEMBER, 0),
        )
        for i in range(20):
            await store.append(NewMessage(room, b"A" * 32, f"m{i}", b"x" * 2000))
        # The database file alone (no WAL beside the copy) holds what was checkpointed.
        copy = tmp_path / "copy.db"
        for _ in range(200):  # the checkpoint loop catches up within a few intervals
            shutil.copyfile(tmp_path / "h.db", copy)
            with contextlib.closing(sqlite3.connect(copy)) as db:
                count = db.execute("SELECT count(*) FROM messages").fetchone()[0]
            if count == 20:
                break
            await asyncio.sleep(0.01)
        assert count == 20
    finally:
        await store.close()
    wal = tmp_path / "h.db-wal"
    assert not wal.exists() or wal.stat().st_size == 0
