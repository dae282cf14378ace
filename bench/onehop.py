"""A reference group-commit writer with ONE thread hop per batch (bench-side, for diagnosis).

Hearth's ``SqliteStore`` runs each batch as about six aiosqlite calls (BEGIN, SAVEPOINT,
INSERT executemany, RELEASE, UPDATE heads, COMMIT), and each call is a round trip
between the event loop and aiosqlite's thread: the batch pays the loop's latency six
times over. This writer does the same SQL work (WAL, ``synchronous=FULL``, the same
``messages`` primary key and idempotency index, room heads) in one synchronous
function on one dedicated thread, called once per batch with ``run_in_executor``.
It exists only to measure what the extra round trips cost; it is not a store.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

SCHEMA = (
    "CREATE TABLE IF NOT EXISTS rooms (id TEXT PRIMARY KEY, head_seq INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS messages (room TEXT NOT NULL, seq INTEGER NOT NULL,"
    " sender BLOB NOT NULL, client_id TEXT NOT NULL, ts_ms INTEGER NOT NULL,"
    " payload BLOB NOT NULL, meta TEXT, PRIMARY KEY (room, seq))",
    "CREATE UNIQUE INDEX IF NOT EXISTS messages_idempotency ON messages (room, sender, client_id)",
)

Row = tuple[str, bytes, str, bytes]  # room, sender, client id, payload


class OneHopWriter:
    """Queue appends; one task commits everything queued with a single thread hop."""

    def __init__(self, path: Path, max_batch: int = 1024) -> None:
        self.path = path
        self.max_batch = max_batch
        self.on_commit: Callable[[int, float], None] | None = None
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="onehop")
        self._db: sqlite3.Connection | None = None
        self._queue: list[tuple[Row, asyncio.Future[int]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._heads: dict[str, int] = {}

    def _open_sync(self) -> None:
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        for statement in SCHEMA:
            db.execute(statement)
        self._db = db

    async def open(self, rooms: list[str]) -> None:
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(self._executor, self._open_sync)
        assert self._db is not None
        for room in rooms:
            await loop.run_in_executor(
                self._executor,
                self._db.execute,
                "INSERT INTO rooms (id, head_seq) VALUES (?, 0)",
                (room,),
            )
            self._heads[room] = 0
        self._task = asyncio.create_task(self._loop())

    def _commit_sync(self, rows: list[Row], ts: int) -> list[int]:
        db = self._db
        assert db is not None
        seqs = []
        values = []
        for room, sender, client_id, payload in rows:
            seq = self._heads[room] + 1
            self._heads[room] = seq
            seqs.append(seq)
            values.append((room, seq, sender, client_id, ts, payload, None))
        db.execute("BEGIN IMMEDIATE")
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?)", values)
        db.executemany(
            "UPDATE rooms SET head_seq = ? WHERE id = ?",
            [(self._heads[r], r) for r in {row[0] for row in rows}],
        )
        db.execute("COMMIT")
        return seqs

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._queue:
                batch = self._queue[: self.max_batch]
                del self._queue[: self.max_batch]
                started = loop.time()
                seqs = await loop.run_in_executor(
                    self._executor, self._commit_sync, [row for row, _ in batch], 0
                )
                if self.on_commit is not None:
                    self.on_commit(len(batch), loop.time() - started)
                for (_, future), seq in zip(batch, seqs, strict=True):
                    if not future.done():
                        future.set_result(seq)
            if self._closing and not self._queue:
                return

    async def append(self, room: str, sender: bytes, client_id: str, payload: bytes) -> int:
        """Append one message; return its sequence once committed."""
        future: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._queue.append(((room, sender, client_id, payload), future))
        self._wake.set()
        return await future

    async def count(self, room: str) -> int:
        assert self._db is not None
        loop = asyncio.get_running_loop()
        row = await loop.run_in_executor(
            self._executor,
            lambda: self._db.execute(  # type: ignore[union-attr]
                "SELECT COUNT(*) FROM messages WHERE room = ?", (room,)
            ).fetchone(),
        )
        return int(row[0])

    async def close(self) -> None:
        self._closing = True
        self._wake.set()
        if self._task is not None:
            await self._task
        if self._db is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, self._db.close)
        self._executor.shutdown(wait=True)
