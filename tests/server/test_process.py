"""The real ``hearth-server`` console script in a subprocess: the README command,
SIGTERM, and ``kill -9`` during a burst losing no acknowledged message
(README "Set-up"; protocol.md §6, §8.2)."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from hearth_core.frames import Ack, CreateRoom, Error, RoomCreated, Send, Subscribe, Synced

from .client import TIMEOUT, ProtocolClient
from .conftest import leaks, payload
from .test_http import get, http

SCRIPT = Path(sys.executable).parent / "hearth-server"


class ServerProcess:
    def __init__(self, proc: asyncio.subprocess.Process, port: int, lines: list[str]) -> None:
        self.proc, self.port, self.lines = proc, port, lines

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"


@asynccontextmanager
async def running_server(
    args: list[str], env: dict[str, str], logs: list[str]
) -> AsyncIterator[ServerProcess]:
    """Start the console script with ``--port 0``-like settings and read its port from the log."""
    proc = await asyncio.create_subprocess_exec(
        str(SCRIPT),
        *args,
        env={**os.environ, **env},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    assert proc.stderr is not None
    port = 0
    try:
        async with asyncio.timeout(TIMEOUT * 2):
            while not port:
                line = (await proc.stderr.readline()).decode()
                assert line, f"server exited early: {logs}"
                logs.append(line)
                record = json.loads(line)
                if record.get("event") == "listening":
                    port = int(record["port"])
        pump = asyncio.create_task(_pump(proc, logs))
        yield ServerProcess(proc, port, logs)
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()
    await pump


async def _pump(proc: asyncio.subprocess.Process, logs: list[str]) -> None:
    assert proc.stderr is not None
    while line := await proc.stderr.readline():
        logs.append(line.decode())


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
async def test_readme_command_serves_health_and_stops_on_sigterm(tmp_path: Path, loop: str) -> None:
    logs: list[str] = []
    env = {"XDG_DATA_HOME": str(tmp_path), "HEARTH_PORT": "0"}  # no flags, no config file
    env["HEARTH_LOOP"] = loop
    async with running_server([], env, logs) as server:
        assert await http(server.port, get("/healthz")) == (200, b"ok\n")
        client = await ProtocolClient.connect(server.url)
        await client.hello()
        created = await client.ok(CreateRoom(identity=await client.new_identity(), pseudonym="a"))
        assert isinstance(created, RoomCreated)
        server.proc.send_signal(signal.SIGTERM if loop == "asyncio" else signal.SIGINT)
        assert await client.wait_closed() == 1001
        async with asyncio.timeout(TIMEOUT):
            assert await server.proc.wait() == 0
    assert (tmp_path / "hearth" / "hearth.db").is_file()
    assert any(json.loads(line).get("event") == "stopped" for line in logs)
    assert not leaks("".join(logs))


async def burst(client: ProtocolClient, room: str, count: int) -> None:
    for i in range(count):
        await client.send_frame(Send(room=room, id=f"m{i}", payload=payload(i)))


async def test_kill_9_during_a_burst_loses_no_acknowledged_message(tmp_path: Path) -> None:
    db = tmp_path / "crash.db"
    args, logs = ["--db", str(db), "--port", "0"], []
    env = {"HEARTH_SEND_RATE": "100000", "HEARTH_SEND_BURST": "100000"}
    env |= {"HEARTH_FRAME_RATE": "100000", "HEARTH_FRAME_BURST": "100000"}
    acked: dict[str, int] = {}
    async with running_server(args, env, logs) as server:
        client = await ProtocolClient.connect(server.url)
        await client.hello()
        me = await client.new_identity()
        key = client.keys[me]
        created = await client.ok(CreateRoom(identity=me, pseudonym="river"))
        assert isinstance(created, RoomCreated)
        room = created.room
        sending = asyncio.create_task(burst(client, room, 5000))
        async with asyncio.timeout(TIMEOUT * 3):
            while len(acked) < 500:
                ack = await client.next_of(Ack)
                acked[ack.id] = ack.seq
        server.proc.send_signal(signal.SIGKILL)  # mid-burst: no chance to flush anything
        await server.proc.wait()
        await asyncio.gather(sending, return_exceptions=True)
        await client.wait_closed()
        acked |= {f.id: f.seq for f in client.frames if isinstance(f, Ack)}
    assert len(acked) >= 500
    async with running_server(args, env, logs) as server:
        again = await ProtocolClient.connect(server.url)
        await again.hello()
        await again.auth_existing(key)
        answer = await again.ok(Subscribe(room=room, identity=me))
        head = answer.head
        stored = await again.messages(room, head, TIMEOUT * 3)
        assert (await again.next_of(Synced)).seq == head
        assert [m.seq for m in stored] == list(range(1, head + 1))  # gap-free
        by_seq = {m.seq: m.payload for m in stored}
        for client_id, seq in acked.items():
            assert by_seq[seq] == payload(client_id[1:])  # every acknowledged message survived
        assert head >= max(acked.values())
        # Resending an acknowledged id after the crash is answered with the original seq.
        some_id = next(iter(acked))
        repeat = await again.ok(Send(room=room, id=some_id, payload=payload(some_id[1:])))
        assert (repeat.seq, repeat.duplicate) == (acked[some_id], True)
        await again.close()
        server.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            assert await server.proc.wait() == 0
    assert not leaks("".join(logs))


async def test_sigterm_during_a_burst_flushes_and_closes_1001(tmp_path: Path) -> None:
    db = tmp_path / "term.db"
    args, logs = ["--db", str(db), "--port", "0"], []
    env = {"HEARTH_SEND_RATE": "100000", "HEARTH_SEND_BURST": "100000"}
    env |= {"HEARTH_FRAME_RATE": "100000", "HEARTH_FRAME_BURST": "100000"}
    async with running_server(args, env, logs) as server:
        client = await ProtocolClient.connect(server.url)
        await client.hello()
        me = await client.new_identity()
        key = client.keys[me]
        created = await client.ok(CreateRoom(identity=me, pseudonym="river"))
        room = created.room
        sending = asyncio.create_task(burst(client, room, 3000))
        await client.next_of(Ack)
        server.proc.send_signal(signal.SIGTERM)
        async with asyncio.timeout(TIMEOUT):
            assert await server.proc.wait() == 0
        await asyncio.gather(sending, return_exceptions=True)
        assert await client.wait_closed() == 1001
        acked = {f.id: f.seq for f in client.frames if isinstance(f, Ack)}
        refused = [f for f in client.frames if isinstance(f, Error)]
        assert all(e.code.value == "shutting_down" for e in refused)
    async with running_server(args, env, logs) as server:
        again = await ProtocolClient.connect(server.url)
        await again.hello()
        await again.auth_existing(key)
        answer = await again.ok(Subscribe(room=room, identity=me))
        stored = await again.messages(room, answer.head, TIMEOUT * 3)
        by_seq = {m.seq: m.payload for m in stored}
        assert answer.head >= len(acked) >= 1
        for client_id, seq in acked.items():
            assert by_seq[seq] == payload(client_id[1:])
        await again.close()
    assert not leaks("".join(logs))


async def test_the_server_process_tunes_its_runtime() -> None:
    """``tune_runtime`` (bench/RESULTS.md): startup objects frozen out of the collector,
    a larger first generation, and a 0.5 ms GIL switch interval; in a child process so
    this test's own interpreter keeps its settings."""
    code = (
        "import gc, sys\n"
        "from hearth_server.__main__ import tune_runtime\n"
        "before = (gc.get_freeze_count(), sys.getswitchinterval())\n"
        "tune_runtime()\n"
        "print(before[0], before[1], gc.get_freeze_count(), sys.getswitchinterval(),"
        " gc.get_threshold()[0])\n"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", code, stdout=asyncio.subprocess.PIPE
    )
    out, _ = await asyncio.wait_for(proc.communicate(), TIMEOUT)
    frozen_before, interval_before, frozen, interval, threshold = out.split()
    assert (int(frozen_before), float(interval_before)) == (0, 0.005)
    assert int(frozen) > 1000
    assert (float(interval), int(threshold)) == (0.0005, 10_000)
