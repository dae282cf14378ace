"""Credentials (RFC 9420 §5.3)."""

from __future__ import annotations

import pytest

from hearth_mls.credential import Credential, CredentialType
from hearth_mls.errors import DecodeError, UsageError


def test_basic_round_trip_and_encoding() -> None:
    cred = Credential.basic(b"alice")
    assert cred.to_bytes() == bytes.fromhex("0001") + b"\x05alice"
    assert Credential.from_bytes(cred.to_bytes()) == cred


def test_x509_chain_round_trip() -> None:
    cred = Credential.x509([b"leaf-der", b"ca-der"])
    decoded = Credential.from_bytes(cred.to_bytes())
    assert decoded.credential_type is CredentialType.X509
    assert decoded.certificates is not None
    assert [c.cert_data for c in decoded.certificates] == [b"leaf-der", b"ca-der"]


def test_unknown_credential_type_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown CredentialType 3"):
        Credential.from_bytes(b"\x00\x03\x00")


def test_inconsistent_credential_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="basic"):
        Credential(CredentialType.BASIC)
    with pytest.raises(UsageError, match="x509"):
        Credential(CredentialType.X509, identity=b"x")
