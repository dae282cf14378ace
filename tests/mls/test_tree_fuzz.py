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


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["add", "remove", "update"]), st.integers(0, 40))))
def test_membership_changes_keep_tree_invariants(ops: list[tuple[str, int]]) -> None:
    """Adds, updates and removes (RFC 9420 §12.1.1-§12.1.3, §7.7) against a model list."""
    from hearth_mls.errors import RemoveBlankLeafError, UpdateBlankLeafError
    from tests.mls import samples

    tree = RatchetTree.with_leaf(samples.leaf(key=b"\x00" * 32))
    members: list[bool] = [True]  # the model: which leaf indices are occupied
    for step, (op, target) in enumerate(ops):
        new_leaf = samples.leaf(key=step.to_bytes(4, "big") * 8)
        if op == "add":
            expected = members.index(False) if False in members else len(members)
            assert tree.add_leaf(new_leaf) == expected
            if expected == len(members):
                members.append(True)
            members[expected] = True
        elif op == "update":
            if target < len(members) and members[target]:
                tree.update_leaf(target, new_leaf)
            else:
                try:
                    tree.update_leaf(target, new_leaf)
                except UpdateBlankLeafError:
                    continue
                raise AssertionError("update of a blank leaf was accepted")
        else:
            occupied = sum(members)
            if target < len(members) and members[target] and occupied > 1:
                tree.remove_leaf(target)
                members[target] = False
                while len(members) > 1 and not members[-1]:
                    members.pop()
            elif not (target < len(members) and members[target]):
                try:
                    tree.remove_leaf(target)
                except RemoveBlankLeafError:
                    continue
                raise AssertionError("remove of a blank leaf was accepted")
        assert [i for i, _ in tree.occupied_leaves()] == [i for i, m in enumerate(members) if m]
        # Truncated (§7.7): the smallest perfect tree holding the rightmost member.
        assert tree.n_leaves == max(1, 1 << (len(members) - 1).bit_length())
        assert tree.resolution(tree.root) == [2 * i for i, m in enumerate(members) if m]
        assert RatchetTree.from_bytes(tree.to_bytes()) == tree
