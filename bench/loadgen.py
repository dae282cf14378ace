"""The load generator: worker processes holding N clients in rooms of 10 (issue 7).

Each worker process owns whole rooms, connects their members with the lean client
in :mod:`bench.wsclient` (on uvloop when installed), then, from a start instant
shared by all workers, sends at a fixed total rate spread round-robin over its
clients. A payload carries the send instant (CLOCK_MONOTONIC, shared by all
processes on Linux) so each receiver measures end-to-end latency. Every send
counts once per receiver. Each worker reports its own CPU seconds over the
measured window so the run shows whether the generator itself was saturated.

The protocol spoken is pluggable: the bare relays take any text and forward it,
Hearth needs protocol.md's hello, authentication, rooms and ``send`` frames (see
:mod:`bench.hearth_proto`).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import multiprocessing
import multiprocessing.connection
import random
import struct
import time
from array import array
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import msgspec

from bench import wsclient
from bench.common import BenchError, self_cpu_seconds

STAMP = struct.Struct("<qI")  # send instant (ns, CLOCK_MONOTONIC), sender number in the worker
DELIVERY, ACK, ERROR = 0, 1, 2  # what Session.inspect found in a received message


@dataclass
class WorkerSpec:
    """What one worker does: which rooms, how fast, for how long."""

    worker: int
    protocol: str  # "relay" or "hearth"
    port: int
    rooms: int
    room_size: int
    rate_per_client: float
    warmup: float
    duration: float
    payload_bytes: int = 192
    drain: float = 3.0
    setup_timeout: float = 120.0
    connect_concurrency: int = 100


@dataclass
class WorkerResult:
    """What one worker measured over the window."""

    worker: int
    clients: int
    setup_seconds: float
    sent: int = 0  # sends stamped inside the window
    expected: int = 0  # sent * (room_size - 1)
    received: int = 0  # deliveries of window sends, received before the drain ended
    latencies_us: bytes = b""  # array('q') of the received deliveries
    acks: int = 0  # acknowledgements of window sends (Hearth only)
    ack_latencies_us: bytes = b""  # array('q'): send to durable ack (Hearth only)
    error_codes: dict[str, int] = field(default_factory=dict)  # error frames received
    cpu_seconds: float = 0.0  # this worker's CPU over the window
    window_seconds: float = 0.0
    max_send_lag_ms: float = 0.0  # worst lateness of the send schedule
    closed: int = 0  # connections the server closed during the run
    errors: list[str] = field(default_factory=list)


class Client(Protocol):
    """A connected, room-joined client as the generator drives it."""

    ws: wsclient.RawWebSocket

    def send_frame(self, payload: bytes, stamp: int) -> bytes: ...


class Session(Protocol):
    """A protocol's set-up and per-message handling inside one worker."""

    async def open_room(self, room: int, size: int) -> Sequence[Client]: ...

    def inspect(self, message: bytes) -> tuple[int, bytes | int | str] | None: ...


# ------------------------------------------------------------------ bare relay protocol


class RelayFrame(msgspec.Struct):
    """The text the generator sends through a bare relay: the same shape as Hearth's send."""

    type: str
    room: str
    payload: str


_RELAY_DECODER = msgspec.json.Decoder(RelayFrame)
_RELAY_ENCODER = msgspec.json.Encoder()


@dataclass
class RelayClient:
    ws: wsclient.RawWebSocket
    room: str

    def send_frame(self, payload: bytes, stamp: int) -> bytes:
        frame = RelayFrame("send", self.room, base64.b64encode(payload).decode())
        return _RELAY_ENCODER.encode(frame)


class RelaySession:
    """Clients of a bare relay join the room named in the request path."""

    def __init__(self, port: int, worker: int) -> None:
        self.port = port
        self.worker = worker

    async def open_room(self, room: int, size: int) -> Sequence[Client]:
        name = f"w{self.worker}r{room}"
        clients: list[RelayClient] = []
        for _ in range(size):
            ws = await wsclient.connect("127.0.0.1", self.port, f"/{name}")
            clients.append(RelayClient(ws, name))
        return clients

    def inspect(self, message: bytes) -> tuple[int, bytes | int | str] | None:
        return DELIVERY, base64.b64decode(_RELAY_DECODER.decode(message).payload[:16])


def make_session(spec: WorkerSpec) -> Session:
    """The session object for the system's protocol."""
    if spec.protocol == "relay":
        return RelaySession(spec.port, spec.worker)
    if spec.protocol == "hearth":
        from bench import hearth_proto

        return hearth_proto.HearthSession(spec.port, spec.worker)
    raise BenchError(f"unknown protocol {spec.protocol!r}")


