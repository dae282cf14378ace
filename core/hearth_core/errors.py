"""Stable error codes, close codes and the ``hearth_core`` exception tree (protocol.md §5, §6).

Exception tree (blame is in the type)::

    HearthCoreError                 every error raised by hearth_core
    ├── FrameError                  the peer sent a frame we cannot accept (peer's fault);
    │                               carries an ``ErrorCode`` and, where known, the field path
    ├── AuthError                   an authentication proof does not verify (peer's fault)
    └── RoomError                   room rules and envelopes (tree in hearth_core.room_errors)

Codes are part of the wire protocol: never rename one, only add.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """The ``code`` of an ``error`` frame (protocol.md §5). Each value is documented there."""

    # Decoding (protocol.md §5.1)
    BAD_JSON = "bad_json"
    NOT_OBJECT = "not_object"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    UNKNOWN_FIELD = "unknown_field"
    INVALID_FIELD = "invalid_field"
    INVALID_BASE64 = "invalid_base64"
    BINARY_FRAME = "binary_frame"
    # Session state (protocol.md §5.2)
    HELLO_REQUIRED = "hello_required"
    ALREADY_HELLO = "already_hello"
    UNSUPPORTED_VERSION = "unsupported_version"
    NOT_AUTHENTICATED = "not_authenticated"
    BAD_SIGNATURE = "bad_signature"
    LIMIT_EXCEEDED = "limit_exceeded"
    # Rooms (protocol.md §5.3)
    NOT_MEMBER = "not_member"
    NOT_ADMITTED = "not_admitted"
    FORBIDDEN = "forbidden"
    ROOM_BOUND = "room_bound"
    NO_SUCH_MEMBER = "no_such_member"
    NO_SUCH_INVITE = "no_such_invite"
    INVITE_INVALID = "invite_invalid"
    INVITE_EXPIRED = "invite_expired"
    INVITE_REVOKED = "invite_revoked"
    INVITE_EXHAUSTED = "invite_exhausted"
    # Messages (protocol.md §5.4)
    PAYLOAD_TOO_LARGE = "payload_too_large"
    RATE_LIMITED = "rate_limited"
    CURSOR_AHEAD = "cursor_ahead"
    # MLS Delivery Service (protocol.md §5.6)
    NOT_MLS_ROOM = "not_mls_room"
    MLS_INVALID = "mls_invalid"
    KEY_PACKAGE_INVALID = "key_package_invalid"
    UNSUPPORTED_SUITE = "unsupported_suite"
    KEY_PACKAGE_EXPIRED = "key_package_expired"
    CREDENTIAL_MISMATCH = "credential_mismatch"
    KEY_PACKAGE_REUSED = "key_package_reused"
    NO_KEY_PACKAGE = "no_key_package"
    WRONG_GROUP = "wrong_group"
    STALE_EPOCH = "stale_epoch"
    AUTHORITY_DENIED = "authority_denied"
    WELCOME_INVALID = "welcome_invalid"
    GROUP_INFO_INVALID = "group_info_invalid"
    BANNED = "banned"
    # Server (protocol.md §5.5)
    INTERNAL = "internal"
    SHUTTING_DOWN = "shutting_down"


class CloseCode(enum.IntEnum):
    """WebSocket close codes the server uses (protocol.md §6)."""

    NORMAL = 1000
    GOING_AWAY = 1001
    INVALID_DATA = 1007
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011
    HELLO_TIMEOUT = 4001
    UNSUPPORTED_VERSION = 4002
    SLOW_CONSUMER = 4008


class HearthCoreError(Exception):
    """Root of the ``hearth_core`` exception tree."""


class FrameError(HearthCoreError):
    """The peer sent a frame that cannot be accepted (peer's fault; protocol.md §5.1).

    ``code`` is the stable error code to put on the wire, ``field`` the JSON path of
    the offending field (``$.payload``) when there is one.
    """

    def __init__(self, code: ErrorCode, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field


class AuthError(HearthCoreError):
    """An authentication signature or key does not verify (peer's fault; protocol.md §3.2)."""
