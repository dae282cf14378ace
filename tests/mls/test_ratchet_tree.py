"""The ratchet tree (RFC 9420 §4.1, §7.7, §7.8, §12.1.1-§12.1.3)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hearth_mls.commit import UpdatePath
from hearth_mls.errors import (
    CommitParentHashError,
    MalformedTreeError,
    RemoveBlankLeafError,
    TreeIndexError,
    UpdateBlankLeafError,
    UpdatePathShapeError,
)
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import Node, ParentNode, ratchet_tree_to_bytes
from hearth_mls.tree_validation import validate_tree
from tests.conftest import VECTORS
from tests.mls import samples


def _leaf(name: str) -> LeafNode:
    return samples.leaf(key=name.encode() * 32)


def _parent(name: str, unmerged: tuple[int, ...] = ()) -> ParentNode:
    return ParentNode(name.encode() * 32, b"", unmerged)


def _vector_tree(index: int) -> RatchetTree:
    entries = json.loads((VECTORS / "tree-validation.json").read_text())
    return RatchetTree.from_bytes(bytes.fromhex(entries[index]["tree"]))


def _figure_tree() -> RatchetTree:
    """RFC 9420 §4.1.2's five-member tree: A B _ _ E F G _ with T, X, Y and W set."""
    nodes: list[LeafNode | ParentNode | None] = [None] * 15
    for leaf_index, name in ((0, "A"), (1, "B"), (4, "E"), (5, "F"), (6, "G")):
        nodes[2 * leaf_index] = _leaf(name)
    for x, name in ((1, "T"), (9, "X"), (11, "Y"), (7, "W")):
        nodes[x] = _parent(name)
    return RatchetTree(nodes)


def test_filtered_direct_paths_match_rfc_table() -> None:
    tree = _figure_tree()
    t, w, x, y = 1, 7, 9, 11
    assert tree.filtered_direct_path(0) == [t, w]
    assert tree.filtered_direct_path(1) == [t, w]
    assert tree.filtered_direct_path(4) == [x, y, w]
    assert tree.filtered_direct_path(5) == [x, y, w]
    assert tree.filtered_direct_path(6) == [y, w]
    assert tree.copath(0) == [2, 5, 11]


def test_resolution_matches_rfc_example() -> None:
    # RFC 9420 §4.1.1: X[B] over A B _ D, Y over E F, leaves 2 and 6 blank.
    nodes: list[LeafNode | ParentNode | None] = [None] * 15
    for leaf_index, name in ((0, "A"), (1, "B"), (3, "D"), (4, "E"), (5, "F"), (7, "H")):
        nodes[2 * leaf_index] = _leaf(name)
    nodes[3] = _parent("X", (1,))
    nodes[9] = _parent("Y")
    tree = RatchetTree(nodes)
    assert tree.resolution(3) == [3, 2]
    assert tree.resolution(4) == []
    assert tree.resolution(12) == []
    assert tree.resolution(7) == [3, 2, 9, 14]


def test_vector_trees_round_trip_without_trailing_blanks() -> None:
    entries = json.loads((VECTORS / "tree-validation.json").read_text())
    for entry in entries:
        data = bytes.fromhex(entry["tree"])
        assert RatchetTree.from_bytes(data).to_bytes() == data


def test_trailing_blank_rejected() -> None:
    nodes: list[Node | None] = [Node(leaf=_leaf("A")), None, None]
    with pytest.raises(MalformedTreeError, match="ends with a blank"):
        RatchetTree.from_bytes(ratchet_tree_to_bytes(nodes))


def test_node_kind_must_match_position() -> None:
    with pytest.raises(MalformedTreeError, match="node 1 is a leaf"):
        RatchetTree.from_wire([Node(leaf=_leaf("A")), Node(leaf=_leaf("B"))])
    with pytest.raises(MalformedTreeError, match="node 0 is a parent"):
        RatchetTree.from_wire([Node(parent=_parent("P"))])
    with pytest.raises(MalformedTreeError, match="empty"):
        RatchetTree.from_wire([])
    with pytest.raises(MalformedTreeError, match="perfect"):
        RatchetTree([_leaf("A"), None, None, None, None])
    with pytest.raises(MalformedTreeError, match="expected a LeafNode"):
        RatchetTree([_parent("P")])


def test_add_fills_leftmost_blank_and_marks_unmerged() -> None:
    tree = _figure_tree()
    assert tree.add_leaf(_leaf("C")) == 2
    assert tree.parent(7) == _parent("W", (2,))
    assert tree.parent(3) is None  # blank parents get no unmerged entry
    assert tree.add_leaf(_leaf("D")) == 3
    assert tree.add_leaf(_leaf("H")) == 7
    assert tree.n_leaves == 8
    assert tree.parent(11) == _parent("Y", (7,))


def test_add_extends_a_full_tree() -> None:
    tree = RatchetTree([_leaf("A"), _parent("P"), _leaf("B")])
    assert tree.add_leaf(_leaf("C")) == 2
    assert tree.n_leaves == 4
    assert tree.parent(1) == _parent("P")  # not on C's path
    assert tree.node(3) is None


