"""``python -m bench storage``: durable message writes/s, batched vs one commit each (issue 7).

Drives Hearth's own ``Store`` (``hearth_server.storage``) on a real SQLite file in a
temporary directory, WAL with ``synchronous=FULL`` as the server runs it
(protocol.md §8.2). Writers append messages and wait for each to be durable before
the next, as a member waits for its ``ack``, from many rooms at once:

- ``batched``: the store's default group commit (everything queued, up to
  ``max_batch``, shares one transaction);
- ``one-per-message``: the same store with ``max_batch=1``, one commit per message,
  the baseline batching is measured against.

Reported per mode: writes/s, commits, mean messages per commit and the p50/p99 time
from ``append`` to durable. Modes alternate over repeats (median reported) so a
noisy neighbour hits both. PostgreSQL joins once a PostgreSQL ``Store`` exists.
"""

from __future__ import annotations

import asyncio
import importlib.util
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import BenchError, Output, base_parser, latency_summary, ratio

PAYLOAD_BYTES = 192
#: A run's figures, in the column order of its table (here and in bench/report.py).
ROW_KEYS = (
    "mode",
    "writers",
    "messages",
    "seconds",
    "writes_per_s",
    "commits",
    "messages_per_commit",
    "p50_ms",
    "p99_ms",
    "commit_p50_ms",
    "commit_p99_ms",
)


MODES = ("batched", "one-per-message")


class _HearthAdapter:
    """Hearth's ``SqliteStore`` behind the small interface the writers use."""

    def __init__(self, path: Path, single: bool) -> None:
        from hearth_server.storage.sqlite import SqliteStore

        self.store = SqliteStore(
            path, clock_ms=lambda: int(time.time() * 1000), max_batch=1 if single else 1024
        )

    async def open(self, rooms: list[str], sender: bytes) -> None:
        from hearth_core.rules import MemberStatus, Role
        from hearth_server.storage import MemberRecord, RoomRecord

        await self.store.open()
        for room_id in rooms:
            await self.store.create_room(
                RoomRecord(
                    id=room_id, created_ms=0, metadata=b"", waiting_room=False, retention_s=None
                ),
                MemberRecord(
                    room=room_id,
                    identity=sender,
                    pseudonym="bench",
                    role=Role.FACILITATOR,
                    status=MemberStatus.MEMBER,
                    joined_ms=0,
                ),
            )

    def observe(self, callback: Callable[[int, float], None]) -> None:
        self.store.on_commit = callback

    async def append(self, room: str, sender: bytes, client_id: str, payload: bytes) -> None:
        from hearth_server.storage import NewMessage

        await self.store.append(
            NewMessage(room=room, sender=sender, client_id=client_id, payload=payload)
        )

    async def count(self, room: str) -> int:
        return len(await self.store.read_messages(room, 0, 10**9))

    async def close(self) -> None:
        await self.store.close()


async def _busy(slice_ms: float, stop: asyncio.Event) -> None:
    """Keep the event loop busy ``slice_ms`` at a time, as a server fanning out would."""
    while not stop.is_set():
        until = time.perf_counter() + slice_ms / 1000
        while time.perf_counter() < until:
            pass
        await asyncio.sleep(0)


async def run_mode(
    mode: str, messages: int, writers: int, rooms: int, busy_ms: float = 0.0
) -> dict[str, Any]:
    """Append ``messages`` from ``writers`` concurrent writers; figures for one mode."""
    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-storage-"))
    stop = asyncio.Event()
    busy = asyncio.create_task(_busy(busy_ms, stop)) if busy_ms > 0 else None
    try:
        path = workdir / "hearth.db"
        store = _HearthAdapter(path, single=(mode == "one-per-message"))
        room_ids = [f"benchroom{n:013d}".ljust(22, "0")[:22] for n in range(rooms)]
        sender = bytes(32)
        commits: list[int] = []
        commit_us: list[float] = []
        latencies: list[float] = []
        await store.open(room_ids, sender)
        try:

            def observe(size: int, seconds: float) -> None:
                commits.append(size)
                commit_us.append(seconds * 1e6)

            store.observe(observe)
            payload = bytes(range(256))[:PAYLOAD_BYTES]
            per_writer = [
                messages // writers + (1 if i < messages % writers else 0) for i in range(writers)
            ]

            async def writer(number: int, count: int) -> None:
                room_id = room_ids[number % rooms]
                for k in range(count):
                    began = time.perf_counter()
                    await store.append(room_id, sender, f"w{number}-{k}", payload)
                    latencies.append((time.perf_counter() - began) * 1e6)

            began = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(writer(n, c) for n, c in enumerate(per_writer))), 600
            )
            elapsed = time.perf_counter() - began
            stored = 0
            for room_id in room_ids:
                stored += await store.count(room_id)
        finally:
            await store.close()
    finally:
        stop.set()
        if busy is not None:
            await busy
        shutil.rmtree(workdir, ignore_errors=True)
    if stored != messages:
        raise BenchError(f"{mode}: {stored} messages stored, {messages} appended")
    lat = latency_summary(latencies)
    commit = latency_summary(commit_us)
    return {
        "mode": mode,
        "busy_ms": busy_ms,
        "messages": messages,
        "writers": writers,
        "seconds": elapsed,
        "writes_per_s": messages / elapsed,
        "commits": len(commits),
        "messages_per_commit": (sum(commits) / len(commits)) if commits else None,
        "p50_ms": lat["p50_ms"],
        "p99_ms": lat["p99_ms"],
        "commit_p50_ms": commit["p50_ms"],
        "commit_p99_ms": commit["p99_ms"],
        "commit_max_ms": commit["max_ms"],
        "commits_over_10ms": sum(1 for c in commit_us if c > 10_000),
    }


