"""Anonymous authentication: Ed25519 over a domain-separated challenge (protocol.md §3.2).

The signed message (the *transcript*) is exactly these 110 bytes::

    b"hearth-auth-v1"    14 bytes, domain separation
    ds_key               32 bytes, the server's Ed25519 key from server_hello (names the server)
    nonce                32 bytes, this connection's challenge from server_hello
    identity             32 bytes, the Ed25519 public key being authenticated

Every part has a fixed length, so the concatenation is unambiguous. ``ds_key`` binds
the signature to one server: a client pins it per server profile and refuses a
``server_hello`` whose key differs, so a server that relays another server's
challenge cannot make the client sign for that other server (protocol.md §3.2).

Ed25519 is RFC 8032 (pure Ed25519, no prehash, no context), from ``cryptography``.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from hearth_core.errors import AuthError

AUTH_CONTEXT = b"hearth-auth-v1"
NONCE_BYTES = 32
KEY_BYTES = 32
TRANSCRIPT_BYTES = len(AUTH_CONTEXT) + KEY_BYTES + NONCE_BYTES + KEY_BYTES


def auth_transcript(*, ds_key: bytes, nonce: bytes, identity: bytes) -> bytes:
    """The exact bytes an identity signs to authenticate (protocol.md §3.2).

    ``ds_key`` and ``nonce`` are the ``server_hello`` fields of this connection;
    ``identity`` is the raw Ed25519 public key being authenticated. Raise
    ``ValueError`` (the caller's fault) unless each is 32 bytes.
    """
    for name, value in (("ds_key", ds_key), ("nonce", nonce), ("identity", identity)):
        if len(value) != 32:
            raise ValueError(f"{name} must be 32 bytes, not {len(value)}")
    return AUTH_CONTEXT + ds_key + nonce + identity


def public_identity(key: Ed25519PrivateKey) -> bytes:
    """The raw 32-byte public key of ``key``: the identity on the wire."""
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def sign_challenge(key: Ed25519PrivateKey, *, ds_key: bytes, nonce: bytes) -> tuple[bytes, bytes]:
    """Return ``(identity, signature)`` answering ``server_hello`` (client side, §3.2).

    ``ds_key`` MUST be the server key the client pinned for this server, which it
    checked equals ``server_hello.ds_key``.
    """
    identity = public_identity(key)
    return identity, key.sign(auth_transcript(ds_key=ds_key, nonce=nonce, identity=identity))


def verify_challenge(*, ds_key: bytes, nonce: bytes, identity: bytes, signature: bytes) -> None:
    """Raise ``AuthError`` unless ``signature`` proves ``identity`` for this server's
    ``ds_key`` and this connection's ``nonce`` (server side, protocol.md §3.2)."""
    try:
        public = Ed25519PublicKey.from_public_bytes(identity)
        public.verify(signature, auth_transcript(ds_key=ds_key, nonce=nonce, identity=identity))
    except (InvalidSignature, ValueError) as exc:
        raise AuthError("signature does not verify") from exc
