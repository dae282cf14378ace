"""hearth_core.auth: the domain-separated challenge (protocol.md §3.2)."""

from __future__ import annotations

import secrets

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_core.auth import auth_transcript, public_identity, sign_challenge, verify_challenge
from hearth_core.errors import AuthError


def test_transcript_is_exactly_context_nonce_identity() -> None:
    nonce, identity = bytes(range(32)), bytes(range(32, 64))
    assert auth_transcript(nonce, identity) == b"hearth-auth-v1" + nonce + identity
    assert len(auth_transcript(nonce, identity)) == 78


def test_a_fresh_signature_verifies() -> None:
    key = Ed25519PrivateKey.generate()
    nonce = secrets.token_bytes(32)
    identity, signature = sign_challenge(key, nonce)
    assert identity == public_identity(key)
    verify_challenge(identity, nonce, signature)


def test_signature_for_another_nonce_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    identity, signature = sign_challenge(key, secrets.token_bytes(32))
    with pytest.raises(AuthError):
        verify_challenge(identity, secrets.token_bytes(32), signature)


def test_signature_for_another_identity_is_refused() -> None:
    nonce = secrets.token_bytes(32)
    _, signature = sign_challenge(Ed25519PrivateKey.generate(), nonce)
    other = public_identity(Ed25519PrivateKey.generate())
    with pytest.raises(AuthError):
        verify_challenge(other, nonce, signature)


def test_signature_without_domain_separation_is_refused() -> None:
    key = Ed25519PrivateKey.generate()
    nonce = secrets.token_bytes(32)
    identity = public_identity(key)
    with pytest.raises(AuthError):
        verify_challenge(identity, nonce, key.sign(nonce + identity))


def test_wrong_lengths_are_caller_errors() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        auth_transcript(b"short", bytes(32))
