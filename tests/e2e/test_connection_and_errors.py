"""The engine's connection against a real server, and bad input with clear errors.

protocol.md §3 (hello/auth), §5 (errors); issue 5 "Bad input gets a clear error".
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_client import events as ev
from hearth_client.connection import Connection
from hearth_client.engine import Engine, parse_invite
from hearth_client.errors import (
    ClientUsageError,
    InvalidInviteError,
    InviteRefusedError,
    NotConnectedError,
    ServerRefusedError,
)
from hearth_client.keystore import KeystoreUsageError, WrongPassphraseError
from hearth_core.frames import CreateRoom, RoomCreated

from .conftest import FAST_KDF, PASSPHRASE, TIMEOUT, ServerHandle, quick_backoff


async def test_connection_authenticates_requests_and_reconnects(server: ServerHandle) -> None:
    key = Ed25519PrivateKey.generate()
    states: list[ev.ConnectionState] = []
    onlines: list[int] = []

    async def on_online() -> None:
        onlines.append(1)

    conn = Connection(
        server.url,
        identities=lambda: [key],
        on_frame=lambda frame: None,
        on_online=on_online,
        on_state=lambda state, detail: states.append(state),
        reconnect_delays=quick_backoff,
    )
    conn.start()
    try:
        await conn.wait_online(TIMEOUT)
        identity = key.public_key().public_bytes_raw()
        created = await conn.request(CreateRoom(identity=identity, pseudonym="member"))
        assert isinstance(created, RoomCreated)
        # A request the server refuses raises with the stable code (protocol.md §5).
        stranger = Ed25519PrivateKey.generate().public_key().public_bytes_raw()
        with pytest.raises(ServerRefusedError) as refused:
            await conn.request(CreateRoom(identity=stranger, pseudonym="member"))
        assert refused.value.code == "not_authenticated"
        await server.restart()
        await conn.wait_online(TIMEOUT)
        assert len(onlines) >= 2
        assert ev.ConnectionState.RECONNECTING in states
        assert states[-1] is ev.ConnectionState.ONLINE
        again = await conn.request(CreateRoom(identity=identity, pseudonym="member"))
        assert isinstance(again, RoomCreated)  # the identity was authenticated again
    finally:
        await conn.close()
    assert conn.state is ev.ConnectionState.OFFLINE


def test_invite_parsing_gives_clear_errors() -> None:
    code = secrets.token_urlsafe(32)[:43].ljust(43, "A")
    assert parse_invite(code) == (None, code)
    assert parse_invite(f"ws://h:1/ws#{code}") == ("ws://h:1/ws", code)
    for bad, why in [
        ("", "43 characters"),
        ("short", "43 characters"),
        (code[:-1] + "!", "43 characters"),
        (f"http://h/#{code}", "ws://"),
    ]:
        with pytest.raises(InvalidInviteError, match=why):
            parse_invite(bad)


async def test_wrong_passphrase_and_existing_profile(tmp_path: Path, server: ServerHandle) -> None:
    engine = await Engine.create_profile(
        tmp_path / "p", PASSPHRASE, server=server.url, kdf=FAST_KDF
    )
    await engine.close()
    with pytest.raises(WrongPassphraseError):
        await Engine.open_profile(tmp_path / "p", "not the passphrase")
    with pytest.raises(KeystoreUsageError):
        await Engine.create_profile(tmp_path / "p", PASSPHRASE, server=server.url, kdf=FAST_KDF)
    again = await Engine.open_profile(tmp_path / "p", PASSPHRASE)
    assert again.server == server.url  # remembered in the profile
    await again.close()


async def test_bad_invites_are_refused_and_lose_nothing(engines: object) -> None:
    make = engines
    engine, _ = await make("alice")  # type: ignore[operator]
    with pytest.raises(InvalidInviteError):
        await engine.join("not-an-invite", pseudonym="willow")
    unknown = "A" * 43
    with pytest.raises(InviteRefusedError) as refused:
        await engine.join(unknown, pseudonym="willow")
    assert refused.value.code == "invite_invalid"
    assert engine.rooms() == []  # no membership left behind
    with pytest.raises(InvalidInviteError, match="another server"):
        await engine.join(f"ws://elsewhere:1/ws#{unknown}", pseudonym="willow")


async def test_server_down_gives_a_clear_error_then_connects(
    tmp_path: Path, server: ServerHandle
) -> None:
    await server.stop()
    engine = await Engine.create_profile(
        tmp_path / "p", PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    states: list[ev.ConnectionState] = []
    engine.add_listener(
        lambda e: states.append(e.state) if isinstance(e, ev.ConnectionChanged) else None
    )
    await engine.start()
    try:
        with pytest.raises(NotConnectedError, match="not connected"):
            await engine.wait_online(0.2)
        assert engine.connection_state is ev.ConnectionState.CONNECTING
        await server.start()
        await engine.wait_online(TIMEOUT)
        assert states[-1] is ev.ConnectionState.ONLINE
    finally:
        await engine.close()
    assert engine.connection_state is ev.ConnectionState.OFFLINE


async def test_bad_local_input_is_a_usage_error_and_sends_nothing(engines: object) -> None:
    make = engines
    engine, recorder = await make("alice")  # type: ignore[operator]
    with pytest.raises(ClientUsageError):
        await engine.create_room("", pseudonym="river-runs-deep")  # blank name
    with pytest.raises(ClientUsageError, match="pseudonym"):
        await engine.create_room("circle", pseudonym="x" * 65)
    assert engine.rooms() == []  # nothing was created
    room = (await engine.create_room("circle", pseudonym="river-runs-deep")).room
    with pytest.raises(ClientUsageError, match="no such room"):
        await engine.send("Qm9vdGgxMjM0NTY3ODkwYW", "hello")
    for bad in ["", "   ", "bell \x07", "override \u202e", "x" * 4001]:
        with pytest.raises(ClientUsageError):
            await engine.send(room, bad)
    with pytest.raises(ClientUsageError, match="member id"):
        await engine.remove(room, "not-a-member-id")
    with pytest.raises(ClientUsageError, match="not in the room"):
        await engine.remove(room, "A" * 43)
    with pytest.raises(ClientUsageError, match="name"):
        await engine.set_room_state(room, name="two\nlines")
    sent = await engine.send(room, "the only message")
    await recorder.until(lambda: len(recorder.messages(room)) == 1)
    assert [m.text for m in recorder.messages(room)] == ["the only message"]
    assert sent.seq == recorder.messages(room)[0].seq
