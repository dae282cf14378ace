"""Transcript hashes, confirmation and membership tags (RFC 9420 §6.1, §6.2, §8.2)."""

from __future__ import annotations

import pytest

from hearth_mls import transcript
from hearth_mls.commit import Commit
from hearth_mls.errors import ConfirmationTagError, MembershipTagError, UsageError
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    Sender,
    WireFormat,
)

CONTEXT = GroupContext(b"room", 1, b"t" * 32, b"c" * 32)


def _commit(signature: bytes = b"s" * 64, tag: bytes = b"m" * 32) -> AuthenticatedContent:
    content = FramedContent(b"room", 1, Sender.member(0), Commit())
    return AuthenticatedContent(
        WireFormat.PUBLIC_MESSAGE, content, FramedContentAuthData(signature, tag)
    )


def test_transcript_chains_signature_and_tag() -> None:
    confirmed, interim = transcript.transcript_hashes_after(b"", _commit())
    assert transcript.transcript_hashes_after(b"", _commit(signature=b"x" * 64))[0] != confirmed
    # The tag is not in the confirmed hash but is in the interim one.
    other = transcript.transcript_hashes_after(b"", _commit(tag=b"n" * 32))
    assert other[0] == confirmed
    assert other[1] != interim
    assert transcript.transcript_hashes_after(interim, _commit())[0] != confirmed


def test_application_content_does_not_advance_the_transcript() -> None:
    content = FramedContent(b"room", 1, Sender.member(0), b"hello")
    app = AuthenticatedContent(WireFormat.PRIVATE_MESSAGE, content, FramedContentAuthData(b"s"))
    with pytest.raises(UsageError):
        transcript.transcript_hashes_after(b"", app)


def test_confirmation_tag() -> None:
    tag = transcript.confirmation_tag(b"k" * 32, b"h" * 32)
    transcript.verify_confirmation_tag(b"k" * 32, b"h" * 32, tag)
    with pytest.raises(ConfirmationTagError):
        transcript.verify_confirmation_tag(b"k" * 32, b"H" * 32, tag)
    with pytest.raises(ConfirmationTagError):
        transcript.verify_confirmation_tag(b"k" * 32, b"h" * 32, tag[:-1])


def test_membership_tag() -> None:
    content = FramedContent(b"room", 1, Sender.member(0), b"\x00")
    tbs = FramedContentTBS(WireFormat.PUBLIC_MESSAGE, content, CONTEXT)
    tbm = AuthenticatedContentTBM(tbs, FramedContentAuthData(b"s" * 64))
    tag = transcript.membership_tag(b"k" * 32, tbm)
    transcript.verify_membership_tag(b"k" * 32, tbm, tag)
    with pytest.raises(MembershipTagError):
        transcript.verify_membership_tag(b"K" * 32, tbm, tag)
