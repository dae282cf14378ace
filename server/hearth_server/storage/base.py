"""Storage records and the ``Store`` interface (protocol.md §8, §9, §10).

A ``Store`` is async and typed. Writes are durable when their result is delivered:
``append`` results (and ``append_nowait`` callbacks) are delivered only after the
transaction holding the message committed, in the order the appends were submitted.
Implementations: ``hearth_server.storage.sqlite.SqliteStore``; a PostgreSQL one can
follow behind the same contract (``tests/server/test_store_contract.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from hearth_core.rules import MemberStatus, Role
from hearth_server.errors import StoreError


@dataclass(frozen=True, slots=True)
class RoomRecord:
    """A room: opaque metadata, invite default, retention and sequence bounds."""

    id: str
    created_ms: int
    metadata: bytes
    waiting_room: bool
    retention_s: int | None
    head_seq: int = 0
    purged_through: int = 0


@dataclass(frozen=True, slots=True)
class MemberRecord:
    """One identity's membership of one room."""

    room: str
    identity: bytes
    pseudonym: str
    role: Role
    status: MemberStatus
    joined_ms: int


@dataclass(frozen=True, slots=True)
class InviteRecord:
    """An invite; only the SHA-256 of its secret is stored (protocol.md §4.4)."""

    id: str
    room: str
    secret_hash: bytes
    created_ms: int
    expires_ms: int
    max_uses: int
    waiting_room: bool
    uses: int = 0
    revoked: bool = False


@dataclass(frozen=True, slots=True)
class JoinResult:
    """The outcome of redeeming an invite: the room, the member, and whether it is new."""

    room: RoomRecord
    member: MemberRecord
    new: bool


@dataclass(frozen=True, slots=True)
class NewMessage:
    """A message to append; the store assigns its sequence number and time."""

    room: str
    sender: bytes
    client_id: str
    payload: bytes
    meta: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """A stored message (protocol.md §4.7 ``message``)."""

    room: str
    seq: int
    sender: bytes
    client_id: str
    ts: int
    payload: bytes
    meta: dict[str, str] | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an appended message landed; ``duplicate`` when its client id was stored before."""

    room: str
    client_id: str
    seq: int
    ts: int
    duplicate: bool


#: Called on the event loop after the commit, with the result or the store's failure.
AppendCallback = Callable[[AppendResult | StoreError], None]


class Store(Protocol):
    """The storage interface the server needs (DESIGN.md "Layout": storage)."""

    async def open(self) -> None:
        """Open connections and apply pending migrations."""

    async def close(self) -> None:
        """Commit every pending write, then release all resources."""

    async def create_room(self, room: RoomRecord, creator: MemberRecord) -> None:
        """Store a new room with its creator (protocol.md §4.3)."""

    async def get_room(self, room_id: str) -> RoomRecord | None:
        """The room, or None."""

    async def list_members(self, room_id: str) -> list[MemberRecord]:
        """Every member (admitted and waiting) of the room, in joining order."""

    async def create_invite(self, invite: InviteRecord) -> None:
        """Store an invite (protocol.md §4.4)."""

    async def invite_room(self, secret_hash: bytes) -> str | None:
        """The room an invite belongs to (whatever its state), or None."""

    async def revoke_invite(self, room_id: str, invite_id: str) -> bool:
        """Revoke an invite of this room; False when there is none."""

    async def join(
        self, secret_hash: bytes, identity: bytes, pseudonym: str, now_ms: int
    ) -> JoinResult:
        """Redeem an invite and add the member atomically (protocol.md §4.5).

        Raises ``RequestError`` with ``invite_invalid``, ``invite_expired``,
        ``invite_revoked`` or ``invite_exhausted``.
        """

    async def admit(self, room_id: str, identity: bytes) -> MemberRecord | None:
        """Turn a waiting member into an admitted one; None when not waiting."""

    async def remove_member(self, room_id: str, identity: bytes) -> bool:
        """Remove a member; False when it was not one."""

    def append_nowait(self, message: NewMessage, callback: AppendCallback) -> None:
        """Queue a message; ``callback`` runs after the commit, in submission order (§8)."""

    async def append(self, message: NewMessage) -> AppendResult:
        """Append a message and wait for its durable result (protocol.md §8.2, §8.3)."""

    async def read_messages(self, room_id: str, after: int, limit: int) -> list[StoredMessage]:
        """Up to ``limit`` messages with ``seq > after``, in order (protocol.md §9)."""

    async def purge_expired(self, now_ms: int) -> int:
        """Delete messages past their room's retention; return how many (protocol.md §10)."""
