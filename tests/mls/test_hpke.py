"""HPKE base mode (RFC 9180) against cryptography's own ``hpke.Suite`` and bad inputs."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives import hpke as ref
from cryptography.hazmat.primitives.asymmetric.x25519 import (
    X25519PrivateKey,
    X25519PublicKey,
)

from hearth_mls import hpke
from hearth_mls.errors import HPKEDecryptionError, InvalidPublicKeyError, UsageError

SUITE = ref.Suite(ref.KEM.X25519, ref.KDF.HKDF_SHA256, ref.AEAD.AES_128_GCM)


def test_our_seal_opens_with_cryptography() -> None:
    sk, pk = hpke.generate_key_pair()
    enc, ct = hpke.seal_base(pk, b"info", b"", b"a secret")
    assert SUITE.decrypt(enc + ct, X25519PrivateKey.from_private_bytes(sk), info=b"info") == (
        b"a secret"
    )


def test_cryptography_seal_opens_with_ours() -> None:
    sk, pk = hpke.generate_key_pair()
    blob = SUITE.encrypt(b"another", X25519PublicKey.from_public_bytes(pk), info=b"ctx")
    enc, ct = blob[: hpke.N_ENC], blob[hpke.N_ENC :]
    assert hpke.open_base(enc, sk, b"ctx", b"", ct) == b"another"


def test_derive_key_pair_is_deterministic_and_consistent() -> None:
    sk1, pk1 = hpke.derive_key_pair(b"seed")
    sk2, pk2 = hpke.derive_key_pair(b"seed")
    assert (sk1, pk1) == (sk2, pk2)
    assert hpke.public_key(sk1) == pk1
    assert hpke.derive_key_pair(b"other seed")[0] != sk1


def test_sequence_numbers_advance_and_must_match() -> None:
    sk, pk = hpke.generate_key_pair()
    enc, sender = hpke.setup_base_s(pk, b"")
    receiver = hpke.setup_base_r(enc, sk, b"")
    first, second = sender.seal(b"", b"one"), sender.seal(b"", b"two")
    with pytest.raises(HPKEDecryptionError):
        receiver.open(b"", second)  # out of order: wrong nonce
    assert receiver.seq == 0  # a failed open does not advance
    assert receiver.open(b"", first) == b"one"
    assert receiver.open(b"", second) == b"two"


def test_exporters_agree() -> None:
    sk, pk = hpke.generate_key_pair()
    enc, sender = hpke.setup_base_s(pk, b"i")
    receiver = hpke.setup_base_r(enc, sk, b"i")
    assert sender.export(b"c", 42) == receiver.export(b"c", 42)
    assert len(sender.export(b"c", 42)) == 42
    with pytest.raises(UsageError):
        sender.export(b"c", 255 * 32 + 1)


@pytest.mark.parametrize("where", ["enc", "ct", "aad", "info"])
def test_tampering_is_rejected(where: str) -> None:
    sk, pk = hpke.generate_key_pair()
    enc, ct = hpke.seal_base(pk, b"info", b"aad", b"payload")
    info, aad = b"info", b"aad"
    if where == "enc":
        enc = hpke.generate_key_pair()[1]
    elif where == "ct":
        ct = bytes([ct[0] ^ 1]) + ct[1:]
    elif where == "aad":
        aad = b"aaD"
    else:
        info = b"infO"
    with pytest.raises(HPKEDecryptionError):
        hpke.open_base(enc, sk, info, aad, ct)


def test_low_order_and_malformed_public_keys() -> None:
    sk, _ = hpke.generate_key_pair()
    with pytest.raises(InvalidPublicKeyError):
        hpke.encap(bytes(32))  # the all-zero point has order 1
    with pytest.raises(InvalidPublicKeyError):
        hpke.decap(bytes(32), sk)
    with pytest.raises(InvalidPublicKeyError):
        hpke.encap(b"short")


def test_bad_private_key_length_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        hpke.public_key(b"\x01" * 31)


def test_sequence_number_overflow_is_refused() -> None:
    _, pk = hpke.generate_key_pair()
    _, sender = hpke.setup_base_s(pk, b"")
    sender.seq = (1 << 96) - 1
    with pytest.raises(UsageError):
        sender.seal(b"", b"x")
