"""Shared pieces of the terminal client's tests (issue 6): the real in-process server
fixtures of tests/e2e, a way to run the real ``hearth`` program, and bounded waits.

No tests here; the fixtures are imported by test_tui*, test_cli*, test_plain* and
test_terminal*. Every wait is bounded by a multiple of the scaled unit (TIMEOUT).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textual.pilot import Pilot

from hearth_client.tui.app import NO_ROOM_STATUS
from tests.e2e.conftest import (  # noqa: F401 (fixtures used by name)
    FAST_KDF,
    PASSPHRASE,
    TIMEOUT,
    UNIT,
    Recorder,
    ServerHandle,
    config,
    engines,
    quick_backoff,
    server,
    server_logs,
    server_options,
)

ROOT = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    out: str
    err: str


def hearth_env(home: Path, passphrase: str = PASSPHRASE) -> dict[str, str]:
    env = dict(os.environ)
    env.update(HEARTH_HOME=str(home), HEARTH_PASSPHRASE=passphrase, PYTHONUNBUFFERED="1")
    env.pop("HEARTH_CONFIG", None)
    return env


async def hearth(home: Path, *args: str, passphrase: str = PASSPHRASE) -> Result:
    """Run the real ``hearth`` program (``python -m hearth_client``) to its end."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "hearth_client",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=hearth_env(home, passphrase),
        cwd=ROOT,
    )
    try:
        async with asyncio.timeout(3 * TIMEOUT):
            out, err = await process.communicate()
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return Result(process.returncode, out.decode(), err.decode())


async def until(
    pilot: Pilot[object],
    condition: Callable[[], bool],
    within: float = TIMEOUT,
    explain: Callable[[], object] | None = None,
) -> None:
    """Let the app run until ``condition()`` holds (AssertionError after ``within``)."""
    try:
        async with asyncio.timeout(within):
            while not condition():
                await pilot.pause(0.05)
    except TimeoutError:
        detail = explain() if explain is not None else pilot.app.screen
        raise AssertionError(f"condition not met within {within} s: {detail}") from None


async def ready(pilot: Any, app: Any) -> None:
    """Unlocked and usable: online, or (a profile with no room yet) waiting to connect."""
    await until(
        pilot,
        lambda: (
            app.commands is not None
            and (app.status_text.startswith("online") or app.status_text == NO_ROOM_STATUS)
        ),
    )
