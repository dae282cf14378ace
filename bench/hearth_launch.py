"""Start the Hearth server for a benchmark, with its defaults, as its own process.

The server runs from this checkout (``python -m hearth_server``) with its default
configuration except what a benchmark must set: loopback host, a free port, and
the SQLite file in the benchmark's temporary directory (protocol.md §8.2: WAL,
``synchronous=FULL``, durable acknowledgements). ``HEARTH_*`` variables of the
calling environment are dropped so the defaults really are the defaults.

uvloop: the server's own ``--loop uvloop`` flag when it has one; otherwise the
bench-side launcher ``python -m bench.hearth_launch`` installs uvloop's event-loop
policy and calls the server's public entry point unchanged.
"""

from __future__ import annotations

import asyncio
import functools
import socket
import subprocess
import sys
import time
from pathlib import Path

from bench.common import BenchError, free_port, stop_process

LOG_NAME = "server.log"


@functools.cache
def _server_help() -> str | None:
    """The server's ``--help`` text, or None if it cannot start from this checkout."""
    from bench.systems import child_env

    try:
        done = subprocess.run(
            [sys.executable, "-m", "hearth_server", "--help"],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env=child_env(),
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout if done.returncode == 0 and "--port" in done.stdout else None


def missing() -> str | None:
    """Why the Hearth server cannot be started from this checkout, or None."""
    if _server_help() is None:
        return "the Hearth server (python -m hearth_server) cannot start from this checkout yet"
    return None


def has_loop_flag() -> bool:
    """Whether the server offers ``--loop uvloop`` itself."""
    text = _server_help() or ""
    return "--loop" in text and "uvloop" in text


def command(workdir: Path, port: int, *, uvloop: bool) -> list[str]:
    """The command line that starts the server on ``port`` with its data in ``workdir``."""
    flags = ["--host", "127.0.0.1", "--port", str(port), "--db", str(workdir / "hearth.db")]
    if not uvloop:
        return [sys.executable, "-m", "hearth_server", *flags]
    if has_loop_flag():
        return [sys.executable, "-m", "hearth_server", *flags, "--loop", "uvloop"]
    return [sys.executable, "-m", "bench.hearth_launch", *flags]


def healthz_status(port: int) -> int | None:
    """The status of ``GET /healthz`` on 127.0.0.1 (a plain socket: no proxy settings)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            head = sock.recv(64).split(b" ")
    except OSError:
        return None
    return int(head[1]) if len(head) > 1 and head[1].isdigit() else None


def scrape_metrics(port: int) -> dict[str, float]:
    """``GET /metrics`` (protocol.md §2.2) parsed into {series: value}; empty on failure."""
    chunks = []
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            for _ in range(10_000):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
    except OSError:
        return {}
    _, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    values: dict[str, float] = {}
    for line in body.decode(errors="replace").splitlines():
        if not line or line.startswith("#"):
            continue
        name, _, value = line.rpartition(" ")
        try:
            values[name] = float(value)
        except ValueError:
            continue
    return values


def commit_figures(before: dict[str, float], after: dict[str, float]) -> dict[str, float | None]:
    """Storage commits between two scrapes: how many, mean batch, mean commit time."""

    def delta(name: str) -> float:
        return after.get(name, 0.0) - before.get(name, 0.0)

    commits = delta("hearth_commit_seconds_count")
    bounds = sorted(
        (float(key.split('le="')[1].split('"')[0]), key)
        for key in after
        if key.startswith("hearth_commit_seconds_bucket") and 'le="+Inf"' not in key
    )
    p99_bound = None
    for bound, key in bounds:  # cumulative buckets: the first holding 99 % of the commits
        if commits and delta(key) >= 0.99 * commits:
            p99_bound = bound * 1000
            break
    return {
        "commit_p99_ms_at_most": p99_bound,
        "commits": commits,
        "mean_commit_ms": 1000 * delta("hearth_commit_seconds_sum") / commits if commits else None,
        "mean_batch": delta("hearth_commit_batch_size_sum") / commits if commits else None,
        "slow_consumers": sum(v for k, v in after.items() if k.startswith("hearth_slow_consumer"))
        - sum(v for k, v in before.items() if k.startswith("hearth_slow_consumer")),
    }


def wait_healthy(port: int, proc: subprocess.Popen[bytes], timeout: float) -> None:
    """Poll ``GET /healthz`` (protocol.md §2.2) until 200; fail if the process exits."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise BenchError(f"Hearth server exited with {proc.returncode} while starting")
        if healthz_status(port) == 200:
            return
        time.sleep(0.05)
    raise BenchError(f"Hearth server not healthy on 127.0.0.1:{port} after {timeout:.0f} s")


def start(
    workdir: Path,
    *,
    uvloop: bool,
    timeout: float,
    extra_env: dict[str, str] | None = None,
) -> tuple[subprocess.Popen[bytes], int, list[str]]:
    """Start the server; return its process, port and notes (how uvloop was set up).
    ``extra_env`` sets ``HEARTH_*`` variables for diagnostic variants only."""
    from bench.systems import child_env

    env = {k: v for k, v in child_env().items() if not k.startswith("HEARTH_")}
    env.update(extra_env or {})
    notes = []
    if uvloop:
        notes.append("uvloop via --loop" if has_loop_flag() else "uvloop via bench launcher")
    for _attempt in range(3):  # a free port can be taken between the probe and the bind
        port = free_port()
        log = (workdir / LOG_NAME).open("ab")
        try:
            proc = subprocess.Popen(
                command(workdir, port, uvloop=uvloop),
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
            )
        finally:
            log.close()
        try:
            wait_healthy(port, proc, timeout)
        except BenchError:
            stop_process(proc)
            tail = (workdir / LOG_NAME).read_text(errors="replace")[-1500:]
            if "address already in use" in tail.lower():
                continue
            raise BenchError(f"Hearth server did not start; its log ends:\n{tail}") from None
        return proc, port, notes
    raise BenchError("Hearth server: no free port after 3 tries")


def main(argv: list[str] | None = None) -> int:
    """Run the server's public entry point on uvloop (fallback when it has no --loop)."""
    import uvloop

    from hearth_server.__main__ import main as server_main

    asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())
    return int(server_main(list(sys.argv[1:] if argv is None else argv)) or 0)


if __name__ == "__main__":
    sys.exit(main())
