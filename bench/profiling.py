"""Sampling profiles of a system under load, with py-spy (issue 7: "where Hearth misses one,
profile ... name where the time goes").

``record`` attaches ``py-spy record --nonblocking`` to the server process for the
measured window and writes collapsed stacks; ``summarize`` turns them into the
functions that hold the most samples, by own time and including callees. py-spy is
a development tool (``pip install py-spy``); without it profiling is refused with a
clear message rather than skipped.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from bench.common import BenchError

_LINE = re.compile(r":\d+\)$")


def py_spy() -> str:
    """The py-spy executable, or a BenchError saying how to get it."""
    found = shutil.which("py-spy") or _beside_python()
    if found is None:
        raise BenchError("profiling needs py-spy: pip install py-spy")
    return found


def _beside_python() -> str | None:
    import sys

    candidate = Path(sys.executable).parent / "py-spy"
    return str(candidate) if candidate.is_file() else None


def record(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes]:
    """Start sampling ``pid`` for ``seconds`` into ``output`` (collapsed stacks)."""
    output.parent.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [
            py_spy(),
            "record",
            "--pid",
            str(pid),
            "--duration",
            str(max(1, round(seconds))),
            "--rate",
            "250",
            "--nonblocking",
            "--format",
            "raw",
            "--output",
            str(output),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _frame_name(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def summarize(collapsed: Path, top: int = 15) -> dict[str, list[tuple[str, float]]]:
    """Top functions by own samples and by samples including callees, as percentages."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame_name(f) for f in stack.split(";") if f]
        if not frames:
            continue
        total += count
        own[frames[-1]] += count
        for name in set(frames):
            inclusive[name] += count
    if total == 0:
        return {"own": [], "inclusive": [], "samples": []}
    return {
        "own": [(name, 100.0 * n / total) for name, n in own.most_common(top)],
        "inclusive": [(name, 100.0 * n / total) for name, n in inclusive.most_common(top)],
        "samples": [("total", float(total))],
    }
