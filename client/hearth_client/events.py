"""Typed events the engine emits for a UI (issue 5 client engine, issue 6 TUI/CLI).

Every event is a frozen dataclass; a UI matches on the type. Events that concern
a room carry ``room`` (the server's random room id, protocol.md §2.3). Members
are named by ``member``: the unpadded URL-safe base64 of their 32-byte room
identity (which is both their auth identity, protocol.md §3.2, and their MLS
basic credential identity, RFC 9420 §5.3), see :func:`member_id`.

Texts (``text``, ``pseudonym``, room names) come from peers: they are untrusted,
already validated by :mod:`hearth_core.room_state` (no control characters, no
bidi overrides), but a UI must still render them as plain text, never as markup.
No event's ``repr`` shows message text.
"""

from __future__ import annotations

import base64
import enum
from dataclasses import dataclass, field

from hearth_client.errors import ClientUsageError
from hearth_core.room_roles import Role


def member_id(identity: bytes) -> str:
    """The string a UI uses for a member: unpadded URL-safe base64 of the identity."""
    return base64.urlsafe_b64encode(identity).rstrip(b"=").decode("ascii")


def member_identity(member: str) -> bytes:
    """The identity bytes of a :func:`member_id` string (ClientUsageError if malformed)."""
    try:
        raw = base64.urlsafe_b64decode(member + "=" * (-len(member) % 4))
    except ValueError:
        raw = b""
    if len(raw) != 32:
        raise ClientUsageError("a member id is 43 characters of URL-safe base64 (32 bytes)")
    return raw


class ConnectionState(enum.StrEnum):
    """The engine's connection to its server (protocol.md §2.1)."""

    CONNECTING = "connecting"  # first connection attempt
    ONLINE = "online"  # hello + auth done, rooms subscribed
    RECONNECTING = "reconnecting"  # lost; retrying with backoff
    OFFLINE = "offline"  # closed by the user (Engine.close) or gave up


class MessageKind(enum.StrEnum):
    CHAT = "chat"
    ME = "me"


class LeaveReason(enum.StrEnum):
    LEFT = "left"  # the member left by itself
    REMOVED = "removed"  # a facilitator (or the server, for a leave) removed it
    BANNED = "banned"  # a facilitator banned it: it can never rejoin (protocol.md §12.7)


@dataclass(frozen=True, slots=True)
class Event:
    """Base of every engine event."""


@dataclass(frozen=True, slots=True)
class ConnectionChanged(Event):
    state: ConnectionState
    detail: str = ""


@dataclass(frozen=True, slots=True)
class MessageReceived(Event):
    """A chat line or /me action, decrypted and verified (RFC 9420 §6.3), once, in order."""

    room: str
    seq: int
    sender: str
    pseudonym: str
    role: Role
    kind: MessageKind
    text: str = field(repr=False)
    ts: int
    epoch: int
    own: bool = False


@dataclass(frozen=True, slots=True)
class MemberJoined(Event):
    """A member entered the group; ``pseudonym`` is "" until its announcement arrives
    (a PseudonymChanged follows)."""

    room: str
    member: str
    pseudonym: str
    role: Role
    epoch: int


@dataclass(frozen=True, slots=True)
class MemberLeft(Event):
    room: str
    member: str
    pseudonym: str
    reason: LeaveReason
    epoch: int
    by: str | None = None  # the facilitator (member id) who removed it, if any


@dataclass(frozen=True, slots=True)
class RoleChanged(Event):
    """A facilitator changed a member's role (the room_roles extension, protocol.md §12.8)."""

    room: str
    member: str
    role: Role
    epoch: int


@dataclass(frozen=True, slots=True)
class MemberWaiting(Event):
    """Someone used a waiting-room invite; a facilitator may admit them (protocol.md §4.5)."""

    room: str
    member: str


@dataclass(frozen=True, slots=True)
class PseudonymChanged(Event):
    room: str
    member: str
    pseudonym: str


@dataclass(frozen=True, slots=True)
class RoomJoined(Event):
    """This engine is now in the room's MLS group (created, joined, admitted or rejoined)."""

    room: str
    epoch: int


@dataclass(frozen=True, slots=True)
class RoomLeft(Event):
    """This engine is no longer in the room (it left, or was removed)."""

    room: str
    reason: LeaveReason


@dataclass(frozen=True, slots=True)
class RoomStateChanged(Event):
    room: str
    name: str
    topic: str = field(repr=False)
    guidelines: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class EpochChanged(Event):
    room: str
    epoch: int
    tree_hash: bytes = field(repr=False)


@dataclass(frozen=True, slots=True)
class TypingChanged(Event):
    room: str
    member: str
    active: bool


@dataclass(frozen=True, slots=True)
class PresenceChanged(Event):
    room: str
    member: str
    online: bool


@dataclass(frozen=True, slots=True)
class Synced(Event):
    """The room's history up to ``seq`` is processed; live messages follow (protocol.md §4.6)."""

    room: str
    seq: int


@dataclass(frozen=True, slots=True)
class EngineErrorEvent(Event):
    """Something failed in the background (a peer's message refused, a retry that gave up).

    ``code`` is stable (e.g. ``"commit_refused"``, ``"decrypt_failed"``,
    ``"server_error"``); ``message`` is for humans and never holds message text.
    """

    code: str
    message: str
    room: str | None = None
    seq: int | None = None


__all__ = [
    "ConnectionChanged",
    "ConnectionState",
    "EngineErrorEvent",
    "EpochChanged",
    "Event",
    "LeaveReason",
    "MemberJoined",
    "MemberLeft",
    "MemberWaiting",
    "MessageKind",
    "MessageReceived",
    "PresenceChanged",
    "PseudonymChanged",
    "RoleChanged",
    "RoomJoined",
    "RoomLeft",
    "RoomStateChanged",
    "Synced",
    "TypingChanged",
    "member_id",
    "member_identity",
]
