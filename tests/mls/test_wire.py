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
