"""Bounded per-connection send queues, flushed once per event-loop tick (DESIGN.md "The
hot path").

Frames arrive already encoded (the same ``bytes`` object for every recipient of a
fan-out). ``push`` never awaits: the room's path never waits for a slow client. The
first push of a tick marks the connection dirty with the :class:`Flusher` shared by
the server's connections, which schedules ONE ``loop.call_soon`` for all of them; that
callback frames each dirty connection's queue with the websockets protocol object and
hands it to the transport with one ``writelines`` (one system call for what a tick
produced for a connection), as ``websockets.broadcast`` writes: synchronously, never
awaiting the client. No task is woken per delivery (issue 7: the wake-ups cost more
than the writes).

When the transport's buffer passes its high-water mark (the client reads too slowly),
the websockets connection pauses writing; the outbox is then *stalled*: it keeps its
queue and waits, in one task that exists only while stalled, for the transport to
resume. When a live push would take the queue past its frame or byte limit while
stalled, or past four times the limits in any case, the outbox drops its queue and
calls ``on_overflow`` (the session then closes with 4008, protocol.md §6).
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.protocol import State

#: How many frames are framed and handed to the transport in one ``writelines``.
WRITE_BATCH = 256

_log = logging.getLogger("hearth.outbox")


class Flusher:
    """One per server: writes every dirty outbox in one callback per loop tick."""

    def __init__(self) -> None:
        self._dirty: list[Outbox] = []
        self._scheduled = False

    def mark(self, outbox: Outbox) -> None:
        """Write ``outbox`` at the end of this tick (with every other marked one)."""
        self._dirty.append(outbox)
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._scheduled = False
        dirty, self._dirty = self._dirty, []
        for outbox in dirty:
            try:
                outbox.write_now()
            except Exception:  # one broken connection must not stop the others
                _log.exception("outbox_write_failed")
                outbox.close()


class Outbox:
    """Queue of encoded text frames for one connection."""

    def __init__(
        self,
        ws: ServerConnection,
        *,
        flusher: Flusher,
        max_frames: int,
        max_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._flusher = flusher
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._low_frames = max(1, max_frames // 2)
        self._low_bytes = max(1, max_bytes // 2)
        self._on_overflow = on_overflow
        self._writable = asyncio.Event()
        self._writable.set()
        self._empty = asyncio.Event()
        self._empty.set()
        #: Marked with the flusher for this tick.
        self._dirty = False
        #: The transport paused writing; ``_resume`` waits for it to drain.
        self._stalled = False
        self._resume: asyncio.Task[None] | None = None
        self.closed = False
        self.sent_frames = 0

    def __len__(self) -> int:
        return len(self._queue)

    def push(self, data: bytes, *, paced: bool = False) -> bool:
        """Queue one encoded frame; False when the outbox is closed or just overflowed.

        ``paced`` pushes come from a producer that waits for ``wait_writable`` (history
        paging, protocol.md §9) and never count as overflow.
        """
        if self.closed:
            return False
        if not paced:
            frames, size = len(self._queue) + 1, self._bytes + len(data)
            over = frames > self.max_frames or size > self.max_bytes
            if over and (
                self._stalled or frames > 4 * self.max_frames or size > 4 * self.max_bytes
            ):
                self.close()
                self._on_overflow()
                return False
        self._queue.append(data)
        self._bytes += len(data)
        if len(self._queue) >= self._low_frames or self._bytes >= self._low_bytes:
            self._writable.clear()
        self._empty.clear()
        if not self._dirty and not self._stalled:
            self._dirty = True
            self._flusher.mark(self)
        return True

    def close(self) -> None:
        """Drop everything queued and accept nothing more."""
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._writable.set()
        self._empty.set()
        if self._resume is not None:
            self._resume.cancel()
            self._resume = None

    async def wait_writable(self) -> None:
        """Wait until the queue is below half its limits (for paced producers)."""
        while not self.closed and not self._writable.is_set():
            await self._writable.wait()

    async def flushed(self) -> None:
        """Wait until everything queued has been handed to the transport."""
        while self._queue and not self.closed:
            await self._empty.wait()

    def write_now(self) -> None:
        """Hand what is queued to the transport without waiting (the flusher's call)."""
        self._dirty = False
        if self.closed or self._stalled:
            return
        ws = self._ws
        if ws.protocol.state is not State.OPEN:  # closing: nothing more can be sent
            self.close()
            return
        queue = self._queue
        protocol = ws.protocol
        transport = ws.transport
        while queue and not ws.paused:
            count = min(len(queue), WRITE_BATCH)
            for _ in range(count):
                data = queue.popleft()
                self._bytes -= len(data)
                protocol.send_text(data)
            chunks = protocol.data_to_send()
            transport.writelines([chunk for chunk in chunks if chunk])
            self.sent_frames += count
            if not all(chunks):  # end of stream after a close: as websockets does
                if transport.can_write_eof():
                    transport.write_eof()
                else:
                    transport.close()
        if len(queue) < self._low_frames and self._bytes < self._low_bytes:
            self._writable.set()
        if not queue:
            self._empty.set()
        elif not self.closed:  # the transport paused writing: wait for it to drain
            self._stalled = True
            self._resume = asyncio.get_running_loop().create_task(self._wait_resumed())

    async def _wait_resumed(self) -> None:
        """While stalled: wait until the transport drains, then write again."""
        lost = False
        try:
            await self._ws.drain()
        except Exception:  # the connection was lost while stalled: nothing more to send
            lost = True
        finally:
            self._resume = None
            self._stalled = False
        if lost:
            self.close()
        elif not self.closed and self._queue and not self._dirty:
            self._dirty = True
            self._flusher.mark(self)
