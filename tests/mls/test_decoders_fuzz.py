"""Property tests: no decoder raises anything but DecodeError (RFC 9420 §2.1 strictness).

Every decoder gets arbitrary bytes, and every ``messages.json`` field gets
truncated and bit-flipped. A decoder may accept mutated bytes (many flips land
in opaque data), but then it must re-encode them exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_mls.codec import Writer, decode_exact
from hearth_mls.commit import Commit, HPKECiphertext, UpdatePath, UpdatePathNode
from hearth_mls.credential import Credential
from hearth_mls.errors import DecodeError
from hearth_mls.extension_payloads import (
    ApplicationId,
    ExternalPub,
    ExternalSender,
    RequiredCapabilities,
    external_senders_from_bytes,
)
from hearth_mls.extensions import Extension, GroupContext
from hearth_mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ConfirmedTranscriptHashInput,
    ContentType,
    FramedContent,
    FramedContentTBS,
    InterimTranscriptHashInput,
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
)
from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import Capabilities, LeafNode, Lifetime
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    PreSharedKeyID,
    ProposalOrRef,
    ReInit,
    Remove,
    Update,
    proposal_from_bytes,
    proposal_to_bytes,
)
from hearth_mls.tree_nodes import Node, ParentNode, ratchet_tree_from_bytes, ratchet_tree_to_bytes
from hearth_mls.welcome_structs import EncryptedGroupSecrets, GroupSecrets, PathSecret, Welcome
from hearth_mls.wire import WireStruct
from tests.mls import samples

Decoder = Callable[[bytes], object]
Encoder = Callable[[object], bytes]


def _struct(cls: type[WireStruct]) -> tuple[Decoder, Encoder]:
    return cls.from_bytes, lambda value: value.to_bytes()  # type: ignore[attr-defined]


def _private_content(content_type: ContentType) -> tuple[Decoder, Encoder]:
    return (
        lambda data: PrivateMessageContent.from_bytes_for(data, content_type),
        lambda value: value.to_bytes(),  # type: ignore[attr-defined]
    )


def _extension_bytes(value: object) -> bytes:
    assert isinstance(value, Extension)
    w = Writer()
    value.encode(w)
    return w.getvalue()


def _external_senders_to_bytes(value: object) -> bytes:
    assert isinstance(value, tuple)
    return Writer().vector(value, lambda w, s: s.encode(w)).getvalue()


DECODERS: dict[str, tuple[Decoder, Encoder]] = {
    cls.__name__: _struct(cls)
    for cls in (
        Credential,
        Capabilities,
        Lifetime,
        LeafNode,
        KeyPackage,
        ParentNode,
        Node,
        PreSharedKeyID,
        Add,
        Update,
        Remove,
        PreSharedKey,
        ReInit,
        ExternalInit,
        GroupContextExtensions,
        ProposalOrRef,
        HPKECiphertext,
        UpdatePathNode,
        UpdatePath,
        Commit,
        Sender,
        FramedContent,
        FramedContentTBS,
        AuthenticatedContent,
        AuthenticatedContentTBM,
        PublicMessage,
        PrivateMessage,
        PrivateContentAAD,
        SenderData,
        SenderDataAAD,
        ConfirmedTranscriptHashInput,
        GroupInfo,
        PathSecret,
        GroupSecrets,
        EncryptedGroupSecrets,
        Welcome,
        RequiredCapabilities,
        ExternalSender,
        ExternalPub,
        ApplicationId,
        InterimTranscriptHashInput,
        MLSMessage,
    )
}
DECODERS["GroupContext"] = (
    lambda data: decode_exact(data, "GroupContext", GroupContext.decode),
    lambda value: value.to_bytes(),  # type: ignore[attr-defined]
)
DECODERS["Extension"] = (
    lambda data: decode_exact(data, "Extension", Extension.decode),
    _extension_bytes,
)
DECODERS["Proposal"] = (proposal_from_bytes, lambda p: proposal_to_bytes(p))  # type: ignore[arg-type]
DECODERS["ratchet_tree"] = (ratchet_tree_from_bytes, lambda t: ratchet_tree_to_bytes(t))  # type: ignore[arg-type]
DECODERS["external_senders"] = (external_senders_from_bytes, _external_senders_to_bytes)
for _type in ContentType:
    DECODERS[f"PrivateMessageContent[{_type.name}]"] = _private_content(_type)

#: Which decoder reads each messages.json field.
VECTOR_FIELDS = {
    "mls_welcome": "MLSMessage",
    "mls_group_info": "MLSMessage",
    "mls_key_package": "MLSMessage",
    "ratchet_tree": "ratchet_tree",
    "group_secrets": "GroupSecrets",
    "add_proposal": "Add",
    "update_proposal": "Update",
    "remove_proposal": "Remove",
    "pre_shared_key_proposal": "PreSharedKey",
    "re_init_proposal": "ReInit",
    "external_init_proposal": "ExternalInit",
    "group_context_extensions_proposal": "GroupContextExtensions",
    "commit": "Commit",
    "public_message_application": "MLSMessage",
    "public_message_proposal": "MLSMessage",
    "public_message_commit": "MLSMessage",
    "private_message": "MLSMessage",
}


def _decode_strictly(name: str, data: bytes) -> None:
    decode, encode = DECODERS[name]
    try:
        value = decode(data)
    except DecodeError:
        return
    assert encode(value) == data, f"{name} accepted bytes it cannot reproduce"


@pytest.mark.parametrize("name", sorted(DECODERS))
@settings(max_examples=150, deadline=None)
@given(data=st.binary(max_size=96))
def test_arbitrary_bytes_only_raise_decode_error(name: str, data: bytes) -> None:
    _decode_strictly(name, data)


@pytest.mark.parametrize("field", sorted(VECTOR_FIELDS))
@settings(max_examples=60, deadline=None)
@given(entry=st.integers(0, 299), cut=st.integers(0, 10_000))
def test_truncated_vector_fields(field: str, entry: int, cut: int) -> None:
    data = samples.message_field(field, entry)
    _decode_strictly(VECTOR_FIELDS[field], data[: cut % max(len(data), 1)])


@pytest.mark.parametrize("field", sorted(VECTOR_FIELDS))
@settings(max_examples=60, deadline=None)
@given(
    entry=st.integers(0, 299),
    flips=st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 7)), min_size=1, max_size=3),
)
def test_bit_flipped_vector_fields(field: str, entry: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(samples.message_field(field, entry))
    for position, bit in flips:
        data[position % len(data)] ^= 1 << bit
    _decode_strictly(VECTOR_FIELDS[field], bytes(data))


@pytest.mark.parametrize("field", sorted(VECTOR_FIELDS))
@settings(max_examples=40, deadline=None)
@given(entry=st.integers(0, 299), at=st.integers(0, 10_000), junk=st.binary(min_size=1, max_size=8))
def test_spliced_vector_fields(field: str, entry: int, at: int, junk: bytes) -> None:
    data = samples.message_field(field, entry)
    at %= len(data) + 1
    _decode_strictly(VECTOR_FIELDS[field], data[:at] + junk + data[at:])
