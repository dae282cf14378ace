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
from typing import Any, Protocol

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
    #: protocol.md §12.6: ``application``, ``proposal`` or ``commit``, and the MLS epoch.
    kind: str = "application"
    epoch: int | None = None


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
    kind: str = "application"
    epoch: int | None = None


@dataclass(frozen=True, slots=True)
class AppendResult:
    """Where an appended message landed; ``duplicate`` when its client id was stored before."""

    room: str
    client_id: str
    seq: int
    ts: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class GroupRecord:
    """An MLS room's public state as stored (protocol.md §12.9)."""

    room: str
    group_id: bytes
    epoch: int
    #: Sequence of the commit that started ``epoch`` (0 at creation) and its store time.
    epoch_seq: int
    epoch_ms: int
    group_info: bytes
    ratchet_tree: bytes


@dataclass(frozen=True, slots=True)
class HandshakeWrite:
    """A proposal or commit and what it changes, stored in one transaction (§12.4)."""

    message: NewMessage
    #: The new public state (commits); its ``epoch_seq``/``epoch_ms`` are set by the store.
    group: GroupRecord | None = None
    welcome: bytes | None = None
    welcome_epoch: int = 0
    welcome_to: tuple[bytes, ...] = ()
    admitted: tuple[bytes, ...] = ()
    removed: tuple[bytes, ...] = ()


@dataclass(frozen=True, slots=True)
class CheckedUpload:
    """A KeyPackage that passed the upload checks (protocol.md §12.1)."""

    ref: bytes
    data: bytes
    expires_ms: int


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

    # --- MLS Delivery Service (protocol.md §12) ---

    async def server_key(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The private key stored under ``name``, made by ``make`` on first use."""

    async def create_mls_room(
        self, room: RoomRecord, creator: MemberRecord, group: GroupRecord
    ) -> None:
        """Store a new MLS room (``wrong_group`` if its group id is taken)."""

    async def get_group(self, room_id: str) -> GroupRecord | None:
        """The room's MLS public state."""

    async def epoch_proposals(self, room_id: str, epoch: int) -> list[bytes]:
        """Stored proposals of an epoch, in order."""

    async def find_message(
        self, room_id: str, sender: bytes, client_id: str
    ) -> AppendResult | None:
        """A stored message by its idempotency key."""

    async def append_handshake(
        self, write: HandshakeWrite, on_commit: Callable[[Any], None] | None = None
    ) -> AppendResult:
        """Store a proposal or commit with its effects atomically."""

    async def welcomes_for(self, room_id: str, identity: bytes) -> list[tuple[int, int, bytes]]:
        """(seq, epoch, Welcome) released to an identity."""

    async def store_key_packages(
        self, identity: bytes, upload: list[CheckedUpload], now_ms: int, max_stock: int
    ) -> int:
        """Store KeyPackages atomically; the stock after."""

    async def claim_key_package(
        self, room_id: str, identity: bytes, now_ms: int
    ) -> tuple[bytes, int] | None:
        """Claim one KeyPackage atomically: (KeyPackage, stock left) or None."""

    async def claimed_for(self, room_id: str, refs: frozenset[bytes]) -> dict[bytes, bytes]:
        """KeyPackageRef -> identity for refs claimed for the room."""

    async def key_package_stock(self, identity: bytes, now_ms: int) -> int:
        """Unclaimed, unexpired KeyPackages of an identity."""

    async def add_removal(self, room_id: str, identity: bytes, *, ban: bool) -> None:
        """Record a pending removal (and a ban)."""

    async def pending_removals(self, room_id: str) -> list[bytes]:
        """Pending removals of the room."""

    async def drop_removal(self, room_id: str, identity: bytes) -> None:
        """Forget a pending removal."""

    async def is_banned(self, room_id: str, identity: bytes) -> bool:
        """True for a banned identity."""
