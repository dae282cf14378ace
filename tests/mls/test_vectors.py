"""Every ciphersuite-1 entry of every known vector file, one pytest case per entry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from hearth_mls.vectors import entries, run_entry
from hearth_mls.vectors.registry import CHECKERS
from tests.conftest import VECTORS


def _cases() -> list[object]:
    cases: list[object] = []
    for name in sorted(CHECKERS):
        path = VECTORS / name
        if not path.exists():
            continue
        for index, entry in entries(path):
            if entry.get("cipher_suite", 1) == 1:
                cases.append(pytest.param(name, entry, id=f"{name}[{index}]"))
    return cases


@pytest.mark.parametrize(("name", "entry"), _cases())
def test_vector_entry(name: str, entry: dict[str, object]) -> None:
    assert run_entry(CHECKERS[name], entry) == "passed"


def test_runner_cli_json(vectors_dir: Path) -> None:
    import contextlib
    import io

    from hearth_mls.vectors.__main__ import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        status = main([str(vectors_dir), "--json"])
    report = json.loads(out.getvalue())
    assert set(report) == {name for name in CHECKERS if (vectors_dir / name).exists()}
    assert status == (1 if any(r["failed"] for r in report.values()) else 0)