def main(argv: list[str]) -> int:
    """Alternate the modes over repeats for each writer count; print tables (and JSON)."""
    parser = base_parser("storage", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--messages", type=int, help="messages per batched run (default 20000)")
    parser.add_argument(
        "--single-messages", type=int, help="messages per one-per-message run (default 3000)"
    )
    parser.add_argument(
        "--writers",
        default=None,
        help="concurrent writers, comma-separated (default 2,100; quick 10)",
    )
    parser.add_argument("--rooms", type=int, default=10, help="rooms written to")
    parser.add_argument("--repeat", type=int, help="runs per mode, alternating (default 3)")
    parser.add_argument(
        "--busy-ms",
        type=float,
        default=0.0,
        help="keep the event loop busy in slices of this many ms meanwhile, "
        "as a server fanning out does (shows what each thread hop costs)",
    )
    parser.add_argument(
        "--switch-interval-ms",
        type=float,
        help="set sys.setswitchinterval (GIL hand-over; Python's default 5 ms)",
    )
    args = parser.parse_args(argv)
    out = Output(args.json)
    if args.switch_interval_ms:
        sys.setswitchinterval(args.switch_interval_ms / 1000)
    if importlib.util.find_spec("hearth_server.storage.sqlite") is None:
        raise BenchError("Hearth's SQLite store (hearth_server.storage.sqlite) is not here")
    writer_counts = [int(w) for w in (args.writers or ("10" if args.quick else "2,100")).split(",")]
    batched = args.messages or (400 if args.quick else 20000)
    sizes = {
        "batched": batched,
        "one-per-message": args.single_messages or (200 if args.quick else 3000),
    }
    repeat = args.repeat or (1 if args.quick else 3)
    runs: list[dict[str, Any]] = []
    for writers in writer_counts:
        for attempt in range(repeat):
            for mode in MODES:
                out.log(f"storage: {mode}, {writers} writers, run {attempt + 1} of {repeat}")
                runs.append(
                    asyncio.run(run_mode(mode, sizes[mode], writers, args.rooms, args.busy_ms))
                )
    by_writers: dict[str, dict[str, dict[str, Any]]] = {}
    for writers in writer_counts:
        medians: dict[str, dict[str, Any]] = {}
        for mode in MODES:
            mine = sorted(
                (r for r in runs if r["mode"] == mode and r["writers"] == writers),
                key=lambda r: r["writes_per_s"],
            )
            medians[mode] = mine[len(mine) // 2]
        by_writers[str(writers)] = medians
    out.table(
        f"SQLite through Hearth's Store (WAL, synchronous=FULL), writers awaiting each write, "
        f"{PAYLOAD_BYTES}-byte payloads, loop busy slices {args.busy_ms:g} ms, GIL switch "
        f"interval {sys.getswitchinterval() * 1000:g} ms",
        [
            "mode",
            "writers",
            "msgs",
            "seconds",
            "writes/s",
            "commits",
            "msgs/commit",
            "p50 ms",
            "p99 ms",
            "commit p50",
            "commit p99",
            "commit max",
            "> 10 ms",
        ],
        [[r[key] for key in (*ROW_KEYS, "commit_max_ms", "commits_over_10ms")] for r in runs],
    )
    summary: list[list[Any]] = []
    for count, medians in by_writers.items():
        summary += [
            [
                f"{count} writers: batched / one-per-message writes/s",
                ratio(
                    medians["batched"]["writes_per_s"], medians["one-per-message"]["writes_per_s"]
                ),
            ],
        ]
    summary.append(["postgresql", "no PostgreSQL Store yet"])
    out.table("Medians of the runs", ["figure", "value"], summary)
    primary = by_writers[str(max(writer_counts))]
    out.emit(
        "storage",
        args,
        {
            "engine": "sqlite",
            "runs": runs,
            "median": primary,
            "by_writers": by_writers,
            "batched_over_single": ratio(
                primary["batched"]["writes_per_s"], primary["one-per-message"]["writes_per_s"]
            ),
            "summary": summary,
            "postgresql": None,
        },
    )
    return 0
