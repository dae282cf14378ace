"""Checker for ``rfc9180-hpke-base-x25519-sha256-aes128gcm.json`` (RFC 9180 Appendix A.1.1).

Checks DeriveKeyPair for both key pairs, Encap with the vector's ephemeral key,
Decap, the key schedule, every Seal and Open with its sequence number, and
every Export.
"""

from __future__ import annotations

from hearth_mls import hpke
from hearth_mls.vectors import Entry, Skip


def _expect(name: str, got: bytes, want: str) -> None:
    if got.hex() != want:
        raise AssertionError(f"{name}: got {got.hex()}, want {want}")


def check(entry: Entry) -> None:
    ids = (entry["mode"], entry["kem_id"], entry["kdf_id"], entry["aead_id"])
    if ids != (hpke.MODE_BASE, hpke.KEM_ID, hpke.KDF_ID, hpke.AEAD_ID):
        raise Skip(f"not base mode of ciphersuite 1: {ids}")
    sk_e, pk_e = hpke.derive_key_pair(bytes.fromhex(entry["ikmE"]))
    _expect("skEm", sk_e, entry["skEm"])
    _expect("pkEm", pk_e, entry["pkEm"])
    sk_r, pk_r = hpke.derive_key_pair(bytes.fromhex(entry["ikmR"]))
    _expect("skRm", sk_r, entry["skRm"])
    _expect("pkRm", pk_r, entry["pkRm"])

    shared, enc = hpke.encap(pk_r, ephemeral=sk_e)
    _expect("enc", enc, entry["enc"])
    _expect("shared_secret", shared, entry["shared_secret"])
    _expect("shared_secret (decap)", hpke.decap(enc, sk_r), entry["shared_secret"])

    info = bytes.fromhex(entry["info"])
    enc_s, sender = hpke.setup_base_s(pk_r, info, ephemeral=sk_e)
    receiver = hpke.setup_base_r(enc_s, sk_r, info)
    _expect("key", sender.key, entry["key"])
    _expect("base_nonce", sender.base_nonce, entry["base_nonce"])
    _expect("exporter_secret", receiver.exporter_secret, entry["exporter_secret"])

    for index, case in enumerate(entry["encryptions"]):
        seq = case["sequence_number"]
        # The vector lists a subset of sequence numbers; jump to each one.
        sender.seq = receiver.seq = seq
        _expect(f"nonce[{index}]", sender.nonce(seq), case["nonce"])
        aad, pt = bytes.fromhex(case["aad"]), bytes.fromhex(case["pt"])
        _expect(f"ct[{index}]", sender.seal(aad, pt), case["ct"])
        _expect(f"pt[{index}]", receiver.open(aad, bytes.fromhex(case["ct"])), case["pt"])

    for index, case in enumerate(entry["exports"]):
        ctx = bytes.fromhex(case["exporter_context"])
        _expect(f"export[{index}]", sender.export(ctx, case["L"]), case["exported_value"])
        _expect(f"export[{index}] (r)", receiver.export(ctx, case["L"]), case["exported_value"])
