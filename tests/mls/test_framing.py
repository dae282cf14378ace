"""Framing structs (RFC 9420 §6, §8.2)."""

from __future__ import annotations

import pytest

from hearth_mls.codec import Reader
from hearth_mls.commit import Commit
from hearth_mls.errors import DecodeError, NonZeroPaddingError, UsageError
from hearth_mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ConfirmedTranscriptHashInput,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    InterimTranscriptHashInput,
    PrivateContentAAD,
    PrivateMessage,
    PrivateMessageContent,
    PublicMessage,
    Sender,
    SenderData,
    SenderDataAAD,
    SenderType,
    WireFormat,
)
from hearth_mls.proposals import Remove
from tests.mls import samples

APP = FramedContent(b"group", 3, Sender.member(1), b"hello", b"aad")
COMMIT = FramedContent(b"group", 3, Sender.new_member_commit(), Commit())
PROPOSAL = FramedContent(b"group", 3, Sender.external(0), Remove(2))
SIG = FramedContentAuthData(b"signature")
COMMIT_AUTH = FramedContentAuthData(b"signature", b"tag")


@pytest.mark.parametrize(
    "sender",
    [
        Sender.member(7),
        Sender.external(2),
        Sender.new_member_proposal(),
        Sender.new_member_commit(),
    ],
)
def test_sender_round_trip(sender: Sender) -> None:
    assert Sender.from_bytes(sender.to_bytes()) == sender


def test_sender_errors() -> None:
    with pytest.raises(DecodeError, match="unknown SenderType 5"):
        Sender.from_bytes(b"\x05")
    with pytest.raises(UsageError):
        Sender(SenderType.MEMBER)
    with pytest.raises(UsageError):
        Sender(SenderType.NEW_MEMBER_COMMIT, 1)


@pytest.mark.parametrize("content", [APP, COMMIT, PROPOSAL])
def test_framed_content_round_trip(content: FramedContent) -> None:
    assert FramedContent.from_bytes(content.to_bytes()) == content


def test_content_type_property() -> None:
    assert APP.content_type is ContentType.APPLICATION
    assert COMMIT.content_type is ContentType.COMMIT
    assert PROPOSAL.content_type is ContentType.PROPOSAL


def test_unknown_content_type_rejected() -> None:
    data = bytearray(APP.to_bytes())
    at = len(b"\x05group") + 8 + 5 + 4  # group_id, epoch, sender, authenticated_data
    assert data[at] == ContentType.APPLICATION
    data[at] = 0
    with pytest.raises(DecodeError, match="unknown ContentType 0") as info:
        FramedContent.from_bytes(bytes(data))
    assert info.value.struct == "FramedContent"


def test_public_message_member_has_membership_tag() -> None:
    message = PublicMessage(APP, SIG, b"mac")
    assert PublicMessage.from_bytes(message.to_bytes()) == message
    with pytest.raises(UsageError, match="membership tag"):
        PublicMessage(APP, SIG)
    with pytest.raises(UsageError, match="membership tag"):
        PublicMessage(PROPOSAL, SIG, b"mac")


def test_public_message_commit_has_confirmation_tag() -> None:
    message = PublicMessage(COMMIT, COMMIT_AUTH)
    assert PublicMessage.from_bytes(message.to_bytes()) == message
    with pytest.raises(UsageError, match="confirmation tag"):
        PublicMessage(COMMIT, SIG)


def test_tbs_and_tbm_carry_context_for_members() -> None:
    context = samples.group_context()
    tbs = FramedContentTBS(WireFormat.PUBLIC_MESSAGE, APP, context)
    assert tbs.to_bytes() == b"\x00\x01\x00\x01" + APP.to_bytes() + context.to_bytes()
    assert FramedContentTBS.from_bytes(tbs.to_bytes()) == tbs
    external = FramedContentTBS(WireFormat.PUBLIC_MESSAGE, PROPOSAL)
    assert FramedContentTBS.from_bytes(external.to_bytes()) == external
    with pytest.raises(UsageError, match="group context"):
        FramedContentTBS(WireFormat.PUBLIC_MESSAGE, APP)
    tbm = AuthenticatedContentTBM(tbs, SIG)
    assert AuthenticatedContentTBM.from_bytes(tbm.to_bytes()) == tbm


