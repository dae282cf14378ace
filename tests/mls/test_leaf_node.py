"""Leaf nodes, capabilities and LeafNodeTBS (RFC 9420 §7.2)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError, UsageError
from hearth_mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from tests.mls import samples


@pytest.mark.parametrize("source", list(LeafNodeSource))
def test_round_trip_each_source(source: LeafNodeSource) -> None:
    node = samples.leaf(source)
    assert LeafNode.from_bytes(node.to_bytes()) == node


def test_grease_values_survive_capabilities() -> None:
    caps = Capabilities((1, 0xFAFA), (0x2A2A,), (0x3A3A,), (0x4A4A,), (0x5A5A,))
    assert Capabilities.from_bytes(caps.to_bytes()) == caps


def test_tbs_binds_group_for_update_and_commit() -> None:
    node = samples.leaf(LeafNodeSource.UPDATE)
    tbs = node.to_be_signed(b"group", 3)
    body = node.to_bytes()[: -len(b"\x03sig")]
    assert tbs == body + b"\x05group" + (3).to_bytes(4, "big")
    with pytest.raises(UsageError, match="group_id and leaf_index"):
        node.to_be_signed()


def test_tbs_of_key_package_leaf_has_no_group() -> None:
    node = samples.leaf()
    assert node.to_be_signed() == node.to_bytes()[: -len(b"\x03sig")]
    with pytest.raises(UsageError, match="without group context"):
        node.to_be_signed(b"g", 0)


def test_with_signature_replaces_only_the_signature() -> None:
    node = samples.leaf().with_signature(b"new")
    assert node.signature == b"new"
    assert node.to_be_signed() == samples.leaf().to_be_signed()


def test_unknown_leaf_node_source_rejected() -> None:
    node = samples.leaf(LeafNodeSource.UPDATE)
    data = bytearray(node.to_bytes())
    # keys (1 + 32 each), then the credential and the capabilities, then the source.
    source_at = 66 + len(node.credential.to_bytes()) + len(node.capabilities.to_bytes())
    assert data[source_at] == LeafNodeSource.UPDATE
    data[source_at] = 9
    with pytest.raises(DecodeError, match="unknown LeafNodeSource 9") as info:
        LeafNode.from_bytes(bytes(data))
    assert info.value.struct == "LeafNode"


def test_source_fields_must_match() -> None:
    base = samples.leaf(LeafNodeSource.UPDATE)
    with pytest.raises(UsageError, match="lifetime"):
        LeafNode(
            base.encryption_key,
            base.signature_key,
            base.credential,
            base.capabilities,
            LeafNodeSource.UPDATE,
            lifetime=Lifetime(0, 1),
        )
    with pytest.raises(UsageError, match="parent hash"):
        LeafNode(
            base.encryption_key,
            base.signature_key,
            base.credential,
            base.capabilities,
            LeafNodeSource.COMMIT,
        )


def test_duplicate_extension_type_rejected() -> None:
    from dataclasses import replace

    from hearth_mls.extensions import Extension

    node = replace(samples.leaf(), extensions=(Extension(7, b"a"), Extension(7, b"b")))
    with pytest.raises(DecodeError, match="extension type 7 appears twice") as info:
        LeafNode.from_bytes(node.to_bytes())
    assert info.value.struct == "LeafNode"
