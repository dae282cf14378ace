"""Checker for ``crypto-basics.json`` (RFC 9420 §5.1.2, §5.1.3, §5.2, §8, §9)."""

from __future__ import annotations

from hearth_mls import suite
from hearth_mls.vectors import Entry


def _hex(value: str) -> bytes:
    return bytes.fromhex(value)


def _expect(name: str, got: bytes, want: str) -> None:
    if got.hex() != want:
        raise AssertionError(f"{name}: got {got.hex()}, want {want}")


def check(entry: Entry) -> None:
    v = entry["ref_hash"]
    _expect("ref_hash", suite.ref_hash(v["label"], _hex(v["value"])), v["out"])

    v = entry["expand_with_label"]
    got = suite.expand_with_label(_hex(v["secret"]), v["label"], _hex(v["context"]), v["length"])
    _expect("expand_with_label", got, v["out"])

    v = entry["derive_secret"]
    _expect("derive_secret", suite.derive_secret(_hex(v["secret"]), v["label"]), v["out"])

    v = entry["derive_tree_secret"]
    got = suite.derive_tree_secret(_hex(v["secret"]), v["label"], v["generation"], v["length"])
    _expect("derive_tree_secret", got, v["out"])

    v = entry["sign_with_label"]
    priv, pub, content = _hex(v["priv"]), _hex(v["pub"]), _hex(v["content"])
    _expect("signature public key", suite.signature_public_key(priv), v["pub"])
    suite.verify_with_label(pub, v["label"], content, _hex(v["signature"]))
    suite.verify_with_label(
        pub, v["label"], content, suite.sign_with_label(priv, v["label"], content)
    )

    v = entry["encrypt_with_label"]
    priv, pub, context = _hex(v["priv"]), _hex(v["pub"]), _hex(v["context"])
    _expect("hpke public key", suite.hpke_public_key(priv), v["pub"])
    got = suite.decrypt_with_label(
        priv, v["label"], context, _hex(v["kem_output"]), _hex(v["ciphertext"])
    )
    _expect("decrypt_with_label", got, v["plaintext"])
    kem_output, ciphertext = suite.encrypt_with_label(
        pub, v["label"], context, _hex(v["plaintext"])
    )
    got = suite.decrypt_with_label(priv, v["label"], context, kem_output, ciphertext)
    _expect("encrypt_with_label round trip", got, v["plaintext"])
