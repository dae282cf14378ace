"""One connection's state: version, authenticated identities, room bindings,
subscriptions and the outbox (protocol.md §3, §9)."""

from __future__ import annotations

import asyncio
import time

import msgspec
from websockets.asyncio.server import ServerConnection

from hearth_core.codec import encode_frame
from hearth_core.errors import CloseCode, ErrorCode
from hearth_core.frames import Ack, Error, Message, MessageKind, Presence, Synced
from hearth_core.ratelimit import TokenBucket
from hearth_server.errors import RequestError, StoreError
from hearth_server.hub import Hub
from hearth_server.outbox import Outbox
from hearth_server.rooms import Room, Subscription, append_tracked
from hearth_server.storage import AppendResult, NewMessage, StoredMessage


def message_frame(message: StoredMessage) -> bytes:
    """The encoded ``message`` frame of a stored message (protocol.md §4.7)."""
    return encode_frame(
        Message(
            room=message.room,
            seq=message.seq,
            sender=message.sender,
            ts=message.ts,
            payload=message.payload,
            meta=message.meta,
            kind=MessageKind(message.kind),
            epoch=message.epoch,
        )
    )


def ack_frame(ref: int | None, result: AppendResult) -> Ack:
    """The ``ack`` of a stored (or duplicate) message (protocol.md §4.7, §8.3)."""
    return Ack(
        ref=ref,
        room=result.room,
        id=result.client_id,
        seq=result.seq,
        ts=result.ts,
        duplicate=result.duplicate,
    )


def publish_committed(hub: Hub, room: Room, message: NewMessage, result: AppendResult) -> None:
    """Fan out a newly committed message to the room's live subscriptions (§4.7, §9)."""
    stored = StoredMessage(
        room=message.room,
        seq=result.seq,
        sender=message.sender,
        client_id=message.client_id,
        ts=result.ts,
        payload=message.payload,
        meta=message.meta,
        kind=message.kind,
        epoch=message.epoch,
    )
    hub.metrics.stored.inc()
    hub.metrics.deliveries.inc(room.publish(result.seq, message_frame(stored)))


