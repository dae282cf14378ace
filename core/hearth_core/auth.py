"""Anonymous authentication: Ed25519 over a domain-separated challenge (protocol.md §3.2).

The signed message is exactly::

    b"hearth-auth-v1" || nonce (32 bytes, server_hello) || identity (32-byte Ed25519 key)

Ed25519 is RFC 8032 (pure Ed25519, no prehash, no context), from ``cryptography``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hearth_core.errors import AuthError

AUTH_CONTEXT = b"hearth-auth-v1"
NONCE_BYTES = 32


def auth_transcript(nonce: bytes, identity: bytes) -> bytes:
    """The exact bytes an identity signs to authenticate (protocol.md §3.2)."""
    if len(nonce) != NONCE_BYTES or len(identity) != 32:
        raise ValueError("nonce and identity must be 32 bytes each")
    return AUTH_CONTEXT + nonce + identity


def public_identity(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``key``: the identity on the wire."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_challenge(key: Ed25519PrivateKey, nonce: bytes) -> tuple[bytes, bytes]:
    """Return ``(identity, signature)`` answering the server's ``nonce`` (client side)."""
    identity = public_identity(key)
    return identity, key.sign(auth_transcript(nonce, identity))


def verify_challenge(identity: bytes, nonce: bytes, signature: bytes) -> None:
    """Raise ``AuthError`` unless ``signature`` proves ``identity`` for ``nonce`` (server side)."""
    try:
        public = Ed25519PublicKey.from_public_bytes(identity)
        public.verify(signature, auth_transcript(nonce, identity))
    except (InvalidSignature, ValueError) as exc:
        raise AuthError("signature does not verify") from exc
