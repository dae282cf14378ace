"""End-to-end fixtures: a real server (in process, loopback, real SQLite file), real
engines with real keystores, and the server's captured logs (issue 5 "Must show").

Every wait is bounded by a multiple of one scaled unit (HEARTH_TEST_UNIT); no test
asserts on time.
"""

from __future__ import annotations

import asyncio
import io
import os
from collections.abc import AsyncIterator, Callable, Generator
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

import pytest

from hearth_client import events as ev
from hearth_client.engine import Engine
from hearth_client.keystore import KdfParams
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig
from hearth_server.logs import configure_logging

UNIT = float(os.environ.get("HEARTH_TEST_UNIT", "1.0"))
TIMEOUT = 20 * UNIT
FAST_KDF = KdfParams(iterations=1, memory_kib=8, lanes=1)
PASSPHRASE = "correct horse battery staple"
E = TypeVar("E", bound=ev.Event)


def quick_backoff() -> Generator[float]:
    delay = 0.05
    while True:
        yield delay
        delay = min(0.5, delay * 2)


class Recorder:
    """Every event an engine emitted, in order, and a way to wait for one."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.events: list[ev.Event] = []
        self._arrived = asyncio.Event()
        engine.add_listener(self._on_event)

    def _on_event(self, event: ev.Event) -> None:
        self.events.append(event)
        self._arrived.set()

    async def wait_for(
        self, predicate: Callable[[ev.Event], bool], within: float = TIMEOUT
    ) -> ev.Event:
        seen = 0
        try:
            async with asyncio.timeout(within):
                while True:
                    for event in self.events[seen:]:
                        if predicate(event):
                            return event
                    seen = len(self.events)
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"event never came; got {self.events!r}") from None

    async def until(self, condition: Callable[[], bool], within: float = TIMEOUT) -> None:
        try:
            async with asyncio.timeout(within):
                while not condition():
                    self._arrived.clear()
                    await self._arrived.wait()
        except TimeoutError:
            raise AssertionError(f"condition never held; got {self.events!r}") from None

    def messages(self, room: str) -> list[ev.MessageReceived]:
        return [e for e in self.events if isinstance(e, ev.MessageReceived) and e.room == room]

    async def texts(self, room: str, count: int, within: float = TIMEOUT) -> list[str]:
        await self.until(lambda: len(self.messages(room)) >= count, within)
        return [m.text for m in self.messages(room)]


@pytest.fixture
def server_logs() -> io.StringIO:
    stream = io.StringIO()
    configure_logging("debug", stream)
    return stream


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "hearth.db",
        close_timeout=5.0,
        send_rate=10_000.0,
        send_burst=10_000,
        frame_rate=10_000.0,
        frame_burst=10_000,
        ping_interval=60.0,
        ping_timeout=60.0,
    )


class ServerHandle:
    """A real server that a test can stop and start again on the same port."""

    def __init__(self, config: ServerConfig, **options: Any) -> None:
        self.config = config
        self.options = options
        self.server: HearthServer | None = None
        self.url = ""

    async def start(self) -> None:
        self.server = HearthServer(self.config, **self.options)
        await self.server.start()
        if self.config.port == 0:
            self.config = replace(self.config, port=self.server.port)
        self.url = self.server.url

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
            self.server = None

    async def restart(self) -> None:
        await self.stop()
        await self.start()


@pytest.fixture
def server_options() -> dict[str, Any]:
    """Extra HearthServer arguments; a test module may override this fixture."""
    return {}


@pytest.fixture
async def server(
    config: ServerConfig, server_logs: io.StringIO, server_options: dict[str, Any]
) -> AsyncIterator[ServerHandle]:
    handle = ServerHandle(config, **server_options)
    await handle.start()
    yield handle
    await handle.stop()


Factory = Callable[..., Any]


async def reopen(home: Path, server: ServerHandle) -> tuple[Engine, Recorder]:
    """An existing profile opened again and started, its events recorded from the start
    (the caller closes it)."""
    engine = await Engine.open_profile(
        home, PASSPHRASE, server=server.url, reconnect_delays=quick_backoff
    )
    recorder = Recorder(engine)
    await engine.start()
    return engine, recorder


@pytest.fixture
async def engines(server: ServerHandle, tmp_path: Path) -> AsyncIterator[Callable[[str], Any]]:
    """``await make(name)``: an online engine with a fresh profile, and its Recorder."""
    opened: list[Engine] = []

    async def make(name: str) -> tuple[Engine, Recorder]:
        engine = await Engine.create_profile(
            tmp_path / name,
            PASSPHRASE,
            server=server.url,
            kdf=FAST_KDF,
            reconnect_delays=quick_backoff,
        )
        recorder = Recorder(engine)
        opened.append(engine)
        await engine.start()
        await engine.wait_online(TIMEOUT)
        return engine, recorder

    yield make
    for engine in opened:
        await engine.close()
