"""Runners for the official MLS interop test vectors (mlswg/mls-implementations).

One module per vector file; each exposes ``check(entry) -> None`` that raises on
a mismatch, and the :data:`CHECKERS` table maps a file name to that function.
``python -m hearth_mls.vectors DIR [--json]`` runs every file it knows; the pytest
suite parametrizes the same checks per entry.

Entries whose ``cipher_suite`` is not 1 are *skipped*. A checker raises
:class:`Skip` for an entry it cannot judge (counted as skipped, never as passed).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

Entry = dict[str, Any]
Checker = Callable[[Entry], None]


class Skip(Exception):
    """The entry does not apply to this implementation (for example another suite)."""


def _checkers() -> dict[str, Checker]:
    # Imported lazily so one broken module cannot hide the others' results.
    from hearth_mls.vectors import registry

    return registry.CHECKERS


@dataclass
class FileResult:
    passed: int = 0
    failed: int = 0
    skipped: int = 0
    failures: list[str] = field(default_factory=list)


def entries(path: Path) -> Iterator[tuple[int, Entry]]:
    data = json.loads(path.read_text())
    if isinstance(data, dict):  # a single-entry file
        data = [data]
    yield from enumerate(data)


def run_entry(checker: Checker, entry: Entry) -> str:
    """Return ``"passed"``, ``"skipped"`` or raise."""
    suite = entry.get("cipher_suite", 1)
    if suite != 1:
        return "skipped"
    try:
        checker(entry)
    except Skip:
        return "skipped"
    return "passed"


def run_file(path: Path, checker: Checker) -> FileResult:
    result = FileResult()
    for index, entry in entries(path):
        try:
            outcome = run_entry(checker, entry)
        except Exception as exc:
            result.failed += 1
            result.failures.append(f"entry {index}: {type(exc).__name__}: {exc}")
            continue
        if outcome == "passed":
            result.passed += 1
        else:
            result.skipped += 1
    return result


def run_dir(directory: Path) -> dict[str, FileResult]:
    results: dict[str, FileResult] = {}
    for name, checker in sorted(_checkers().items()):
        path = directory / name
        if path.exists():
            results[name] = run_file(path, checker)
    return results
