"""Checker for ``transcript-hashes.json`` (RFC 9420 §8.2, confirmation tag §6.1)."""

from __future__ import annotations

from hearth_mls import transcript
from hearth_mls.framing import AuthenticatedContent, ContentType
from hearth_mls.vectors import Entry


def check(entry: Entry) -> None:
    commit = AuthenticatedContent.from_bytes(bytes.fromhex(entry["authenticated_content"]))
    if commit.content.content_type is not ContentType.COMMIT:
        raise AssertionError("authenticated_content is not a commit")
    assert commit.auth.confirmation_tag is not None  # guaranteed for commit content
    confirmed, interim = transcript.transcript_hashes_after(
        bytes.fromhex(entry["interim_transcript_hash_before"]), commit
    )
    if confirmed.hex() != entry["confirmed_transcript_hash_after"]:
        raise AssertionError(f"confirmed_transcript_hash_after: got {confirmed.hex()}")
    if interim.hex() != entry["interim_transcript_hash_after"]:
        raise AssertionError(f"interim_transcript_hash_after: got {interim.hex()}")
    transcript.verify_confirmation_tag(
        bytes.fromhex(entry["confirmation_key"]), confirmed, commit.auth.confirmation_tag
    )
