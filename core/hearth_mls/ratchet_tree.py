"""The ratchet tree: the group's public key tree (RFC 9420 §4, §7).

:class:`RatchetTree` holds the nodes of a perfect binary tree in the array
order of Appendix C: leaf ``i`` at node ``2*i`` holds a
:class:`~hearth_mls.leaf_node.LeafNode`, odd nodes hold a
:class:`~hearth_mls.tree_nodes.ParentNode`, and ``None`` is a blank node.

It computes resolutions (§4.1.1), filtered direct paths (§4.1.2), tree hashes
(§7.8) and parent hashes (§7.9), and applies the membership changes of Add,
Update and Remove proposals (§12.1.1-§12.1.3) with extension and truncation
(§7.7). The tree is mutable so a commit can change it in place: callers that
must keep their state on error work on a :meth:`RatchetTree.copy`. The checks a
joiner runs on a received tree are in :mod:`hearth_mls.tree_validation`.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence
from dataclasses import replace

from hearth_mls import suite, tree_math
from hearth_mls.codec import Writer
from hearth_mls.commit import UpdatePath
from hearth_mls.errors import (
    CommitParentHashError,
    MalformedTreeError,
    RemoveBlankLeafError,
    TreeIndexError,
    UpdateBlankLeafError,
    UpdatePathShapeError,
)
from hearth_mls.leaf_node import LeafNode
from hearth_mls.tree_nodes import (
    Node,
    NodeType,
    ParentNode,
    ratchet_tree_from_bytes,
    ratchet_tree_to_bytes,
)

TreeNode = LeafNode | ParentNode


class RatchetTree:
    """A ratchet tree of ``2**d`` leaves (RFC 9420 §7)."""

    __slots__ = ("_nodes",)

    def __init__(self, nodes: Sequence[TreeNode | None]) -> None:
        """Build from a full-width node list (``2 * n_leaves - 1`` entries)."""
        width = len(nodes)
        n_leaves = (width + 1) // 2
        if width == 0 or width % 2 == 0 or n_leaves & (n_leaves - 1):
            raise MalformedTreeError(f"{width} nodes is not a perfect binary tree (§7.7)")
        for index, node in enumerate(nodes):
            if node is None:
                continue
            want = LeafNode if index % 2 == 0 else ParentNode
            if not isinstance(node, want):
                raise MalformedTreeError(
                    f"node {index} holds a {type(node).__name__}, expected a {want.__name__}"
                )
        self._nodes: list[TreeNode | None] = list(nodes)

    # -- construction and encoding (§12.4.3.3) ---------------------------------------

    @classmethod
    def with_leaf(cls, leaf: LeafNode) -> RatchetTree:
        """A one-member tree, as a group creator starts (§11)."""
        return cls([leaf])

    @classmethod
    def from_wire(cls, nodes: Sequence[Node | None]) -> RatchetTree:
        """From a decoded ``ratchet_tree``: the last node must be non-blank (§12.4.3.3).

        The list is padded with blanks to the next perfect tree.
        """
        if not nodes:
            raise MalformedTreeError("ratchet_tree is empty")
        if nodes[-1] is None:
            raise MalformedTreeError("ratchet_tree ends with a blank node (§12.4.3.3)")
        values: list[TreeNode | None] = []
        for index, node in enumerate(nodes):
            if node is None:
                values.append(None)
                continue
            expected = NodeType.LEAF if index % 2 == 0 else NodeType.PARENT
            if node.node_type is not expected:
                raise MalformedTreeError(
                    f"node {index} is a {node.node_type.name.lower()}, "
                    f"expected a {expected.name.lower()} (§12.4.3.3)"
                )
            values.append(node.leaf if node.leaf is not None else node.parent)
        n_leaves = tree_math.leaf_count_for((len(values) + 1) // 2)
        values.extend([None] * (tree_math.node_width(n_leaves) - len(values)))
        return cls(values)

    @classmethod
    def from_bytes(cls, data: bytes) -> RatchetTree:
        return cls.from_wire(ratchet_tree_from_bytes(data))

    def to_wire(self) -> list[Node | None]:
        """The ``ratchet_tree`` node list, without trailing blanks (§12.4.3.3)."""
        nodes: list[Node | None] = [
            None
            if value is None
            else Node(leaf=value)
            if isinstance(value, LeafNode)
            else Node(parent=value)
            for value in self._nodes
        ]
        while nodes and nodes[-1] is None:
            nodes.pop()
        return nodes

    def to_bytes(self) -> bytes:
        return ratchet_tree_to_bytes(self.to_wire())

    def copy(self) -> RatchetTree:
        """A copy whose changes do not affect this tree (nodes are immutable)."""
        return RatchetTree(self._nodes)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RatchetTree) and self._nodes == other._nodes

    __hash__ = None  # type: ignore[assignment]  # mutable: not hashable

    def __repr__(self) -> str:
        members = sum(1 for _ in self.occupied_leaves())
        return f"RatchetTree(n_leaves={self.n_leaves}, members={members})"

    # -- access ---------------------------------------------------------------------

    @property
    def n_leaves(self) -> int:
        return (len(self._nodes) + 1) // 2

    @property
    def width(self) -> int:
        return len(self._nodes)

    @property
    def root(self) -> int:
        return tree_math.root(self.n_leaves)

    def _check(self, x: int) -> None:
        if not 0 <= x < len(self._nodes):
            raise TreeIndexError(f"node {x} is outside a tree of {self.n_leaves} leaves")

    def node(self, x: int) -> TreeNode | None:
        self._check(x)
        return self._nodes[x]

    def is_blank(self, x: int) -> bool:
        return self.node(x) is None

    def leaf(self, leaf_index: int) -> LeafNode | None:
        """The LeafNode at ``leaf_index``, or None if blank or beyond the tree."""
        if not 0 <= leaf_index < self.n_leaves:
            return None
        node = self._nodes[2 * leaf_index]
        assert node is None or isinstance(node, LeafNode)
        return node

    def parent(self, x: int) -> ParentNode | None:
        node = self.node(x)
        if x % 2 == 0:
            raise TreeIndexError(f"node {x} is a leaf, not a parent")
        assert node is None or isinstance(node, ParentNode)
        return node

    def occupied_leaves(self) -> Iterator[tuple[int, LeafNode]]:
        """``(leaf_index, LeafNode)`` for every non-blank leaf, left to right."""
        for leaf_index in range(self.n_leaves):
            node = self._nodes[2 * leaf_index]
            if node is not None:
                assert isinstance(node, LeafNode)
                yield leaf_index, node

    def parents(self) -> Iterator[tuple[int, ParentNode]]:
        """``(node_index, ParentNode)`` for every non-blank parent node."""
        for x in range(1, len(self._nodes), 2):
            node = self._nodes[x]
            if node is not None:
                assert isinstance(node, ParentNode)
                yield x, node

    # -- paths (§4.1) -----------------------------------------------------------------

    def resolution(self, x: int) -> list[int]:
        """Node indices of the resolution of node ``x`` (§4.1.1)."""
        node = self.node(x)
        if node is not None:
            if isinstance(node, ParentNode):
                return [x, *(2 * leaf for leaf in node.unmerged_leaves)]
            return [x]
        if tree_math.is_leaf(x):
            return []
        return self.resolution(tree_math.left(x)) + self.resolution(tree_math.right(x))

    def direct_path(self, leaf_index: int) -> list[int]:
        return tree_math.direct_path(2 * leaf_index, self.n_leaves)

    def copath(self, leaf_index: int) -> list[int]:
        return tree_math.copath(2 * leaf_index, self.n_leaves)

    def filtered_path(self, leaf_index: int) -> list[tuple[int, int]]:
        """``(parent, copath child)`` pairs of the filtered direct path (§4.1.2).

        The direct path minus nodes whose copath child has an empty resolution.
        """
        n = self.n_leaves
        x = 2 * leaf_index
        return [
            (parent, child)
            for parent, child in zip(
                tree_math.direct_path(x, n), tree_math.copath(x, n), strict=True
            )
            if self.resolution(child)
        ]

    def filtered_direct_path(self, leaf_index: int) -> list[int]:
        """The parents of :meth:`filtered_path` (§4.1.2)."""
        return [parent for parent, _child in self.filtered_path(leaf_index)]

    # -- hashes (§7.8, §7.9) --------------------------------------------------------------

    def tree_hash(self) -> bytes:
        """The tree hash of the root, as in ``GroupContext.tree_hash`` (§7.8)."""
        return self.subtree_hash(self.root)

    def subtree_hash(self, x: int, excluded: frozenset[int] = frozenset()) -> bytes:
        """Tree hash of node ``x`` (§7.8), with the leaves in ``excluded`` blanked
        and dropped from every ``unmerged_leaves`` list (for §7.9's original sibling)."""
        self._check(x)
        return self._hash(x, excluded)

    def tree_hashes(self) -> list[bytes]:
        """The tree hash of every node, computed once bottom-up (§7.8)."""
        hashes: list[bytes] = [b""] * len(self._nodes)
        for k in range(tree_math.log2(self.n_leaves) + 1):
            step = 1 << (k + 1)
            for x in range((1 << k) - 1, len(self._nodes), step):
                if k == 0:
                    hashes[x] = self._leaf_hash(x, frozenset())
                else:
                    half = 1 << (k - 1)
                    hashes[x] = self._parent_hash_input(
                        x, frozenset(), hashes[x - half], hashes[x + half]
                    )
        return hashes

    def _leaf_hash(self, x: int, excluded: frozenset[int]) -> bytes:
        leaf_index = x // 2
        node = None if leaf_index in excluded else self._nodes[x]
        assert node is None or isinstance(node, LeafNode)
        return _leaf_tree_hash(leaf_index, node)

    def _parent_hash_input(
        self, x: int, excluded: frozenset[int], left_hash: bytes, right_hash: bytes
    ) -> bytes:
        node = self._nodes[x]
        if isinstance(node, ParentNode) and excluded.intersection(node.unmerged_leaves):
            kept = tuple(leaf for leaf in node.unmerged_leaves if leaf not in excluded)
            node = replace(node, unmerged_leaves=kept)
        w = Writer().uint8(NodeType.PARENT)
        w.optional(node, lambda w2, n: n.encode(w2))
        w.opaque(left_hash).opaque(right_hash)
        return suite.digest(w.getvalue())

    def _hash(self, x: int, excluded: frozenset[int]) -> bytes:
        if tree_math.is_leaf(x):
            return self._leaf_hash(x, excluded)
        return self._parent_hash_input(
            x,
            excluded,
            self._hash(tree_math.left(x), excluded),
            self._hash(tree_math.right(x), excluded),
        )

    def original_sibling_tree_hash(self, p: int, s: int) -> bytes:
        """Tree hash of ``s`` with ``p``'s unmerged leaves blanked (§7.9)."""
        node = self.parent(p)
        excluded = frozenset(node.unmerged_leaves) if node is not None else frozenset()
        return self.subtree_hash(s, excluded)

    def parent_hash(self, p: int, s: int) -> bytes:
        """The parent hash of non-blank parent ``p`` with copath child ``s`` (§7.9)."""
        node = self.parent(p)
        if node is None:
            raise TreeIndexError(f"parent node {p} is blank; it has no parent hash")
        w = Writer().opaque(node.encryption_key).opaque(node.parent_hash)
        w.opaque(self.original_sibling_tree_hash(p, s))
        return suite.digest(w.getvalue())

    # -- structural changes (§7.7) ---------------------------------------------------

    def set_leaf(self, leaf_index: int, leaf: LeafNode | None) -> None:
        self._check(2 * leaf_index)
        self._nodes[2 * leaf_index] = leaf

    def set_parent(self, x: int, node: ParentNode | None) -> None:
        self._check(x)
        if x % 2 == 0:
            raise TreeIndexError(f"node {x} is a leaf, not a parent")
        self._nodes[x] = node

    def blank_direct_path(self, leaf_index: int) -> None:
        """Blank every parent node above ``leaf_index`` (§12.1.2, §12.1.3)."""
        for x in self.direct_path(leaf_index):
            self._nodes[x] = None

    def extend(self) -> None:
        """Double the leaves: a new blank root over the old tree and a blank subtree (§7.7)."""
        self._nodes.extend([None] * (len(self._nodes) + 1))

    def truncate(self) -> None:
        """Drop right halves while they hold no non-blank leaf (§7.7, §12.1.3)."""
        while self.n_leaves > 1:
            half = self.n_leaves // 2
            if any(self._nodes[2 * leaf] is not None for leaf in range(half, self.n_leaves)):
                return
            del self._nodes[len(self._nodes) // 2 :]

    # -- proposals (§12.1.1-§12.1.3) --------------------------------------------------

    def leftmost_blank_leaf(self) -> int:
        """Where an Add puts its leaf: the leftmost blank leaf, else ``n_leaves`` (§7.7)."""
        return next((i for i in range(self.n_leaves) if self._nodes[2 * i] is None), self.n_leaves)

    def add_leaf(self, leaf: LeafNode) -> int:
        """Place a new member in the leftmost blank leaf, extending if full (§12.1.1).

        Returns the new member's leaf index; it becomes unmerged at every
        non-blank parent above it.
        """
        leaf_index = self.leftmost_blank_leaf()
        if leaf_index == self.n_leaves:
            self.extend()
        for x in self.direct_path(leaf_index):
            node = self._nodes[x]
            if node is not None:
                assert isinstance(node, ParentNode)
                merged = (*node.unmerged_leaves, leaf_index)
                self._nodes[x] = replace(node, unmerged_leaves=merged)
        self._nodes[2 * leaf_index] = leaf
        return leaf_index

    def update_leaf(self, leaf_index: int, leaf: LeafNode) -> None:
        """Replace a member's leaf and blank its direct path (§12.1.2)."""
        if self.leaf(leaf_index) is None:
            raise UpdateBlankLeafError(f"leaf {leaf_index} is blank or outside the tree")
        self._nodes[2 * leaf_index] = leaf
        self.blank_direct_path(leaf_index)

    def remove_leaf(self, leaf_index: int) -> None:
        """Blank a member's leaf and its direct path, then truncate (§12.1.3)."""
        if self.leaf(leaf_index) is None:
            raise RemoveBlankLeafError(f"leaf {leaf_index} is blank or outside the tree")
        self._nodes[2 * leaf_index] = None
        self.blank_direct_path(leaf_index)
        self.truncate()

    # -- merging an UpdatePath's public keys (§7.5, §7.9) ---------------------------------

    def merge_path_keys(self, leaf_index: int, public_keys: Sequence[bytes]) -> bytes:
        """Put new keys on ``leaf_index``'s filtered direct path; return the leaf's parent hash.

        Blanks the direct path, sets each filtered-direct-path node to a fresh
        ParentNode (no unmerged leaves), then computes parent hashes from the
        root down (§7.5, §7.9). Both the committer and the receivers use this.
        """
        if self.leaf(leaf_index) is None:
            raise UpdateBlankLeafError(f"leaf {leaf_index} is blank or outside the tree")
        path = self.filtered_path(leaf_index)
        if len(public_keys) != len(path):
            raise UpdatePathShapeError(
                f"{len(public_keys)} path nodes for a filtered direct path of {len(path)}"
            )
        self.blank_direct_path(leaf_index)
        for (x, _child), key in zip(path, public_keys, strict=True):
            self._nodes[x] = ParentNode(key)
        parent_hash = b""  # the root's parent_hash is empty (§7.9)
        for p, copath_child in reversed(path):
            node = self._nodes[p]
            assert isinstance(node, ParentNode)
            self._nodes[p] = replace(node, parent_hash=parent_hash)
            parent_hash = self.parent_hash(p, copath_child)
        return parent_hash

    def apply_update_path(self, sender: int, update_path: UpdatePath) -> None:
        """Merge a received UpdatePath's public part into the tree (§7.5, §7.9.2).

        Checks that the new leaf's ``parent_hash`` is the one the path gives;
        on any error the tree is left as it was. Leaf validation (§7.3) and
        path secret decryption are the caller's.
        """
        before = list(self._nodes)
        keys = [node.encryption_key for node in update_path.nodes]
        try:
            expected = self.merge_path_keys(sender, keys)
            if update_path.leaf_node.parent_hash != expected:
                raise CommitParentHashError(
                    f"leaf {sender}: the new leaf's parent_hash does not match its UpdatePath"
                )
        except BaseException:
            self._nodes = before
            raise
        self._nodes[2 * sender] = update_path.leaf_node


@functools.lru_cache(maxsize=4096)
def _leaf_tree_hash(leaf_index: int, leaf: LeafNode | None) -> bytes:
    """``Hash(TreeHashInput)`` of a leaf (§7.8); memoized, as leaves rarely change."""
    w = Writer().uint8(NodeType.LEAF).uint32(leaf_index)
    w.optional(leaf, lambda w2, n: n.encode(w2))
    return suite.digest(w.getvalue())
