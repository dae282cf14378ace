"""Shared benchmark helpers: statistics, process accounting, machine facts, output.

Nothing here knows about Hearth: percentiles, CPU seconds and peak RSS read from
``/proc`` (no psutil), the machine's cores, memory and library versions, table
printing and the single JSON object that ``--json`` prints (issue 7, "What to build").
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.metadata
import json
import os
import platform
import resource
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


class BenchError(Exception):
    """A benchmark could not run as asked (a system failed to start, a client was refused)."""


# --------------------------------------------------------------------------- statistics


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of an already sorted sequence (``fraction`` in [0, 1])."""
    if not sorted_values:
        return float("nan")
    rank = max(1, -(-len(sorted_values) * fraction // 1))  # ceil without floats drifting
    return float(sorted_values[min(len(sorted_values), int(rank)) - 1])


def latency_summary(latencies_us: Sequence[float]) -> dict[str, float]:
    """p50, p99, p99.9 and max of latencies given in microseconds, returned in milliseconds."""
    values = sorted(latencies_us)
    return {
        "p50_ms": percentile(values, 0.50) / 1000.0,
        "p99_ms": percentile(values, 0.99) / 1000.0,
        "p999_ms": percentile(values, 0.999) / 1000.0,
        "max_ms": (values[-1] / 1000.0) if values else float("nan"),
    }


def ratio(value: float, baseline: float) -> float | None:
    """``value / baseline``, or None when the baseline is missing or zero."""
    if not baseline or baseline != baseline:  # zero or NaN
        return None
    return value / baseline


# --------------------------------------------------------------------------- processes


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of every thread of ``pid`` (``/proc/PID/stat`` fields 14, 15)."""
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rindex(")") + 2 :].split()  # the command name may contain spaces
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def proc_status_kib(pid: int, key: str) -> int:
    """A ``kB`` value from ``/proc/PID/status`` (``VmRSS``, ``VmHWM``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise BenchError(f"/proc/{pid}/status has no {key}")


def proc_rss_mib(pid: int) -> float:
    """Resident set size now, MiB."""
    return proc_status_kib(pid, "VmRSS") / 1024.0


def proc_peak_rss_mib(pid: int) -> float:
    """Peak resident set size since start (or since :func:`reset_peak_rss`), MiB."""
    return proc_status_kib(pid, "VmHWM") / 1024.0


def reset_peak_rss(pid: int) -> bool:
    """Reset ``VmHWM`` to the current RSS (``echo 5 > /proc/PID/clear_refs``); False if refused."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def self_cpu_seconds() -> float:
    """CPU seconds (user + system) used by the calling process so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def raise_nofile_limit() -> tuple[int, int]:
    """Raise the soft open-file limit to the hard limit where allowed; return (soft, hard)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago (the caller binds it next)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll until 127.0.0.1:``port`` accepts TCP connections; fail if ``proc`` exits first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"process {proc.args!r} exited with {proc.returncode} before ready")
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.2)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise BenchError(f"nothing listening on 127.0.0.1:{port} after {timeout:.0f} s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: a benchmark never leaves a process behind."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)
    for stream in (proc.stdout, proc.stderr, proc.stdin):
        if stream is not None:
            stream.close()


# --------------------------------------------------------------------------- machine facts


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def node_binary() -> str | None:
    """Path of ``node`` if installed (the Node ``ws`` baseline runs only then)."""
    return shutil.which("node")


def machine_facts() -> dict[str, Any]:
    """Cores, memory, CPU model, kernel, load average and the versions that shape the numbers."""
    meminfo = Path("/proc/meminfo").read_text().splitlines()
    mem_kib = next((int(line.split()[1]) for line in meminfo if line.startswith("MemTotal:")), 0)
    model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    node = node_binary()
    node_version = None
    if node:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            node_version = subprocess.run(
                [node, "--version"], capture_output=True, text=True, timeout=10, check=False
            ).stdout.strip()
    return {
        "cores": os.cpu_count(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "cpu_model": model,
        "kernel": platform.release(),
        "loadavg_at_start": list(os.getloadavg()),
        "python": platform.python_version(),
        "versions": {
            name: _version(name)
            for name in ("websockets", "uvloop", "msgspec", "aiosqlite", "cryptography", "hearth")
        },
        "node": node_version,
        "nofile_limit": list(raise_nofile_limit()),
        "utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


# --------------------------------------------------------------------------- output


@dataclass
class Output:
    """Where a benchmark writes: tables to stdout, or to stderr when ``--json`` owns stdout."""

    as_json: bool
    loadavg_start: list[float] = field(default_factory=lambda: list(os.getloadavg()))

    def log(self, message: str) -> None:
        """A progress line, always on stderr."""
        print(message, file=sys.stderr, flush=True)

    def table(self, title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """A readable fixed-width table."""
        stream = sys.stderr if self.as_json else sys.stdout
        print(format_table(title, headers, rows), file=stream, flush=True)

    def emit(self, name: str, args: argparse.Namespace, results: dict[str, Any]) -> None:
        """With ``--json``, the one JSON object on stdout."""
        if self.as_json:
            document = {
                "benchmark": name,
                "quick": bool(getattr(args, "quick", False)),
                "command": " ".join([Path(sys.executable).name, "-m", "bench", *sys.argv[1:]]),
                "machine": {
                    **machine_facts(),
                    "loadavg_at_start": self.loadavg_start,
                    "loadavg_at_end": list(os.getloadavg()),
                },
                "results": results,
            }
            print(json.dumps(document, indent=1, default=_json_default), flush=True)


def _json_default(value: object) -> object:
    if isinstance(value, float) and value != value:
        return None
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def fmt(value: Any) -> str:
    """One table cell: floats rounded to a readable number of digits."""
    if value is None:
        return "-"
    if isinstance(value, float):
        if value != value:
            return "nan"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}" if abs(value) >= 0.1 else f"{value:.3f}"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10000:
        return f"{value:,}"
    return str(value)


def format_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """Render a title, a header row and rows as aligned plain text."""
    cells = [[str(h) for h in headers], *[[fmt(v) for v in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = [title, "  ".join(h.ljust(w) for h, w in zip(cells[0], widths, strict=True))]
    lines.append("  ".join("-" * w for w in widths))
    for row in cells[1:]:
        lines.append("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))
    return "\n".join(lines) + "\n"


def base_parser(name: str, description: str) -> argparse.ArgumentParser:
    """The options every benchmark shares: ``--quick`` and ``--json``."""
    parser = argparse.ArgumentParser(prog=f"python -m bench {name}", description=description)
    parser.add_argument("--quick", action="store_true", help="small sizes, a few seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    return parser


@contextlib.contextmanager
def timed() -> Iterator[list[float]]:
    """``with timed() as t: ...`` then ``t[0]`` is the elapsed wall time in seconds."""
    box: list[float] = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
