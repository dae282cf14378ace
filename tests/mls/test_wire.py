"""The wire-struct base (``hearth_mls.wire``) and struct-level strictness rules."""

from __future__ import annotations

import pytest

from hearth_mls.codec import Reader
from hearth_mls.credential import Credential
from hearth_mls.errors import DecodeError
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.wire import decode_enum
from tests.mls import samples


def test_trailing_bytes_name_the_struct() -> None:
    data = samples.leaf().to_bytes() + b"\x00"
    with pytest.raises(DecodeError, match="trailing") as info:
        LeafNode.from_bytes(data)
    assert info.value.struct == "LeafNode"


def test_error_names_the_innermost_struct() -> None:
    data = bytearray(samples.leaf().to_bytes())
    # encryption_key<V> and signature_key<V> come first (1 + 32 bytes each); then the
    # Credential's type: make it an unknown type.
    data[66:68] = b"\x00\x09"
    with pytest.raises(DecodeError, match="unknown CredentialType 9") as info:
        LeafNode.from_bytes(bytes(data))
    assert info.value.struct == "Credential"


def test_decode_enum_rejects_unknown_value() -> None:
    with pytest.raises(DecodeError, match="unknown LeafNodeSource 0"):
        decode_enum(Reader(b"", "x"), LeafNodeSource, 0)


def test_truncation_is_a_decode_error() -> None:
    data = Credential.basic(b"bob").to_bytes()
    with pytest.raises(DecodeError, match="needs"):
        Credential.from_bytes(data[:-1])


def test_signed_structs_sign_their_tbs_with_their_own_label() -> None:
    """SignedStruct.signed is SignWithLabel over to_be_signed() (RFC 9420 §5.1.2)."""
    from dataclasses import replace

    from hearth_mls import suite
    from hearth_mls.errors import SignatureError
    from hearth_mls.group_info import GroupInfo

    priv, pub = suite.generate_signature_key_pair()
    kp = replace(samples.key_package(), signature=b"").signed(priv)
    suite.verify_with_label(pub, "KeyPackageTBS", kp.to_be_signed(), kp.signature)
    info = GroupInfo(samples.group_context(), b"tag", 0).signed(priv)
    suite.verify_with_label(pub, "GroupInfoTBS", info.to_be_signed(), info.signature)
    assert GroupInfo.from_bytes(info.to_bytes()) == info
    update = samples.leaf(LeafNodeSource.UPDATE).signed(priv, b"group", 3)
    suite.verify_with_label(pub, "LeafNodeTBS", update.to_be_signed(b"group", 3), update.signature)
    with pytest.raises(SignatureError):
        suite.verify_with_label(
            pub, "LeafNodeTBS", update.to_be_signed(b"group", 4), update.signature
        )
