"""Peer text is untrusted (issue 6): markup, escape sequences and control characters
from a peer are shown as plain text, never interpreted; long messages wrap."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import msgspec
import pytest
from textual.widgets import RichLog

from hearth_client import events as ev
from hearth_client.errors import ClientUsageError
from hearth_client.sanitize import clean, one_line
from hearth_client.tui.app import HearthApp
from hearth_client.tui.render import message_line
from hearth_core.room_roles import Role
from hearth_core.room_state import ENVELOPE_VERSION, Chat

from .test_terminal_support import (  # noqa: F401 (fixtures)
    FAST_KDF,
    PASSPHRASE,
    ServerHandle,
    config,
    engines,
    quick_backoff,
    ready,
    server,
    server_logs,
    server_options,
    until,
)

MARKUP = "[b]bold[/b] [link=https://evil.example]click[/link] :warning: [@click=app.quit]x[/]"
NASTY = "\x1b[2J\x1b]8;;https://evil.example\x07link\x1b]8;;\x07\x07\x9b31m\u202eevil\r\x00end"


def rendered(app: HearthApp) -> list[str]:
    return [strip.text for strip in app.query_one("#timeline", RichLog).lines]


def event(text: str, pseudonym: str = "peer") -> ev.MessageReceived:
    return ev.MessageReceived(
        room="r",
        seq=1,
        sender="s" * 43,
        pseudonym=pseudonym,
        role=Role.MEMBER,
        kind=ev.MessageKind.CHAT,
        text=text,
        ts=0,
        epoch=1,
    )


def test_control_characters_and_escapes_are_stripped_before_display() -> None:
    line = message_line(event(NASTY, pseudonym="ev\x1b[5mil\u202e"))
    assert not any(ch in line.plain for ch in "\x1b\x07\x9b\u202e\r\x00")
    assert "[2J" in line.plain  # what is left of the sequence is shown as characters
    assert "evilend" in line.plain.replace("\n", "")
    assert "evil" in line.plain
    assert all(span.style != "link" for span in line.spans)
    assert one_line("a\nb\tc") == "a b c"
    assert clean("x" * 9000).endswith("…")


async def test_markup_from_a_peer_is_shown_literally_and_not_run(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    app = HearthApp(
        tmp_path / "me",
        server=server.url,
        passphrase=PASSPHRASE,
        kdf=FAST_KDF,
        reconnect_delays=quick_backoff,
    )
    peer, _recorder = await engines("peer")
    async with app.run_test(size=(110, 30)) as pilot:
        await ready(pilot, app)
        assert app.engine is not None
        info = await app.engine.create_room("circle", pseudonym="host")
        app.switch_room(info.room)
        invite = await app.engine.create_invite(info.room)
        await peer.join(invite.code, pseudonym="[bold red]eve[/]")
        await until(pilot, lambda: "[bold red]eve[/]" in app.members_text)
        await peer.send(info.room, MARKUP)
        await until(
            pilot,
            lambda: any(MARKUP in line for line in app.timeline_text()),
            explain=app.timeline_text,
        )
        assert any(f"[bold red]eve[/]: {MARKUP}" in line for line in app.timeline_text())
        await until(pilot, lambda: any("[b]bold[/b]" in line for line in rendered(app)))
        assert app.is_running  # "[@click=app.quit]" did nothing

        # The peer's own engine refuses control characters...
        with pytest.raises(ClientUsageError, match="invalid envelope"):
            await peer.send(info.room, "hi \x1b[2J")
        # ...and a rogue peer that skips its checks is refused by ours: never displayed.
        rogue = bytes([ENVELOPE_VERSION]) + msgspec.msgpack.encode(Chat(text=NASTY))
        # (the engine has no API to send an unchecked envelope: reach past it, as a rogue would)
        await peer._io.send_plain(peer._active(info.room), rogue)
        await until(
            pilot,
            lambda: any("problem:" in line for line in app.timeline_text()),
            explain=app.timeline_text,
        )
        assert not any("\x1b" in line or "evil.example\x07" in line for line in app.timeline_text())

        # Long messages wrap inside the timeline instead of running off the screen.
        before = len(rendered(app))
        await peer.send(info.room, "word " * 120)
        await until(pilot, lambda: len(rendered(app)) >= before + 3)
        assert max(len(line) for line in rendered(app)) <= 110
