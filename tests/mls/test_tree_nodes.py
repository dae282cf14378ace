"""Ratchet tree nodes and the ratchet_tree extension encoding (RFC 9420 §7.1, §12.4.3.3)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError, UsageError
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.tree_nodes import (
    Node,
    NodeType,
    ParentNode,
    ratchet_tree_from_bytes,
    ratchet_tree_to_bytes,
)
from tests.mls import samples


def test_tree_with_blanks_round_trips() -> None:
    nodes: list[Node | None] = [
        Node(leaf=samples.leaf(LeafNodeSource.COMMIT)),
        Node(parent=ParentNode(b"K" * 32, b"H" * 32, (2,))),
        None,
    ]
    data = ratchet_tree_to_bytes(nodes)
    assert ratchet_tree_from_bytes(data) == nodes
    assert nodes[1] is not None
    assert nodes[1].node_type is NodeType.PARENT


def test_vector_tree_round_trips() -> None:
    data = samples.message_field("ratchet_tree")
    assert ratchet_tree_to_bytes(ratchet_tree_from_bytes(data)) == data


def test_unknown_node_type_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown NodeType 3") as info:
        ratchet_tree_from_bytes(b"\x02\x01\x03")
    assert info.value.struct == "Node"


def test_bad_optional_presence_rejected() -> None:
    with pytest.raises(DecodeError, match="presence octet is 2"):
        ratchet_tree_from_bytes(b"\x01\x02")


def test_node_is_leaf_or_parent() -> None:
    with pytest.raises(UsageError):
        Node()
    with pytest.raises(UsageError):
        Node(leaf=samples.leaf(), parent=ParentNode(b"k"))
