"""TreeKEM helpers beyond the vectors (RFC 9420 §4.1.2, §7.4-§7.9)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth_mls import errors, suite, treekem
from hearth_mls.extensions import GroupContext
from hearth_mls.leaf_node import LeafNode
from hearth_mls.tree_nodes import Node, ParentNode
from tests.mls.samples import leaf as sample_leaf


def _leaf(key: bytes) -> Node:
    return Node(leaf=sample_leaf(key=key))


def _parent(key: bytes) -> Node:
    return Node(parent=ParentNode(encryption_key=key))


def rfc_example_tree() -> treekem.Tree:
    """RFC 9420 §4.1.2's tree: A, B, E, F, G present; U, V, Z and leaves 2, 3, 7 blank."""
    tree: treekem.Tree = [None] * 15
    for leaf in (0, 1, 4, 5, 6):
        tree[2 * leaf] = _leaf(bytes([leaf]) * 32)
    for parent in (1, 7, 9, 11):  # T, W, X, Y
        tree[parent] = _parent(bytes([100 + parent]) * 32)
    return tree


@pytest.mark.parametrize(
    ("leaf", "expected"),
    [(0, [1, 7]), (1, [1, 7]), (4, [9, 11, 7]), (5, [9, 11, 7]), (6, [11, 7])],
)
def test_filtered_direct_path_matches_rfc_table(leaf: int, expected: list[int]) -> None:
    path = treekem.filtered_direct_path(rfc_example_tree(), leaf)
    assert [p for p, _ in path] == expected


def test_resolution_of_blank_nodes_and_unmerged_leaves() -> None:
    tree = rfc_example_tree()
    assert treekem.resolution(tree, 3) == [1]  # U is blank: T covers A and B, V is empty
    tree[11] = Node(parent=ParentNode(encryption_key=b"y" * 32, unmerged_leaves=(6,)))
    assert treekem.resolution(tree, 11) == [11, 12]
    assert treekem.resolution(tree, 5) == []


def _real_group_tree(n: int) -> tuple[treekem.Tree, dict[int, bytes], list[bytes]]:
    """n leaves with real HPKE keys and Ed25519 signers; returns privs by node, signers."""
    tree: treekem.Tree = []
    privs: dict[int, bytes] = {}
    signers: list[bytes] = []
    for i in range(n):
        priv, pub = suite.generate_hpke_key_pair()
        sig_priv, sig_pub = suite.generate_signature_key_pair()
        leaf: LeafNode = replace(sample_leaf(key=pub), signature_key=sig_pub)
        tree.extend([Node(leaf=leaf)] + ([None] if i < n - 1 else []))
        privs[2 * i] = priv
        signers.append(sig_priv)
    return treekem.padded(tree), privs, signers


def _context(tree_hash: bytes) -> bytes:
    return GroupContext(b"group", 3, tree_hash, b"cth").to_bytes()


def test_every_member_decrypts_the_same_commit_secret_and_new_joiners_are_excluded() -> None:
    tree, privs, signers = _real_group_tree(6)
    own = tree[0]
    assert own is not None
    assert own.leaf is not None
    path, result = treekem.create_update_path(
        tree, 0, own.leaf, signers[0], b"group", _context, excluded_leaves=[5]
    )
    merged = treekem.merge_update_path(tree, 0, path)
    assert treekem.tree_hash(merged) == treekem.tree_hash(result.tree)
    context = _context(treekem.tree_hash(merged))
    for member in (1, 2, 3, 4):
        _, keys, commit_secret = treekem.decrypt_update_path(
            merged, 0, member, path, {2 * member: privs[2 * member]}, context, [5]
        )
        assert commit_secret == result.commit_secret
        assert all(merged[x] is not None for x in keys)
    with pytest.raises(errors.PathLengthError):
        # Leaf 5 was excluded: its subtree got no ciphertext it could count on.
        treekem.decrypt_update_path(merged, 0, 5, path, {10: privs[10]}, context)


def test_prune_private_keys_drops_replaced_nodes() -> None:
    tree, privs, _ = _real_group_tree(2)
    assert treekem.prune_private_keys(tree, privs) == privs
    tree[2] = None
    assert treekem.prune_private_keys(tree, privs) == {0: privs[0]}


def test_truncated_drops_trailing_blank_subtrees() -> None:
    tree, _, _ = _real_group_tree(3)
    assert len(treekem.truncated(tree)) == 5
    tree[4] = None
    assert len(treekem.truncated(tree)) == 3
