"""Checker for ``secret-tree.json`` (RFC 9420 §9, §9.1, sender data §6.3.2)."""

from __future__ import annotations

from hearth_mls.secret_tree import RatchetType, SecretTree, sender_data_key_nonce
from hearth_mls.vectors import Entry


def _expect(name: str, got: bytes, want: str) -> None:
    if got.hex() != want:
        raise AssertionError(f"{name}: got {got.hex()}, want {want}")


def check(entry: Entry) -> None:
    sd = entry["sender_data"]
    key, nonce = sender_data_key_nonce(
        bytes.fromhex(sd["sender_data_secret"]), bytes.fromhex(sd["ciphertext"])
    )
    _expect("sender_data key", key, sd["key"])
    _expect("sender_data nonce", nonce, sd["nonce"])

    tree = SecretTree(bytes.fromhex(entry["encryption_secret"]), len(entry["leaves"]))
    for leaf, generations in enumerate(entry["leaves"]):
        for case in generations:
            g = case["generation"]
            for kind in RatchetType:
                key, nonce = tree.ratchet(leaf, kind).take(g)
                _expect(f"leaf {leaf} {kind.value} key {g}", key, case[f"{kind.value}_key"])
                _expect(f"leaf {leaf} {kind.value} nonce {g}", nonce, case[f"{kind.value}_nonce"])
