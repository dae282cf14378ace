"""Transcript hashes (RFC 9420 §8.2), confirmation tags (§6.1) and membership tags (§6.2).

::

    confirmed_transcript_hash_[n] = Hash(interim_transcript_hash_[n-1] ||
                                         ConfirmedTranscriptHashInput_[n])
    interim_transcript_hash_[n]   = Hash(confirmed_transcript_hash_[n] ||
                                         InterimTranscriptHashInput_[n])
    confirmation_tag = MAC(confirmation_key, confirmed_transcript_hash)
    membership_tag   = MAC(membership_key, AuthenticatedContentTBM)

A new group starts with an empty confirmed and interim transcript hash (§8.2).
"""

from __future__ import annotations

from hearth_mls import suite
from hearth_mls.errors import ConfirmationTagError, MembershipTagError, UsageError
from hearth_mls.framing import (
    AuthenticatedContent,
    AuthenticatedContentTBM,
    ConfirmedTranscriptHashInput,
    InterimTranscriptHashInput,
)


def confirmed_transcript_hash(interim_before: bytes, commit: AuthenticatedContent) -> bytes:
    """The confirmed transcript hash after ``commit`` (an AuthenticatedContent of a Commit)."""
    entry = ConfirmedTranscriptHashInput(commit.wire_format, commit.content, commit.auth.signature)
    return suite.digest(interim_before + entry.to_bytes())


def interim_transcript_hash(confirmed: bytes, confirmation_tag: bytes) -> bytes:
    """The interim transcript hash from the confirmed one and the commit's tag."""
    return suite.digest(confirmed + InterimTranscriptHashInput(confirmation_tag).to_bytes())


def transcript_hashes_after(
    interim_before: bytes, commit: AuthenticatedContent
) -> tuple[bytes, bytes]:
    """``(confirmed, interim)`` transcript hashes after ``commit`` (§8.2)."""
    tag = commit.auth.confirmation_tag
    if tag is None:
        raise UsageError("only a commit (with its confirmation tag) advances the transcript")
    confirmed = confirmed_transcript_hash(interim_before, commit)
    return confirmed, interim_transcript_hash(confirmed, tag)


def confirmation_tag(confirmation_key: bytes, confirmed_hash: bytes) -> bytes:
    """MAC(confirmation_key, confirmed_transcript_hash) (§6.1)."""
    return suite.mac(confirmation_key, confirmed_hash)


def verify_confirmation_tag(confirmation_key: bytes, confirmed_hash: bytes, tag: bytes) -> None:
    """Raise :class:`ConfirmationTagError` unless ``tag`` confirms the new epoch (§6.1)."""
    if not suite.mac_equal(confirmation_tag(confirmation_key, confirmed_hash), tag):
        raise ConfirmationTagError("confirmation tag does not match the new epoch")


def membership_tag(membership_key: bytes, tbm: AuthenticatedContentTBM) -> bytes:
    """MAC(membership_key, AuthenticatedContentTBM) (§6.2)."""
    return suite.mac(membership_key, tbm.to_bytes())


def verify_membership_tag(membership_key: bytes, tbm: AuthenticatedContentTBM, tag: bytes) -> None:
    """Raise :class:`MembershipTagError` unless ``tag`` is the sender's membership tag (§6.2)."""
    if not suite.mac_equal(membership_tag(membership_key, tbm), tag):
        raise MembershipTagError("membership tag does not match")
