"""KeyPackage and KeyPackageTBS (RFC 9420 §10)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError
from hearth_mls.key_package import KeyPackage
from tests.mls import samples


def test_round_trip_and_tbs() -> None:
    kp = samples.key_package()
    data = kp.to_bytes()
    assert KeyPackage.from_bytes(data) == kp
    assert data == kp.to_be_signed() + b"\x06kp-sig"
    assert kp.with_signature(b"x").to_be_signed() == kp.to_be_signed()


def test_vector_key_packages_of_other_suites_decode() -> None:
    # messages.json mixes suites 1-3; the codec does not judge the suite.
    suites = set()
    for index in (0, 100, 200):
        data = samples.message_field("mls_key_package", index)[4:]  # skip MLSMessage header
        suites.add(KeyPackage.from_bytes(data).cipher_suite)
    assert suites == {1, 2, 3}


def test_truncated_signature_rejected() -> None:
    with pytest.raises(DecodeError) as info:
        KeyPackage.from_bytes(samples.key_package().to_bytes()[:-2])
    assert info.value.struct == "KeyPackage"
