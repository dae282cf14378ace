"""The embedded store: SQLite through aiosqlite (protocol.md §8, §9, §10).

- WAL journal, ``synchronous=FULL``: a committed transaction survives a crash of the
  process or the machine.
- One writer connection owned by one writer task. Every write is queued; the task takes
  everything queued (up to ``max_batch``), runs it in one transaction and commits once
  (group commit), then delivers the results in submission order. Acknowledgements and
  fan-out happen in those result callbacks, so nothing is visible before its commit.
- Appends take one hop to the database: a run of queued appends is numbered, inserted
  with multi-row ``INSERT`` statements and committed by ONE synchronous function on a
  dedicated ``sqlite3`` writer connection owned by a one-thread executor (every awaited
  aiosqlite call is a loop-to-thread round trip that waits for the GIL and the loop's
  turn; issue 7). Other writes (rooms, invites, MLS handshakes) run on the aiosqlite
  writer connection; the writer task runs one batch at a time, so the two connections
  never write at once. When every room of the run has a known head, the loop numbers
  the run and builds its rows before the hop, and a run of up to ``_ROWS_PER_INSERT``
  messages is ONE autocommit ``INSERT``: its own transaction, committed (and synced)
  before the statement returns, so the append thread takes the GIL back once per
  commit instead of once per statement (each take can wait for the busy loop).
- Sequence numbers are assigned from ``rooms.head_seq``, which the trigger
  ``messages_advance_head`` (migration 3) advances inside the inserting statement, so
  retention never causes reuse. If the idempotency index rejects an insert, nothing of
  that statement is stored and the run's messages are redone one by one in one
  transaction, answering repeats with their original sequence (protocol.md §8.3).
- One separate reader connection for reads; in WAL mode it never blocks the writer.
- Checkpoints are off the write path: both writing connections run with
  ``wal_autocheckpoint=0`` and a checkpoint connection of its own runs a PASSIVE
  checkpoint every ``checkpoint_interval`` seconds after a commit (and a TRUNCATE one
  on close). Left to SQLite, the commit that crosses 1,000 WAL pages copies them into
  the database and syncs it while every acknowledgement waits, a stall of up to
  hundreds of milliseconds on a slow disk (bench/RESULTS.md). A PASSIVE checkpoint
  never blocks the writers; only committed data is copied, so durability is unchanged.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import msgspec

from hearth_core.errors import ErrorCode
from hearth_core.rules import MemberStatus, Role
from hearth_server.errors import RequestError, StoreError
from hearth_server.storage.base import (
    AppendCallback,
    AppendResult,
    InviteRecord,
    JoinResult,
    MemberRecord,
    NewMessage,
    RoomRecord,
    StoredMessage,
)
from hearth_server.storage.migrations import MIGRATIONS
from hearth_server.storage.sqlite_mls import MlsStoreMixin

T = TypeVar("T")
_log = logging.getLogger("hearth.store")
_META = msgspec.json.Encoder()
_META_DECODER = msgspec.json.Decoder(dict[str, str])
_SELECT_ROOM = (
    "SELECT id, created_ms, metadata, waiting_room, retention_s, head_seq, purged_through"
    " FROM rooms WHERE id = ?"
)
_INSERT_ROOM = (
    "INSERT INTO rooms (id, created_ms, metadata, waiting_room, retention_s, head_seq,"
    " purged_through) VALUES (?, ?, ?, ?, ?, 0, 0)"
)
_INSERT_MESSAGE = (
    "INSERT INTO messages (room, seq, sender, client_id, ts_ms, payload, meta, kind, epoch)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
#: Rows per multi-row INSERT: 9 parameters a row stays under SQLite's oldest limit (999).
_ROWS_PER_INSERT = 100
_COLUMNS = 9  # parameters of one message row (_INSERT_MESSAGE)
_SELECT_MEMBER = (
    "SELECT room, identity, pseudonym, role, status, joined_ms"
    " FROM members WHERE room = ? AND identity = ?"
)
_SELECT_MEMBERS = (
    "SELECT room, identity, pseudonym, role, status, joined_ms"
    " FROM members WHERE room = ? ORDER BY joined_ms, rowid"
)
_INSERT_MEMBER = (
    "INSERT INTO members (room, identity, pseudonym, role, status, joined_ms)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


@dataclass(slots=True)
class _Append:
    message: NewMessage
    callback: AppendCallback


@dataclass(slots=True)
class _Op:
    """A generic write: runs on the writer connection inside the batch's transaction."""

    run: Callable[[aiosqlite.Connection], Awaitable[Any]]
    future: asyncio.Future[Any]
    #: Called after the commit with the result (or failure), in submission order.
    callback: Callable[[Any], None] | None = None


