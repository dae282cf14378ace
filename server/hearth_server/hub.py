"""The server's shared state behind the websockets shell: config, store, rooms, limits.

One ``Hub`` per server instance (no globals); sessions and handlers reach everything
through it.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from hearth_core.frames import Limits
from hearth_core.ratelimit import TokenBucket
from hearth_server.config import ServerConfig
from hearth_server.hooks import Hooks
from hearth_server.metrics import Metrics
from hearth_server.outbox import Flusher
from hearth_server.rooms import RoomRegistry
from hearth_server.storage import Store

if TYPE_CHECKING:
    from hearth_server.session import Session


class Hub:
    """Everything a connection needs, owned by one ``HearthServer``."""

    def __init__(
        self,
        config: ServerConfig,
        store: Store,
        metrics: Metrics,
        *,
        clock_ms: Callable[[], int],
        log: Any,
        hooks: Hooks | None = None,
        skip_room_rule: bool = False,
    ) -> None:
        self.config = config
        self.store = store
        self.metrics = metrics
        self.clock_ms = clock_ms
        self.log = log
        self.hooks = hooks if hooks is not None else Hooks()
        self.rooms = RoomRegistry(
            store,
            idle_after=config.room_idle,
            keep=config.rooms_cached,
            on_evict=metrics.rooms_evicted.inc,
        )
        metrics.rooms_loaded.set_function(lambda: len(self.rooms))
        #: TEST ONLY (HearthServer(_skip_room_rule_for_tests=True)): accept commits and
        #: proposals the room rule refuses, to show clients refuse them (issue 5).
        self.skip_room_rule = skip_room_rule
        #: The Delivery Service signature key pair (protocol.md §12), set by ``load_ds_key``.
        self.ds_private = b""
        self.ds_public = b""
        self.sessions: set[Session] = set()
        self.closing = False
        #: Writes every connection's queued frames once per loop tick (outbox.py).
        self.flusher = Flusher()
        self._send_buckets: dict[bytes, TokenBucket] = {}
        self._conn_ids = itertools.count(1)
        self.limits = Limits(
            max_payload=config.max_payload,
            max_frame=config.max_frame,
            send_rate=config.send_rate,
            send_burst=config.send_burst,
            page_size=config.page_size,
            max_identities=config.max_identities,
            max_rooms=config.max_rooms,
        )

    async def load_ds_key(self) -> None:
        """Load (or make, once) the persisted Delivery Service key (protocol.md §12)."""
        from hearth_mls import suite

        self.ds_private = await self.store.server_key(
            "ds_signature", lambda: suite.generate_signature_key_pair()[0]
        )
        self.ds_public = suite.signature_public_key(self.ds_private)

    def next_conn_id(self) -> int:
        """A process-local connection number for logs (never an address)."""
        return next(self._conn_ids)

    def send_wait(self, identity: bytes) -> float:
        """Take one send from the identity's bucket: 0.0, or seconds to wait (protocol.md §7)."""
        now = time.monotonic()
        bucket = self._send_buckets.get(identity)
        if bucket is None:
            bucket = TokenBucket(self.config.send_rate, self.config.send_burst, now)
            self._send_buckets[identity] = bucket
        return bucket.take(now)

    def prune_buckets(self) -> None:
        """Forget buckets that have refilled completely (they hold no state worth keeping)."""
        now = time.monotonic()
        full = [
            identity
            for identity, bucket in self._send_buckets.items()
            if bucket.tokens(now) >= bucket.burst
        ]
        for identity in full:
            del self._send_buckets[identity]
