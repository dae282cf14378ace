"""In-memory room state: members, subscriptions, presence and fan-out (protocol.md §4.6-§4.8, §9).

A ``Room`` is loaded from the store on first use and then kept current by the
handlers, after each commit. ``Room.head`` is the last sequence that was committed
*and* fanned out; it is what resuming subscriptions compare against (protocol.md §9).

Rooms nobody uses are dropped from memory (``RoomRegistry.evict``) and loaded again
on next use. Everything a ``Room`` holds besides connections is a copy of the store
(the record, members, head sequence, the MLS GroupInfo, tree and this epoch's
proposals, protocol.md §12.9), so only a room that is *quiescent* may go: no
connection bound to it (every frame acting on a room needs a binding, §3.3), no
subscription, no handshake holding its lock and no message write awaiting its
commit (the commit's fan-out goes to the ``Room`` object that queued it).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from hearth_core.frames import MemberInfo
from hearth_core.public_group import PublicGroup
from hearth_core.rules import Role, RoomAction, may
from hearth_server.errors import StoreError
from hearth_server.storage import (
    AppendCallback,
    AppendResult,
    GroupRecord,
    MemberRecord,
    NewMessage,
    RoomRecord,
    Store,
)

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
        #: Message writes queued and not yet committed (``append_tracked``).
        self.writes = 0
        #: ``time.monotonic()`` of the last lookup, for idle eviction.
        self.last_used = 0.0

    def quiescent(self) -> bool:
        """True when dropping this object loses nothing (see the module docstring)."""
        return (
            not self.bound
            and not self.subscriptions
            and not self.handshake_lock.locked()
            and self.writes == 0
        )

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

    def info(self, member: MemberRecord) -> MemberInfo:
        """A member as ``members`` and ``member_update`` show it (protocol.md §4.8)."""
        return MemberInfo(
            identity=member.identity,
            pseudonym=member.pseudonym or None,  # "" is stored for "none given" (§12)
            role=member.role,
            status=member.status,
            online=self.online.get(member.identity, 0) > 0,
        )

    def facilitators(self) -> list[bytes]:
        """Identities of the room's facilitators."""
        return [m.identity for m in self.members.values() if m.role is Role.FACILITATOR]


def append_tracked(store: Store, room: Room, message: NewMessage, callback: AppendCallback) -> None:
    """``store.append_nowait`` that keeps ``room`` in memory until the write's commit
    callback ran (protocol.md §8.2: the callback acks and fans out to this object)."""

    def done(result: AppendResult | StoreError) -> None:
        room.writes -= 1
        callback(result)

    room.writes += 1
    try:
        store.append_nowait(message, done)
    except BaseException:
        room.writes -= 1
        raise


class RoomRegistry:
    """The rooms this server holds in memory, loaded from the store on first use and
    dropped again when idle (``evict``)."""

    def __init__(
        self,
        store: Store,
        *,
        idle_after: float,
        keep: int,
        clock: Callable[[], float] = time.monotonic,
        on_evict: Callable[[int], None] = lambda count: None,
    ) -> None:
        self._store = store
        self._on_evict = on_evict
        self._rooms: dict[str, Room] = {}
        self._loading: dict[str, asyncio.Lock] = {}
        self._idle_after = idle_after
        self._keep = keep
        self._clock = clock

    def __len__(self) -> int:
        return len(self._rooms)

    def cached(self, room_id: str) -> Room | None:
        """The room if it is loaded."""
        room = self._rooms.get(room_id)
        if room is not None:
            room.last_used = self._clock()
        return room

    def add(self, room: Room) -> None:
        """Hold a room that was just created."""
        room.last_used = self._clock()
        self._rooms[room.id] = room
        self._evict_beyond_keep(spare=room)

    def evict(self) -> int:
        """Drop quiescent rooms unused for ``idle_after`` seconds, then the least
        recently used quiescent ones beyond ``keep``; return how many went. Never
        awaits, so no handler runs between the check and the removal."""
        cutoff = self._clock() - self._idle_after
        idle = [
            room_id
            for room_id, room in self._rooms.items()
            if room.last_used <= cutoff and room.quiescent()
        ]
        for room_id in idle:
            del self._rooms[room_id]
        if idle:
            self._on_evict(len(idle))
        return len(idle) + self._evict_beyond_keep()

    def _evict_beyond_keep(self, spare: Room | None = None) -> int:
        """Drop least recently used quiescent rooms (never ``spare``, which a caller
        is about to bind) until at most ``keep`` are held, or none is left to drop."""
        excess = len(self._rooms) - self._keep
        if excess <= 0:
            return 0
        quiet = sorted(
            (r for r in self._rooms.values() if r is not spare and r.quiescent()),
            key=lambda r: r.last_used,
        )[:excess]
        for room in quiet:
            del self._rooms[room.id]
        if quiet:
            self._on_evict(len(quiet))
        return len(quiet)

    async def load(self, room_id: str) -> Room | None:
        """The room, loading it (once) from the store; None when it does not exist.

        A caller that goes on to bind the room must do so before it next awaits,
        or the room may be evicted in between (protocol.md §3.3 bindings keep it).
        """
        room = self.cached(room_id)
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
                    self.add(room)
        self._loading.pop(room_id, None)
        return room

    async def _rebuild(self, record: GroupRecord) -> PublicGroup:
        """The public state from the stored GroupInfo, tree and this epoch's proposals."""
        group = PublicGroup.from_group_info(record.group_info, record.ratchet_tree)
        for proposal in await self._store.epoch_proposals(record.room, record.epoch):
            group = group.add_proposal(proposal)
        return group
