"""Ciphersuite 1 operations (RFC 9420 §5.1, §5.2, §8): properties and rejections."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_mls import hpke, suite
from hearth_mls.errors import HPKEDecryptionError, SignatureError, UsageError


def test_sign_and_verify_with_label_round_trip() -> None:
    priv, pub = suite.generate_signature_key_pair()
    signature = suite.sign_with_label(priv, "LeafNodeTBS", b"content")
    suite.verify_with_label(pub, "LeafNodeTBS", b"content", signature)
    assert suite.signature_public_key(priv) == pub


def test_label_is_bound_into_the_signature() -> None:
    priv, pub = suite.generate_signature_key_pair()
    signature = suite.sign_with_label(priv, "LeafNodeTBS", b"content")
    with pytest.raises(SignatureError):
        suite.verify_with_label(pub, "KeyPackageTBS", b"content", signature)


def test_signature_is_not_over_the_bare_content() -> None:
    # A raw Ed25519 signature over the content must not pass VerifyWithLabel.
    key = Ed25519PrivateKey.generate()
    pub = key.public_key().public_bytes_raw()
    with pytest.raises(SignatureError):
        suite.verify_with_label(pub, "L", b"content", key.sign(b"content"))


@pytest.mark.parametrize("what", ["signature", "content", "key", "short-signature", "short-key"])
def test_tampered_signature_inputs_are_rejected(what: str) -> None:
    priv, pub = suite.generate_signature_key_pair()
    content = b"content"
    signature = suite.sign_with_label(priv, "L", content)
    if what == "signature":
        signature = signature[:-1] + bytes([signature[-1] ^ 1])
    elif what == "content":
        content = b"Content"
    elif what == "key":
        pub = suite.generate_signature_key_pair()[1]
    elif what == "short-signature":
        signature = signature[:-1]
    else:
        pub = pub[:-1]
    with pytest.raises(SignatureError):
        suite.verify_with_label(pub, "L", content, signature)


def test_encrypt_with_label_round_trip_and_context_binding() -> None:
    priv, pub = suite.generate_hpke_key_pair()
    kem_output, ct = suite.encrypt_with_label(pub, "UpdatePathNode", b"ctx", b"path secret")
    assert suite.decrypt_with_label(priv, "UpdatePathNode", b"ctx", kem_output, ct) == (
        b"path secret"
    )
    with pytest.raises(HPKEDecryptionError):
        suite.decrypt_with_label(priv, "UpdatePathNode", b"other", kem_output, ct)
    with pytest.raises(HPKEDecryptionError):
        suite.decrypt_with_label(priv, "Welcome", b"ctx", kem_output, ct)


def test_expand_with_label_lengths_and_labels_differ() -> None:
    secret = bytes(range(32))
    assert len(suite.expand_with_label(secret, "key", b"", 16)) == 16
    # The length is part of KDFLabel, so a longer output is not an extension.
    assert suite.expand_with_label(secret, "key", b"", 32)[:16] != suite.expand_with_label(
        secret, "key", b"", 16
    )
    assert suite.derive_secret(secret, "a") != suite.derive_secret(secret, "b")
    with pytest.raises(UsageError):
        suite.expand_with_label(secret, "key", b"", 1 << 16)


def test_references_use_distinct_labels() -> None:
    data = b"same bytes"
    assert suite.make_key_package_ref(data) != suite.make_proposal_ref(data)
    assert suite.make_key_package_ref(data) == suite.ref_hash("MLS 1.0 KeyPackage Reference", data)
    assert len(suite.make_proposal_ref(data)) == suite.NH


def test_mac_and_comparison() -> None:
    tag = suite.mac(b"key", b"data")
    assert suite.mac_equal(tag, suite.mac(b"key", b"data"))
    assert not suite.mac_equal(tag, suite.mac(b"key", b"datA"))


def test_derive_hpke_key_pair_is_deterministic() -> None:
    assert suite.derive_hpke_key_pair(b"x") == suite.derive_hpke_key_pair(b"x")
    priv, pub = suite.derive_hpke_key_pair(b"x")
    assert suite.hpke_public_key(priv) == pub


def test_bad_private_key_is_a_usage_error() -> None:
    with pytest.raises(UsageError):
        suite.sign_with_label(b"short", "L", b"")


def test_loaded_key_objects_work_like_raw_bytes() -> None:
    priv, pub = suite.generate_signature_key_pair()
    loaded = suite.load_signature_private_key(priv)
    suite.verify_with_label(pub, "L", b"c", suite.sign_with_label(loaded, "L", b"c"))
    assert suite.signature_public_key(loaded) == pub
    hpke_priv, hpke_pub = suite.generate_hpke_key_pair()
    hpke_loaded = hpke.load_private_key(hpke_priv)
    kem_output, ct = suite.encrypt_with_label(hpke_pub, "L", b"ctx", b"pt")
    assert suite.decrypt_with_label(hpke_loaded, "L", b"ctx", kem_output, ct) == b"pt"
    assert suite.hpke_public_key(hpke_loaded) == hpke_pub