class Session:
    """A connection's protocol state (protocol.md §3)."""

    def __init__(self, hub: Hub, ws: ServerConnection) -> None:
        config = hub.config
        self.hub = hub
        self.ws = ws
        self.conn_id = hub.next_conn_id()
        self.version: int | None = None
        self.nonce = b""
        self.identities: set[bytes] = set()
        self.bindings: dict[str, bytes] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.frame_bucket = TokenBucket(config.frame_rate, config.frame_burst, time.monotonic())
        self.outbox = Outbox(
            ws,
            flusher=hub.flusher,
            max_frames=config.outbox_frames,
            max_bytes=config.outbox_bytes,
            on_overflow=self._on_overflow,
        )
        self._closing: asyncio.Task[None] | None = None

    # ------------------------------------------------------------ output

    def send(self, frame: msgspec.Struct) -> None:
        """Queue one frame for this connection."""
        self.outbox.push(encode_frame(frame))

    def send_error(
        self,
        code: ErrorCode,
        message: str,
        *,
        ref: int | None = None,
        field: str | None = None,
        room: str | None = None,
        retry_after: float | None = None,
        epoch: int | None = None,
    ) -> None:
        """Queue an ``error`` frame (protocol.md §5)."""
        self.hub.metrics.errors.labels(code.value).inc()
        if retry_after is not None:
            retry_after = round(retry_after, 3)
        self.send(
            Error(
                ref=ref,
                code=code,
                message=message,
                field=field,
                room=room,
                retry_after=retry_after,
                epoch=epoch,
            )
        )

    def close_soon(self, code: CloseCode, reason: str) -> None:
        """Close after what is queued was written (at most ``close_timeout`` later)."""
        if self._closing is None:
            self._closing = asyncio.create_task(self._close(code, reason))

    async def _close(self, code: CloseCode, reason: str) -> None:
        try:
            async with asyncio.timeout(self.hub.config.close_timeout):
                await self.outbox.flushed()
        except TimeoutError:
            pass
        await self.ws.close(code, reason)

    def _on_overflow(self) -> None:
        """The outbox overflowed: this client cannot keep up (protocol.md §6, 4008)."""
        self.hub.metrics.slow_consumers.inc()
        self.hub.log.warning("slow_consumer", conn=self.conn_id, close_code=4008)
        # Subscriptions end when the connection does (close_all); changing the room's
        # subscription list here could disturb a fan-out that is iterating it.
        if self._closing is None:
            self._closing = asyncio.create_task(
                self.ws.close(CloseCode.SLOW_CONSUMER, "slow consumer: resume later")
            )

    def store_message(self, room: Room, message: NewMessage, ref: int | None) -> None:
        """Queue a message write without waiting; after its commit, ack it to this
        connection and fan it out, or report the failure (protocol.md §4.7, §8.2)."""
        metrics = self.hub.metrics

        def committed(result: AppendResult | StoreError) -> None:
            if isinstance(result, StoreError):
                self.send_error(
                    ErrorCode.INTERNAL, "the message was not stored", ref=ref, room=room.id
                )
                return
            self.send(ack_frame(ref, result))
            if result.duplicate:
                metrics.duplicates.inc()
                return
            publish_committed(self.hub, room, message, result)

        try:
            append_tracked(self.hub.store, room, message, committed)
        except StoreError:
            raise RequestError(ErrorCode.SHUTTING_DOWN, "the server is shutting down") from None

    # ------------------------------------------------------------ bindings (§3.3)

    def require_identity(self, identity: bytes) -> None:
        """Raise ``not_authenticated`` unless the identity is authenticated here."""
        if identity not in self.identities:
            raise RequestError(
                ErrorCode.NOT_AUTHENTICATED, "this identity is not authenticated on this connection"
            )

    def check_bind(self, room_id: str, identity: bytes) -> None:
        """Raise unless ``room_id`` can be bound to ``identity`` (protocol.md §3.3)."""
        bound = self.bindings.get(room_id)
        if bound is not None and bound != identity:
            raise RequestError(
                ErrorCode.ROOM_BOUND,
                "this room is bound to another identity on this connection",
                room=room_id,
            )
        if bound is None and len(self.bindings) >= self.hub.config.max_rooms:
            raise RequestError(ErrorCode.LIMIT_EXCEEDED, "too many rooms on this connection")

    def bind(self, room: Room, identity: bytes) -> None:
        """Bind ``room`` to ``identity`` on this connection."""
        self.bindings[room.id] = identity
        room.bound.setdefault(identity, set()).add(self)

    def unbind(self, room: Room) -> None:
        """End the binding and any subscription to ``room``."""
        sub = self.subscriptions.get(room.id)
        if sub is not None:
            self.stop_subscription(sub)
        identity = self.bindings.pop(room.id, None)
        if identity is not None:
            sessions = room.bound.get(identity)
            if sessions is not None:
                sessions.discard(self)
                if not sessions:
                    del room.bound[identity]

    def close_all(self) -> None:
        """The connection ended: drop every binding and subscription."""
        for room_id in list(self.bindings):
            room = self.hub.rooms.cached(room_id)
            if room is not None:
                self.unbind(room)
        self.bindings.clear()
        self.outbox.close()

    # ------------------------------------------------------------ subscriptions (§9)

    def start_subscription(self, room: Room, identity: bytes, after: int) -> Subscription:
        """Register a subscription (not yet live) and start paging history into it."""
        old = self.subscriptions.get(room.id)
        sub = Subscription(session=self, room=room, identity=identity, cursor=after)
        self.subscriptions[room.id] = sub
        room.subscriptions.append(sub)
        count = room.online.get(identity, 0) + 1
        room.online[identity] = count
        if count == 1:
            room.broadcast(encode_frame(Presence(room=room.id, identity=identity, online=True)))
        if old is not None:  # a re-subscription replaces the old stream (no presence flap)
            self.stop_subscription(old)
        sub.task = asyncio.create_task(self._page(sub))
        return sub

    def stop_subscription(self, sub: Subscription) -> None:
        """End a subscription: no more messages, presence updated."""
        room = sub.room
        if self.subscriptions.get(room.id) is sub:
            del self.subscriptions[room.id]
        if sub in room.subscriptions:
            room.subscriptions.remove(sub)
            count = room.online.get(sub.identity, 0) - 1
            if count <= 0:
                room.online.pop(sub.identity, None)
                room.broadcast(
                    encode_frame(Presence(room=room.id, identity=sub.identity, online=False))
                )
            else:
                room.online[sub.identity] = count
        sub.live = False
        if sub.task is not None and sub.task is not asyncio.current_task():
            sub.task.cancel()

    def resync(self, sub: Subscription) -> None:
        """Take a live subscription back to paging from its cursor."""
        sub.live = False
        if sub.task is None or sub.task.done():
            sub.task = asyncio.create_task(self._page(sub))

    async def _page(self, sub: Subscription) -> None:
        """Send history after ``sub.cursor`` page by page, then go live (protocol.md §9).

        Live fan-out skips the subscription until it is live; every message committed
        meanwhile is read here because it is committed before it is fanned out. The
        final check (cursor caught up with the room's fanned-out head) and the switch
        to live happen without yielding, so nothing falls in between.
        """
        room, store, outbox = sub.room, self.hub.store, self.outbox
        page_size = self.hub.config.page_size
        try:
            while sub in room.subscriptions and not outbox.closed:
                await outbox.wait_writable()
                page = await store.read_messages(room.id, sub.cursor, page_size)
                for message in page:
                    if sub not in room.subscriptions or message.seq <= sub.cursor:
                        continue
                    if not outbox.push(message_frame(message), paced=True):
                        return
                    sub.cursor = message.seq
                    if len(outbox) >= outbox.max_frames // 2:
                        await outbox.wait_writable()
                if sub not in room.subscriptions:
                    return
                if len(page) < page_size and sub.cursor >= room.head:
                    sub.live = True
                    self.send(Synced(room=room.id, seq=sub.cursor))
                    return
        except Exception as exc:  # storage failed, or closed under us during shutdown
            self.stop_subscription(sub)
            if self.hub.closing:
                return
            self.hub.log.error("history_failure", conn=self.conn_id, error=type(exc).__name__)
            self.send_error(ErrorCode.INTERNAL, "history could not be read", room=room.id)
