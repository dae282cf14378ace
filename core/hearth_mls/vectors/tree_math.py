"""``tree-math.json``: root, left, right, parent and sibling per node (RFC 9420 Appendix C)."""

from __future__ import annotations

from collections.abc import Callable

from hearth_mls import tree_math
from hearth_mls.errors import TreeIndexError
from hearth_mls.vectors import Entry


def _optional(fn: Callable[[], int]) -> int | None:
    try:
        return fn()
    except TreeIndexError:
        return None


def check(entry: Entry) -> None:
    n = int(entry["n_leaves"])
    width = tree_math.node_width(n)
    if width != entry["n_nodes"]:
        raise AssertionError(f"n_nodes {width} != {entry['n_nodes']}")
    if tree_math.root(n) != entry["root"]:
        raise AssertionError(f"root {tree_math.root(n)} != {entry['root']}")
    for name, fn in (
        ("left", lambda x: tree_math.left(x)),
        ("right", lambda x: tree_math.right(x)),
        ("parent", lambda x: tree_math.parent(x, n)),
        ("sibling", lambda x: tree_math.sibling(x, n)),
    ):
        expected = entry[name]
        if len(expected) != width:
            raise AssertionError(f"{name} has {len(expected)} entries, tree has {width} nodes")
        for x in range(width):
            got = _optional(lambda x=x, fn=fn: fn(x))  # type: ignore[misc]
            if got != expected[x]:
                raise AssertionError(f"{name}[{x}] = {got}, expected {expected[x]}")
