"""A bounded per-connection send queue with one writer task (DESIGN.md "The hot path").

Frames arrive already encoded (the same ``bytes`` object for every recipient of a
fan-out). ``push`` never awaits: the room's path never waits for a slow client. When a live
push would take the queue past its frame or byte limit while the writer is stalled
(the socket accepts no more data), or past four times the limits in any case, the
outbox drops its queue and calls ``on_overflow`` (the session then closes with 4008,
protocol.md §6). A fast client whose writer is merely between ticks may receive a
whole commit batch's fan-out at once.

The writer task takes everything queued and writes it in one go: each frame is
framed by the websockets protocol object and the whole batch goes to the transport
with one ``writelines`` (one system call for what a tick produced for a connection).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

#: How many frames the writer hands to the transport at once.
WRITE_BATCH = 256


class Outbox:
    """Queue of encoded text frames for one connection."""

    def __init__(
        self,
        ws: ServerConnection,
        *,
        max_frames: int,
        max_bytes: int,
        on_overflow: Callable[[], None],
    ) -> None:
        self._ws = ws
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self.max_frames = max_frames
        self.max_bytes = max_bytes
        self._low_frames = max(1, max_frames // 2)
        self._low_bytes = max(1, max_bytes // 2)
        self._on_overflow = on_overflow
        self._ready = asyncio.Event()
        self._writable = asyncio.Event()
        self._writable.set()
        self._empty = asyncio.Event()
        self._stalled = False
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
        self._ready.set()
        return True

    def close(self) -> None:
        """Drop everything queued and accept nothing more."""
        self.closed = True
        self._queue.clear()
        self._bytes = 0
        self._ready.set()
        self._writable.set()
        self._empty.set()

    async def wait_writable(self) -> None:
        """Wait until the queue is below half its limits (for paced producers)."""
        while not self.closed and not self._writable.is_set():
            await self._writable.wait()

    async def flushed(self) -> None:
        """Wait until everything queued has been handed to the transport."""
        while self._queue and not self.closed:
            self._empty.clear()
            await self._empty.wait()

    async def run(self) -> None:
        """The writer task: until closed, write what is queued, batch by batch."""
        ws = self._ws
        queue = self._queue
        try:
            while not self.closed:
                if not queue:
                    self._empty.set()
                    self._ready.clear()
                    await self._ready.wait()
                    continue
                batch: list[bytes] = []
                while queue and len(batch) < WRITE_BATCH:
                    data = queue.popleft()
                    self._bytes -= len(data)
                    batch.append(data)
                if len(queue) < self._low_frames and self._bytes < self._low_bytes:
                    self._writable.set()
                # The writer yields only in drain(): while it is there, the socket is full.
                self._stalled = True
                async with ws.send_context():
                    protocol = ws.protocol
                    for data in batch:
                        protocol.send_text(data)
                    chunks = protocol.data_to_send()
                    ws.transport.writelines([chunk for chunk in chunks if chunk])
                    if not all(chunks):  # end of stream after a close: as websockets does
                        if ws.transport.can_write_eof():
                            ws.transport.write_eof()
                        else:
                            ws.transport.close()
                self._stalled = False
                self.sent_frames += len(batch)
        except ConnectionClosed:
            pass
        finally:
            self.close()