_Item = _Append | _Op


def _statements(script: str) -> list[str]:
    """A migration script's statements (a trigger's body holds ``;`` of its own)."""
    statements: list[str] = []
    pending = ""
    for part in script.split(";"):
        pending += part + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                statements.append(pending)
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError("a migration ends inside a statement")
    return statements


def _room(row: Any) -> RoomRecord:
    return RoomRecord(
        id=row[0],
        created_ms=row[1],
        metadata=bytes(row[2]),
        waiting_room=bool(row[3]),
        retention_s=row[4],
        head_seq=row[5],
        purged_through=row[6],
    )


def _member(row: Any) -> MemberRecord:
    return MemberRecord(
        room=row[0],
        identity=bytes(row[1]),
        pseudonym=row[2],
        role=Role(row[3]),
        status=MemberStatus(row[4]),
        joined_ms=row[5],
    )


@functools.lru_cache(maxsize=_ROWS_PER_INSERT)
def _insert_rows_sql(count: int) -> str:
    """``_INSERT_MESSAGE`` with ``count`` rows of parameters."""
    return _INSERT_MESSAGE + ", (?, ?, ?, ?, ?, ?, ?, ?, ?)" * (count - 1)


def _message_row(msg: NewMessage, seq: int, ts: int) -> tuple[Any, ...]:
    meta = _META.encode(msg.meta).decode() if msg.meta is not None else None
    return (msg.room, seq, msg.sender, msg.client_id, ts, msg.payload, meta, msg.kind, msg.epoch)


def _next_seq(conn: sqlite3.Connection, heads: dict[str, int], room: str) -> int:
    head = heads.get(room)
    if head is None:
        row = conn.execute("SELECT head_seq FROM rooms WHERE id = ?", (room,)).fetchone()
        if row is None:
            raise StoreError("append to a room that does not exist")
        head = int(row[0])
    heads[room] = head + 1
    return head + 1


def _number(
    heads: dict[str, int],
    messages: Sequence[NewMessage],
    ts: int,
    next_seq: Callable[[dict[str, int], str], int],
) -> tuple[list[AppendResult], list[Any]]:
    """Number ``messages`` and build their flattened insert parameters; repeats
    within the run answer as duplicates of the first (protocol.md §8.3)."""
    results: list[AppendResult] = []
    rows: list[Any] = []
    seen: dict[tuple[str, bytes, str], AppendResult] = {}
    for msg in messages:
        key = (msg.room, msg.sender, msg.client_id)
        first = seen.get(key)
        if first is not None:
            results.append(replace(first, duplicate=True))
            continue
        seq = next_seq(heads, msg.room)
        rows.extend(_message_row(msg, seq, ts))
        result = AppendResult(msg.room, msg.client_id, seq, ts, duplicate=False)
        seen[key] = result
        results.append(result)
    return results, rows


def _known_seq(heads: dict[str, int], room: str) -> int:
    """The next sequence of a room whose head the store already holds."""
    head = heads[room] + 1
    heads[room] = head
    return head


def _insert_rows(conn: sqlite3.Connection, rows: Sequence[Any]) -> None:
    width = len(rows) // _COLUMNS
    for start in range(0, width, _ROWS_PER_INSERT):
        count = min(_ROWS_PER_INSERT, width - start)
        conn.execute(_insert_rows_sql(count), rows[start * _COLUMNS : (start + count) * _COLUMNS])


