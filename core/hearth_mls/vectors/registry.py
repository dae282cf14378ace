"""Which checker judges which vector file (one line per file)."""

from __future__ import annotations

from hearth_mls.vectors import Checker

CHECKERS: dict[str, Checker] = {}
