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


def signed_leaf(
    source: LeafNodeSource = LeafNodeSource.KEY_PACKAGE,
    *,
    group_id: bytes = b"group",
    leaf_index: int = 0,
    capabilities: Capabilities | None = None,
    extensions: tuple[Extension, ...] = (),
    credential: Credential | None = None,
    encryption_key: bytes | None = None,
    lifetime: Lifetime | None = None,
) -> LeafNode:
    """A LeafNode with fresh keys and a real Ed25519 signature (RFC 9420 §7.2)."""
    from hearth_mls import suite

    private, public = suite.generate_signature_key_pair()
    if encryption_key is None:
        encryption_key = suite.generate_hpke_key_pair()[1]
    is_kp = source is LeafNodeSource.KEY_PACKAGE
    unsigned = LeafNode(
        encryption_key=encryption_key,
        signature_key=public,
        credential=credential or Credential.basic(b"member"),
        capabilities=capabilities or Capabilities((1,), (1,), (), (), (1,)),
        leaf_node_source=source,
        extensions=extensions,
        lifetime=(lifetime or Lifetime(0, 2**64 - 1)) if is_kp else None,
        parent_hash=b"" if source is LeafNodeSource.COMMIT else None,
    )
    tbs = unsigned.to_be_signed() if is_kp else unsigned.to_be_signed(group_id, leaf_index)
    return unsigned.with_signature(suite.sign_with_label(private, "LeafNodeTBS", tbs))
