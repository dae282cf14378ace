"""Index arithmetic for the array representation of a ratchet tree (RFC 9420 §4, Appendix C).

Every MLS tree is a perfect binary tree (§4.1) whose nodes are numbered left to
right: leaves sit at even node indices (leaf ``i`` is node ``2*i``) and parents
at odd ones. The *level* of a node is the number of trailing one bits of its
index; leaves are level 0. All functions here are pure; a node index outside
the tree, or the children of a leaf, raise :class:`~hearth_mls.errors.TreeIndexError`.
"""

from __future__ import annotations

from hearth_mls.errors import TreeIndexError


def log2(x: int) -> int:
    """Floor of log2(x), with ``log2(0) == 0`` (Appendix C)."""
    if x <= 0:
        return 0
    return x.bit_length() - 1


def level(x: int) -> int:
    """The level of node ``x``: the number of trailing one bits (leaves are 0)."""
    if x & 1 == 0:
        return 0
    return ((x + 1) & ~x).bit_length() - 1


def node_width(n_leaves: int) -> int:
    """Number of nodes in a tree of ``n_leaves`` leaves: ``2n - 1`` (Appendix C)."""
    if n_leaves <= 0:
        return 0
    return 2 * n_leaves - 1


def leaf_count_for(n_leaves: int) -> int:
    """Smallest power of two holding ``n_leaves`` leaves (trees are perfect, §4.1)."""
    if n_leaves <= 1:
        return 1
    return 1 << (n_leaves - 1).bit_length()


def _check_node(x: int, n_leaves: int) -> None:
    if n_leaves <= 0 or n_leaves & (n_leaves - 1):
        raise TreeIndexError(f"{n_leaves} leaves is not a perfect tree (RFC 9420 §4.1)")
    if not 0 <= x < node_width(n_leaves):
        raise TreeIndexError(f"node {x} is outside a tree of {n_leaves} leaves")


def root(n_leaves: int) -> int:
    """The root's node index in a tree of ``n_leaves`` leaves."""
    _check_node(0, n_leaves)
    return (1 << log2(node_width(n_leaves))) - 1


def is_leaf(x: int) -> bool:
    return x & 1 == 0


def left(x: int) -> int:
    """The left child of parent node ``x``."""
    k = level(x)
    if k == 0:
        raise TreeIndexError(f"leaf node {x} has no children")
    return x ^ (1 << (k - 1))


def right(x: int) -> int:
    """The right child of parent node ``x``."""
    k = level(x)
    if k == 0:
        raise TreeIndexError(f"leaf node {x} has no children")
    return x ^ (3 << (k - 1))


def parent(x: int, n_leaves: int) -> int:
    """The parent of node ``x`` in a tree of ``n_leaves`` leaves."""
    _check_node(x, n_leaves)
    if x == root(n_leaves):
        raise TreeIndexError(f"root node {x} has no parent")
    k = level(x)
    b = (x >> (k + 1)) & 1
    return (x | (1 << k)) ^ (b << (k + 1))


def sibling(x: int, n_leaves: int) -> int:
    """The other child of ``x``'s parent."""
    p = parent(x, n_leaves)
    return right(p) if x < p else left(p)


def direct_path(x: int, n_leaves: int) -> list[int]:
    """Node ``x``'s ancestors from its parent up to the root (§4.1.2)."""
    _check_node(x, n_leaves)
    top = root(n_leaves)
    path: list[int] = []
    while x != top:
        x = parent(x, n_leaves)
        path.append(x)
    return path


def copath(x: int, n_leaves: int) -> list[int]:
    """The siblings of ``x`` and of each node of its direct path but the root (§4.1.2)."""
    _check_node(x, n_leaves)
    top = root(n_leaves)
    nodes = [x, *direct_path(x, n_leaves)]
    return [sibling(node, n_leaves) for node in nodes if node != top]


def is_descendant(x: int, ancestor: int) -> bool:
    """Whether node ``x`` is ``ancestor`` or below it (the subtree spans a range)."""
    k = level(ancestor)
    return ancestor - ((1 << k) - 1) <= x <= ancestor + ((1 << k) - 1)


def leaves_under(x: int) -> range:
    """Leaf indices of the subtree headed by node ``x``."""
    k = level(x)
    first_node = x - ((1 << k) - 1)
    return range(first_node // 2, first_node // 2 + (1 << k))


def common_ancestor(x: int, y: int) -> int:
    """The lowest node whose subtree holds both ``x`` and ``y`` (Appendix C)."""
    lx, ly = level(x) + 1, level(y) + 1
    if lx <= ly and x >> ly == y >> ly:
        return y
    if ly <= lx and x >> lx == y >> lx:
        return x
    xn, yn, k = x, y, 0
    while xn != yn:
        xn, yn, k = xn >> 1, yn >> 1, k + 1
    return (xn << k) + (1 << (k - 1)) - 1


def leaf_to_node(leaf_index: int) -> int:
    return 2 * leaf_index


def node_to_leaf(x: int) -> int:
    if x & 1:
        raise TreeIndexError(f"node {x} is a parent, not a leaf")
    return x // 2
