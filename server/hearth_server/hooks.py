"""Typed server hook points returning one ``Decision`` (DESIGN.md "Moderation").

Hooks run on the server, so they see only what the server sees: identities, room ids,
sizes and public metadata, never message text. They are synchronous: a hook on the
send path must not make the room wait. The default ``Hooks`` allows everything;
subclass it and override the points you need::

    class NoLinks(Hooks):
        def before_send(self, event: SendEvent) -> Decision:
            if (event.meta or {}).get("kind") == "link":
                return Decision.deny(ErrorCode.FORBIDDEN, "links are off in this room")
            return Decision.ALLOW
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from hearth_core.errors import ErrorCode


@dataclass(frozen=True, slots=True)
class Decision:
    """What a hook decided: allow, or deny with the error code the client receives."""

    allowed: bool
    code: ErrorCode | None = None
    message: str = ""

    ALLOW: ClassVar[Decision]

    @staticmethod
    def deny(code: ErrorCode, message: str) -> Decision:
        """Refuse the request with ``code`` (protocol.md §5)."""
        return Decision(False, code, message)


Decision.ALLOW = Decision(True)


@dataclass(frozen=True, slots=True)
class JoinEvent:
    """An identity is about to join a room with a valid invite."""

    room: str
    identity: bytes


@dataclass(frozen=True, slots=True)
class SendEvent:
    """An admitted member is about to send; the payload is opaque (ciphertext)."""

    room: str
    identity: bytes
    size: int
    meta: dict[str, str] | None


class Hooks:
    """The hook points; every method allows by default."""

    def before_join(self, event: JoinEvent) -> Decision:
        """Called before an invite is redeemed (protocol.md §4.5)."""
        return Decision.ALLOW

    def before_send(self, event: SendEvent) -> Decision:
        """Called before a message is stored (protocol.md §4.7)."""
        return Decision.ALLOW
