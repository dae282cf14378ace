"""hearth_core.auth: the domain-separated challenge bound to the server (protocol.md §3.2)."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_core.auth import (
    TRANSCRIPT_BYTES,
    auth_transcript,
    public_identity,
    sign_challenge,
    verify_challenge,
)
from hearth_core.errors import AuthError

DS_KEY = bytes(range(64, 96))


def test_transcript_is_exactly_context_ds_key_nonce_identity() -> None:
    nonce, identity = bytes(range(32)), bytes(range(32, 64))
    transcript = auth_transcript(ds_key=DS_KEY, nonce=nonce, identity=identity)
    assert transcript == b"hearth-auth-v1" + DS_KEY + nonce + identity
    assert len(transcript) == TRANSCRIPT_BYTES == 110


def test_a_fresh_signature_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    nonce = secrets.token_bytes(32)
    identity, signature = sign_challenge(key, ds_key=DS_KEY, nonce=nonce)
    assert identity == public_identity(key)
    verify_challenge(ds_key=DS_KEY, nonce=nonce, identity=identity, signature=signature)


def test_signature_for_another_nonce_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    identity, signature = sign_challenge(key, ds_key=DS_KEY, nonce=secrets.token_bytes(32))
    with pytest.raises(AuthError):
        verify_challenge(
            ds_key=DS_KEY, nonce=secrets.token_bytes(32), identity=identity, signature=signature
        )


def test_signature_for_another_server_is_refused() -> None:
    """A challenge relayed from another server (another ds_key) does not verify here."""
    key = Ed25519PrivateKey.generate()
    nonce = secrets.token_bytes(32)
    identity, signature = sign_challenge(key, ds_key=secrets.token_bytes(32), nonce=nonce)
    with pytest.raises(AuthError):
        verify_challenge(ds_key=DS_KEY, nonce=nonce, identity=identity, signature=signature)


def test_signature_for_another_identity_is_refused() -> None:
    nonce = secrets.token_bytes(32)
    _, signature = sign_challenge(Ed25519PrivateKey.generate(), ds_key=DS_KEY, nonce=nonce)
    other = public_identity(Ed25519PrivateKey.generate())
    with pytest.raises(AuthError):
        verify_challenge(ds_key=DS_KEY, nonce=nonce, identity=other, signature=signature)


def test_signature_without_domain_separation_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    nonce = secrets.token_bytes(32)
    identity = public_identity(key)
    signature = key.sign(DS_KEY + nonce + identity)
    with pytest.raises(AuthError):
        verify_challenge(ds_key=DS_KEY, nonce=nonce, identity=identity, signature=signature)


@pytest.mark.parametrize("field", ["ds_key", "nonce", "identity"])
def test_wrong_lengths_are_caller_errors(field: str) -> None:
    parts = {"ds_key": DS_KEY, "nonce": bytes(32), "identity": bytes(32)}
    parts[field] = b"short"
    with pytest.raises(ValueError, match=f"{field} must be 32 bytes, not 5"):
        auth_transcript(**parts)
