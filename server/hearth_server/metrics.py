"""Prometheus metrics, one ``CollectorRegistry`` per server instance (protocol.md §2.2)."""

from __future__ import annotations

from typing import Any

import msgspec
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import choose_encoder


class Metrics:
    """The server's counters; ``render`` gives the exposition for ``GET /metrics``."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        reg = self.registry
        self.connections = Gauge("hearth_connections", "Open websocket connections", registry=reg)
        self.frames = Counter(
            "hearth_frames_received", "Client frames received", ["type"], registry=reg
        )
        self._frame_children: dict[type[msgspec.Struct], Any] = {}
        self.errors = Counter("hearth_errors", "Error frames sent", ["code"], registry=reg)
        self.stored = Counter("hearth_messages_stored", "Messages stored", registry=reg)
        self.duplicates = Counter(
            "hearth_messages_duplicate", "Sends answered with an earlier ack", registry=reg
        )
        self.deliveries = Counter(
            "hearth_deliveries", "Message frames queued to subscribers", registry=reg
        )
        self.slow_consumers = Counter(
            "hearth_slow_consumer_disconnects", "Connections closed with 4008", registry=reg
        )
        self.purged = Counter(
            "hearth_messages_purged", "Messages removed by retention", registry=reg
        )
        self.commit_batch = Histogram(
            "hearth_commit_batch_size",
            "Writes per storage commit",
            buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024),
            registry=reg,
        )
        self.commit_seconds = Histogram(
            "hearth_commit_seconds",
            "Duration of one storage batch including its commit",
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0),
            registry=reg,
        )

    def frame_counter(self, frame_type: type[msgspec.Struct]) -> Any:
        """The counter child of one frame type (resolved once, then cached)."""
        child = self._frame_children.get(frame_type)
        if child is None:
            tag = frame_type.__struct_config__.tag
            child = self._frame_children[frame_type] = self.frames.labels(str(tag))
        return child

    def observe_commit(self, batch: int, seconds: float) -> None:
        """Record one storage commit."""
        self.commit_batch.observe(batch)
        self.commit_seconds.observe(seconds)

    def render(self, accept: str) -> tuple[bytes, str]:
        """The exposition body and its content type for the ``Accept`` header."""
        encoder, content_type = choose_encoder(accept)
        return encoder(self.registry), content_type
