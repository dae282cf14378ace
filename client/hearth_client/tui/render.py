"""Engine events as timeline lines (issue 6): Rich ``Text`` for the TUI, strings for
line mode. Peer text goes only through :mod:`hearth_client.sanitize` into plain
``Text`` spans, never through markup, so ``[b]`` or an escape sequence from a peer
shows as the characters it is."""

from __future__ import annotations

import time

from rich.text import Text

from hearth_client import events as ev
from hearth_client.sanitize import clean, one_line
from hearth_core.room_roles import Role

BADGES = {Role.FACILITATOR: "[F]", Role.PEER_LEADER: "[P]", Role.MEMBER: ""}
SYSTEM_STYLE = "dim italic"


def role_label(role: Role) -> str:
    return str(role).replace("_", " ")


def clock(ts_ms: int | None = None) -> str:
    """``HH:MM`` local time of a server timestamp (ms), or now."""
    seconds = time.time() if ts_ms is None else ts_ms / 1000
    return time.strftime("%H:%M", time.localtime(seconds))


def message_line(event: ev.MessageReceived) -> Text:
    """``12:03 [F] alice: text`` or ``12:03 * alice waves``; peer parts stay literal."""
    line = Text(no_wrap=False)
    line.append(clock(event.ts) + " ", style="dim")
    badge = BADGES.get(event.role, "")
    if badge:
        line.append(badge + " ", style="bold yellow")
    name = one_line(event.pseudonym) or event.sender[:8]
    if event.kind is ev.MessageKind.ME:
        line.append("* ", style="magenta")
        line.append(name, style="magenta")
        line.append(" ")
        line.append(clean(event.text), style="magenta")
    else:
        line.append(name, style="bold green" if event.own else "bold cyan")
        line.append(": ")
        line.append(clean(event.text))
    return line


def system_line(text: str) -> Text:
    """A quiet line for joins, removals, epochs and notes (our own text, still literal)."""
    return Text(f"{clock()} -- {clean(text)}", style=SYSTEM_STYLE)


def error_line(text: str) -> Text:
    return Text(f"{clock()} !! {clean(text)}", style="bold red")


def describe(event: ev.Event, name_of: dict[str, str]) -> str | None:
    """A system line for a room event, or None if it has no line (messages, typing...)."""

    def who(member: str, fallback: str = "") -> str:
        return one_line(name_of.get(member) or fallback) or member[:8]

    match event:
        case ev.MemberJoined(member=member, pseudonym=pseudonym, role=role):
            badge = f" ({role_label(role)})" if role is not Role.MEMBER else ""
            return f"{who(member, pseudonym)} joined{badge}"
        case ev.MemberLeft(member=member, pseudonym=pseudonym, reason=reason, by=by):
            if reason is ev.LeaveReason.REMOVED:
                remover = f" by {who(by)}" if by else ""
                return f"{who(member, pseudonym)} was removed{remover}"
            return f"{who(member, pseudonym)} left"
        case ev.MemberWaiting(member=member):
            return f"someone is waiting to come in (id {member[:8]}): /admit {member[:8]}"
        case ev.PseudonymChanged(member=member, pseudonym=pseudonym):
            old = name_of.get(member)
            if not old:
                return f"{member[:8]} is {one_line(pseudonym)}"
            if old != pseudonym:
                return f"{one_line(old)} is now {one_line(pseudonym)}"
            return None
        case ev.RoomJoined(epoch=epoch):
            return f"you are in the room's encrypted group (epoch {epoch})"
        case ev.RoomLeft(reason=reason):
            if reason is ev.LeaveReason.REMOVED:
                return "you were removed from this room"
            return "you left this room"
        case ev.RoomStateChanged(name=name, topic=topic):
            return f"room is {one_line(name)!s}" + (f"; topic: {one_line(topic)}" if topic else "")
        case ev.EpochChanged(epoch=epoch):
            return f"keys changed (epoch {epoch})"
        case ev.EngineErrorEvent(message=message):
            return f"problem: {one_line(message)}"
    return None


def connection_label(state: ev.ConnectionState, detail: str = "") -> str:
    labels = {
        ev.ConnectionState.CONNECTING: "connecting…",
        ev.ConnectionState.ONLINE: "online, end-to-end encrypted",
        ev.ConnectionState.RECONNECTING: "connection lost, reconnecting…",
        ev.ConnectionState.OFFLINE: "offline",
    }
    label = labels[state]
    return (
        f"{label} ({one_line(detail)})"
        if detail and state is not ev.ConnectionState.ONLINE
        else label
    )


__all__ = [
    "BADGES",
    "clock",
    "connection_label",
    "describe",
    "error_line",
    "message_line",
    "role_label",
    "system_line",
]
