"""``hearth-server`` entry point: parse the configuration once, log, serve until
SIGTERM or SIGINT, then shut down gracefully (protocol.md §6, 1001)."""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import sys
from collections.abc import Sequence

from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig, load_config
from hearth_server.errors import ConfigError
from hearth_server.logs import configure_logging, get_logger


async def run(config: ServerConfig) -> None:
    """Serve until a termination signal arrives."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with HearthServer(config):
        tune_runtime()
        await stop.wait()


def tune_runtime() -> None:
    """Process-wide settings for a long-running server (bench/RESULTS.md, issue 7).

    - The objects made while starting (modules, the store, the caches) are moved out
      of the cyclic garbage collector's sight (``gc.freeze``), and its first
      generation runs after 10,000 allocations instead of 700: a full collection
      walks every live object, a pause that every message waiting behind it shares.
    - A thread waiting for the GIL asks for it after 0.5 ms instead of 5 ms: the
      SQLite append thread needs it back after each commit, and the busy event loop
      otherwise makes a durable acknowledgement wait for the switch interval.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(10_000, 50, 100)
    sys.setswitchinterval(0.0005)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the server; exit status 2 for a configuration error."""
    try:
        config = load_config(argv, os.environ)
    except ConfigError as exc:
        print(f"hearth-server: {exc}", file=sys.stderr)
        return 2
    configure_logging(config.log_level)
    try:
        if config.loop == "uvloop":
            import uvloop

            uvloop.run(run(config))
        else:
            asyncio.run(run(config))
    except OSError as exc:
        get_logger().error("cannot_start", error=type(exc).__name__)
        print(f"hearth-server: {exc.strerror or exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
