"""Tree math (RFC 9420 §4, Appendix C) against a naive recursive model of the tree."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth_mls import tree_math
from hearth_mls.errors import TreeIndexError, UsageError


def _naive_parents(n_leaves: int) -> dict[int, int]:
    """Build the perfect tree top-down: the root of [lo, hi) nodes is its midpoint."""
    parents: dict[int, int] = {}

    def build(lo: int, hi: int) -> int:
        mid = (lo + hi) // 2
        if hi - lo > 1:
            parents[build(lo, mid)] = mid
            parents[build(mid + 1, hi)] = mid
        return mid

    build(0, tree_math.node_width(n_leaves))
    return parents


@pytest.mark.parametrize("n_leaves", [1, 2, 4, 8, 16, 64])
def test_parent_and_children_match_naive_tree(n_leaves: int) -> None:
    parents = _naive_parents(n_leaves)
    for child, par in parents.items():
        assert tree_math.parent(child, n_leaves) == par
        assert child in (tree_math.left(par), tree_math.right(par))
    assert tree_math.root(n_leaves) not in parents


def test_figure_paths() -> None:
    # RFC 9420 §4.1.2 figure: leaf A (node 0) in an 8-leaf tree.
    assert tree_math.direct_path(0, 8) == [1, 3, 7]
    assert tree_math.copath(0, 8) == [2, 5, 11]
    assert tree_math.direct_path(0, 1) == []


def test_leaves_under_and_descendant() -> None:
    assert list(tree_math.leaves_under(3)) == [0, 1, 2, 3]
    assert list(tree_math.leaves_under(8)) == [4]
    assert tree_math.is_descendant(4, 3)
    assert not tree_math.is_descendant(8, 3)


@given(st.integers(0, 1022), st.integers(0, 1022))
def test_common_ancestor_is_lowest_shared_node(x: int, y: int) -> None:
    n = 512
    ancestors_x = [x, *tree_math.direct_path(x, n)]
    ancestors_y = set([y, *tree_math.direct_path(y, n)])
    expected = next(a for a in ancestors_x if a in ancestors_y)
    assert tree_math.common_ancestor(x, y) == expected


def test_errors_are_specific() -> None:
    with pytest.raises(TreeIndexError, match="no children"):
        tree_math.left(4)
    with pytest.raises(TreeIndexError, match="no parent"):
        tree_math.parent(7, 8)
    with pytest.raises(TreeIndexError, match="outside"):
        tree_math.parent(15, 8)
    with pytest.raises(TreeIndexError, match="perfect"):
        tree_math.root(3)
    with pytest.raises(TreeIndexError, match="parent, not a leaf"):
        tree_math.node_to_leaf(3)
    assert issubclass(TreeIndexError, UsageError)


def test_small_helpers() -> None:
    assert tree_math.leaf_count_for(5) == 8
    assert tree_math.leaf_count_for(1) == 1
    assert tree_math.log2(0) == 0
    assert tree_math.level(7) == 3
    assert tree_math.node_to_leaf(tree_math.leaf_to_node(9)) == 9
