"""Slash commands and plain lines typed in the composer, run on the engine (issue 6).

Shared by the Textual app and the line mode; nothing here draws. A line that does
not start with ``/`` is a chat message for the current room (``//text`` sends
``/text``). Every failure is a :class:`CommandError` with one line for the user;
engine, keystore and room errors are translated, never shown as tracebacks.
"""

from __future__ import annotations

import shlex
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from hearth_client.engine import Engine
from hearth_client.errors import HearthClientError
from hearth_client.keystore import KeystoreError
from hearth_client.sanitize import one_line
from hearth_client.tui.render import role_label
from hearth_core.errors import HearthCoreError
from hearth_core.room_roles import Role

DEFAULT_PSEUDONYM = "guest"

HELP = """\
Commands (ROOM is a room's name or id; WHO is a pseudonym or the start of a member id):
  /create NAME [PSEUDONYM]   create a room; you are its facilitator
  /join INVITE [PSEUDONYM]   join with an invite link or code
  /rooms                     list your rooms      /go ROOM   switch room
  /leave                     leave the current room
  /nick NAME                 change your pseudonym in this room
  /me ACTION                 say an action ("/me waves")
  /invite [waiting]          make a one-use invite (facilitators); "waiting" uses the waiting room
  /members                   who is here        /whois [WHO]   a key fingerprint
  /safety WHO                the safety number to compare with WHO out of band
  /remove WHO   /ban WHO     remove (or ban) a member (facilitators)
  /admit WHO                 let someone in from the waiting room (facilitators)
  /topic TEXT                set the room's topic (facilitators)
  /resources                 "I need help": crisis resources from your server's operator
  /help                      this list          /quit     leave the program
Keys: ctrl+q or F12 quick exit (clears the screen at once), F2 resources, ctrl+n next room."""


class CommandError(Exception):
    """A command the user typed cannot run; ``str()`` is one line for the user."""


@dataclass
class Outcome:
    """What the UI should do after a line: notes to show, a room to switch to..."""

    notes: list[str] = field(default_factory=list)
    room: str | None = None
    left: str | None = None
    panel: str | None = None  # "help" or "resources"
    quit: bool = False


def resolve_room(engine: Engine, ref: str) -> str:
    """The room id for a room's id, or its (case-insensitive, unique) name."""
    ref = ref.strip()
    rooms = engine.rooms()
    for info in rooms:
        if info.room == ref:
            return info.room
    named = [info.room for info in rooms if info.name.casefold() == ref.casefold()]
    if len(named) == 1:
        return named[0]
    if len(named) > 1:
        raise CommandError(f"more than one room is named {one_line(ref)!r}; use its id")
    raise CommandError(f"no room {one_line(ref)!r} in this profile")


def resolve_member(engine: Engine, room: str, who: str, *, waiting: bool = False) -> str:
    """The member id for a pseudonym or a member id prefix (at least 4 characters)."""
    who = who.strip().lstrip("@")
    if not who:
        raise CommandError("say who: a pseudonym or the start of a member id")
    candidates: list[tuple[str, str]] = [(m.member, m.pseudonym) for m in engine.members(room)]
    if waiting:
        candidates += [(member, "") for member in engine.waiting(room)]
    exact = {m for m, name in candidates if name and name.casefold() == who.casefold()}
    if len(exact) == 1:
        return exact.pop()
    if len(who) >= 4:
        prefixed = {m for m, _ in candidates if m.startswith(who)}
        if len(prefixed) == 1:
            return prefixed.pop()
        if len(prefixed) > 1:
            raise CommandError(f"{who!r} matches more than one member; type more of the id")
    if len(exact) > 1:
        raise CommandError(f"more than one member is called {one_line(who)!r}; use the id")
    raise CommandError(f"nobody called {one_line(who)!r} in this room")


def _pseudonym(engine: Engine, room: str, member: str) -> str:
    for view in engine.members(room):
        if view.member == member:
            return one_line(view.pseudonym) or member[:8]
    return member[:8]


