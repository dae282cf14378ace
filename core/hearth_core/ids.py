"""Random identifiers and secrets, and their hashes (protocol.md §2.3, §4.2).

Room and invite ids are 128-bit random values, invite secrets 256-bit, all written
as unpadded URL-safe base64 (RFC 4648 §5). The server keeps only the SHA-256 of an
invite secret.

None of them begins with ``-``: a value drawn that would is drawn again (less than
0.03 bits of entropy lost), so a command line never mistakes an id or an invite
code for an option.
"""

from __future__ import annotations

import base64
import hashlib
import secrets

ROOM_ID_BYTES = 16
INVITE_ID_BYTES = 16
INVITE_SECRET_BYTES = 32


def _token(size: int) -> str:
    """``size`` random bytes as unpadded URL-safe base64, never beginning with ``-``."""
    while True:
        text = base64.urlsafe_b64encode(secrets.token_bytes(size)).rstrip(b"=").decode("ascii")
        if not text.startswith("-"):
            return text


def new_room_id() -> str:
    """A fresh room id: 128 random bits, 22 URL-safe base64 characters."""
    return _token(ROOM_ID_BYTES)


def new_invite_id() -> str:
    """A fresh public invite id (used to revoke an invite): 128 random bits."""
    return _token(INVITE_ID_BYTES)


def new_invite_secret() -> str:
    """A fresh invite secret: 256 random bits, 43 URL-safe base64 characters."""
    return _token(INVITE_SECRET_BYTES)


def invite_secret_hash(secret: str) -> bytes:
    """SHA-256 of the invite secret's ASCII text: the only form the server stores."""
    return hashlib.sha256(secret.encode("ascii")).digest()


def log_tag(value: str | bytes) -> str:
    """A short one-way tag for logs (12 hex digits of SHA-256), never the value itself."""
    raw = value.encode("utf-8") if isinstance(value, str) else value
    return hashlib.sha256(b"hearth-log-tag\x00" + raw).hexdigest()[:12]
