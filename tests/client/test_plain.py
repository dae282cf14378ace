"""``hearth --plain``: the real program in line mode, through a real server (issue 6):
one line per event, no redraws (no escape sequences at all), commands from stdin."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

from hearth_client import events as ev

from .test_terminal_support import (  # noqa: F401 (fixtures)
    ROOT,
    TIMEOUT,
    ServerHandle,
    config,
    engines,
    hearth,
    hearth_env,
    server,
    server_logs,
    server_options,
)


class LineProgram:
    """A running ``hearth --plain`` and everything it printed."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process
        self.lines: list[str] = []

    async def expect(self, text: str) -> str:
        """The first line (already printed or still to come) containing ``text``."""
        assert self.process.stdout is not None
        async with asyncio.timeout(TIMEOUT):
            seen = 0
            while True:
                for line in self.lines[seen:]:
                    if text in line:
                        return line
                seen = len(self.lines)
                raw = await self.process.stdout.readline()
                if not raw:
                    raise AssertionError(f"hearth ended before {text!r}: {self.lines}")
                self.lines.append(raw.decode().rstrip("\n"))

    async def type(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(line.encode() + b"\n")
        await self.process.stdin.drain()


async def test_plain_mode_talks_line_by_line(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearth_client",
        "--plain",
        "--server",
        server.url,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=hearth_env(tmp_path / "me"),
        cwd=ROOT,
    )
    program = LineProgram(process)
    try:
        await program.expect("Hearth line mode")
        await program.expect("no room yet")
        await program.type("/create circle alice")
        await program.expect("created room circle")
        await program.expect("online")  # a profile with no room connects only when needed
        await program.type("/invite")
        link = (await program.expect("invite (one use")).rsplit(" ", 1)[-1]
        peer, recorder = await engines("peer")
        room = (await peer.join(link, pseudonym="peer")).room
        await program.expect(" is peer")
        await peer.send(room, "[b]hi[/b] from peer")
        await program.expect("peer: [b]hi[/b] from peer")
        await program.type("hello from line mode")
        await recorder.wait_for(
            lambda e: isinstance(e, ev.MessageReceived) and e.text == "hello from line mode"
        )
        await program.type("/resources")
        await program.expect("has not configured crisis resources")
        await program.type("/nosuch")
        await program.expect("!! unknown command /nosuch")
        await program.type("/quit")
        async with asyncio.timeout(TIMEOUT):
            assert await process.wait() == 0
        assert process.stdout is not None
        program.lines += (await process.stdout.read()).decode().splitlines()
        assert not any("\x1b" in line or "\r" in line for line in program.lines)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()


async def test_plain_mode_wrong_passphrase_is_one_line_and_exit_3(
    server: ServerHandle, tmp_path: Path
) -> None:
    home = tmp_path / "me"
    made = await hearth(home, "--server", server.url, "init")
    assert made.code == 0, made.err
    wrong = await hearth(home, "--plain", passphrase="not the passphrase")
    assert wrong.code == 3
    assert wrong.err.strip() == "hearth: error: wrong passphrase"
    assert wrong.out == ""
