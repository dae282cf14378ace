"""Ratchet tree nodes on the wire (RFC 9420 §7.1, §7.2, §12.4.3.3).

A :class:`Node` is a leaf (:class:`~hearth_mls.leaf_node.LeafNode`) or a
:class:`ParentNode`; a whole tree travels as ``optional<Node> ratchet_tree<V>``
(the ``ratchet_tree`` extension, §12.4.3.3), where ``None`` is a blank node.
:func:`decode_ratchet_tree` only parses; the shape checks (odd length, leaves at
even indices, no trailing blank) belong to
:class:`hearth_mls.ratchet_tree.RatchetTree`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.errors import UsageError
from hearth_mls.leaf_node import LeafNode
from hearth_mls.wire import HPKEPublicKey, WireStruct, decode_enum, get_uint32, put_uint32


class NodeType(IntEnum):
    """``enum { leaf(1), parent(2) } NodeType`` (§7.8)."""

    LEAF = 1
    PARENT = 2


@dataclass(frozen=True, slots=True)
class ParentNode(WireStruct):
    """A parent's public key, parent hash and unmerged leaves (§7.1)."""

    encryption_key: HPKEPublicKey
    parent_hash: bytes = b""
    unmerged_leaves: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        w.opaque(self.encryption_key).opaque(self.parent_hash)
        w.vector(self.unmerged_leaves, put_uint32)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ParentNode:
        return cls(r.opaque(), r.opaque(), tuple(r.vector(get_uint32)))


@dataclass(frozen=True, slots=True)
class Node(WireStruct):
    """``struct { NodeType node_type; select ... } Node`` (§12.4.3.3): one of the two is set."""

    leaf: LeafNode | None = None
    parent: ParentNode | None = None

    def __post_init__(self) -> None:
        if (self.leaf is None) == (self.parent is None):
            raise UsageError("a node is either a leaf or a parent")

    @property
    def node_type(self) -> NodeType:
        return NodeType.LEAF if self.leaf is not None else NodeType.PARENT

    def encode(self, w: Writer) -> None:
        if self.leaf is not None:
            w.uint8(NodeType.LEAF)
            self.leaf.encode(w)
        elif self.parent is not None:
            w.uint8(NodeType.PARENT)
            self.parent.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Node:
        kind = decode_enum(r, NodeType, r.uint8())
        if kind is NodeType.LEAF:
            return cls(leaf=LeafNode.decode(r))
        return cls(parent=ParentNode.decode(r))


def _put_optional_node(w: Writer, node: Node | None) -> None:
    w.optional(node, lambda w2, n: n.encode(w2))


def _get_optional_node(r: Reader) -> Node | None:
    return r.optional(Node.decode)


def encode_ratchet_tree(w: Writer, nodes: list[Node | None] | tuple[Node | None, ...]) -> None:
    """``optional<Node> ratchet_tree<V>`` (§12.4.3.3)."""
    w.vector(nodes, _put_optional_node)


def decode_ratchet_tree(r: Reader) -> list[Node | None]:
    outer = r.struct
    r.struct = "ratchet_tree"
    try:
        return r.vector(_get_optional_node)
    finally:
        r.struct = outer


def ratchet_tree_to_bytes(nodes: list[Node | None] | tuple[Node | None, ...]) -> bytes:
    w = Writer()
    encode_ratchet_tree(w, nodes)
    return w.getvalue()


def ratchet_tree_from_bytes(data: bytes) -> list[Node | None]:
    return decode_exact(data, "ratchet_tree", decode_ratchet_tree)
