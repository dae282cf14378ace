"""Property tests: received trees fail only with peer errors (RFC 9420 §12.4.3.1).

Whatever bytes arrive as a ``ratchet_tree``, decoding and validating them raises
nothing but a :class:`~hearth_mls.errors.PeerError` (never an IndexError, a
TreeIndexError or another caller-side error).
"""

from __future__ import annotations

import json
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_mls.errors import PeerError
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_validation import validate_tree
from tests.conftest import VECTORS


@cache
def _trees() -> list[tuple[bytes, bytes]]:
    entries = json.loads((VECTORS / "tree-validation.json").read_text())
    return [(bytes.fromhex(e["tree"]), bytes.fromhex(e["group_id"])) for e in entries[:8]]


def _receive(data: bytes, group_id: bytes) -> None:
    try:
        tree = RatchetTree.from_bytes(data)
        tree.tree_hashes()
        for x in range(tree.width):
            tree.resolution(x)
        validate_tree(tree, group_id)
    except PeerError:
        return


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=64))
def test_arbitrary_tree_bytes(data: bytes) -> None:
    _receive(data, b"group")


@settings(max_examples=120, deadline=None)
@given(
    index=st.integers(0, 7),
    flips=st.lists(st.tuples(st.integers(0, 100_000), st.integers(0, 7)), min_size=1, max_size=2),
)
def test_bit_flipped_vector_trees(index: int, flips: list[tuple[int, int]]) -> None:
    data, group_id = _trees()[index]
    mutated = bytearray(data)
    for position, bit in flips:
        mutated[position % len(mutated)] ^= 1 << bit
    _receive(bytes(mutated), group_id)
