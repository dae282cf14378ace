"""The bare relay: ``websockets`` on asyncio, no authentication, no storage (issue 7).

It is the ceiling of Hearth's own stack. A client joins the room named by the
request path (``ws://127.0.0.1:PORT/ROOM``) and every text message it sends is
broadcast, byte for byte, to the room's other members with ``broadcast()``, the
library's non-blocking fan-out. No compression is offered, as Hearth sends
ciphertext. Run as its own process::

    python -m bench.baseline_relay --port 0      # prints "READY <port>" when listening
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys

from websockets.asyncio.server import ServerConnection, broadcast, serve

Rooms = dict[str, set[ServerConnection]]


def make_handler(rooms: Rooms) -> object:
    """A connection handler relaying each text message to the other members of its room."""

    async def handler(connection: ServerConnection) -> None:
        room = connection.request.path if connection.request else "/"
        members = rooms.setdefault(room, set())
        members.add(connection)
        try:
            while True:
                message = await connection.recv(decode=False)
                broadcast([m for m in members if m is not connection], message, text=True)
        except Exception:
            return
        finally:
            members.discard(connection)
            if not members:
                rooms.pop(room, None)

    return handler


async def run(host: str, port: int) -> None:
    """Serve until SIGTERM or SIGINT."""
    rooms: Rooms = {}
    stop = asyncio.get_running_loop().create_future()
    for signum in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(signum, stop.set_result, None)
    async with serve(
        make_handler(rooms),  # type: ignore[arg-type]
        host,
        port,
        compression=None,
        max_size=256 * 1024,
        backlog=4096,
    ) as server:
        bound = next(iter(server.sockets)).getsockname()[1]
        print(f"READY {bound}", flush=True)
        await stop


def main(argv: list[str] | None = None) -> int:
    """Parse ``--host``/``--port``/``--uvloop`` and serve."""
    parser = argparse.ArgumentParser(prog="python -m bench.baseline_relay")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop instead of asyncio")
    args = parser.parse_args(argv)
    if args.uvloop:
        import uvloop

        uvloop.run(run(args.host, args.port))
    else:
        with contextlib.suppress(KeyboardInterrupt):
            asyncio.run(run(args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
