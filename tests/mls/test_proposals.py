"""Proposals and ProposalOrRef (RFC 9420 §12.1, §12.4)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError, UsageError
from hearth_mls.extensions import Extension
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    ProposalOrRef,
    PSKType,
    ReInit,
    Remove,
    ResumptionPSKUsage,
    Update,
    proposal_from_bytes,
    proposal_to_bytes,
)
from tests.mls import samples

EXTERNAL_PSK = PreSharedKeyID(PSKType.EXTERNAL, b"nonce", psk_id=b"id")
RESUMPTION_PSK = PreSharedKeyID(
    PSKType.RESUMPTION,
    b"nonce",
    usage=ResumptionPSKUsage.BRANCH,
    psk_group_id=b"g",
    psk_epoch=4,
)

PROPOSALS: list[Proposal] = [
    Add(samples.key_package()),
    Update(samples.leaf(LeafNodeSource.UPDATE)),
    Remove(5),
    PreSharedKey(EXTERNAL_PSK),
    PreSharedKey(RESUMPTION_PSK),
    ReInit(b"new-group", 1, 1, (Extension(5, b""),)),
    ExternalInit(b"kem"),
    GroupContextExtensions((Extension(0xFF00, b"roles"),)),
]


@pytest.mark.parametrize("proposal", PROPOSALS, ids=lambda p: type(p).__name__)
def test_proposal_round_trip(proposal: Proposal) -> None:
    data = proposal_to_bytes(proposal)
    assert int.from_bytes(data[:2], "big") == proposal.PROPOSAL_TYPE
    assert proposal_from_bytes(data) == proposal
    assert type(proposal).from_bytes(data[2:]) == proposal


def test_remove_encoding() -> None:
    assert proposal_to_bytes(Remove(0x01020304)).hex() == "000301020304"


def test_unknown_proposal_type_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown ProposalType 8") as info:
        proposal_from_bytes(b"\x00\x08")
    assert info.value.struct == "Proposal"


def test_unknown_psk_type_and_usage_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown PSKType 3"):
        PreSharedKeyID.from_bytes(b"\x03")
    with pytest.raises(DecodeError, match="unknown ResumptionPSKUsage 0"):
        PreSharedKeyID.from_bytes(b"\x02\x00")


def test_proposal_or_ref() -> None:
    inline = ProposalOrRef(proposal=Remove(1))
    by_ref = ProposalOrRef(reference=b"R" * 32)
    for item in (inline, by_ref):
        assert ProposalOrRef.from_bytes(item.to_bytes()) == item
    with pytest.raises(DecodeError, match="unknown ProposalOrRefType 3"):
        ProposalOrRef.from_bytes(b"\x03")
    with pytest.raises(UsageError):
        ProposalOrRef()


def test_psk_id_fields_must_match_type() -> None:
    with pytest.raises(UsageError, match="external"):
        PreSharedKeyID(PSKType.EXTERNAL, b"n")
    with pytest.raises(UsageError, match="resumption"):
        PreSharedKeyID(PSKType.RESUMPTION, b"n", psk_id=b"x")
