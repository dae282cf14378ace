"""The engine pins its server's ds_key, idles without an identity, and waits out a 503.

protocol.md §3.2 (the auth transcript names the server's ds_key; close 4003 when no
identity authenticates within ``auth_timeout``) and §2.1 (HTTP 503 + Retry-After when
``max_connections`` are open). Real servers on loopback with real SQLite files.
"""

from __future__ import annotations

import io
import sqlite3
from dataclasses import replace
from pathlib import Path

import pytest
from websockets.asyncio.client import connect
from websockets.datastructures import Headers
from websockets.exceptions import InvalidStatus
from websockets.http11 import Response

import hearth_server.app
from hearth_client import events as ev
from hearth_client.connection import Connection
from hearth_client.engine import Engine
from hearth_client.errors import NotConnectedError, ServerKeyChangedError
from hearth_server.config import ServerConfig
from tests.e2e.conftest import FAST_KDF, PASSPHRASE, TIMEOUT, Recorder, ServerHandle, quick_backoff


def auth_frames(handle: ServerHandle) -> float:
    assert handle.server is not None
    value = handle.server.metrics.registry.get_sample_value(
        "hearth_frames_received_total", {"type": "auth"}
    )
    return value or 0.0


async def test_a_changed_server_key_is_refused_and_nothing_is_signed(
    tmp_path: Path, server: ServerHandle
) -> None:
    home = tmp_path / "p"
    engine = await Engine.create_profile(
        home, PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    async with engine:
        room = (await engine.create_room("Circle", pseudonym="ash")).room  # pins the key
    await server.stop()
    # Another server (its own database, so its own ds_key) on the same address.
    impostor = ServerHandle(replace(server.config, db=tmp_path / "other.db"))
    await impostor.start()
    try:
        engine = await Engine.open_profile(home, PASSPHRASE, reconnect_delays=quick_backoff)
        recorder = Recorder(engine)
        async with engine:
            with pytest.raises(ServerKeyChangedError, match="different key"):
                await engine.wait_online(TIMEOUT)
            error = await recorder.wait_for(lambda e: isinstance(e, ev.EngineErrorEvent))
            assert isinstance(error, ev.EngineErrorEvent)
            assert error.code == "server_key_changed"
            assert engine.connection_state is ev.ConnectionState.OFFLINE
            assert auth_frames(impostor) == 0  # never authenticated to it
            with pytest.raises(ServerKeyChangedError):
                await engine.send(room, "hello?")
    finally:
        await impostor.stop()
    # The real server (same key) is accepted again.
    await server.start()
    engine = await Engine.open_profile(home, PASSPHRASE, reconnect_delays=quick_backoff)
    async with engine:
        await engine.wait_synced(room, TIMEOUT)
        await engine.send(room, "back")


@pytest.fixture
def config(tmp_path: Path) -> ServerConfig:
    return ServerConfig(
        host="127.0.0.1",
        port=0,
        db=tmp_path / "hearth.db",
        close_timeout=5.0,
        auth_timeout=0.5,
        max_connections=1,
    )


async def test_no_identity_means_no_reconnect_loop_after_4003(
    tmp_path: Path, server: ServerHandle, server_logs: io.StringIO
) -> None:
    engine = await Engine.create_profile(
        tmp_path / "p", PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    recorder = Recorder(engine)
    async with engine:
        assert engine.connection_state is ev.ConnectionState.OFFLINE  # no room: no socket
        assert "connection_opened" not in server_logs.getvalue()
        await engine.wait_online(TIMEOUT)  # asked for: connects
        offline = await recorder.wait_for(
            lambda e: isinstance(e, ev.ConnectionChanged) and e.state is ev.ConnectionState.OFFLINE
        )
        assert isinstance(offline, ev.ConnectionChanged)
        assert "4003" in offline.detail
        assert server_logs.getvalue().count("connection_opened") == 1
        # Creating a room connects again and authenticates at once.
        info = await engine.create_room("Circle", pseudonym="ash")
        assert engine.connection_state is ev.ConnectionState.ONLINE
        assert server_logs.getvalue().count("connection_opened") == 2
        await engine.send(info.room, "hello")
    # The engine told the server no pseudonym (protocol.md §12.2): none is stored.
    with sqlite3.connect(server.config.db) as db:
        assert db.execute("SELECT pseudonym FROM members").fetchall() == [("",)]


async def test_a_full_server_is_retried_after_its_retry_after(
    tmp_path: Path, server: ServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hearth_server.app, "RETRY_AFTER_FULL", 1)
    engine = await Engine.create_profile(
        tmp_path / "p", PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    recorder = Recorder(engine)
    async with engine:
        async with connect(server.url) as occupant:  # the one allowed connection
            await engine.start()
            engine_waiting = recorder.wait_for(
                lambda e: isinstance(e, ev.ConnectionChanged) and "503" in e.detail
            )
            with pytest.raises(NotConnectedError, match="not connected"):
                await engine.wait_online(0.3)
            await engine_waiting
            await occupant.close()
        await engine.wait_online(TIMEOUT)  # retried once the slot is free
        assert engine.connection_state is ev.ConnectionState.ONLINE


def test_retry_after_sets_the_next_reconnect_delay() -> None:
    async def nothing() -> None:
        return None

    conn = Connection(
        "ws://127.0.0.1:1/ws",
        identities=list,
        on_frame=lambda frame: None,
        on_online=nothing,
        on_state=lambda state, detail: None,
        reconnect_delays=quick_backoff,
    )
    full = Response(503, "Service Unavailable", Headers([("Retry-After", "7")]))
    assert conn.process_exception(InvalidStatus(full)) is None  # retryable
    delays = conn.reconnect_delays()
    assert next(delays) == 7.0  # at least Retry-After, once
    assert next(delays) < 1.0  # then the usual backoff
    bad = Response(503, "Service Unavailable", Headers([("Retry-After", "soon")]))
    assert conn.process_exception(InvalidStatus(bad)) is None
    assert next(delays) < 1.0
    refused = Response(404, "Not Found", Headers())
    assert isinstance(conn.process_exception(InvalidStatus(refused)), InvalidStatus)
