"""Retention purges expired messages (protocol.md §10)."""

from __future__ import annotations

from hearth_core.frames import CreateRoom, RoomCreated, Send, Subscribe, Subscribed, Synced
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import ProtocolClient
from .conftest import payload


async def test_purge_removes_expired_messages_and_reports_it(config: ServerConfig) -> None:
    now = [1_800_000_000_000]
    async with HearthServer(config, clock_ms=lambda: now[0]) as running:
        alice = await ProtocolClient.connect(running.url)
        await alice.hello()
        me = await alice.new_identity()
        created = await alice.ok(CreateRoom(identity=me, pseudonym="river", retention=60))
        assert isinstance(created, RoomCreated)
        assert created.retention == 60
        room = created.room
        for i in range(3):
            await alice.ok(Send(room=room, id=f"old{i}", payload=payload(i)))
        now[0] += 61_000
        await alice.ok(Send(room=room, id="new", payload=payload("new")))
        assert await running.purge_now() == 3
        assert running.metrics.purged._value.get() == 3
        reader = await ProtocolClient.connect(running.url)
        await reader.hello()
        await reader.auth_existing(alice.keys[me])
        answer = await reader.ok(Subscribe(room=room, identity=me, after=0))
        assert isinstance(answer, Subscribed)
        assert (answer.head, answer.purged_through) == (4, 3)
        [left] = await reader.messages(room, 1)
        assert (left.seq, left.payload) == (4, payload("new"))
        assert (await reader.next_of(Synced)).seq == 4
        # Sequence numbers go on; nothing is reused.
        assert (await alice.ok(Send(room=room, id="next", payload=payload("n")))).seq == 5
        await alice.close()
        await reader.close()


async def test_retention_is_capped_by_the_operator(config: ServerConfig) -> None:
    from dataclasses import replace

    async with HearthServer(replace(config, retention_max=3600, retention_default=600)) as running:
        client = await ProtocolClient.connect(running.url)
        await client.hello()
        me = await client.new_identity()
        asked = await client.ok(CreateRoom(identity=me, pseudonym="a", retention=86400))
        assert asked.retention == 3600
        other = await ProtocolClient.connect(running.url)
        await other.hello()
        me2 = await other.new_identity()
        default = await other.ok(CreateRoom(identity=me2, pseudonym="b"))
        assert default.retention == 600
        await client.close()
        await other.close()


async def test_the_purge_task_runs_on_its_own(config: ServerConfig) -> None:
    import asyncio
    from dataclasses import replace

    from .client import TIMEOUT, UNIT

    now = [1_800_000_000_000]
    quick = replace(config, purge_interval=0.05 * UNIT)
    async with HearthServer(quick, clock_ms=lambda: now[0]) as running:
        alice = await ProtocolClient.connect(running.url)
        await alice.hello()
        me = await alice.new_identity()
        created = await alice.ok(CreateRoom(identity=me, pseudonym="river", retention=60))
        await alice.ok(Send(room=created.room, id="old", payload=payload("old")))
        now[0] += 120_000
        async with asyncio.timeout(TIMEOUT):
            while running.metrics.purged._value.get() < 1:  # noqa: ASYNC110 - bounded poll
                await asyncio.sleep(0.05 * UNIT)
        answer = await alice.ok(Subscribe(room=created.room, identity=me))
        assert answer.purged_through == 1
        await alice.close()