def test_authenticated_content_round_trip() -> None:
    auth = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, COMMIT, COMMIT_AUTH)
    assert AuthenticatedContent.from_bytes(auth.to_bytes()) == auth
    with pytest.raises(DecodeError, match="unknown WireFormat 6"):
        AuthenticatedContent.from_bytes(b"\x00\x06")


def test_private_message_and_aads() -> None:
    message = PrivateMessage(b"g", 9, ContentType.APPLICATION, b"ad", b"esd", b"ct")
    assert PrivateMessage.from_bytes(message.to_bytes()) == message
    aad = PrivateContentAAD(b"g", 9, ContentType.APPLICATION, b"ad")
    assert PrivateContentAAD.from_bytes(aad.to_bytes()) == aad
    sd_aad = SenderDataAAD(b"g", 9, ContentType.COMMIT)
    assert sd_aad.to_bytes() == b"\x01g" + (9).to_bytes(8, "big") + b"\x03"
    assert SenderDataAAD.from_bytes(sd_aad.to_bytes()) == sd_aad


def test_sender_data() -> None:
    data = SenderData(1, 2, b"abcd")
    assert data.to_bytes() == bytes.fromhex("0000000100000002") + b"abcd"
    assert SenderData.from_bytes(data.to_bytes()) == data
    with pytest.raises(UsageError, match="4 bytes"):
        SenderData(1, 2, b"abc")


def test_private_message_content_padding() -> None:
    content = PrivateMessageContent(b"hi", SIG, padding_length=5)
    data = content.to_bytes()
    assert data.endswith(bytes(5))
    decoded = PrivateMessageContent.from_bytes_for(data, ContentType.APPLICATION)
    assert decoded == content
    commit = PrivateMessageContent(Commit(), COMMIT_AUTH)
    assert PrivateMessageContent.from_bytes_for(commit.to_bytes(), ContentType.COMMIT) == commit


def test_private_message_content_nonzero_padding_rejected() -> None:
    data = PrivateMessageContent(b"hi", SIG, padding_length=3).to_bytes() + b"\x01"
    with pytest.raises(DecodeError, match="padding is not all zero") as info:
        PrivateMessageContent.from_bytes_for(data, ContentType.APPLICATION)
    assert info.value.struct == "PrivateMessageContent"
    assert isinstance(info.value, NonZeroPaddingError)


def test_private_message_content_other_decode_errors_are_not_padding() -> None:
    data = PrivateMessageContent(b"hi", SIG).to_bytes()[:-1]
    with pytest.raises(DecodeError) as info:
        PrivateMessageContent.from_bytes_for(data, ContentType.APPLICATION)
    assert not isinstance(info.value, NonZeroPaddingError)


def test_context_dependent_structs_refuse_plain_decode() -> None:
    with pytest.raises(UsageError, match="decode_for"):
        PrivateMessageContent.decode(Reader(b""))
    with pytest.raises(UsageError, match="decode_for"):
        FramedContentAuthData.decode(Reader(b""))


def test_transcript_inputs() -> None:
    confirmed = ConfirmedTranscriptHashInput(WireFormat.PUBLIC_MESSAGE, COMMIT, b"sig")
    assert ConfirmedTranscriptHashInput.from_bytes(confirmed.to_bytes()) == confirmed
    with pytest.raises(UsageError, match="commits only"):
        ConfirmedTranscriptHashInput(WireFormat.PUBLIC_MESSAGE, APP, b"sig")
    not_commit = b"\x00\x01" + APP.to_bytes() + b"\x00"
    with pytest.raises(DecodeError, match="not a commit"):
        ConfirmedTranscriptHashInput.from_bytes(not_commit)
    interim = InterimTranscriptHashInput(b"tag")
    assert interim.to_bytes() == b"\x03tag"
