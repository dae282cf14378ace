"""The composer's commands on real engines (issue 6): how a line becomes an action, and
the one-line errors for what cannot run. Shared by the TUI and line mode."""

from __future__ import annotations

from typing import Any

import pytest

from hearth_client import events as ev
from hearth_client.tui.commands import CommandError, Commands, resolve_member, resolve_room

from .test_terminal_support import (  # noqa: F401 (fixtures)
    config,
    engines,
    server,
    server_logs,
    server_options,
)


async def test_lines_commands_and_their_errors(engines: Any) -> None:
    (host, _), (sam1, r1), (sam2, _) = [await engines(n) for n in ("host", "s1", "s2")]
    commands = Commands(host)
    with pytest.raises(CommandError, match="no room yet"):
        await commands.run(None, "hello")
    outcome = await commands.run(None, "/create 'quiet circle' host")
    room = outcome.room
    assert room is not None
    assert resolve_room(host, "Quiet Circle") == room
    with pytest.raises(CommandError, match="no room 'elsewhere'"):
        resolve_room(host, "elsewhere")
    invite = await host.create_invite(room, max_uses=2)
    for engine in (sam1, sam2):
        await engine.join(invite.code, pseudonym="sam")
        await engine.set_pseudonym(room, "sam")
    await r1.until(lambda: len(sam1.members(room)) == 3)
    await r1.until(
        lambda: sum(m.pseudonym == "sam" for m in host.members(room)) == 2,
    )
    with pytest.raises(CommandError, match="more than one member is called 'sam'"):
        resolve_member(host, room, "sam")
    sam2_id = sam2.room(room).me
    assert resolve_member(host, room, sam2_id[:6]) == sam2_id
    with pytest.raises(CommandError, match="nobody called 'kim'"):
        resolve_member(host, room, "kim")
    with pytest.raises(CommandError, match="usage: /nick NAME"):
        await commands.run(room, "/nick")
    with pytest.raises(CommandError, match="usage: /invite"):
        await commands.run(room, "/invite lots")
    # "//" sends a line that starts with "/"; members see it as text.
    await commands.run(room, "//shrug")
    received = await r1.wait_for(lambda e: isinstance(e, ev.MessageReceived))
    assert isinstance(received, ev.MessageReceived)
    assert received.text == "/shrug"
    quit_outcome = await commands.run(room, "/quit")
    assert quit_outcome.quit