# ------------------------------------------------------------------ the worker


async def _connect_rooms(spec: WorkerSpec, session: Session) -> list[Sequence[Client]]:
    limit = asyncio.Semaphore(max(1, spec.connect_concurrency // max(1, spec.room_size)))

    async def one(room: int) -> Sequence[Client]:
        async with limit:
            return await session.open_room(room, spec.room_size)

    return list(await asyncio.gather(*(one(r) for r in range(spec.rooms))))


async def run_worker(spec: WorkerSpec, pipe: multiprocessing.connection.Connection) -> None:
    """Set up, report ready, wait for the shared start instant, run, report."""
    session = make_session(spec)
    began = time.perf_counter()
    rooms = await asyncio.wait_for(_connect_rooms(spec, session), spec.setup_timeout)
    clients = [client for room in rooms for client in room]
    result = WorkerResult(spec.worker, len(clients), time.perf_counter() - began)
    pipe.send(("ready", result.setup_seconds))
    loop = asyncio.get_running_loop()
    start_ns = await loop.run_in_executor(None, _recv_start, pipe)

    window_start = start_ns + int(spec.warmup * 1e9)
    window_end = window_start + int(spec.duration * 1e9)
    latencies = array("q")
    ack_latencies = array("q")
    errors: dict[str, int] = {}
    received = 0
    inspect = session.inspect
    now_ns = time.monotonic_ns
    unpack = STAMP.unpack_from
    drained = asyncio.Event()
    target = [-1]  # deliveries expected, known once sending has ended

    def on_message(message: bytes, me: int) -> None:
        nonlocal received
        found = inspect(message)
        if found is None:
            return
        kind, value = found
        if kind == DELIVERY:
            assert isinstance(value, bytes)
            sent_at, sender = unpack(value)
            if sender != me and window_start <= sent_at < window_end:  # not one's own echo
                received += 1
                latencies.append((now_ns() - sent_at) // 1000)
                if received == target[0]:
                    drained.set()
        elif kind == ACK:
            assert isinstance(value, int)
            if window_start <= value < window_end:
                ack_latencies.append((now_ns() - value) // 1000)
        else:
            errors[str(value)] = errors.get(str(value), 0) + 1

    for number, client in enumerate(clients):
        client.ws.on_message = functools.partial(on_message, me=number)

    pad = random.randbytes(max(0, spec.payload_bytes - STAMP.size))
    total_rate = spec.rate_per_client * len(clients)
    sent_total = 0
    in_window = 0
    cpu_at: list[float] = []
    max_lag = 0.0
    await asyncio.sleep(max(0.0, (start_ns - now_ns()) / 1e9))
    send_end = window_end
    while True:
        now = now_ns()
        if now >= send_end:
            break
        if not cpu_at and now >= window_start:
            cpu_at.append(self_cpu_seconds())
        due = int((now - start_ns) / 1e9 * total_rate) - sent_total
        if due > 0:
            lag = (now - start_ns) / 1e9 - (sent_total + 1) / total_rate
            max_lag = max(max_lag, lag)
        for _ in range(max(0, due)):
            number = sent_total % len(clients)
            client = clients[number]
            stamp = now_ns()
            client.ws.send_text(client.send_frame(STAMP.pack(stamp, number) + pad, stamp))
            sent_total += 1
            if window_start <= stamp < window_end:
                in_window += 1
        await asyncio.sleep(0.002)
    if cpu_at:
        cpu_at.append(self_cpu_seconds())
    expected = in_window * (spec.room_size - 1)
    target[0] = expected
    if received >= expected:
        drained.set()
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(drained.wait(), spec.drain)
    result.sent = in_window
    result.expected = expected
    result.received = received
    result.latencies_us = latencies.tobytes()
    result.acks = len(ack_latencies)
    result.ack_latencies_us = ack_latencies.tobytes()
    result.error_codes = errors
    result.cpu_seconds = (cpu_at[1] - cpu_at[0]) if len(cpu_at) == 2 else 0.0
    result.window_seconds = spec.duration
    result.max_send_lag_ms = max_lag * 1000
    result.closed = sum(1 for c in clients if c.ws.closed.done())
    for client in clients:
        client.ws.close()
    pipe.send(("done", asdict(result)))


def _recv_start(pipe: multiprocessing.connection.Connection) -> int:
    if not pipe.poll(600):
        raise BenchError("no start signal within 600 s")
    message = pipe.recv()
    if message[0] != "start":
        raise BenchError(f"worker expected start, got {message[0]!r}")
    return int(message[1])


def worker_entry(spec: WorkerSpec, pipe: multiprocessing.connection.Connection) -> None:
    """Process entry: run the worker on uvloop when installed, report any failure."""
    try:
        try:
            import uvloop

            runner: Callable[[Any], Any] = uvloop.run
        except ImportError:
            runner = asyncio.run
        runner(run_worker(spec, pipe))
    except BaseException as exc:  # report, then let the parent decide
        pipe.send(("error", f"worker {spec.worker}: {type(exc).__name__}: {exc}"))
    finally:
        pipe.close()


# ------------------------------------------------------------------ the parent side


@dataclass
class Trial:
    """The merged result of one measured window over all workers."""

    clients: int
    rate_per_client: float
    setup_seconds: float
    sent: int
    expected: int
    received: int
    latencies_us: array[int]
    acks: int
    ack_latencies_us: array[int]
    error_codes: dict[str, int]
    worker_cpu_seconds: list[float]
    window_seconds: float
    max_send_lag_ms: float
    closed: int
    errors: list[str]


class Generator:
    """Worker processes for one trial; always joined or killed on exit."""

    def __init__(self, specs: list[WorkerSpec]) -> None:
        self.specs = specs
        ctx = multiprocessing.get_context("spawn")
        self.pipes: list[multiprocessing.connection.Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for spec in specs:
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=worker_entry, args=(spec, child), daemon=True)
            self.pipes.append(parent)
            self.procs.append(proc)
            self._child_ends = [*getattr(self, "_child_ends", []), child]

    def __enter__(self) -> Generator:
        for proc in self.procs:
            proc.start()
        for child in self._child_ends:
            child.close()
        return self

    def __exit__(self, *exc: object) -> None:
        for proc in self.procs:
            proc.join(timeout=5)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for pipe in self.pipes:
            pipe.close()

    def _expect(
        self, pipe: multiprocessing.connection.Connection, kind: str, timeout: float
    ) -> Any:
        if not pipe.poll(timeout):
            raise BenchError(f"load generator worker silent for {timeout:.0f} s (wanted {kind})")
        message = pipe.recv()
        if message[0] == "error":
            raise BenchError(message[1])
        if message[0] != kind:
            raise BenchError(f"load generator worker sent {message[0]!r}, wanted {kind!r}")
        return message[1]

    def wait_ready(self) -> float:
        """Wait until every worker has connected its clients; the slowest set-up time."""
        return max(
            float(self._expect(p, "ready", s.setup_timeout + 10))
            for p, s in zip(self.pipes, self.specs, strict=True)
        )

    def start(self, lead: float = 0.3) -> int:
        """Tell every worker the shared start instant; return it (ns, CLOCK_MONOTONIC)."""
        start_ns = time.monotonic_ns() + int(lead * 1e9)
        for pipe in self.pipes:
            pipe.send(("start", start_ns))
        return start_ns

    def collect(self) -> Trial:
        """Gather and merge every worker's result."""
        spec = self.specs[0]
        budget = spec.warmup + spec.duration + spec.drain + 30
        results = [WorkerResult(**self._expect(p, "done", budget)) for p in self.pipes]
        latencies, ack_latencies = array("q"), array("q")
        codes: dict[str, int] = {}
        for res in results:
            latencies.frombytes(res.latencies_us)
            ack_latencies.frombytes(res.ack_latencies_us)
            for code, count in res.error_codes.items():
                codes[code] = codes.get(code, 0) + count
        return Trial(
            clients=sum(r.clients for r in results),
            rate_per_client=spec.rate_per_client,
            setup_seconds=max(r.setup_seconds for r in results),
            sent=sum(r.sent for r in results),
            expected=sum(r.expected for r in results),
            received=sum(r.received for r in results),
            latencies_us=latencies,
            acks=sum(r.acks for r in results),
            ack_latencies_us=ack_latencies,
            error_codes=codes,
            worker_cpu_seconds=[r.cpu_seconds for r in results],
            window_seconds=spec.duration,
            max_send_lag_ms=max(r.max_send_lag_ms for r in results),
            closed=sum(r.closed for r in results),
            errors=[e for r in results for e in r.errors],
        )


def split_rooms(total_rooms: int, workers: int) -> list[int]:
    """Rooms per worker, as even as possible, dropping workers left with none."""
    base, extra = divmod(total_rooms, workers)
    return [n for n in (base + (1 if i < extra else 0) for i in range(workers)) if n]
