"""The real ``hearth`` program in a real terminal (tmux): start, receive, send, quick
exit (issue 6 "Must show"). The server and the peer run in this test's process."""

from __future__ import annotations

import asyncio
import os
import shlex
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from hearth_client import events as ev

from .test_terminal_support import (  # noqa: F401 (fixtures)
    ROOT,
    TIMEOUT,
    ServerHandle,
    config,
    engines,
    hearth_env,
    server,
    server_logs,
    server_options,
)


class Terminal:
    """One tmux server on its own socket, with one 120x40 window running a command."""

    def __init__(self, socket: str, env: dict[str, str]) -> None:
        self.socket = socket
        self.env = env

    async def tmux(self, *args: str) -> str:
        tmux = shutil.which("tmux")
        assert tmux is not None
        process = await asyncio.create_subprocess_exec(
            tmux,
            "-L",
            self.socket,
            "-f",
            "/dev/null",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=ROOT,
        )
        async with asyncio.timeout(TIMEOUT):
            out, err = await process.communicate()
        assert process.returncode == 0, err.decode()
        return out.decode()

    async def screen(self) -> str:
        return await self.tmux("capture-pane", "-p", "-t", "hearth")

    async def wait_for(self, text: str, present: bool = True) -> str:
        async with asyncio.timeout(TIMEOUT):
            while True:
                shown = await self.screen()
                if (text in shown) == present:
                    return shown
                await asyncio.sleep(0.1)

    async def type(self, text: str) -> None:
        await self.tmux("send-keys", "-t", "hearth", "-l", text)
        await self.tmux("send-keys", "-t", "hearth", "Enter")


@pytest.fixture
async def terminal(tmp_path: Path) -> AsyncIterator[Terminal]:
    if shutil.which("tmux") is None:
        pytest.fail("tmux is needed for the real-terminal test (apt-get install tmux)")
    env = hearth_env(tmp_path / "me")
    env["TERM"] = "xterm-256color"
    term = Terminal(f"hearth-test-{os.getpid()}", env)
    yield term
    await term.tmux("kill-server")


async def test_real_terminal_start_receive_send_quick_exit(
    server: ServerHandle, engines: Any, terminal: Terminal
) -> None:
    command = (
        f"{shlex.quote(sys.executable)} -m hearth_client --server {shlex.quote(server.url)}; "
        "echo HEARTH-EXITED-$?; sleep 60"
    )
    await terminal.tmux(
        "new-session", "-d", "-s", "hearth", "-x", "120", "-y", "40", "sh", "-c", command
    )
    await terminal.wait_for("online, end-to-end encrypted")  # first contact, no room yet
    peer, recorder = await engines("peer")
    room = (await peer.create_room("circle", pseudonym="host")).room
    invite = await peer.create_invite(room)
    await terminal.type(f"/join {invite.code} carol")
    await terminal.wait_for("joined as carol")
    await peer.send(room, "hello from the peer")
    await terminal.wait_for("host: hello from the peer")
    await terminal.type("hello from tmux")
    await recorder.wait_for(
        lambda e: isinstance(e, ev.MessageReceived) and e.text == "hello from tmux"
    )
    await terminal.tmux("send-keys", "-t", "hearth", "C-q")
    shown = await terminal.wait_for("HEARTH-EXITED-0")
    assert "hello from the peer" not in shown
    assert "hello from tmux" not in shown
