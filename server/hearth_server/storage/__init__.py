"""Durable storage behind the small ``Store`` interface (DESIGN.md "Layout").

``base`` defines the records and the interface, ``sqlite`` the embedded
implementation (aiosqlite). ``tests/server/test_store_contract.py`` is the contract
every implementation passes.
"""

from hearth_server.storage.base import (
    AppendCallback,
    AppendResult,
    CheckedUpload,
    GroupRecord,
    HandshakeWrite,
    InviteRecord,
    JoinResult,
    MemberRecord,
    NewMessage,
    RoomRecord,
    Store,
    StoredMessage,
)

__all__ = [
    "AppendCallback",
    "AppendResult",
    "CheckedUpload",
    "GroupRecord",
    "HandshakeWrite",
    "InviteRecord",
    "JoinResult",
    "MemberRecord",
    "NewMessage",
    "RoomRecord",
    "Store",
    "StoredMessage",
]
