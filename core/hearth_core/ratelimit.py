"""Token buckets for per-identity rate limits (protocol.md §7).

Pure arithmetic: the caller passes the current monotonic time, so tests need no clock.
"""

from __future__ import annotations


class TokenBucket:
    """A bucket of ``burst`` tokens refilled at ``rate`` tokens per second."""

    __slots__ = ("_stamp", "_tokens", "burst", "rate")

    def __init__(self, rate: float, burst: int, now: float) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._tokens = float(burst)
        self._stamp = now

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take ``cost`` tokens. Returns 0.0 when allowed, else seconds until it would be."""
        elapsed = max(0.0, now - self._stamp)
        self._stamp = max(self._stamp, now)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        if self._tokens >= cost:
            self._tokens -= cost
            return 0.0
        return (cost - self._tokens) / self.rate

    def tokens(self, now: float) -> float:
        """Tokens available at ``now`` (without taking any)."""
        elapsed = max(0.0, now - self._stamp)
        return min(float(self.burst), self._tokens + elapsed * self.rate)
