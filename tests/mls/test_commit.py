"""Commit, UpdatePath and HPKECiphertext (RFC 9420 §12.4, §7.6)."""

from __future__ import annotations

import pytest

from hearth_mls.commit import Commit, HPKECiphertext, UpdatePath, UpdatePathNode
from hearth_mls.errors import DecodeError
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.proposals import ProposalOrRef, Remove
from tests.mls import samples


def test_commit_with_path_round_trips() -> None:
    path = UpdatePath(
        samples.leaf(LeafNodeSource.COMMIT),
        (UpdatePathNode(b"K" * 32, (HPKECiphertext(b"enc", b"ct"),)),),
    )
    commit = Commit((ProposalOrRef(proposal=Remove(2)), ProposalOrRef(reference=b"r")), path)
    assert Commit.from_bytes(commit.to_bytes()) == commit


def test_empty_commit_encoding() -> None:
    assert Commit().to_bytes() == b"\x00\x00"
    assert Commit.from_bytes(b"\x00\x00") == Commit()


def test_vector_commit_round_trips() -> None:
    data = samples.message_field("commit")
    assert Commit.from_bytes(data).to_bytes() == data


def test_proposal_vector_overrun_rejected() -> None:
    # proposals<V> claims 5 bytes but only 1 follows.
    with pytest.raises(DecodeError, match="needs 5 bytes"):
        Commit.from_bytes(b"\x05\x01")
