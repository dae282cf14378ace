"""Slow consumers are dropped with 4008 while others keep receiving; rate limits hold
(protocol.md §6, §7; DESIGN.md principle 5)."""

from __future__ import annotations

import asyncio
import socket
from dataclasses import replace

from hearth_core.codec import decode_server_frame
from hearth_core.errors import CloseCode, ErrorCode
from hearth_core.frames import Ack, Error, Message, Send, Subscribe, Synced
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import TIMEOUT, UNIT, ProtocolClient
from .conftest import invite, join_room, make_room, payload


async def slow_client(server: HearthServer) -> ProtocolClient:
    """A client whose socket receive buffer is tiny and that will stop reading."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await asyncio.get_running_loop().sock_connect(sock, ("127.0.0.1", server.port))
    client = await ProtocolClient.connect(server.url, sock=sock, max_queue=1)
    await client.hello()
    return client


async def test_slow_consumer_is_dropped_and_others_keep_receiving(config: ServerConfig) -> None:
    tight = replace(config, outbox_frames=32, outbox_bytes=128 * 1024, page_size=8)
    async with HearthServer(tight) as running:
        alice = await ProtocolClient.connect(running.url)
        bob = await ProtocolClient.connect(running.url)
        await alice.hello()
        await bob.hello()
        room, _ = await make_room(alice)
        ticket = await invite(alice, room, max_uses=5)
        _, bob_id = await join_room(bob, ticket.secret)
        await bob.ok(Subscribe(room=room, identity=bob_id))
        await bob.next_of(Synced)
        slow = await slow_client(running)
        _, slow_id = await join_room(slow, ticket.secret, "slow")
        await slow.ok(Subscribe(room=room, identity=slow_id))
        await slow.next_of(Synced)
        slow._reader.cancel()  # stop reading: the socket fills up
        total = 0
        # Send until the server gives up on the slow client; bob reads everything.
        async with asyncio.timeout(TIMEOUT * 3):
            while running.metrics.slow_consumers._value.get() == 0:
                for _ in range(20):
                    await alice.send_frame(
                        Send(room=room, id=f"m{total}", payload=payload(total, 8192))
                    )
                    total += 1
                got = await bob.messages(room, 20)
                assert [m.seq for m in got] == list(range(total - 19, total + 1))
        # The room goes on without waiting for the slow client.
        for i in range(20):
            await alice.send_frame(Send(room=room, id=f"after{i}", payload=payload(i)))
        got = await bob.messages(room, 20)
        assert [m.seq for m in got] == list(range(total + 1, total + 21))
        for _ in range(total + 20):
            assert isinstance(await alice.next_of(Ack), Ack)
        # The slow client learns why when it reads again: close code 4008.
        slow.ws.transport.resume_reading()
        seen = 0
        async with asyncio.timeout(TIMEOUT):
            try:
                while True:
                    raw = await slow.ws.recv()
                    seen += raw.count('"type":"message"') if isinstance(raw, str) else 0
            except Exception:
                pass
        assert slow.ws.close_code == CloseCode.SLOW_CONSUMER
        # It resumes from what it has and misses nothing.
        again = await ProtocolClient.connect(running.url)
        await again.hello()
        await again.auth_existing(slow.keys[slow_id])
        await again.ok(Subscribe(room=room, identity=slow_id, after=0))
        history = await again.messages(room, total + 20)
        assert [m.seq for m in history] == list(range(1, total + 21))
        for client in (alice, bob, again):
            await client.close()


async def test_send_rate_limit_per_identity(config: ServerConfig) -> None:
    async with HearthServer(replace(config, send_rate=0.5, send_burst=3)) as running:
        alice = await ProtocolClient.connect(running.url)
        bob = await ProtocolClient.connect(running.url)
        await alice.hello()
        await bob.hello()
        room, alice_id = await make_room(alice)
        _, _bob_id = await join_room(bob, (await invite(alice, room)).secret)
        for i in range(3):
            await alice.ok(Send(room=room, id=f"a{i}", payload=payload(i)))
        refused = await alice.request(Send(room=room, id="a3", payload=payload(3)))
        assert isinstance(refused, Error)
        assert refused.code is ErrorCode.RATE_LIMITED
        assert refused.retry_after is not None
        assert 0 < refused.retry_after <= 2.0
        # The same identity on another connection shares the bucket ...
        second = await ProtocolClient.connect(running.url)
        await second.hello()
        await second.auth_existing(alice.keys[alice_id])
        await second.ok(Subscribe(room=room, identity=alice_id))
        again = await second.request(Send(room=room, id="a4", payload=payload(4)))
        assert isinstance(again, Error)
        assert again.code is ErrorCode.RATE_LIMITED
        # ... while another identity is not affected, and the refused sends took no seq.
        ok = await bob.ok(Send(room=room, id="b0", payload=payload("b")))
        assert ok.seq == 4
        await asyncio.sleep(refused.retry_after + 0.1 * UNIT)
        later = await alice.ok(Send(room=room, id="a3", payload=payload(3)))
        assert later.seq == 5
        for client in (alice, bob, second):
            await client.close()


async def test_stalled_reader_within_limits_gets_everything_in_order(
    config: ServerConfig,
) -> None:
    """A reader that pauses while its socket is full is not dropped while its queue stays
    within the limits: the outbox waits for the transport to drain, then writes the rest
    (outbox.py; protocol.md §6 drops only past the limits)."""
    roomy = replace(config, outbox_frames=100_000, outbox_bytes=256 * 1024 * 1024)
    async with HearthServer(roomy) as running:
        alice = await ProtocolClient.connect(running.url)
        await alice.hello()
        room, _ = await make_room(alice)
        ticket = await invite(alice, room, max_uses=5)
        slow = await slow_client(running)
        _, slow_id = await join_room(slow, ticket.secret, "slow")
        await slow.ok(Subscribe(room=room, identity=slow_id))
        await slow.next_of(Synced)
        slow._reader.cancel()  # stop reading: the server's transport fills and pauses
        total = 0
        async with asyncio.timeout(TIMEOUT * 3):
            while not any(s.outbox._stalled for s in running.hub.sessions):
                for _ in range(20):
                    await alice.send_frame(
                        Send(room=room, id=f"m{total}", payload=payload(total, 8192))
                    )
                    total += 1
                for _ in range(20):
                    assert isinstance(await alice.next_of(Ack), Ack)
        # Read again: every message arrives, in order, and the connection stays open.
        slow.ws.transport.resume_reading()
        seqs: list[int] = []
        async with asyncio.timeout(TIMEOUT * 3):
            while len(seqs) < total:
                raw = await slow.ws.recv()
                frame = decode_server_frame(raw.encode() if isinstance(raw, str) else raw)
                if isinstance(frame, Message):
                    seqs.append(frame.seq)
        assert seqs == list(range(1, total + 1))
        assert slow.ws.close_code is None
        assert running.metrics.slow_consumers._value.get() == 0
        await slow.ws.close()  # its reader task was cancelled above
        await alice.close()
