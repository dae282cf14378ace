"""Checker for ``key-schedule.json`` (RFC 9420 §8, §8.1, §8.3, §8.5)."""

from __future__ import annotations

from hearth_mls.extensions import GroupContext
from hearth_mls.key_schedule import EpochSecrets
from hearth_mls.vectors import Entry

_OUTPUTS = (
    "joiner_secret",
    "welcome_secret",
    "init_secret",
    "sender_data_secret",
    "encryption_secret",
    "exporter_secret",
    "epoch_authenticator",
    "external_secret",
    "confirmation_key",
    "membership_key",
    "resumption_psk",
)


def _expect(name: str, got: bytes, want: str) -> None:
    if got.hex() != want:
        raise AssertionError(f"{name}: got {got.hex()}, want {want}")


def check(entry: Entry) -> None:
    group_id = bytes.fromhex(entry["group_id"])
    init_secret = bytes.fromhex(entry["initial_init_secret"])
    for epoch, case in enumerate(entry["epochs"]):
        context = GroupContext(
            group_id=group_id,
            epoch=epoch,
            tree_hash=bytes.fromhex(case["tree_hash"]),
            confirmed_transcript_hash=bytes.fromhex(case["confirmed_transcript_hash"]),
            cipher_suite=entry["cipher_suite"],
        )
        _expect(f"epoch {epoch} group_context", context.to_bytes(), case["group_context"])
        secrets = EpochSecrets.advance(
            init_secret,
            context,
            commit_secret=bytes.fromhex(case["commit_secret"]),
            psk_secret=bytes.fromhex(case["psk_secret"]),
        )
        for name in _OUTPUTS:
            _expect(f"epoch {epoch} {name}", getattr(secrets, name), case[name])
        _expect(f"epoch {epoch} external_pub", secrets.external_pub, case["external_pub"])
        ex = case["exporter"]
        got = secrets.export(ex["label"], bytes.fromhex(ex["context"]), ex["length"])
        _expect(f"epoch {epoch} exporter", got, ex["secret"])
        init_secret = secrets.init_secret
