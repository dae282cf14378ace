"""Checker for ``welcome.json`` (RFC 9420 §5.2, §10.1, §12.4.3.1).

The KeyPackage verifies; the Welcome decrypts with its ref and ``init_priv``;
the GroupInfo signature verifies with ``signer_pub``; the confirmation tag
matches the key schedule rebuilt from the joiner secret.
"""

from __future__ import annotations

from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.mls_message import MLSMessage
from hearth_mls.vectors import Entry
from hearth_mls.welcome import join_epoch, verify_key_package
from hearth_mls.welcome_structs import Welcome


def check(entry: Entry) -> None:
    key_package = MLSMessage.from_bytes(bytes.fromhex(entry["key_package"])).body
    welcome = MLSMessage.from_bytes(bytes.fromhex(entry["welcome"])).body
    if not isinstance(key_package, KeyPackage) or not isinstance(welcome, Welcome):
        raise AssertionError("expected an MLSMessage(KeyPackage) and an MLSMessage(Welcome)")
    verify_key_package(key_package)
    signer = bytes.fromhex(entry["signer_pub"])

    def signer_public(group_info: GroupInfo) -> bytes:
        return signer

    join_epoch(welcome, key_package, bytes.fromhex(entry["init_priv"]), signer_public)
