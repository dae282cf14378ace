"""psk_secret chaining (RFC 9420 §8.4)."""

from __future__ import annotations

from hearth_mls.proposals import PreSharedKeyID, PSKType, ResumptionPSKUsage
from hearth_mls.psk import psk_label, psk_secret


def _ext(name: bytes) -> PreSharedKeyID:
    return PreSharedKeyID(PSKType.EXTERNAL, psk_nonce=b"n" * 32, psk_id=name)


def test_no_psks_is_zero() -> None:
    assert psk_secret([]) == bytes(32)


def test_order_and_count_matter() -> None:
    a, b = (_ext(b"a"), b"A" * 32), (_ext(b"b"), b"B" * 32)
    assert psk_secret([a, b]) != psk_secret([b, a])
    assert psk_secret([a]) != psk_secret([a, b])
    assert psk_secret([a]) != bytes(32)


def test_label_binds_index_and_count() -> None:
    assert psk_label(_ext(b"a"), 0, 2) != psk_label(_ext(b"a"), 1, 2)
    assert psk_label(_ext(b"a"), 0, 2).endswith(b"\x00\x00\x00\x02")


def test_resumption_psk_ids_are_accepted() -> None:
    resumption = PreSharedKeyID(
        PSKType.RESUMPTION,
        psk_nonce=b"n" * 32,
        usage=ResumptionPSKUsage.APPLICATION,
        psk_group_id=b"room",
        psk_epoch=7,
    )
    assert psk_secret([(resumption, b"r" * 32)]) != psk_secret([(_ext(b"room"), b"r" * 32)])