def _insert_careful(
    conn: sqlite3.Connection, heads: dict[str, int], messages: Sequence[NewMessage], ts: int
) -> list[AppendResult]:
    """One by one: a stored (room, sender, client id) answers with its original
    sequence (protocol.md §8.3)."""
    results: list[AppendResult] = []
    for msg in messages:
        row = conn.execute(
            "SELECT seq, ts_ms FROM messages WHERE room = ? AND sender = ? AND client_id = ?",
            (msg.room, msg.sender, msg.client_id),
        ).fetchone()
        if row is not None:
            results.append(AppendResult(msg.room, msg.client_id, row[0], row[1], True))
            continue
        seq = _next_seq(conn, heads, msg.room)
        conn.execute(_INSERT_MESSAGE, _message_row(msg, seq, ts))
        results.append(AppendResult(msg.room, msg.client_id, seq, ts, False))
    return results


def _commit_appends(
    conn: sqlite3.Connection,
    heads: dict[str, int],
    messages: Sequence[NewMessage],
    ts: int,
    prepared: tuple[list[AppendResult], list[Any]] | None,
    saved: dict[str, int],
) -> list[AppendResult]:
    """Store a run of appends and commit it (protocol.md §8.2, §8.3); durable on return.

    Runs on the append thread; ``heads`` (a copy of the store's heads of the run's
    rooms, ``saved``) is advanced in place and only adopted by the store after the
    commit returned. ``prepared``,
    when the loop already numbered the run (every room's head known), holds its results
    and insert parameters: a run that fits one statement is one autocommit ``INSERT``
    (the trigger advances the rooms' heads inside it). Otherwise, or when the
    idempotency index rejects a repeat, one explicit transaction."""
    repeat = False
    if prepared is not None and len(prepared[1]) <= _ROWS_PER_INSERT * _COLUMNS:
        results, rows = prepared
        if not rows:
            return results  # every message repeats an earlier one of the run
        try:
            conn.execute(_insert_rows_sql(len(rows) // _COLUMNS), rows)
        except sqlite3.IntegrityError:
            repeat = True  # nothing of the statement is stored
        else:
            return results
    conn.execute("BEGIN IMMEDIATE")
    try:
        if not repeat:
            try:
                if prepared is None:
                    prepared = _number(
                        heads, messages, ts, lambda h, room: _next_seq(conn, h, room)
                    )
                results, rows = prepared
                _insert_rows(conn, rows)
            except sqlite3.IntegrityError:
                conn.execute("ROLLBACK")  # nothing else was written in it
                conn.execute("BEGIN IMMEDIATE")
                repeat = True
        if repeat:
            # A repeated client id reached the idempotency index: redo one by one.
            heads.clear()
            heads.update(saved)
            results = _insert_careful(conn, heads, messages, ts)
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(sqlite3.Error):
            conn.execute("ROLLBACK")
        raise
    return results


class SqliteStore(MlsStoreMixin):
    """``Store`` on one SQLite file (see the module docstring for the write path)."""

    def __init__(
        self,
        path: Path,
        *,
        clock_ms: Callable[[], int],
        max_batch: int = 1024,
        synchronous: str = "FULL",
        checkpoint_interval: float = 1.0,
    ) -> None:
        self.path = path
        self._checkpoint_interval = checkpoint_interval
        self._checkpointer: aiosqlite.Connection | None = None
        self._checkpoint_task: asyncio.Task[None] | None = None
        self._dirty = asyncio.Event()  # a commit since the last checkpoint
        self._clock_ms = clock_ms
        self._max_batch = max_batch
        self._synchronous = synchronous
        self._writer: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        #: The append connection, used only on ``_append_thread``.
        self._append_conn: sqlite3.Connection | None = None
        self._append_thread: ThreadPoolExecutor | None = None
        self._queue: list[_Item] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._heads: dict[str, int] = {}
        self._last_ts = 0
        #: Observers for metrics: called with (batch size, commit seconds).
        self.on_commit: Callable[[int, float], None] | None = None

    # ------------------------------------------------------------ lifecycle

    async def open(self) -> None:
        """Open both connections, set WAL and ``synchronous``, apply migrations."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._writer.execute("PRAGMA journal_mode=WAL")
        await self._writer.execute(f"PRAGMA synchronous={self._synchronous}")
        await self._writer.execute("PRAGMA busy_timeout=5000")
        await self._writer.execute("PRAGMA foreign_keys=ON")
        await self._writer.execute("PRAGMA wal_autocheckpoint=0")
        await self._migrate(self._writer)
        self._append_thread = ThreadPoolExecutor(1, thread_name_prefix="hearth-store-append")
        self._append_conn = await asyncio.get_running_loop().run_in_executor(
            self._append_thread, self._connect_appender
        )
        self._reader = await aiosqlite.connect(self.path, isolation_level=None)
        await self._reader.execute("PRAGMA busy_timeout=5000")
        self._checkpointer = await aiosqlite.connect(self.path, isolation_level=None)
        await self._checkpointer.execute(f"PRAGMA synchronous={self._synchronous}")
        await self._checkpointer.execute("PRAGMA busy_timeout=5000")
        self._task = asyncio.create_task(self._write_loop(), name="hearth-store-writer")
        self._checkpoint_task = asyncio.create_task(
            self._checkpoint_loop(), name="hearth-store-checkpoint"
        )

    async def close(self) -> None:
        """Commit everything queued, stop the writer, close both connections."""
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self._checkpoint_task is not None:
            self._checkpoint_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoint_task
            self._checkpoint_task = None
        for conn in (self._reader, self._writer):
            if conn is not None:
                await conn.close()
        self._reader = self._writer = None
        if self._append_thread is not None:
            if self._append_conn is not None:
                await asyncio.get_running_loop().run_in_executor(
                    self._append_thread, self._append_conn.close
                )
            self._append_thread.shutdown(wait=True)
        self._append_conn = self._append_thread = None
        if self._checkpointer is not None:
            with contextlib.suppress(sqlite3.Error):  # the next open replays the WAL
                await self._checkpointer.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            await self._checkpointer.close()
            self._checkpointer = None

    async def _checkpoint_loop(self) -> None:
        """A PASSIVE checkpoint at most every ``checkpoint_interval`` s, after a commit."""
        assert self._checkpointer is not None
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            try:
                await self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as exc:  # retried after the next commit
                _log.warning("checkpoint_failed: %s", type(exc).__name__)
            await asyncio.sleep(self._checkpoint_interval)

    def _connect_appender(self) -> sqlite3.Connection:
        """The append connection (on its thread): same pragmas as the writer."""
        conn = sqlite3.connect(self.path, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(f"PRAGMA synchronous={self._synchronous}")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA wal_autocheckpoint=0")
        except BaseException:
            conn.close()
            raise
        return conn

    async def _migrate(self, db: aiosqlite.Connection) -> None:
        async with db.execute("PRAGMA user_version") as cursor:
            row = await cursor.fetchone()
        version = int(row[0]) if row else 0
        for number, script in MIGRATIONS:
            if number <= version:
                continue
            await db.execute("BEGIN IMMEDIATE")
            try:
                for statement in _statements(script):
                    await db.execute(statement)
                await db.execute(f"PRAGMA user_version={number}")
                await db.execute("COMMIT")
            except BaseException:
                await db.execute("ROLLBACK")
                raise

    # ------------------------------------------------------------ writer

    def _submit(self, item: _Item) -> None:
        if self._closing or self._task is None:
            raise StoreError("store is closed")
        self._queue.append(item)
        self._wake.set()

    async def _write(
        self,
        run: Callable[[aiosqlite.Connection], Awaitable[T]],
        callback: Callable[[Any], None] | None = None,
    ) -> T:
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        self._submit(_Op(run, future, callback))
        return await future

    async def _write_loop(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self._max_batch]
                del self._queue[: self._max_batch]
                # Runs of appends and runs of other writes, in submission order.
                start = 0
                while start < len(batch):
                    appending = isinstance(batch[start], _Append)
                    end = start + 1
                    while end < len(batch) and isinstance(batch[end], _Append) == appending:
                        end += 1
                    if appending:
                        await self._run_appends(
                            [i for i in batch[start:end] if isinstance(i, _Append)]
                        )
                    else:
                        await self._run_batch([i for i in batch[start:end] if isinstance(i, _Op)])
                    start = end
            if self._closing and not self._queue:
                return

    async def _run_appends(self, group: list[_Append]) -> None:
        """Commit a run of appends in one hop to the append thread, then call back."""
        conn, thread = self._append_conn, self._append_thread
        assert conn is not None
        assert thread is not None
        loop = asyncio.get_running_loop()
        started = loop.time()
        messages = [item.message for item in group]
        # The heads of this run's rooms only (not every room's, on every commit).
        rooms = {m.room for m in messages}
        saved = {room: self._heads[room] for room in rooms if room in self._heads}
        heads = dict(saved)
        ts = self._now()
        # Number the run and build its rows here when every room's head is known, so
        # the append thread holds the GIL only to execute and commit.
        prepared: tuple[list[AppendResult], list[Any]] | None = None
        if len(saved) == len(rooms):
            prepared = _number(heads, messages, ts, _known_seq)
        results: list[AppendResult | StoreError] = []
        try:
            results.extend(
                await loop.run_in_executor(
                    thread, _commit_appends, conn, heads, messages, ts, prepared, saved
                )
            )
        except Exception as exc:  # storage failure: nothing in this run is stored
            results = [StoreError(f"commit failed: {type(exc).__name__}")] * len(group)
        else:
            self._heads.update(heads)
            self._dirty.set()
        if self.on_commit is not None:
            self.on_commit(len(group), loop.time() - started)
        for item, result in zip(group, results, strict=True):
            try:
                item.callback(result)
            except Exception:  # a bad callback must never stop the writer
                _log.exception("append_callback_failed")

    async def _run_batch(self, batch: list[_Op]) -> None:
        """Run other writes in one transaction on the aiosqlite writer, then call back."""
        db = self._writer
        assert db is not None
        heads_before = dict(self._heads)
        results: list[Any] = []
        loop = asyncio.get_running_loop()
        started = loop.time()
        try:
            await db.execute("BEGIN IMMEDIATE")
            for item in batch:
                results.append(await self._run_op(db, item))
            await db.execute("COMMIT")
        except Exception as exc:  # storage failure: nothing in this batch is stored
            self._heads = heads_before
            with contextlib.suppress(sqlite3.Error):
                await db.execute("ROLLBACK")
            failure = StoreError(f"commit failed: {type(exc).__name__}")
            results = [failure] * len(batch)
        self._dirty.set()
        if self.on_commit is not None:
            self.on_commit(len(batch), loop.time() - started)
        for item, result in zip(batch, results, strict=True):
            if item.future.done():
                continue
            if item.callback is not None:
                try:
                    item.callback(result)
                except Exception:  # a bad callback must never stop the writer
                    _log.exception("op_callback_failed")
            if isinstance(result, BaseException):
                item.future.set_exception(result)
            else:
                item.future.set_result(result)

    async def _run_op(self, db: aiosqlite.Connection, op: _Op) -> Any:
        await db.execute("SAVEPOINT op")
        try:
            result = await op.run(db)
        except (RequestError, sqlite3.IntegrityError) as exc:
            await db.execute("ROLLBACK TO SAVEPOINT op")
            await db.execute("RELEASE SAVEPOINT op")
            if isinstance(exc, RequestError):
                return exc
            return StoreError(f"constraint failed: {type(exc).__name__}")
        await db.execute("RELEASE SAVEPOINT op")
        return result

    async def _head(self, db: aiosqlite.Connection, room_id: str) -> int:
        head = self._heads.get(room_id)
        if head is None:
            async with db.execute("SELECT head_seq FROM rooms WHERE id = ?", (room_id,)) as cur:
                row = await cur.fetchone()
            if row is None:
                raise StoreError("append to a room that does not exist")
            head = int(row[0])
            self._heads[room_id] = head
        return head

    def _now(self) -> int:
        self._last_ts = max(self._last_ts, self._clock_ms())
        return self._last_ts

    @staticmethod
    async def _stored_before(db: aiosqlite.Connection, msg: NewMessage) -> AppendResult | None:
        """The duplicate result when (room, sender, client id) is stored (protocol.md §8.3)."""
        async with db.execute(
            "SELECT seq, ts_ms FROM messages WHERE room = ? AND sender = ? AND client_id = ?",
            (msg.room, msg.sender, msg.client_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return AppendResult(msg.room, msg.client_id, row[0], row[1], duplicate=True)

    # ------------------------------------------------------------ messages

    def append_nowait(self, message: NewMessage, callback: AppendCallback) -> None:
        """Queue ``message``; ``callback`` runs after its commit, in submission order."""
        self._submit(_Append(message, callback))

    async def append(self, message: NewMessage) -> AppendResult:
        """Append ``message`` and wait until it is durably stored."""
        future: asyncio.Future[AppendResult] = asyncio.get_running_loop().create_future()

        def done(result: AppendResult | StoreError) -> None:
            if future.done():
                return
            if isinstance(result, StoreError):
                future.set_exception(result)
            else:
                future.set_result(result)

        self.append_nowait(message, done)
        return await future

    async def read_messages(self, room_id: str, after: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` stored messages of the room with ``seq > after``, in order."""
        db = self._reader_conn()
        async with db.execute(
            "SELECT seq, sender, client_id, ts_ms, payload, meta, kind, epoch FROM messages"
            " WHERE room = ? AND seq > ? ORDER BY seq LIMIT ?",
            (room_id, after, limit),
        ) as cur:
            rows = await cur.fetchall()
        return [
            StoredMessage(
                room=room_id,
                seq=row[0],
                sender=bytes(row[1]),
                client_id=row[2],
                ts=row[3],
                payload=bytes(row[4]),
                meta=_META_DECODER.decode(row[5]) if row[5] is not None else None,
                kind=row[6],
                epoch=row[7],
            )
            for row in rows
        ]

    async def purge_expired(self, now_ms: int) -> int:
        """Delete every message older than its room's retention (protocol.md §10)."""

        async def run(db: aiosqlite.Connection) -> int:
            async with db.execute(
                "SELECT id, retention_s FROM rooms WHERE retention_s IS NOT NULL"
            ) as cur:
                rooms = await cur.fetchall()
            removed = 0
            for room_id, retention_s in rooms:
                cutoff = now_ms - int(retention_s) * 1000
                async with db.execute(
                    "SELECT MAX(seq), COUNT(*) FROM messages WHERE room = ? AND ts_ms < ?",
                    (room_id, cutoff),
                ) as cur:
                    row = await cur.fetchone()
                if row is None or row[0] is None:
                    continue
                await db.execute(
                    "DELETE FROM messages WHERE room = ? AND seq <= ?", (room_id, row[0])
                )
                await db.execute(
                    "DELETE FROM welcomes WHERE room = ? AND seq <= ?", (room_id, row[0])
                )
                await db.execute(
                    "UPDATE rooms SET purged_through = MAX(purged_through, ?) WHERE id = ?",
                    (row[0], room_id),
                )
                removed += int(row[1])
            return removed

        return await self._write(run)

    # ------------------------------------------------------------ rooms

    def _reader_conn(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreError("store is not open")
        return self._reader

    async def create_room(self, room: RoomRecord, creator: MemberRecord) -> None:
        """Store a new room and its creator in one transaction."""

        async def run(db: aiosqlite.Connection) -> None:
            await self._insert_room(db, room, creator)

        await self._write(run)

    async def _insert_room(
        self, db: aiosqlite.Connection, room: RoomRecord, creator: MemberRecord
    ) -> None:
        """Insert a new room (sequence at 0) with its creator, inside a write."""
        await db.execute(
            _INSERT_ROOM,
            (room.id, room.created_ms, room.metadata, room.waiting_room, room.retention_s),
        )
        await self._insert_member(db, creator)
        self._heads[room.id] = 0

    @staticmethod
    async def _insert_member(db: aiosqlite.Connection, m: MemberRecord) -> None:
        await db.execute(
            _INSERT_MEMBER,
            (m.room, m.identity, m.pseudonym, m.role.value, m.status.value, m.joined_ms),
        )

    async def get_room(self, room_id: str) -> RoomRecord | None:
        """The room, or None."""
        async with self._reader_conn().execute(_SELECT_ROOM, (room_id,)) as cur:
            row = await cur.fetchone()
        return _room(row) if row is not None else None

    async def list_members(self, room_id: str) -> list[MemberRecord]:
        """Every member of the room, in joining order."""
        async with self._reader_conn().execute(
            _SELECT_MEMBERS,
            (room_id,),
        ) as cur:
            rows = await cur.fetchall()
        return [_member(row) for row in rows]

    async def create_invite(self, invite: InviteRecord) -> None:
        """Store an invite (its secret only as a hash)."""

        async def run(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT INTO invites (id, room, secret_hash, created_ms, expires_ms, max_uses,"
                " uses, revoked, waiting_room) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    invite.id,
                    invite.room,
                    invite.secret_hash,
                    invite.created_ms,
                    invite.expires_ms,
                    invite.max_uses,
                    invite.uses,
                    invite.revoked,
                    invite.waiting_room,
                ),
            )

        await self._write(run)

    async def invite_room(self, secret_hash: bytes) -> str | None:
        """The room of the invite with this secret hash (whatever its state), or None."""
        async with self._reader_conn().execute(
            "SELECT room FROM invites WHERE secret_hash = ?", (secret_hash,)
        ) as cur:
            row = await cur.fetchone()
        return str(row[0]) if row is not None else None

    async def revoke_invite(self, room_id: str, invite_id: str) -> bool:
        """Revoke the room's invite ``invite_id``; False when the room has no such invite."""

        return await self._write_changes(
            "UPDATE invites SET revoked = 1 WHERE id = ? AND room = ?", (invite_id, room_id)
        )

    async def _write_changes(self, sql: str, params: tuple[Any, ...]) -> bool:
        """Run one UPDATE or DELETE as a write; True when it changed a row."""

        async def run(db: aiosqlite.Connection) -> bool:
            cur = await db.execute(sql, params)
            return cur.rowcount > 0

        return await self._write(run)

    async def join(
        self, secret_hash: bytes, identity: bytes, pseudonym: str, now_ms: int
    ) -> JoinResult:
        """Redeem an invite and add the member in one transaction (protocol.md §4.5)."""

        async def run(db: aiosqlite.Connection) -> JoinResult:
            async with db.execute(
                "SELECT id, room, expires_ms, max_uses, uses, revoked, waiting_room"
                " FROM invites WHERE secret_hash = ?",
                (secret_hash,),
            ) as cur:
                invite = await cur.fetchone()
            if invite is None:
                raise RequestError(ErrorCode.INVITE_INVALID, "no invite has this secret")
            invite_id, room_id, expires_ms, max_uses, uses, revoked, waiting = invite
            async with db.execute(_SELECT_ROOM, (room_id,)) as cur:
                room_row = await cur.fetchone()
            assert room_row is not None
            async with db.execute(
                _SELECT_MEMBER,
                (room_id, identity),
            ) as cur:
                existing = await cur.fetchone()
            if existing is not None:
                return JoinResult(_room(room_row), _member(existing), new=False)
            if revoked:
                raise RequestError(ErrorCode.INVITE_REVOKED, "the invite was revoked")
            if expires_ms <= now_ms:
                raise RequestError(ErrorCode.INVITE_EXPIRED, "the invite has expired")
            if uses >= max_uses:
                raise RequestError(ErrorCode.INVITE_EXHAUSTED, "the invite is used up")
            await db.execute("UPDATE invites SET uses = uses + 1 WHERE id = ?", (invite_id,))
            member = MemberRecord(
                room=room_id,
                identity=identity,
                pseudonym=pseudonym,
                role=Role.MEMBER,
                status=MemberStatus.WAITING if waiting else MemberStatus.MEMBER,
                joined_ms=now_ms,
            )
            await self._insert_member(db, member)
            return JoinResult(_room(room_row), member, new=True)

        return await self._write(run)

    async def admit(self, room_id: str, identity: bytes) -> MemberRecord | None:
        """Admit a waiting member; None when the identity is not waiting in the room."""

        async def run(db: aiosqlite.Connection) -> MemberRecord | None:
            cur = await db.execute(
                "UPDATE members SET status = ? WHERE room = ? AND identity = ? AND status = ?",
                (MemberStatus.MEMBER.value, room_id, identity, MemberStatus.WAITING.value),
            )
            if cur.rowcount == 0:
                return None
            async with db.execute(
                _SELECT_MEMBER,
                (room_id, identity),
            ) as cur2:
                row = await cur2.fetchone()
            return _member(row) if row is not None else None

        return await self._write(run)

    async def remove_member(self, room_id: str, identity: bytes) -> bool:
        """Remove a member from the room; False when it was not one."""

        return await self._write_changes(
            "DELETE FROM members WHERE room = ? AND identity = ?", (room_id, identity)
        )
