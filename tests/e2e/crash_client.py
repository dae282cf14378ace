"""A client process that dies by SIGKILL right after sending a commit (issue 5).

Usage: python -m tests.e2e.crash_client HOME SERVER ROOM MEMBER
(passphrase in HEARTH_PASSPHRASE). It opens the profile, resumes the room, starts
removing MEMBER, and kills itself with SIGKILL as soon as the commit frame is on
the wire, before the server's answer: the pending commit is already sealed on
disk (RFC 9420 §12.4.1), which is what the test checks converges on restart.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path
from typing import Any

import msgspec

from hearth_client import events as ev
from hearth_client.connection import Connection
from hearth_client.engine import Engine
from hearth_core.codec import encode_frame
from hearth_core.frames import CommitFrame

_original = Connection.request


async def _request_then_die(self: Connection, frame: Any, **kwargs: Any) -> Any:
    if isinstance(frame, CommitFrame) and self._ws is not None:
        await self._ws.send(encode_frame(msgspec.structs.replace(frame, ref=999_999)), text=True)
        os.kill(os.getpid(), signal.SIGKILL)
    return await _original(self, frame, **kwargs)


async def main(home: str, server: str, room: str, member: str) -> None:
    Connection.request = _request_then_die  # type: ignore[method-assign]
    engine = await Engine.open_profile(Path(home), os.environ["HEARTH_PASSPHRASE"], server=server)
    synced = asyncio.Event()
    engine.add_listener(lambda e: synced.set() if isinstance(e, ev.Synced) else None)
    await engine.start()
    await engine.wait_online(20)
    async with asyncio.timeout(20):
        await synced.wait()
    await engine.remove(room, member)
    sys.exit(3)  # not reached: the commit kills the process


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
