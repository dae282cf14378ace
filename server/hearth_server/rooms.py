"""In-memory room state: members, subscriptions, presence and fan-out (protocol.md §4.6-§4.8, §9).

A ``Room`` is loaded from the store once and then kept current by the handlers,
after each commit. ``Room.head`` is the last sequence that was committed *and* fanned
out; it is what resuming subscriptions compare against (protocol.md §9).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hearth_core.public_group import PublicGroup
from hearth_core.rules import MemberStatus, Role, RoomAction, may
from hearth_server.storage import GroupRecord, MemberRecord, RoomRecord, Store

if TYPE_CHECKING:
    from hearth_server.session import Session


@dataclass(eq=False, slots=True)
class Subscription:
    """One connection's subscription to one room, with its resume cursor (protocol.md §9).

    While ``live`` is False a pager task sends history and live fan-out skips this
    subscription (the pager reads those messages from storage). ``cursor`` is the last
    sequence sent; live fan-out sends exactly ``cursor + 1``.
    """

    session: Session
    room: Room
    identity: bytes
    cursor: int
    live: bool = False
    task: asyncio.Task[None] | None = field(default=None)


class Room:
    """One room's state while the server holds it."""

    def __init__(self, record: RoomRecord, members: Iterable[MemberRecord]) -> None:
        self.id = record.id
        self.record = record
        self.head = record.head_seq
        self.members: dict[bytes, MemberRecord] = {m.identity: m for m in members}
        self.subscriptions: list[Subscription] = []
        self.bound: dict[bytes, set[Session]] = {}
        self.online: dict[bytes, int] = {}
        # MLS Delivery Service state (protocol.md §12); None for a room without a group.
        self.group: PublicGroup | None = None
        self.group_record: GroupRecord | None = None
        #: Serializes the room's handshakes: the first commit stored for an epoch wins.
        self.handshake_lock = asyncio.Lock()

    def set_group(self, group: PublicGroup, record: GroupRecord) -> None:
        """Hold the group's public state; roles follow its room_roles (protocol.md §12.8)."""
        self.group = group
        self.group_record = record
        roles = group.view().roles
        for identity, member in list(self.members.items()):
            wanted = Role(roles.role_of(identity).value)
            if member.role is not wanted:
                self.members[identity] = replace(member, role=wanted)

    def publish(self, seq: int, data: bytes) -> int:
        """Queue a committed message's encoded frame to every live subscription.

        Never awaits. Returns the number of deliveries.
        """
        self.head = seq
        delivered = 0
        for sub in self.subscriptions:
            if not sub.live:
                continue
            if seq == sub.cursor + 1:
                sub.cursor = seq
                if sub.session.outbox.push(data):
                    delivered += 1
            elif seq > sub.cursor + 1:  # cannot happen by construction: resync from storage
                sub.session.resync(sub)
        return delivered

    def broadcast(
        self, data: bytes, *, skip: bytes | None = None, staff_only: bool = False
    ) -> None:
        """Queue an ephemeral frame to the room's subscribers (never stored)."""
        for sub in self.subscriptions:
            if sub.identity == skip:
                continue
            if staff_only:
                member = self.members.get(sub.identity)
                if member is None or not may(member.role, RoomAction.SEE_WAITING):
                    continue
            sub.session.outbox.push(data)

    def is_admitted(self, identity: bytes) -> bool:
        """True for an admitted member."""
        member = self.members.get(identity)
        return member is not None and member.status is MemberStatus.MEMBER

    def facilitators(self) -> list[bytes]:
        """Identities of the room's facilitators."""
        return [m.identity for m in self.members.values() if m.role is Role.FACILITATOR]


class RoomRegistry:
    """The rooms this server holds in memory, loaded from the store on first use."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Lock] = {}

    def __len__(self) -> int:
        return len(self._rooms)

    def cached(self, room_id: str) -> Room | None:
        """The room if it is loaded."""
        return self._rooms.get(room_id)

    def add(self, room: Room) -> None:
        """Hold a room that was just created."""
        self._rooms[room.id] = room

    async def load(self, room_id: str) -> Room | None:
        """The room, loading it (once) from the store; None when it does not exist."""
        room = self._rooms.get(room_id)
        if room is not None:
            return room
        lock = self._loading.setdefault(room_id, asyncio.Lock())
        async with lock:
            room = self._rooms.get(room_id)
            if room is None:
                record = await self._store.get_room(room_id)
                if record is not None:
                    room = Room(record, await self._store.list_members(room_id))
                    group = await self._store.get_group(room_id)
                    if group is not None:
                        room.set_group(await self._rebuild(group), group)
                    self._rooms[room_id] = room
        self._loading.pop(room_id, None)
        return room

    async def _rebuild(self, record: GroupRecord) -> PublicGroup:
        """The public state from the stored GroupInfo, tree and this epoch's proposals."""
        group = PublicGroup.from_group_info(record.group_info, record.ratchet_tree)
        for proposal in await self._store.epoch_proposals(record.room, record.epoch):
            group = group.add_proposal(proposal)
        return group
