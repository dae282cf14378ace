"""Random identifiers and secrets, and their hashes (protocol.md §2.3, §4.2).

Room and invite ids are 128-bit random values, invite secrets 256-bit, all written
as unpadded URL-safe base64 (RFC 4648 §5). The server keeps only the SHA-256 of an
invite secret.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

ROOM_ID_BYTES = 16
INVITE_ID_BYTES = 16
INVITE_SECRET_BYTES = 32


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def new_room_id() -> str:
    """A fresh room id: 128 random bits, 22 URL-safe base64 characters."""
    return _b64url(secrets.token_bytes(ROOM_ID_BYTES))


def new_invite_id() -> str:
    """A fresh public invite id (used to revoke an invite): 128 random bits."""
    return _b64url(secrets.token_bytes(INVITE_ID_BYTES))


def new_invite_secret() -> str:
    """A fresh invite secret: 256 random bits, 43 URL-safe base64 characters."""
    return _b64url(secrets.token_bytes(INVITE_SECRET_BYTES))


def invite_secret_hash(secret: str) -> bytes:
    """SHA-256 of the invite secret's ASCII text: the only form the server stores."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def log_tag(value: str | bytes) -> str:
    """A short one-way tag for logs (12 hex digits of SHA-256), never the value itself."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(b"hearth-log-tag\x00" + raw).hexdigest()[:12]
