"""What the engine returns to a UI: rooms, members, invites, sent messages (issue 6).

Frozen dataclasses built from local state; see :mod:`hearth_client.engine` for
the API they belong to. Also the invite text format: an invite is its 43-character
secret (protocol.md §2.3), or a link ``<server url>#<secret>``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_client import events as ev
from hearth_client.errors import ClientUsageError, InvalidInviteError
from hearth_client.room_session import RoomSession, fingerprint_of
from hearth_core.frames import InviteCreated
from hearth_core.room_roles import Role

_INVITE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: str
    name: str
    topic: str
    guidelines: str
    epoch: int
    role: Role
    status: str
    pseudonym: str
    me: str
    last_seq: int
    unread: int = 0


@dataclass(frozen=True, slots=True)
class MemberView:
    member: str
    pseudonym: str
    role: Role
    online: bool
    typing: bool
    fingerprint: str
    me: bool


@dataclass(frozen=True, slots=True)
class Invite:
    room: str
    invite_id: str
    code: str
    link: str
    expires_at: int
    max_uses: int
    waiting_room: bool

    @classmethod
    def from_frame(cls, frame: InviteCreated, server: str) -> Invite:
        """From ``invite_created`` (protocol.md §4.4); the link is ``<server>#<secret>``."""
        return cls(
            frame.room,
            frame.invite,
            frame.secret,
            f"{server}#{frame.secret}",
            frame.expires_at,
            frame.max_uses,
            frame.waiting_room,
        )


@dataclass(frozen=True, slots=True)
class SentMessage:
    room: str
    seq: int
    ts: int
    id: str


def parse_invite(text: str) -> tuple[str | None, str]:
    """``(server or None, code)`` from an invite code or link (module doc)."""
    text = text.strip()
    server: str | None = None
    if "#" in text:
        server, _, text = text.rpartition("#")
        if not server.startswith(("ws://", "wss://")):
            raise InvalidInviteError("an invite link starts with ws:// or wss:// and ends in #code")
    if len(text) != 43 or not set(text) <= _INVITE_CHARS:
        raise InvalidInviteError("an invite code is 43 characters of A-Z, a-z, 0-9, '_' and '-'")
    return server, text


def safety_number(a: str, b: str) -> str:
    """Both sides' fingerprints in sorted order: the same 24 groups on both screens."""
    return " ".join(sorted([a, b]))


def room_info(session: RoomSession, unread: int = 0) -> RoomInfo:
    state = session.room_state
    return RoomInfo(
        room=session.room,
        name=state.name if state else "",
        topic=state.topic if state else "",
        guidelines=state.guidelines if state else "",
        epoch=session.epoch,
        role=session.role_of(session.me),
        status="member" if session.status == "joining" else session.status,
        pseudonym=session.pseudonym(session.me),
        me=ev.member_id(session.me),
        last_seq=session.last_seq,
        unread=unread,
    )


def member_fingerprint(session: RoomSession, identity: bytes | None) -> str:
    """The fingerprint of a member (``None``: our own), from its leaf's signature key."""
    me = session.me if identity is None else identity
    if session.group is None:
        if me != session.me:
            raise ClientUsageError("not in the room's group yet")
        return fingerprint_of(session.membership.signature_public_key)
    roster = session.roster()
    for index, candidate in roster.identities.items():
        if candidate == me:
            return fingerprint_of(roster.signature_keys[index])
    raise ClientUsageError("no such member in the room")


def member_views(session: RoomSession) -> list[MemberView]:
    """The group's members (RFC 9420 §7.2 leaves) with what the room said about them."""
    if session.group is None:
        return []
    roster = session.roster()
    return [
        MemberView(
            member=ev.member_id(identity),
            pseudonym=session.pseudonym(identity),
            role=roster.roles.role_of(identity),
            online=identity in session.online or identity == session.me,
            typing=identity in session.typing,
            fingerprint=fingerprint_of(roster.signature_keys[index]),
            me=identity == session.me,
        )
        for index, identity in sorted(roster.identities.items())
    ]


__all__ = [
    "Invite",
    "MemberView",
    "RoomInfo",
    "SentMessage",
    "member_fingerprint",
    "member_views",
    "parse_invite",
    "room_info",
    "safety_number",
]
