"""Shared fixtures. Paths, not globals: each test gets what it needs."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
#: The official MLS vectors live beside the project (../shared), never copied in.
VECTORS = ROOT.parent / "shared" / "mls-test-vectors"


@pytest.fixture(scope="session")
def vectors_dir() -> Path:
    if not VECTORS.is_dir():
        pytest.fail(f"MLS test vectors not found at {VECTORS}")
    return VECTORS