def test_update_replaces_leaf_and_blanks_path() -> None:
    tree = _figure_tree()
    tree.update_leaf(4, _leaf("e"))
    assert tree.leaf(4) == _leaf("e")
    assert tree.node(9) is None
    assert tree.node(11) is None
    assert tree.node(7) is None
    assert tree.node(1) == _parent("T")
    with pytest.raises(UpdateBlankLeafError):
        tree.update_leaf(2, _leaf("x"))


def test_remove_blanks_and_truncates() -> None:
    tree = _figure_tree()
    for leaf_index in (6, 5, 4):
        tree.remove_leaf(leaf_index)
    assert tree.n_leaves == 2
    assert [i for i, _ in tree.occupied_leaves()] == [0, 1]
    assert tree.node(1) == _parent("T")


def test_remove_errors() -> None:
    tree = _figure_tree()
    with pytest.raises(RemoveBlankLeafError, match="leaf 2"):
        tree.remove_leaf(2)
    with pytest.raises(RemoveBlankLeafError, match="leaf 99"):
        tree.remove_leaf(99)


def test_remove_last_member_but_one_keeps_one_leaf() -> None:
    tree = RatchetTree([_leaf("A"), None, _leaf("B")])
    tree.remove_leaf(1)
    assert tree.width == 1


def test_tree_hashes_bottom_up_equal_recursive() -> None:
    tree = _vector_tree(13)
    assert tree.tree_hashes() == [tree.subtree_hash(x) for x in range(tree.width)]


def test_original_sibling_tree_hash_blanks_unmerged_leaves() -> None:
    tree = _vector_tree(12)  # node 11 has leaf 7 unmerged
    stripped = tree.copy()
    stripped.set_leaf(7, None)
    node = stripped.parent(11)
    assert node is not None
    stripped.set_parent(11, ParentNode(node.encryption_key, node.parent_hash, ()))
    # P = root 7, S = 11 (parent of leaf 7's subtree); only P's unmerged leaves are blanked,
    # and the root lists none, so the original hash is the current one.
    assert tree.original_sibling_tree_hash(7, 11) == tree.subtree_hash(11)
    assert tree.subtree_hash(11, frozenset({7})) == stripped.subtree_hash(11)


def test_copy_is_independent() -> None:
    tree = _figure_tree()
    other = tree.copy()
    other.remove_leaf(0)
    assert tree.leaf(0) is not None
    assert tree != other


def test_index_errors() -> None:
    tree = _figure_tree()
    with pytest.raises(TreeIndexError):
        tree.node(15)
    with pytest.raises(TreeIndexError, match="blank"):
        tree.parent_hash(3, 1)
    with pytest.raises(TreeIndexError, match="leaf, not a parent"):
        tree.parent(2)
    assert tree.leaf(100) is None


def test_leaf_source_variety_in_vectors() -> None:
    tree = _vector_tree(2)
    sources = {leaf.leaf_node_source for _, leaf in tree.occupied_leaves()}
    assert sources == {LeafNodeSource.COMMIT, LeafNodeSource.KEY_PACKAGE}


def _treekem_paths() -> list[tuple[RatchetTree, bytes, int, UpdatePath, str]]:
    entries = json.loads((VECTORS / "treekem.json").read_text())
    cases = []
    for entry in entries:
        tree = RatchetTree.from_bytes(bytes.fromhex(entry["ratchet_tree"]))
        for update in entry["update_paths"]:
            path = UpdatePath.from_bytes(bytes.fromhex(update["update_path"]))
            cases.append(
                (
                    tree,
                    bytes.fromhex(entry["group_id"]),
                    update["sender"],
                    path,
                    update["tree_hash_after"],
                )
            )
    return cases


def test_treekem_vector_update_paths_merge() -> None:
    """The public half of treekem.json (RFC 9420 §7.5): merged tree hash and parent hashes."""
    cases = _treekem_paths()
    assert len(cases) == 62
    for tree, group_id, sender, path, tree_hash_after in cases:
        merged = tree.copy()
        merged.apply_update_path(sender, path)
        assert merged.tree_hash().hex() == tree_hash_after
        validate_tree(merged, group_id)


def test_update_path_with_wrong_parent_hash_leaves_tree_unchanged() -> None:
    tree, _, sender, path, _ = _treekem_paths()[5]
    before = tree.copy()
    leaf = replace(path.leaf_node, parent_hash=b"\x00" * 32)
    with pytest.raises(CommitParentHashError, match=f"leaf {sender}"):
        tree.apply_update_path(sender, replace(path, leaf_node=leaf))
    assert tree == before


def test_update_path_with_wrong_node_count_rejected() -> None:
    tree, _, sender, path, _ = _treekem_paths()[5]
    before = tree.copy()
    with pytest.raises(UpdatePathShapeError):
        tree.apply_update_path(sender, replace(path, nodes=path.nodes[:-1]))
    assert tree == before
    with pytest.raises(UpdateBlankLeafError):
        RatchetTree([_leaf("A"), None, None]).merge_path_keys(1, [])


def test_single_member_path_has_empty_parent_hash() -> None:
    tree = RatchetTree.with_leaf(_leaf("A"))
    assert tree.merge_path_keys(0, []) == b""
