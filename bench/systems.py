"""Start and stop the systems under test, each as its own process on 127.0.0.1.

``relay`` is the bare ``websockets`` relay (bench/baseline_relay.py), ``node`` the
bare Node ``ws`` relay (bench/node/relay.mjs, only where Node is installed), and
``hearth`` / ``hearth-uvloop`` the Hearth server with its defaults (SQLite in a
temporary directory, durable acknowledgements) on asyncio and on uvloop. Every
process is stopped by the context manager that started it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import BENCH_DIR, ROOT, BenchError, node_binary, stop_process

NODE_DIR = BENCH_DIR / "node"
#: Wire protocol each system speaks: the bare relays share one, Hearth speaks protocol.md.
PROTOCOL = {
    "relay": "relay",
    "node": "relay",
    "hearth": "hearth",
    "hearth-uvloop": "hearth",
    "hearth-normal": "hearth",
    "hearth-uvloop-normal": "hearth",
}
#: Diagnostic variants: Hearth with one setting changed through its HEARTH_* variables.
HEARTH_VARIANTS = {
    "hearth-normal": {"HEARTH_SQLITE_SYNCHRONOUS": "NORMAL"},
    "hearth-uvloop-normal": {"HEARTH_SQLITE_SYNCHRONOUS": "NORMAL"},
}
ALL_SYSTEMS = ("relay", "hearth", "hearth-uvloop", "node")


@dataclass
class Running:
    """A started system: its name, process, port and scratch directory."""

    name: str
    proc: subprocess.Popen[bytes]
    port: int
    workdir: Path
    notes: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def protocol(self) -> str:
        return PROTOCOL[self.name]


def child_env() -> dict[str, str]:
    """The environment for children: the repository's source roots importable.

    ``BENCH_HEARTH_SOURCE=/path/to/checkout`` measures another checkout's server (for
    example main against a branch); by default it is this one."""
    env = dict(os.environ)
    source = Path(env.get("BENCH_HEARTH_SOURCE") or ROOT)
    roots = [str(ROOT), str(source / "core"), str(source / "server")]
    env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_ready(log: list[str]) -> str | None:
    """Why the Node relay cannot run, or None once ``npm ci`` has put ``ws`` in place."""
    if node_binary() is None:
        return "node is not installed"
    if (NODE_DIR / "node_modules" / "ws" / "package.json").is_file():
        return None
    npm = shutil.which("npm")
    if npm is None:
        return "npm is not installed"
    log.append("installing the Node relay's dependencies (npm ci)")
    try:
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            capture_output=True,
            text=True,
            timeout=180,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"npm ci failed: {exc}"
    if done.returncode != 0:
        return f"npm ci failed: {done.stderr.strip()[-300:]}"
    return None


def available(names: list[str], log: list[str]) -> tuple[list[str], dict[str, str]]:
    """The systems that can run here, and why the others cannot."""
    skipped: dict[str, str] = {}
    for name in names:
        if name not in PROTOCOL:
            raise BenchError(f"unknown system {name!r}; choose from {', '.join(PROTOCOL)}")
        if name == "node":
            reason = node_ready(log)
            if reason:
                skipped[name] = reason
        elif name.startswith("hearth"):
            reason = hearth_missing()
            if reason:
                skipped[name] = reason
    return [n for n in names if n not in skipped], skipped


def hearth_missing() -> str | None:
    """Why the Hearth server cannot be started from this checkout, or None."""
    from bench import hearth_launch

    return hearth_launch.missing()


def _read_ready(proc: subprocess.Popen[bytes], timeout: float) -> int:
    """Wait for the child's ``READY <port>`` line."""
    import selectors

    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(timeout):
            raise BenchError(f"{proc.args!r} did not report READY within {timeout:.0f} s")
    line = proc.stdout.readline().decode(errors="replace").split()
    if len(line) != 2 or line[0] != "READY":
        raise BenchError(f"{proc.args!r} said {line!r} instead of READY <port>")
    return int(line[1])


@contextlib.contextmanager
def start(name: str, *, timeout: float = 30.0) -> Iterator[Running]:
    """Start system ``name`` on a free loopback port; stop it (and clean up) on exit."""
    workdir = Path(tempfile.mkdtemp(prefix=f"hearth-bench-{name}-"))
    proc: subprocess.Popen[bytes] | None = None
    try:
        if name in ("relay", "node"):
            if name == "relay":
                cmd = [sys.executable, "-m", "bench.baseline_relay", "--port", "0"]
            else:
                cmd = [node_binary() or "node", str(NODE_DIR / "relay.mjs"), "--port", "0"]
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=child_env(),
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
            )
            port = _read_ready(proc, timeout)
            yield Running(name, proc, port, workdir)
        else:
            from bench import hearth_launch

            proc, port, notes = hearth_launch.start(
                workdir,
                uvloop=name.startswith("hearth-uvloop"),
                timeout=timeout,
                extra_env=HEARTH_VARIANTS.get(name, {}),
            )
            yield Running(name, proc, port, workdir, notes)
    finally:
        if proc is not None:
            stop_process(proc)
        shutil.rmtree(workdir, ignore_errors=True)
        # Settle the disk before the next trial: on a file system mounted with online
        # discard (ext4 ``discard``, as here), freeing a trial's database is done at the
        # next journal commit, which an fsync of the NEXT trial would otherwise wait for
        # (stalls of 100-600 ms, seen only by the systems that fsync: Hearth's).
        os.sync()
