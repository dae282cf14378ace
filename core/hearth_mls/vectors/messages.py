"""``messages.json``: every wire struct decodes and re-encodes byte for byte (RFC 9420 §6-§12).

The file has no cipher suite (it mixes suites 1-3), so every entry runs. Each
field is decoded as its struct, checked for the expected wire format or content
type where the vector format names one, and re-encoded.
"""

from __future__ import annotations

from collections.abc import Callable

from hearth_mls.codec import Writer, decode_exact
from hearth_mls.commit import Commit
from hearth_mls.framing import ContentType, PublicMessage, WireFormat
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    ReInit,
    Remove,
    Update,
)
from hearth_mls.tree_nodes import decode_ratchet_tree, encode_ratchet_tree
from hearth_mls.vectors import Entry
from hearth_mls.welcome_structs import GroupSecrets
from hearth_mls.wire import WireStruct


def _round_trip(name: str, data: bytes, struct: type[WireStruct]) -> WireStruct:
    value = struct.from_bytes(data)
    if value.to_bytes() != data:
        raise AssertionError(f"{name}: re-encoding differs")
    return value


def _struct_checker(name: str, struct: type[WireStruct]) -> Callable[[bytes], None]:
    def check_field(data: bytes) -> None:
        _round_trip(name, data, struct)

    return check_field


def _message(
    name: str, data: bytes, wire_format: WireFormat, content_type: ContentType | None = None
) -> None:
    message = _round_trip(name, data, MLSMessage)
    assert isinstance(message, MLSMessage)
    if message.wire_format is not wire_format:
        raise AssertionError(f"{name}: wire format {message.wire_format.name}")
    if content_type is not None:
        body = message.body
        assert isinstance(body, PublicMessage)
        if body.content.content_type is not content_type:
            raise AssertionError(f"{name}: content type {body.content.content_type.name}")


def _message_checker(
    name: str, wire_format: WireFormat, content_type: ContentType | None
) -> Callable[[bytes], None]:
    def check_field(data: bytes) -> None:
        _message(name, data, wire_format, content_type)

    return check_field


def _ratchet_tree(data: bytes) -> None:
    nodes = decode_exact(data, "ratchet_tree", decode_ratchet_tree)
    w = Writer()
    encode_ratchet_tree(w, nodes)
    if w.getvalue() != data:
        raise AssertionError("ratchet_tree: re-encoding differs")


STRUCTS: dict[str, type[WireStruct]] = {
    "group_secrets": GroupSecrets,
    "add_proposal": Add,
    "update_proposal": Update,
    "remove_proposal": Remove,
    "pre_shared_key_proposal": PreSharedKey,
    "re_init_proposal": ReInit,
    "external_init_proposal": ExternalInit,
    "group_context_extensions_proposal": GroupContextExtensions,
    "commit": Commit,
}

MESSAGES: dict[str, tuple[WireFormat, ContentType | None]] = {
    "mls_welcome": (WireFormat.WELCOME, None),
    "mls_group_info": (WireFormat.GROUP_INFO, None),
    "mls_key_package": (WireFormat.KEY_PACKAGE, None),
    "public_message_application": (WireFormat.PUBLIC_MESSAGE, ContentType.APPLICATION),
    "public_message_proposal": (WireFormat.PUBLIC_MESSAGE, ContentType.PROPOSAL),
    "public_message_commit": (WireFormat.PUBLIC_MESSAGE, ContentType.COMMIT),
    "private_message": (WireFormat.PRIVATE_MESSAGE, None),
}

#: Every field the vector format defines, with how to check it.
FIELDS: dict[str, Callable[[bytes], None]] = {
    "ratchet_tree": _ratchet_tree,
    **{name: _struct_checker(name, struct) for name, struct in STRUCTS.items()},
    **{name: _message_checker(name, fmt, ct) for name, (fmt, ct) in MESSAGES.items()},
}


def check(entry: Entry) -> None:
    missing = set(FIELDS) - set(entry)
    if missing:
        raise AssertionError(f"entry lacks {sorted(missing)}")
    for name, check_field in FIELDS.items():
        check_field(bytes.fromhex(entry[name]))
