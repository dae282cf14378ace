"""The MLS Delivery Service part of the SQLite store (protocol.md §12.9).

Tables of migration 2: ``mls_groups`` (each MLS room's GroupInfo, public tree and
epoch), ``key_packages`` (uploaded KeyPackages; a claimed one keeps its row, with
its data dropped, so its KeyPackageRef is never accepted again), ``welcomes``
(one row per named identity), ``removals`` (pending server removals), ``bans``
and ``server_keys`` (the Delivery Service signature key). Every write runs in the
writer's transaction (``SqliteStore._write``), so a commit, its GroupInfo, its
Welcome and the membership changes it causes are stored atomically.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import aiosqlite

from hearth_core.errors import ErrorCode
from hearth_core.rules import MemberStatus
from hearth_server.errors import RequestError, StoreError
from hearth_server.storage.base import (
    AppendResult,
    CheckedUpload,
    GroupRecord,
    HandshakeWrite,
    MemberRecord,
    NewMessage,
    RoomRecord,
)

T = TypeVar("T")

_SELECT_GROUP = (
    "SELECT room, group_id, epoch, epoch_seq, epoch_ms, group_info, ratchet_tree"
    " FROM mls_groups WHERE room = ?"
)


def _group(row: Any) -> GroupRecord:
    return GroupRecord(
        room=row[0],
        group_id=bytes(row[1]),
        epoch=row[2],
        epoch_seq=row[3],
        epoch_ms=row[4],
        group_info=bytes(row[5]),
        ratchet_tree=bytes(row[6]),
    )


class MlsStoreMixin:
    """MLS methods of :class:`~hearth_server.storage.sqlite.SqliteStore`."""

    if TYPE_CHECKING:
        _heads: dict[str, int]

        async def _write(
            self,
            run: Callable[[aiosqlite.Connection], Awaitable[T]],
            callback: Callable[[Any], None] | None = None,
        ) -> T: ...
        async def _head(self, db: aiosqlite.Connection, room_id: str) -> int: ...
        def _now(self) -> int: ...
        def _reader_conn(self) -> aiosqlite.Connection: ...
        @staticmethod
        async def _stored_before(
            db: aiosqlite.Connection, msg: NewMessage
        ) -> AppendResult | None: ...
        async def _insert_room(
            self, db: aiosqlite.Connection, room: RoomRecord, creator: MemberRecord
        ) -> None: ...

    # ------------------------------------------------------------ server key

    async def server_key(self, name: str, make: Callable[[], bytes]) -> bytes:
        """The private key stored under ``name``, made by ``make`` on first use."""

        async def run(db: aiosqlite.Connection) -> bytes:
            async with db.execute("SELECT private FROM server_keys WHERE name = ?", (name,)) as c:
                row = await c.fetchone()
            if row is not None:
                return bytes(row[0])
            key = make()
            await db.execute("INSERT INTO server_keys (name, private) VALUES (?, ?)", (name, key))
            return key

        return await self._write(run)

    # ------------------------------------------------------------ groups

    async def create_mls_room(
        self, room: RoomRecord, creator: MemberRecord, group: GroupRecord
    ) -> None:
        """Store a new MLS room, its creator and its first public state in one transaction."""

        async def run(db: aiosqlite.Connection) -> None:
            async with db.execute(
                "SELECT 1 FROM mls_groups WHERE group_id = ?", (group.group_id,)
            ) as cur:
                if await cur.fetchone() is not None:
                    raise RequestError(ErrorCode.WRONG_GROUP, "another room uses this group id")
            await self._insert_room(db, room, creator)
            await self._put_group(db, group)

        await self._write(run)

    @staticmethod
    async def _put_group(db: aiosqlite.Connection, g: GroupRecord) -> None:
        await db.execute(
            "INSERT OR REPLACE INTO mls_groups (room, group_id, epoch, epoch_seq, epoch_ms,"
            " group_info, ratchet_tree) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (g.room, g.group_id, g.epoch, g.epoch_seq, g.epoch_ms, g.group_info, g.ratchet_tree),
        )

    async def get_group(self, room_id: str) -> GroupRecord | None:
        """The room's MLS public state, or None for a room without a group."""
        async with self._reader_conn().execute(_SELECT_GROUP, (room_id,)) as cur:
            row = await cur.fetchone()
        return _group(row) if row is not None else None

    async def epoch_proposals(self, room_id: str, epoch: int) -> list[bytes]:
        """The stored proposals of ``epoch``, in sequence order (to rebuild after a restart)."""
        async with self._reader_conn().execute(
            "SELECT payload FROM messages WHERE room = ? AND kind = 'proposal' AND epoch = ?"
            " ORDER BY seq",
            (room_id, epoch),
        ) as cur:
            rows = await cur.fetchall()
        return [bytes(row[0]) for row in rows]

    async def find_message(
        self, room_id: str, sender: bytes, client_id: str
    ) -> AppendResult | None:
        """A stored message by its idempotency key (protocol.md §8.3)."""
        async with self._reader_conn().execute(
            "SELECT seq, ts_ms FROM messages WHERE room = ? AND sender = ? AND client_id = ?",
            (room_id, sender, client_id),
        ) as cur:
            row = await cur.fetchone()
        if row is None:
            return None
        return AppendResult(room_id, client_id, row[0], row[1], duplicate=True)

    async def append_handshake(
        self, write: HandshakeWrite, on_commit: Callable[[Any], None] | None = None
    ) -> AppendResult:
        """Store a proposal or a commit with everything it changes, atomically (§12.4).

        ``on_commit`` runs after the commit with the :class:`AppendResult` (or the
        exception), in order with ``append_nowait`` callbacks, so fan-out stays in
        sequence order.
        """

        async def run(db: aiosqlite.Connection) -> AppendResult:
            msg = write.message
            earlier = await self._stored_before(db, msg)
            if earlier is not None:
                return earlier
            head_before = await self._head(db, msg.room)
            seq, ts = head_before + 1, self._now()
            try:
                await db.execute(
                    "INSERT INTO messages (room, seq, sender, client_id, ts_ms, payload, meta,"
                    " kind, epoch) VALUES (?, ?, ?, ?, ?, ?, NULL, ?, ?)",
                    (
                        msg.room,
                        seq,
                        msg.sender,
                        msg.client_id,
                        ts,
                        msg.payload,
                        msg.kind,
                        msg.epoch,
                    ),
                )
                # rooms.head_seq advances in the trigger messages_advance_head.
                self._heads[msg.room] = seq
                await self._apply_effects(db, write, seq, ts)
            except BaseException:
                self._heads[msg.room] = head_before
                raise
            return AppendResult(msg.room, msg.client_id, seq, ts, duplicate=False)

        return await self._write(run, on_commit)

    async def _apply_effects(
        self, db: aiosqlite.Connection, write: HandshakeWrite, seq: int, ts: int
    ) -> None:
        room = write.message.room
        if write.group is not None:
            g = write.group
            await self._put_group(
                db,
                GroupRecord(room, g.group_id, g.epoch, seq, ts, g.group_info, g.ratchet_tree),
            )
        if write.welcome is not None:
            await db.executemany(
                "INSERT INTO welcomes (room, seq, identity, epoch, data) VALUES (?, ?, ?, ?, ?)",
                [(room, seq, who, write.welcome_epoch, write.welcome) for who in write.welcome_to],
            )
        for identity in write.admitted:
            await db.execute(
                "UPDATE members SET status = ? WHERE room = ? AND identity = ? AND status = ?",
                (MemberStatus.MEMBER.value, room, identity, MemberStatus.WAITING.value),
            )
        for identity in write.removed:
            await db.execute(
                "DELETE FROM members WHERE room = ? AND identity = ?", (room, identity)
            )
            await db.execute(
                "DELETE FROM removals WHERE room = ? AND identity = ?", (room, identity)
            )

    async def welcomes_for(self, room_id: str, identity: bytes) -> list[tuple[int, int, bytes]]:
        """(seq, epoch, Welcome) released to ``identity`` in the room, oldest first."""
        async with self._reader_conn().execute(
            "SELECT seq, epoch, data FROM welcomes WHERE room = ? AND identity = ? ORDER BY seq",
            (room_id, identity),
        ) as cur:
            rows = await cur.fetchall()
        return [(row[0], row[1], bytes(row[2])) for row in rows]

    # ------------------------------------------------------------ KeyPackages

    async def store_key_packages(
        self, identity: bytes, upload: list[CheckedUpload], now_ms: int, max_stock: int
    ) -> int:
        """Store an upload atomically; the identity's stock after it (protocol.md §12.1)."""

        async def run(db: aiosqlite.Connection) -> int:
            for index, kp in enumerate(upload):
                async with db.execute("SELECT 1 FROM key_packages WHERE ref = ?", (kp.ref,)) as c:
                    if await c.fetchone() is not None:
                        raise RequestError(
                            ErrorCode.KEY_PACKAGE_REUSED,
                            "this KeyPackage was uploaded before",
                            field=f"$.key_packages[{index}]",
                        )
                await db.execute(
                    "INSERT INTO key_packages (ref, identity, data, expires_ms, uploaded_ms)"
                    " VALUES (?, ?, ?, ?, ?)",
                    (kp.ref, identity, kp.data, kp.expires_ms, now_ms),
                )
            stock = await self._stock(db, identity, now_ms)
            if upload and stock > max_stock:
                raise RequestError(
                    ErrorCode.LIMIT_EXCEEDED, f"at most {max_stock} unclaimed KeyPackages"
                )
            return stock

        return await self._write(run)

    @staticmethod
    async def _stock(db: aiosqlite.Connection, identity: bytes, now_ms: int) -> int:
        async with db.execute(
            "SELECT COUNT(*) FROM key_packages WHERE identity = ? AND claimed_room IS NULL"
            " AND expires_ms >= ?",
            (identity, now_ms),
        ) as cur:
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0

    async def claim_key_package(
        self, room_id: str, identity: bytes, now_ms: int
    ) -> tuple[bytes, int] | None:
        """Take the oldest unclaimed, unexpired KeyPackage of ``identity`` for the room.

        Returns (KeyPackage, stock left), or None when there is none (§12.3).
        """

        async def run(db: aiosqlite.Connection) -> tuple[bytes, int] | None:
            async with db.execute(
                "SELECT ref, data FROM key_packages WHERE identity = ? AND claimed_room IS NULL"
                " AND expires_ms >= ? ORDER BY uploaded_ms, rowid LIMIT 1",
                (identity, now_ms),
            ) as cur:
                row = await cur.fetchone()
            if row is None:
                return None
            await db.execute(
                "UPDATE key_packages SET claimed_room = ?, claimed_ms = ?, data = NULL"
                " WHERE ref = ?",
                (room_id, now_ms, row[0]),
            )
            return bytes(row[1]), await self._stock(db, identity, now_ms)

        return await self._write(run)

    async def claimed_for(self, room_id: str, refs: frozenset[bytes]) -> dict[bytes, bytes]:
        """Which of ``refs`` were claimed for the room: KeyPackageRef -> identity."""
        found: dict[bytes, bytes] = {}
        db = self._reader_conn()
        for ref in refs:
            async with db.execute(
                "SELECT identity FROM key_packages WHERE ref = ? AND claimed_room = ?",
                (ref, room_id),
            ) as cur:
                row = await cur.fetchone()
            if row is not None:
                found[ref] = bytes(row[0])
        return found

    async def key_package_stock(self, identity: bytes, now_ms: int) -> int:
        """Unclaimed, unexpired KeyPackages held for ``identity``."""
        return await self._stock(self._reader_conn(), identity, now_ms)

    # ------------------------------------------------------------ removals and bans

    async def add_removal(self, room_id: str, identity: bytes, *, ban: bool) -> None:
        """Record a pending server removal (and a ban; the membership ends) (§12.7)."""

        async def run(db: aiosqlite.Connection) -> None:
            await db.execute(
                "INSERT OR IGNORE INTO removals (room, identity) VALUES (?, ?)", (room_id, identity)
            )
            if ban:
                await db.execute(
                    "INSERT OR IGNORE INTO bans (room, identity) VALUES (?, ?)", (room_id, identity)
                )
                await db.execute(
                    "DELETE FROM members WHERE room = ? AND identity = ?", (room_id, identity)
                )

        await self._write(run)

    async def pending_removals(self, room_id: str) -> list[bytes]:
        """Identities the server still has to get removed from the group."""
        async with self._reader_conn().execute(
            "SELECT identity FROM removals WHERE room = ? ORDER BY rowid", (room_id,)
        ) as cur:
            rows = await cur.fetchall()
        return [bytes(row[0]) for row in rows]

    async def drop_removal(self, room_id: str, identity: bytes) -> None:
        """Forget a pending removal whose identity has no leaf any more."""

        async def run(db: aiosqlite.Connection) -> None:
            await db.execute(
                "DELETE FROM removals WHERE room = ? AND identity = ?", (room_id, identity)
            )

        await self._write(run)

    async def is_banned(self, room_id: str, identity: bytes) -> bool:
        """True when the identity was banned from the room."""
        async with self._reader_conn().execute(
            "SELECT 1 FROM bans WHERE room = ? AND identity = ?", (room_id, identity)
        ) as cur:
            return await cur.fetchone() is not None


__all__ = ["MlsStoreMixin", "StoreError"]
