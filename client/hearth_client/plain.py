"""``hearth --plain``: a linear, line-based client for screen readers and slow links
(issue 6). Nothing is redrawn: every event is one new line on stdout, every line
typed on stdin is a message for the current room or a slash command
(:mod:`hearth_client.tui.commands`, ``/help``). Lines of a room other than the
current one start with the room's name in brackets. Peer text is cleaned of
control characters (:mod:`hearth_client.sanitize`) before it is printed.
"""

from __future__ import annotations

import asyncio
import contextlib
import getpass
import sys
from pathlib import Path
from typing import TextIO

from hearth_client import events as ev
from hearth_client.engine import Engine
from hearth_client.errors import HearthClientError
from hearth_client.keystore import KeystoreError, WrongPassphraseError
from hearth_client.profile import ClientConfig, Resource, passphrase_from_env, profile_exists
from hearth_client.sanitize import one_line
from hearth_client.tui.commands import HELP, CommandError, Commands
from hearth_client.tui.render import connection_label, describe, message_line

NO_RESOURCES = (
    "Your server's operator has not configured crisis resources for this deployment. "
    "If you are in danger right now, contact your local emergency services."
)


class PlainClient:
    """Engine events as lines on ``out``; typed lines through :class:`Commands`."""

    def __init__(self, engine: Engine, config: ClientConfig, out: TextIO) -> None:
        self.engine = engine
        self.config = config
        self.out = out
        self.commands = Commands(engine)
        rooms = engine.rooms()
        self.current: str | None = rooms[0].room if rooms else None
        self.names: dict[str, dict[str, str]] = {}
        engine.add_listener(self.on_event)

    def say(self, text: str, room: str | None = None) -> None:
        prefix = ""
        if room is not None and room != self.current:
            prefix = f"[{self._room_name(room)}] "
        self.out.write(prefix + text + "\n")
        self.out.flush()

    def _room_name(self, room: str) -> str:
        try:
            return one_line(self.engine.room(room).name) or room[:8]
        except HearthClientError:
            return room[:8]

    def on_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ConnectionChanged):
            self.say(f"-- {connection_label(event.state, event.detail)}")
            return
        room = getattr(event, "room", None)
        if isinstance(event, ev.MessageReceived):
            self.say(one_line(message_line(event).plain), event.room)
        elif room is not None or isinstance(event, ev.EngineErrorEvent):
            text = describe(event, self.names.get(room or "", {}))
            if text is not None:
                self.say(f"-- {text}", room)
        if room is not None:
            with contextlib.suppress(HearthClientError):
                self.names[room] = {m.member: m.pseudonym for m in self.engine.members(room)}

    def resources(self) -> None:
        """ "I need help": the server operator's (protocol.md §4.1), then client.toml's."""
        server = tuple(Resource.from_server(r) for r in self.engine.resources())
        if not server and not self.config.resources:
            self.say(f"-- I need help: {NO_RESOURCES}")
            return
        self.say("-- I need help:")
        for title, resources in (
            ("from your server's operator", server),
            ("from your own client.toml", self.config.resources),
        ):
            if resources:
                self.say(f"-- {title}:")
            for resource in resources:
                extras = [one_line(x) for x in (resource.hours, resource.url, resource.note) if x]
                details = f" ({'; '.join(extras)})" if extras else ""
                self.say(f"--   {one_line(resource.name)}: {one_line(resource.contact)}{details}")

    async def handle(self, line: str) -> bool:
        """Run one typed line; False when the user asked to quit."""
        try:
            outcome = await self.commands.run(self.current, line)
        except CommandError as exc:
            self.say(f"!! {exc}")
            return True
        if outcome.panel == "help":
            outcome.notes = HELP.splitlines()
        for note in outcome.notes:
            self.say(f"-- {note}")
        if outcome.panel == "resources":
            self.resources()
        if outcome.left is not None and outcome.left == self.current:
            rooms = [r.room for r in self.engine.rooms() if r.room != outcome.left]
            self.current = rooms[0] if rooms else None
        elif outcome.room is not None:
            self.current = outcome.room
            self.say(f"-- now in {self._room_name(outcome.room)}")
        return not outcome.quit


async def _stdin_lines() -> asyncio.StreamReader:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    return reader


async def run_plain(home: Path, server: str | None, config: ClientConfig) -> int:
    """Unlock (or create) the profile, then read lines until /quit or end of input."""
    out = sys.stdout
    create = not profile_exists(home)
    passphrase = passphrase_from_env()
    if create and server is None:
        out.write(f"No profile in {home} yet. Server address (ws://... from your invite): ")
        out.flush()
        server = sys.stdin.readline().strip()
    if passphrase is None:
        passphrase = getpass.getpass("Choose a passphrase: " if create else "Passphrase: ")
        if create and getpass.getpass("Type it again: ") != passphrase:
            print("hearth: error: the two passphrases differ", file=sys.stderr)
            return 3
    try:
        if create:
            engine = await Engine.create_profile(home, passphrase, server=server or "")
        else:
            engine = await Engine.open_profile(home, passphrase, server=server)
    except (HearthClientError, KeystoreError) as exc:
        text = "wrong passphrase" if isinstance(exc, WrongPassphraseError) else one_line(str(exc))
        print(f"hearth: error: {text}", file=sys.stderr)
        return 3
    client = PlainClient(engine, config, out)
    client.say(
        "-- Hearth line mode. /help lists commands, /resources if you need help, /quit leaves."
    )
    if client.current is None:
        client.say("-- no room yet: /join an invite (link or code) or /create a room")
    else:
        client.say(f"-- now in {client._room_name(client.current)}")
    async with engine:
        # With no room the engine connects only when asked: ask now, so the status is
        # honest and the operator's resources (protocol.md §4.1) arrive before any room.
        contact = asyncio.create_task(_first_contact(engine)) if client.current is None else None
        try:
            reader = await _stdin_lines()
            while True:
                raw = await reader.readline()
                if not raw:
                    break
                if not await client.handle(raw.decode(errors="replace")):
                    break
        finally:
            if contact is not None:
                contact.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await contact
    return 0


async def _first_contact(engine: Engine) -> None:
    with contextlib.suppress(HearthClientError):
        await engine.wait_online()


__all__ = ["PlainClient", "run_plain"]