class Commands:
    """Runs the composer's lines for one engine (module doc)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._table: dict[str, Callable[[str | None, str], Awaitable[Outcome]]] = {
            "help": self._help,
            "create": self._create,
            "join": self._join,
            "rooms": self._rooms,
            "go": self._go,
            "leave": self._leave,
            "nick": self._nick,
            "me": self._me,
            "invite": self._invite,
            "members": self._members,
            "whois": self._whois,
            "safety": self._safety,
            "remove": self._remove,
            "ban": self._ban,
            "admit": self._admit,
            "topic": self._topic,
            "resources": self._resources,
            "quit": self._quit,
        }

    @property
    def names(self) -> list[str]:
        return sorted(self._table)

    async def run(self, room: str | None, line: str) -> Outcome:
        """Run one line typed by the user in ``room`` (CommandError on any failure)."""
        line = line.rstrip("\n")
        if not line.strip():
            return Outcome()
        try:
            if line.startswith("/") and not line.startswith("//"):
                name, _, arg = line[1:].partition(" ")
                handler = self._table.get(name.lower())
                if handler is None:
                    raise CommandError(f"unknown command /{one_line(name)}; /help lists them")
                return await handler(room, arg.strip())
            text = line[1:] if line.startswith("//") else line
            await self.engine.send(self._need_room(room), text)
            return Outcome()
        except CommandError:
            raise
        except (HearthClientError, KeystoreError, HearthCoreError) as exc:
            raise CommandError(one_line(str(exc)) or type(exc).__name__) from exc

    def _need_room(self, room: str | None) -> str:
        if room is None:
            raise CommandError("no room yet: /join an invite or /create a room")
        return room

    def _need_arg(self, arg: str, usage: str) -> str:
        if not arg:
            raise CommandError(f"usage: {usage}")
        return arg

    async def _help(self, room: str | None, arg: str) -> Outcome:
        return Outcome(notes=HELP.splitlines(), panel="help")

    async def _resources(self, room: str | None, arg: str) -> Outcome:
        return Outcome(panel="resources")

    async def _quit(self, room: str | None, arg: str) -> Outcome:
        return Outcome(quit=True)

    async def _create(self, room: str | None, arg: str) -> Outcome:
        parts = shlex.split(self._need_arg(arg, "/create NAME [PSEUDONYM]"))
        name = parts[0]
        pseudonym = parts[1] if len(parts) > 1 else DEFAULT_PSEUDONYM
        info = await self.engine.create_room(name, pseudonym=pseudonym)
        return Outcome(
            notes=[f"created room {one_line(name)}; you are its facilitator"], room=info.room
        )

    async def _join(self, room: str | None, arg: str) -> Outcome:
        parts = self._need_arg(arg, "/join INVITE [PSEUDONYM]").split(maxsplit=1)
        pseudonym = parts[1] if len(parts) > 1 else DEFAULT_PSEUDONYM
        info = await self.engine.join(parts[0], pseudonym=pseudonym)
        if info.status == "waiting":
            note = "you are in the waiting room; a facilitator will let you in"
        else:
            note = f"joined as {one_line(pseudonym)}"
        return Outcome(notes=[note], room=info.room)

    async def _rooms(self, room: str | None, arg: str) -> Outcome:
        rooms = self.engine.rooms()
        if not rooms:
            return Outcome(notes=["no rooms yet: /join an invite or /create a room"])
        return Outcome(
            notes=[
                f"{one_line(r.name) or '(name arriving)'}  id {r.room}  {r.status}"
                f"  as {one_line(r.pseudonym)} ({role_label(r.role)})"
                for r in rooms
            ]
        )

    async def _go(self, room: str | None, arg: str) -> Outcome:
        return Outcome(room=resolve_room(self.engine, self._need_arg(arg, "/go ROOM")))

    async def _leave(self, room: str | None, arg: str) -> Outcome:
        target = resolve_room(self.engine, arg) if arg else self._need_room(room)
        await self.engine.leave(target)
        return Outcome(notes=["you left the room"], left=target)

    async def _nick(self, room: str | None, arg: str) -> Outcome:
        name = self._need_arg(arg, "/nick NAME")
        await self.engine.set_pseudonym(self._need_room(room), name)
        return Outcome(notes=[f"you are now {one_line(name)} in this room"])

    async def _me(self, room: str | None, arg: str) -> Outcome:
        await self.engine.send_me(self._need_room(room), self._need_arg(arg, "/me ACTION"))
        return Outcome()

    async def _invite(self, room: str | None, arg: str) -> Outcome:
        if arg not in ("", "waiting"):
            raise CommandError("usage: /invite [waiting]")
        invite = await self.engine.create_invite(
            self._need_room(room), waiting_room=True if arg == "waiting" else None
        )
        return Outcome(
            notes=[f"invite (one use, share it privately): {invite.link}", f"code: {invite.code}"]
        )

    async def _members(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        notes = [
            f"{one_line(m.pseudonym)}{' (you)' if m.me else ''}  {role_label(m.role)}"
            f"  {'online' if m.online else 'away'}  id {m.member[:8]}"
            for m in self.engine.members(room)
        ]
        notes += [f"waiting: id {member[:8]}" for member in self.engine.waiting(room)]
        return Outcome(notes=notes)

    async def _whois(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        if not arg:
            return Outcome(notes=[f"your key fingerprint: {self.engine.fingerprint(room)}"])
        member = resolve_member(self.engine, room, arg)
        role = next((m.role for m in self.engine.members(room) if m.member == member), Role.MEMBER)
        return Outcome(
            notes=[
                f"{_pseudonym(self.engine, room, member)}  {role_label(role)}  id {member}",
                f"fingerprint: {self.engine.fingerprint(room, member)}",
            ]
        )

    async def _safety(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        member = resolve_member(self.engine, room, self._need_arg(arg, "/safety WHO"))
        number = self.engine.safety_number(room, member)
        return Outcome(
            notes=[
                f"safety number with {_pseudonym(self.engine, room, member)}"
                " (compare it with them out of band):",
                number,
            ]
        )

    async def _remove(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        member = resolve_member(self.engine, room, self._need_arg(arg, "/remove WHO"))
        name = _pseudonym(self.engine, room, member)
        await self.engine.remove(room, member)
        return Outcome(notes=[f"removed {name}"])

    async def _ban(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        member = resolve_member(self.engine, room, self._need_arg(arg, "/ban WHO"))
        name = _pseudonym(self.engine, room, member)
        await self.engine.ban(room, member)
        return Outcome(notes=[f"banned {name}"])

    async def _admit(self, room: str | None, arg: str) -> Outcome:
        room = self._need_room(room)
        member = resolve_member(self.engine, room, self._need_arg(arg, "/admit WHO"), waiting=True)
        await self.engine.admit(room, member)
        return Outcome(notes=[f"admitted {member[:8]}"])

    async def _topic(self, room: str | None, arg: str) -> Outcome:
        await self.engine.set_room_state(
            self._need_room(room), topic=self._need_arg(arg, "/topic TEXT")
        )
        return Outcome(notes=["topic set"])


__all__ = [
    "DEFAULT_PSEUDONYM",
    "HELP",
    "CommandError",
    "Commands",
    "Outcome",
    "resolve_member",
    "resolve_room",
]
