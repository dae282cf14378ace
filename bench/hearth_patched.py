"""Diagnostic variant ``hearth-onehop``: Hearth with its message batches committed in ONE
round trip to the database thread (a bench-side prototype of a proposed fix).

``SqliteStore._run_batch`` issues about six aiosqlite calls per batch (BEGIN,
SAVEPOINT, INSERT, RELEASE, UPDATE heads, COMMIT); each is a hop from the event loop to
aiosqlite's thread and back, so under load every commit pays the loop's latency and the
GIL hand-over several times. This launcher replaces, at run time and only in the
process it starts, the handling of batches made only of appends to rooms whose head is
known: the same SQL (same rows, same sequence numbers, same transaction, commit before
any acknowledgement or fan-out, protocol.md §8.2) runs as one synchronous function on
aiosqlite's own thread. Anything else (room operations, a repeated client id,
an unknown head) takes the server's own path unchanged. Nothing in the server's files
is edited; the figures show what the change would buy.

    python -m bench.hearth_patched --host 127.0.0.1 --port P --db FILE
"""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from dataclasses import replace
from typing import Any

INSERT = (
    "INSERT INTO messages (room, seq, sender, client_id, ts_ms, payload, meta)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)


def install() -> None:
    """Patch ``SqliteStore._run_batch`` in this process."""
    from hearth_server.errors import StoreError
    from hearth_server.storage import sqlite as store_module
    from hearth_server.storage.base import AppendResult

    store_class = store_module.SqliteStore
    append_type = store_module._Append
    meta_encoder = store_module._META
    original = store_class._run_batch

    def commit_sync(
        conn: sqlite3.Connection, heads: dict[str, int], batch: list[Any], ts: int
    ) -> list[AppendResult]:
        results: list[AppendResult] = []
        rows: list[tuple[Any, ...]] = []
        seen: dict[tuple[str, bytes, str], AppendResult] = {}
        for item in batch:
            msg = item.message
            key = (msg.room, msg.sender, msg.client_id)
            first = seen.get(key)
            if first is not None:
                results.append(replace(first, duplicate=True))
                continue
            seq = heads[msg.room] + 1
            heads[msg.room] = seq
            meta = meta_encoder.encode(msg.meta).decode() if msg.meta is not None else None
            rows.append((msg.room, seq, msg.sender, msg.client_id, ts, msg.payload, meta))
            result = AppendResult(msg.room, msg.client_id, seq, ts, duplicate=False)
            seen[key] = result
            results.append(result)
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.executemany(INSERT, rows)
            touched = {r.room for r in results if not r.duplicate}
            conn.executemany(
                "UPDATE rooms SET head_seq = ? WHERE id = ?",
                [(heads[room], room) for room in touched],
            )
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        return results

    async def run_batch(self: Any, batch: list[Any]) -> None:
        if not all(isinstance(i, append_type) and i.message.room in self._heads for i in batch):
            await original(self, batch)
            return
        db = self._writer
        loop = asyncio.get_running_loop()
        started = loop.time()
        heads = dict(self._heads)
        try:
            results: list[Any] = await db._execute(commit_sync, db._conn, heads, batch, self._now())
        except sqlite3.IntegrityError:  # a repeated client id: the server's careful path
            await original(self, batch)
            return
        except Exception as exc:  # storage failure: nothing in this batch is stored
            results = [StoreError(f"commit failed: {type(exc).__name__}")] * len(batch)
        else:
            self._heads = heads
        if self.on_commit is not None:
            self.on_commit(len(batch), loop.time() - started)
        for item, result in zip(batch, results, strict=True):
            try:
                item.callback(result)
            except Exception:  # as the server does: a bad callback never stops the writer
                store_module._log.exception("append_callback_failed")

    store_class._run_batch = run_batch  # type: ignore[method-assign]


def install_direct_writes() -> None:
    """Patch ``Outbox.push`` in this process: write at once when nothing is pending.

    The server's outbox wakes a per-connection writer task for every push (an
    ``asyncio.Event``, a future, a task step and an ``async with send_context()``), even
    when the push is the only frame that connection gets in this tick. Here, when the
    queue is empty, the writer is not mid-write (``_stalled``), the connection is open
    with no fragmented send in progress and the transport's buffer is empty, the frame
    is framed and handed to the transport right away, as ``websockets.broadcast`` does;
    otherwise the server's own queued path runs (so a client that does not read still
    fills its queue and is disconnected with 4008, protocol.md §6)."""
    from websockets.protocol import State

    from hearth_server.outbox import Outbox

    original_push = Outbox.push

    def push(self: Any, data: bytes, *, paced: bool = False) -> bool:
        ws = self._ws
        if (
            not paced
            and not self._queue
            and not self._stalled
            and not self.closed
            and ws.protocol.state is State.OPEN
            and ws.send_in_progress is None
            and ws.transport.get_write_buffer_size() == 0
        ):
            try:
                ws.protocol.send_text(data)
                ws.send_data()
            except Exception:
                return bool(original_push(self, data, paced=paced))
            self.sent_frames += 1
            return True
        return bool(original_push(self, data, paced=paced))

    Outbox.push = push  # type: ignore[method-assign]


def main(argv: list[str] | None = None) -> int:
    """Install the patches named by ``BENCH_PATCHES`` (default: onehop), then run the
    server's public entry point unchanged."""
    patches = set(os.environ.get("BENCH_PATCHES", "onehop").split(","))
    if "onehop" in patches:
        install()
    if "direct" in patches:
        install_direct_writes()
    from hearth_server.__main__ import main as server_main

    return int(server_main(list(sys.argv[1:] if argv is None else argv)) or 0)


if __name__ == "__main__":
    sys.exit(main())
