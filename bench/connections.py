"""``python -m bench connections``: idle connections held, RSS per connection (issue 7).

For each count (1,000 up to 10,000) and each system, interleaved, a fresh server is
started, its resting RSS read, then worker processes open that many connections
(Hearth's said ``hello`` and authenticated an Ed25519 identity, protocol.md §3.2;
the bare relays' joined rooms of 10) and hold them idle. Reported: the time to
connect them all, the server's RSS growth per connection once settled, and the
ratio of Hearth's to the bare ``websockets`` relay's. The open-file limit is
raised to its hard limit first.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import multiprocessing.connection
import time
from typing import Any

from bench import systems, wsclient
from bench.common import (
    BenchError,
    Output,
    base_parser,
    proc_cpu_seconds,
    proc_rss_mib,
    raise_nofile_limit,
    ratio,
)

FULL_COUNTS = [1000, 2000, 5000, 10000]
#: A result row's figures, in the column order of its table (here and in bench/report.py).
ROW_KEYS = (
    "system",
    "connections",
    "connect_s",
    "connects_per_s",
    "server_cpu_connect_s",
    "rss_before_mib",
    "rss_after_mib",
    "kib_per_connection",
    "dropped",
)
SETTLE_S = 1.0


async def _hold(
    protocol: str,
    port: int,
    count: int,
    concurrency: int,
    pipe: multiprocessing.connection.Connection,
) -> None:
    limit = asyncio.Semaphore(concurrency)
    held: list[wsclient.RawWebSocket] = []

    async def one(number: int) -> None:
        async with limit:
            if protocol == "hearth":
                from bench import hearth_proto

                member = await hearth_proto.connect_member(port)
                held.append(member.ws)
            else:
                held.append(await wsclient.connect("127.0.0.1", port, f"/idle{number // 10}"))

    began = time.perf_counter()
    await asyncio.wait_for(asyncio.gather(*(one(n) for n in range(count))), 300)
    pipe.send(("connected", time.perf_counter() - began))
    loop = asyncio.get_running_loop()
    await loop.run_in_executor(None, pipe.poll, 600)
    dropped = sum(1 for ws in held if ws.closed.done())
    for ws in held:
        ws.close()
    pipe.send(("done", dropped))


def hold_worker(
    protocol: str,
    port: int,
    count: int,
    concurrency: int,
    pipe: multiprocessing.connection.Connection,
) -> None:
    """Process entry: open ``count`` idle connections, hold them until told, close them."""
    try:
        try:
            import uvloop

            uvloop.run(_hold(protocol, port, count, concurrency, pipe))
        except ImportError:
            asyncio.run(_hold(protocol, port, count, concurrency, pipe))
    except BaseException as exc:
        pipe.send(("error", f"{type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


def _expect(pipe: multiprocessing.connection.Connection, kind: str, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise BenchError(f"connection worker silent for {timeout:.0f} s (wanted {kind})")
    message = pipe.recv()
    if message[0] != kind:
        raise BenchError(f"connection worker: {message[1]}")
    return message[1]


def measure(name: str, count: int, workers: int, concurrency: int) -> dict[str, Any]:
    """Hold ``count`` idle connections to a fresh ``name``; RSS per connection, connect time."""
    ctx = multiprocessing.get_context("spawn")
    with systems.start(name) as running:
        time.sleep(0.3)
        rss_before = proc_rss_mib(running.pid)
        cpu_before = proc_cpu_seconds(running.pid)
        shares = [count // workers + (1 if i < count % workers else 0) for i in range(workers)]
        pipes, procs = [], []
        try:
            for share in shares:
                parent, child = ctx.Pipe()
                proc = ctx.Process(
                    target=hold_worker,
                    daemon=True,
                    args=(running.protocol, running.port, share, concurrency, child),
                )
                proc.start()
                child.close()
                pipes.append(parent)
                procs.append(proc)
            # each worker times its own connects (process start-up excluded); the slowest counts
            connect_s = max(float(_expect(pipe, "connected", 330)) for pipe in pipes)
            cpu_connect = proc_cpu_seconds(running.pid) - cpu_before
            time.sleep(SETTLE_S)
            rss_after = proc_rss_mib(running.pid)
            for pipe in pipes:
                pipe.send(("close", None))
            dropped = sum(int(_expect(pipe, "done", 60)) for pipe in pipes)
        finally:
            for proc in procs:
                proc.join(timeout=10)
                if proc.is_alive():
                    proc.kill()
                    proc.join(timeout=5)
            for pipe in pipes:
                pipe.close()
    return {
        "system": name,
        "connections": count,
        "connect_s": connect_s,
        "connects_per_s": count / connect_s if connect_s else None,
        "server_cpu_connect_s": cpu_connect,
        "rss_before_mib": rss_before,
        "rss_after_mib": rss_after,
        "kib_per_connection": (rss_after - rss_before) * 1024 / count,
        "dropped": dropped,
    }


def main(argv: list[str]) -> int:
    """Measure every count on every system, interleaved; print tables (and JSON)."""
    parser = base_parser("connections", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--systems", default="relay,hearth,node")
    parser.add_argument("--counts", help="comma-separated (default 1000,2000,5000,10000)")
    parser.add_argument("--workers", type=int, default=2, help="client processes")
    parser.add_argument(
        "--concurrency", type=int, default=64, help="connections being opened at once per worker"
    )
    args: argparse.Namespace = parser.parse_args(argv)
    counts = (
        [int(c) for c in args.counts.split(",")]
        if args.counts
        else ([100] if args.quick else FULL_COUNTS)
    )
    out = Output(args.json)
    soft, hard = raise_nofile_limit()
    needed = max(counts) + 200
    if soft < needed:
        out.log(f"open-file limit {soft} (hard {hard}) is below {needed}: counts trimmed")
        counts = [c for c in counts if c + 200 <= soft] or [max(1, soft - 200)]
    notes: list[str] = []
    names, skipped = systems.available(
        [s.strip() for s in args.systems.split(",") if s.strip()], notes
    )
    for note in notes:
        out.log(note)
    for name, reason in skipped.items():
        out.log(f"skipping {name}: {reason}")
    rows: list[dict[str, Any]] = []
    for count in counts:
        for name in names:
            out.log(f"connections: {name}, {count} idle")
            rows.append(measure(name, count, min(args.workers, count), args.concurrency))
    out.table(
        "Idle connections (Hearth: hello + Ed25519 auth; relays: joined a room)",
        [
            "system",
            "conns",
            "connect s",
            "conn/s",
            "srv cpu s",
            "RSS0 MiB",
            "RSS MiB",
            "KiB/conn",
            "dropped",
        ],
        [[r[key] for key in ROW_KEYS] for r in rows],
    )
    summary: dict[str, Any] = {}
    for count in counts:
        relay = next(
            (r for r in rows if r["system"] == "relay" and r["connections"] == count), None
        )
        for name in names:
            other = next(
                (r for r in rows if r["system"] == name and r["connections"] == count), None
            )
            if relay is None or other is None or name == "relay":
                continue
            summary[f"{name} RSS/conn / relay at {count}"] = {
                "value": ratio(other["kib_per_connection"], relay["kib_per_connection"]),
                "target": "<= 2" if name == "hearth" else "-",
            }
            summary[f"{name} connect time / relay at {count}"] = {
                "value": ratio(other["connect_s"], relay["connect_s"]),
                "target": "-",
            }
    for item in summary.values():
        target = item["target"]
        item["met"] = (item["value"] <= 2.0) if target == "<= 2" and item["value"] else None
    out.table(
        "Ratios to the bare websockets relay (same run)",
        ["figure", "value", "target", "met"],
        [[k, v["value"], v["target"], v["met"]] for k, v in summary.items()],
    )
    out.emit(
        "connections", args, {"systems": names, "skipped": skipped, "rows": rows, "ratios": summary}
    )
    return 0
