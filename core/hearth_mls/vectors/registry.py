"""Which checker judges which vector file (one line per file)."""

from __future__ import annotations

from hearth_mls.vectors import Checker

CHECKERS: dict[str, Checker] = {}

from hearth_mls.vectors import deserialization, tree_math  # noqa: E402

CHECKERS["tree-math.json"] = tree_math.check
CHECKERS["deserialization.json"] = deserialization.check

from hearth_mls.vectors import messages  # noqa: E402

CHECKERS["messages.json"] = messages.check
