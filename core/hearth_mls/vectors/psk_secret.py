"""Checker for ``psk_secret.json`` (RFC 9420 §8.4), external PSKs only."""

from __future__ import annotations

from hearth_mls.proposals import PreSharedKeyID, PSKType
from hearth_mls.psk import psk_secret
from hearth_mls.vectors import Entry


def check(entry: Entry) -> None:
    psks = [
        (
            PreSharedKeyID(
                PSKType.EXTERNAL,
                psk_nonce=bytes.fromhex(p["psk_nonce"]),
                psk_id=bytes.fromhex(p["psk_id"]),
            ),
            bytes.fromhex(p["psk"]),
        )
        for p in entry["psks"]
    ]
    got = psk_secret(psks).hex()
    if got != entry["psk_secret"]:
        raise AssertionError(f"psk_secret: got {got}, want {entry['psk_secret']}")
