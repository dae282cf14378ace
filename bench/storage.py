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
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import BenchError, Output, base_parser, latency_summary, ratio

PAYLOAD_BYTES = 192


async def run_mode(mode: str, messages: int, writers: int, rooms: int) -> dict[str, Any]:
    """Append ``messages`` from ``writers`` concurrent writers; figures for one mode."""
    from hearth_core.rules import MemberStatus, Role
    from hearth_server.storage import MemberRecord, NewMessage, RoomRecord
    from hearth_server.storage.sqlite import SqliteStore

    workdir = Path(tempfile.mkdtemp(prefix="hearth-bench-storage-"))
    try:
        store = SqliteStore(
            workdir / "hearth.db",
            clock_ms=lambda: int(time.time() * 1000),
            max_batch=1 if mode == "one-per-message" else 1024,
        )
        commits: list[int] = []
        await store.open()
        try:
            room_ids = [f"benchroom{n:013d}".ljust(22, "0")[:22] for n in range(rooms)]
            sender = bytes(32)
            for room_id in room_ids:
                await store.create_room(
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
            commit_us: list[float] = []

            def observe(size: int, seconds: float) -> None:
                commits.append(size)
                commit_us.append(seconds * 1e6)

            store.on_commit = observe
            payload = bytes(range(256))[:PAYLOAD_BYTES]
            latencies: list[float] = []
            per_writer = [
                messages // writers + (1 if i < messages % writers else 0) for i in range(writers)
            ]

            async def writer(number: int, count: int) -> None:
                room_id = room_ids[number % rooms]
                for k in range(count):
                    began = time.perf_counter()
                    await store.append(
                        NewMessage(
                            room=room_id, sender=sender, client_id=f"w{number}-{k}", payload=payload
                        )
                    )
                    latencies.append((time.perf_counter() - began) * 1e6)

            began = time.perf_counter()
            await asyncio.wait_for(
                asyncio.gather(*(writer(n, c) for n, c in enumerate(per_writer))), 600
            )
            elapsed = time.perf_counter() - began
            stored = 0
            for room_id in room_ids:
                stored += len(await store.read_messages(room_id, 0, messages + 1))
        finally:
            await store.close()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if stored != messages:
        raise BenchError(f"{mode}: {stored} messages stored, {messages} appended")
    lat = latency_summary(latencies)
    commit = latency_summary(commit_us)
    return {
        "mode": mode,
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
    """Alternate the two modes over repeats; print the table (and JSON)."""
    parser = base_parser("storage", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--messages", type=int, help="messages per batched run (default 20000)")
    parser.add_argument(
        "--single-messages", type=int, help="messages per one-per-message run (default 3000)"
    )
    parser.add_argument("--writers", type=int, default=100, help="concurrent writers")
    parser.add_argument("--rooms", type=int, default=10, help="rooms written to")
    parser.add_argument("--repeat", type=int, help="runs per mode, alternating (default 3)")
    args = parser.parse_args(argv)
    out = Output(args.json)
    if importlib.util.find_spec("hearth_server.storage.sqlite") is None:
        raise BenchError("Hearth's SQLite store (hearth_server.storage.sqlite) is not here")
    sizes = {
        "batched": args.messages or (400 if args.quick else 20000),
        "one-per-message": args.single_messages or (200 if args.quick else 3000),
    }
    repeat = args.repeat or (1 if args.quick else 3)
    runs: list[dict[str, Any]] = []
    for attempt in range(repeat):
        for mode in ("batched", "one-per-message"):
            out.log(f"storage: {mode}, run {attempt + 1} of {repeat}")
            runs.append(asyncio.run(run_mode(mode, sizes[mode], args.writers, args.rooms)))
    medians: dict[str, dict[str, Any]] = {}
    for mode in sizes:
        mine = sorted((r for r in runs if r["mode"] == mode), key=lambda r: r["writes_per_s"])
        medians[mode] = mine[len(mine) // 2]
    out.table(
        f"SQLite through Hearth's Store (WAL, synchronous=FULL), {args.writers} writers "
        f"awaiting each write, {PAYLOAD_BYTES}-byte payloads",
        [
            "mode",
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
        [
            [
                r["mode"],
                r["messages"],
                r["seconds"],
                r["writes_per_s"],
                r["commits"],
                r["messages_per_commit"],
                r["p50_ms"],
                r["p99_ms"],
                r["commit_p50_ms"],
                r["commit_p99_ms"],
                r["commit_max_ms"],
                r["commits_over_10ms"],
            ]
            for r in runs
        ],
    )
    speedup = ratio(medians["batched"]["writes_per_s"], medians["one-per-message"]["writes_per_s"])
    out.table(
        "Median of the runs",
        ["figure", "value"],
        [
            ["batched writes/s", medians["batched"]["writes_per_s"]],
            ["one-per-message writes/s", medians["one-per-message"]["writes_per_s"]],
            ["batched / one-per-message", speedup],
            ["postgresql", "no PostgreSQL Store yet"],
        ],
    )
    out.emit(
        "storage",
        args,
        {
            "engine": "sqlite",
            "runs": runs,
            "median": medians,
            "batched_over_single": speedup,
            "postgresql": None,
            "statistics": {
                "stdev_batched": statistics.pstdev(
                    [r["writes_per_s"] for r in runs if r["mode"] == "batched"]
                )
            },
        },
    )
    return 0
