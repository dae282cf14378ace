"""Sample wire structs for the struct tests: small, valid, and easy to tweak."""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from hearth_mls.credential import Credential
from hearth_mls.extensions import Extension, GroupContext
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from tests.conftest import VECTORS

CAPS = Capabilities(
    versions=(1,),
    cipher_suites=(1, 0x0A0A),  # 0x0A0A is a GREASE value (RFC 9420 §13.5)
    extensions=(0x1A1A,),
    proposals=(),
    credentials=(1,),
)


def leaf(source: LeafNodeSource = LeafNodeSource.KEY_PACKAGE, key: bytes = b"E" * 32) -> LeafNode:
    return LeafNode(
        encryption_key=key,
        signature_key=b"S" * 32,
        credential=Credential.basic(b"alice"),
        capabilities=CAPS,
        leaf_node_source=source,
        extensions=(Extension(0x1A1A, b"grease"),),
        signature=b"sig",
        lifetime=Lifetime(0, 2**64 - 1) if source is LeafNodeSource.KEY_PACKAGE else None,
        parent_hash=b"P" * 32 if source is LeafNodeSource.COMMIT else None,
    )


def key_package() -> KeyPackage:
    return KeyPackage(1, b"I" * 32, leaf(), (Extension(0x0A0A, b""),), b"kp-sig")


def group_context() -> GroupContext:
    return GroupContext(b"group", 7, b"T" * 32, b"C" * 32, (Extension(3, b"\x00\x00\x00"),))


@cache
def _messages() -> list[dict[str, Any]]:
    data: list[dict[str, Any]] = json.loads((VECTORS / "messages.json").read_text())
    return data


def message_field(name: str, index: int = 0) -> bytes:
    """One field of one ``messages.json`` entry (valid bytes for mutation tests)."""
    return bytes.fromhex(_messages()[index][name])
