"""``python -m bench catchup``: a member who missed 10,000 messages resumes (issue 7).

A fresh Hearth server (defaults: SQLite in a temporary directory) gets a room whose
reader member subscribes once and disconnects. Other members then send the
messages the reader misses; their sends are split over as many identities as the
per-identity burst announced in ``server_hello.limits`` needs (protocol.md §7), so
the rate limit is never hit. Then the reader reconnects: ``hello``, Ed25519
authentication, ``subscribe`` with ``after`` = its last sequence (protocol.md §9).
Measured: the time from opening the connection until it holds every missed message,
checked to be complete and in order (sequence after+1 .. head with no gap and no
duplicate), and the part from ``subscribe`` to ``synced``. The target is under one
second for 10,000 messages; a bare relay stores nothing, so there is no baseline.
"""

from __future__ import annotations

import asyncio
import math
import time
from typing import Any

from bench import hearth_proto, systems
from bench.common import BenchError, Output, base_parser, proc_cpu_seconds
from bench.hearth_proto import HearthClient
from hearth_core.codec import decode_server_frame, encode_frame
from hearth_core.frames import Ack, Error, Message, Subscribe, Synced

TARGET_S = 1.0
PAYLOAD_BYTES = 192


async def fill(port: int, members: list[HearthClient], total: int, burst: int) -> int:
    """Send ``total`` messages from ``members`` (at most ``burst`` each); the last seq."""
    head = 0
    payload = bytes(range(256))[:PAYLOAD_BYTES]
    shares = [min(burst, total - i * burst) for i in range(len(members))]

    async def send_all(member: HearthClient, count: int) -> int:
        last = 0
        for k in range(count):
            member.ws.send_text(member.send_frame(payload, k))
        acks = 0
        while acks < count:
            frame = decode_server_frame(await member.ws.recv(60))
            if isinstance(frame, Ack):
                acks += 1
                last = max(last, frame.seq)
            elif isinstance(frame, Error):
                raise BenchError(f"send refused while filling: {frame.code} ({frame.message})")
        return last

    for last in await asyncio.gather(
        *(send_all(m, c) for m, c in zip(members, shares, strict=True))
    ):
        head = max(head, last)
    return head


async def resume(port: int, reader_key: Any, room: str, after: int, head: int) -> dict[str, float]:
    """Reconnect the reader and take every message after ``after``; timings in seconds."""
    began = time.perf_counter()
    reader = await hearth_proto.connect_member(port, key=reader_key)
    reader.room = room
    authed = time.perf_counter()
    reader.ws.send_text(
        encode_frame(Subscribe(ref=1, room=room, identity=reader.identity, after=after))
    )
    expected_seq = after + 1
    count = 0
    synced_at = math.nan
    for _ in range(head - after + 1000):
        frame = decode_server_frame(await reader.ws.recv(60))
        if isinstance(frame, Message):
            if frame.seq != expected_seq:
                raise BenchError(f"resume out of order: seq {frame.seq}, wanted {expected_seq}")
            expected_seq += 1
            count += 1
        elif isinstance(frame, Synced):
            synced_at = time.perf_counter()
            break
        elif isinstance(frame, Error):
            raise BenchError(f"subscribe refused: {frame.code} ({frame.message})")
    done = time.perf_counter()
    reader.ws.close()
    if count != head - after:
        raise BenchError(f"resume delivered {count} messages, wanted {head - after}")
    return {
        "total_s": done - began,
        "connect_auth_s": authed - began,
        "subscribe_to_synced_s": synced_at - authed,
        "messages": count,
    }


async def scenario(port: int, pid: int, missed: int, repeat: int, out: Output) -> dict[str, Any]:
    """Set up the room, fill it while the reader is away, then time ``repeat`` resumes."""
    reader = await hearth_proto.connect_member(port)
    burst = reader.limits.send_burst if reader.limits else 1
    senders_needed = max(1, math.ceil(missed / max(1, burst)))
    # The senders join (which binds the room for sending) but never subscribe: fan-out
    # to them would only add work that is not the reader's catch-up.
    members = await hearth_proto.open_room(
        port, senders_needed + 1, 0, first=reader, subscribe_all=False
    )
    room = reader.room
    await hearth_proto.subscribe(reader)  # the reader has seen everything so far: nothing
    reader.ws.close()
    senders = members[1:]
    out.log(
        f"catchup: filling {missed} messages from {len(senders)} identities (burst {burst} each)"
    )
    head = await fill(port, senders, missed, burst)
    for sender in senders:
        sender.ws.close()
    runs = []
    for attempt in range(repeat):
        cpu = proc_cpu_seconds(pid)
        timing = await resume(port, reader.key, room, 0, head)
        timing["server_cpu_s"] = proc_cpu_seconds(pid) - cpu
        runs.append(timing)
        out.log(f"catchup: resume {attempt + 1}: {timing['total_s']:.3f} s")
    return {"missed": missed, "head": head, "senders": len(senders), "runs": runs}


def main(argv: list[str]) -> int:
    """Run the scenario on fresh Hearth servers (asyncio and uvloop); print table and JSON."""
    parser = base_parser("catchup", __doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--messages", type=int, help="messages missed (default 10000)")
    parser.add_argument("--repeat", type=int, help="resumes timed (default 5)")
    parser.add_argument("--systems", default="hearth,hearth-uvloop")
    args = parser.parse_args(argv)
    out = Output(args.json)
    missed = args.messages or (300 if args.quick else 10000)
    repeat = args.repeat or (2 if args.quick else 5)
    names, skipped = systems.available([s for s in args.systems.split(",") if s], [])
    if not names:
        raise BenchError("no Hearth server to measure: " + "; ".join(skipped.values()))
    results: dict[str, Any] = {}
    for name in names:
        with systems.start(name) as running:
            results[name] = asyncio.run(scenario(running.port, running.pid, missed, repeat, out))
    rows = []
    for name, res in results.items():
        totals = sorted(r["total_s"] for r in res["runs"])
        res["median_s"] = totals[len(totals) // 2]
        res["best_s"] = totals[0]
        res["met"] = res["median_s"] < TARGET_S
        median_run = next(r for r in res["runs"] if r["total_s"] == res["median_s"])
        rows.append(
            [
                name,
                missed,
                res["median_s"],
                res["best_s"],
                median_run["subscribe_to_synced_s"],
                missed / res["median_s"],
                median_run["server_cpu_s"],
                "yes" if res["met"] else "NO",
            ]
        )
    out.table(
        f"Catch-up: reconnect, authenticate, resume {missed} missed messages in order "
        f"(median of {repeat}; target < {TARGET_S:g} s)",
        ["system", "missed", "median s", "best s", "sub->synced s", "msgs/s", "srv cpu s", "met"],
        rows,
    )
    out.emit(
        "catchup",
        args,
        {"systems": names, "skipped": skipped, "target_s": TARGET_S, "results": results},
    )
    return 0
