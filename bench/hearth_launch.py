"""Launching the Hearth server for benchmarks (filled in once the server lands)."""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path


def missing() -> str | None:
    """Why the Hearth server cannot be started from this checkout, or None."""
    if importlib.util.find_spec("hearth_server.app") is None:
        return "the Hearth server (hearth_server.app) is not on this branch yet"
    return None


def start(
    workdir: Path, *, uvloop: bool, timeout: float
) -> tuple[subprocess.Popen[bytes], int, list[str]]:
    raise NotImplementedError
