"""``python -m hearth_mls.vectors DIR [--json]``: run the MLS test vectors in DIR.

Prints passed, failed and skipped counts per file (or one JSON object with
``--json``); exits 0 only when nothing failed.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from hearth_mls.vectors import run_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m hearth_mls.vectors", description=__doc__)
    parser.add_argument("directory", type=Path, help="folder holding the vector JSON files")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("-v", "--verbose", action="store_true", help="print each failure")
    args = parser.parse_args(argv)
    if not args.directory.is_dir():
        print(f"error: {args.directory} is not a directory", file=sys.stderr)
        return 2
    results = run_dir(args.directory)
    if args.json:
        print(
            json.dumps(
                {
                    name: {"passed": r.passed, "failed": r.failed, "skipped": r.skipped}
                    for name, r in results.items()
                },
                indent=2,
            )
        )
    else:
        width = max((len(name) for name in results), default=10)
        print(f"{'file':<{width}}  passed  failed  skipped")
        for name, r in results.items():
            print(f"{name:<{width}}  {r.passed:>6}  {r.failed:>6}  {r.skipped:>7}")
            if args.verbose:
                for failure in r.failures:
                    print(f"    {failure}")
    return 1 if any(r.failed for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
