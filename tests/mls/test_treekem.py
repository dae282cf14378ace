"""TreeKEM helpers beyond the vectors (RFC 9420 §4.1.2, §7.4-§7.9)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth_mls import errors, suite, treekem
from hearth_mls.extensions import GroupContext
from hearth_mls.leaf_node import LeafNode
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import Node, ParentNode
from tests.mls.samples import leaf as sample_leaf


def rfc_example_tree() -> RatchetTree:
    """RFC 9420 §4.1.2's tree: A, B, E, F, G present; U, V, Z and leaves 2, 3, 7 blank."""
    nodes: list[LeafNode | ParentNode | None] = [None] * 15
    for leaf in (0, 1, 4, 5, 6):
        nodes[2 * leaf] = sample_leaf(key=bytes([leaf]) * 32)
    for parent in (1, 7, 9, 11):  # T, W, X, Y
        nodes[parent] = ParentNode(encryption_key=bytes([100 + parent]) * 32)
    return RatchetTree(nodes)


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [(0, [1, 7]), (1, [1, 7]), (4, [9, 11, 7]), (5, [9, 11, 7]), (6, [11, 7])],
)
def test_filtered_direct_path_matches_rfc_table(leaf: int, expected: list[int]) -> None:
    path = rfc_example_tree().filtered_path(leaf)
    assert [p for p, _ in path] == expected


def test_resolution_of_blank_nodes_and_unmerged_leaves() -> None:
    tree = rfc_example_tree()
    assert tree.resolution(3) == [1]  # U is blank: T covers A and B, V is empty
    tree.set_parent(11, ParentNode(encryption_key=b"y" * 32, unmerged_leaves=(6,)))
    assert tree.resolution(11) == [11, 12]
    assert tree.resolution(5) == []


def _real_group_tree(n: int) -> tuple[RatchetTree, dict[int, bytes], list[bytes]]:
    """n leaves with real HPKE keys and Ed25519 signers; returns privs by node, signers."""
    tree: list[Node | None] = []
    privs: dict[int, bytes] = {}
    signers: list[bytes] = []
    for i in range(n):
        priv, pub = suite.generate_hpke_key_pair()
        sig_priv, sig_pub = suite.generate_signature_key_pair()
        leaf: LeafNode = replace(sample_leaf(key=pub), signature_key=sig_pub)
        tree.extend([Node(leaf=leaf)] + ([None] if i < n - 1 else []))
        privs[2 * i] = priv
        signers.append(sig_priv)
    return RatchetTree.from_wire(tree), privs, signers


def _context(tree_hash: bytes) -> bytes:
    return GroupContext(b"group", 3, tree_hash, b"cth").to_bytes()


def test_every_member_decrypts_the_same_commit_secret_and_new_joiners_are_excluded() -> None:
    tree, privs, signers = _real_group_tree(6)
    own = tree.leaf(0)
    assert own is not None
    path, result = treekem.create_update_path(
        tree, 0, own, signers[0], b"group", _context, excluded_leaves=[5]
    )
    merged = treekem.merge_update_path(tree, 0, path)
    assert merged.tree_hash() == result.tree.tree_hash()
    context = _context(merged.tree_hash())
    for member in (1, 2, 3, 4):
        _, keys, commit_secret = treekem.decrypt_update_path(
            merged, 0, member, path, {2 * member: privs[2 * member]}, context, [5]
        )
        assert commit_secret == result.commit_secret
        assert all(merged.node(x) is not None for x in keys)
    with pytest.raises(errors.PathLengthError):
        # Leaf 5 was excluded: its subtree got no ciphertext it could count on.
        treekem.decrypt_update_path(merged, 0, 5, path, {10: privs[10]}, context)


def test_prune_private_keys_drops_replaced_nodes() -> None:
    tree, privs, _ = _real_group_tree(2)
    assert treekem.prune_private_keys(tree, privs) == privs
    tree.set_leaf(1, None)
    assert treekem.prune_private_keys(tree, privs) == {0: privs[0]}


def test_stored_tree_drops_trailing_blank_subtrees() -> None:
    tree, _, _ = _real_group_tree(3)
    assert len(tree.to_wire()) == 5
    tree.set_leaf(2, None)
    assert len(tree.to_wire()) == 3
    assert RatchetTree.from_wire(tree.to_wire()).n_leaves == 2


def test_merge_and_create_leave_their_input_tree_unchanged() -> None:
    tree, _, signers = _real_group_tree(4)
    before = tree.copy()
    own = tree.leaf(0)
    assert own is not None
    path, _ = treekem.create_update_path(tree, 0, own, signers[0], b"group", _context)
    assert tree == before
    treekem.merge_update_path(tree, 0, path)
    assert tree == before
