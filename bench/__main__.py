"""``python -m bench NAME [--quick] [--json] ...``: run one benchmark (issue 7).

Each benchmark is a module ``bench/NAME.py`` exposing ``main(argv) -> int`` that
parses its own options. A benchmark whose module is not there yet (``mls`` until
the MLS work lands) is reported as missing with exit status 2, never a traceback.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable
from typing import cast

from bench.common import BenchError

BENCHMARKS: dict[str, str] = {
    "relay": "throughput and end-to-end latency, N clients in rooms of 10, against bare relays",
    "connections": "idle connections held: RSS per connection and time to connect them all",
    "catchup": "a client that missed 10,000 messages resumes: time until it holds them in order",
    "storage": "durable message writes/s, batched commits against one commit per message",
    "mls": "MLS operations against their cryptographic primitives (the MLS work, issue 3)",
    "mls_group": "MLS group operations by group size (the MLS work, issue 4)",
}


def usage() -> str:
    """The list of benchmarks, each with what it measures."""
    lines = [
        "usage: python -m bench NAME [--quick] [--json] [options]",
        "       python -m bench all [--quick] --out DIR [--only NAMES]",
        "",
        "benchmarks:",
    ]
    lines += [f"  {name:<12} {what}" for name, what in BENCHMARKS.items()]
    return "\n".join(lines)


def load(name: str) -> Callable[[list[str]], int] | str:
    """The benchmark's ``main``, or a sentence saying why it cannot be run."""
    if name not in BENCHMARKS:
        return f"unknown benchmark {name!r}"
    module_name = f"bench.{name}"
    if importlib.util.find_spec(module_name) is None:
        return f"benchmark {name!r} is not available yet: bench/{name}.py does not exist"
    module = importlib.import_module(module_name)
    entry = getattr(module, "main", None)
    if not callable(entry):
        return f"bench/{name}.py has no main(argv) -> int"
    return cast("Callable[[list[str]], int]", entry)


def run_all(argv: list[str]) -> int:
    """``all [--quick] --out DIR``: every available benchmark with ``--json`` into
    ``DIR/NAME.json`` (tables into ``DIR/NAME.txt``), then ``DIR/results.md``."""
    import argparse
    import os
    import subprocess
    from pathlib import Path

    from bench import report

    parser = argparse.ArgumentParser(prog="python -m bench all")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, required=True, help="directory for the results")
    parser.add_argument("--only", help="comma-separated benchmarks (default: all available)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    names = [n.strip() for n in args.only.split(",")] if args.only else list(BENCHMARKS)
    failed = []
    for name in names:
        found = load(name)
        if isinstance(found, str):
            print(f"python -m bench all: {found}", file=sys.stderr)
            continue
        command = [sys.executable, "-m", "bench", name, "--json", *(["--quick"] * args.quick)]
        print(f"== {name}: {' '.join(command[1:])}", file=sys.stderr, flush=True)
        with (
            (args.out / f"{name}.json").open("w") as stdout,
            (args.out / f"{name}.txt").open("w") as stderr,
        ):
            done = subprocess.run(
                command,
                stdout=stdout,
                stderr=stderr,
                env=os.environ.copy(),
                timeout=3600,
                check=False,
            )
        if done.returncode != 0:
            failed.append(name)
            print(
                f"== {name} failed ({done.returncode}); see {args.out / (name + '.txt')}",
                file=sys.stderr,
            )
            (args.out / f"{name}.json").unlink(missing_ok=True)
    (args.out / "results.md").write_text(report.render(report.load(args.out)))
    print(f"== wrote {args.out / 'results.md'}", file=sys.stderr)
    return 1 if failed else 0


def main(argv: list[str] | None = None) -> int:
    """Dispatch ``argv[0]`` to its benchmark with the remaining arguments."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "all":
        return run_all(args[1:])
    if args and args[0] == "report":
        from pathlib import Path

        from bench import report

        if len(args) != 2 or not Path(args[1]).is_dir():
            print(
                "usage: python -m bench report DIR  (renders DIR/NAME.json as Markdown)",
                file=sys.stderr,
            )
            return 2
        print(report.render(report.load(Path(args[1]))), end="")
        return 0
    if not args or args[0] in {"-h", "--help"}:
        print(usage())
        return 0 if args else 2
    found = load(args[0])
    if isinstance(found, str):
        print(f"python -m bench: {found}\n\n{usage()}", file=sys.stderr)
        return 2
    try:
        return found(args[1:])
    except BenchError as exc:
        print(f"python -m bench {args[0]}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
