"""``python -m bench mls [--quick] [--json]``: MLS operations against their primitives (issue 3).

Each MLS operation is timed beside the raw ``cryptography`` primitive under it,
in the same run: repetitions are interleaved (every operation once per round,
in turn) and each figure is the median over rounds. A ratio is the median of
the per-round ratios, so slow phases of the shared machine cancel out.

* protect + unprotect of a 200-byte application PrivateMessage (RFC 9420 §6.3)
  vs AES-128-GCM encrypt + decrypt of 200 bytes, and vs the floor of what it
  must do: Ed25519 sign + verify plus two AES-GCM seal/open pairs;
* SignWithLabel / VerifyWithLabel (§5.1.2) vs Ed25519 sign / verify; private
  keys are loaded key objects, as a member holds them (one extra row shows
  the cost of loading the key from raw bytes on every call);
* EncryptWithLabel / DecryptWithLabel (§5.1.3) vs cryptography's own HPKE
  ``Suite.encrypt`` / ``decrypt`` and vs bare X25519 + HKDF + AES-GCM.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import cryptography
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hpke as crypto_hpke
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hearth_mls import hpke, suite
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import FramedContent, Sender
from hearth_mls.protection import Protector
from hearth_mls.secret_tree import SecretTree

MESSAGE_SIZE = 200
Op = Callable[[], object]


def _protection_ops() -> tuple[Op, Op, Op]:
    """(protect+unprotect, AES-GCM enc+dec, sign+verify+2x AES-GCM enc+dec) closures."""
    context = GroupContext(b"bench-room", 1, bytes(32), bytes(32))
    secret = os.urandom(32)
    sd_secret, membership = os.urandom(32), os.urandom(32)
    # Large windows: the bench sends many generations in order, none skipped.
    sender = Protector(context, SecretTree(secret, 2), sd_secret, membership)
    receiver = Protector(context, SecretTree(secret, 2), sd_secret, membership)
    raw_priv, sig_pub = suite.generate_signature_key_pair()
    sig_priv = suite.load_signature_private_key(raw_priv)  # as a member holds it
    content = FramedContent(b"bench-room", 1, Sender.member(1), os.urandom(MESSAGE_SIZE))

    def lookup(_: Sender) -> bytes:
        return sig_pub

    def mls() -> object:
        message = sender.protect_private(content, sig_priv)
        return receiver.unprotect_private(message, lookup)

    key, nonce, data = os.urandom(16), os.urandom(12), os.urandom(MESSAGE_SIZE)

    def aead() -> object:
        aes = AESGCM(key)
        return aes.decrypt(nonce, aes.encrypt(nonce, data, b"aad"), b"aad")

    ed = Ed25519PrivateKey.generate()
    ed_pub = ed.public_key()

    def floor() -> object:
        ed_pub.verify(ed.sign(data), data)
        aead()
        return aead()

    return mls, aead, floor


def _signature_ops() -> tuple[Op, Op, Op, Op, Op]:
    raw_priv, pub = suite.generate_signature_key_pair()
    content = os.urandom(MESSAGE_SIZE)
    key = suite.load_signature_private_key(raw_priv)
    signature = suite.sign_with_label(key, "FramedContentTBS", content)
    raw_signature = key.sign(content)
    public = key.public_key()
    return (
        lambda: suite.sign_with_label(key, "FramedContentTBS", content),
        lambda: suite.sign_with_label(raw_priv, "FramedContentTBS", content),
        lambda: key.sign(content),
        lambda: suite.verify_with_label(pub, "FramedContentTBS", content, signature),
        lambda: public.verify(raw_signature, content),
    )


def _hpke_ops() -> tuple[Op, Op, Op, Op, Op]:
    raw_priv, pub = suite.generate_hpke_key_pair()
    priv = hpke.load_private_key(raw_priv)
    plaintext, context = os.urandom(32), os.urandom(32)
    kem_output, ciphertext = suite.encrypt_with_label(pub, "UpdatePathNode", context, plaintext)
    hpke_suite = crypto_hpke.Suite(
        crypto_hpke.KEM.X25519, crypto_hpke.KDF.HKDF_SHA256, crypto_hpke.AEAD.AES_128_GCM
    )
    public_key = X25519PublicKey.from_public_bytes(pub)
    private_key = priv
    sealed = hpke_suite.encrypt(plaintext, public_key, info=context)

    def bare() -> object:  # the least an ephemeral-static seal must do
        ephemeral = X25519PrivateKey.generate()
        shared = ephemeral.exchange(public_key)
        okm = HKDF(hashes.SHA256(), 28, None, context).derive(shared)
        return AESGCM(okm[:16]).encrypt(okm[16:], plaintext, b"")

    return (
        lambda: suite.encrypt_with_label(pub, "UpdatePathNode", context, plaintext),
        lambda: hpke_suite.encrypt(plaintext, public_key, info=context),
        bare,
        lambda: suite.decrypt_with_label(priv, "UpdatePathNode", context, kem_output, ciphertext),
        lambda: hpke_suite.decrypt(sealed, private_key, info=context),
    )


def _time_batch(op: Op, batch: int) -> float:
    start = time.perf_counter()
    for _ in range(batch):
        op()
    return (time.perf_counter() - start) / batch * 1e6


def measure(rounds: int, batch: int) -> dict[str, dict[str, Any]]:
    """Interleaved rounds; per operation the median µs/op and median ratios to baselines."""
    mls, aead, floor = _protection_ops()
    sign, sign_from_bytes, ed_sign, verify, ed_verify = _signature_ops()
    enc, hpke_enc, bare_enc, dec, hpke_dec = _hpke_ops()
    ops: dict[str, Op] = {
        "protect+unprotect 200 B": mls,
        "AESGCM enc+dec 200 B": aead,
        "Ed25519 sign+verify + 2x AESGCM": floor,
        "SignWithLabel": sign,
        "SignWithLabel, key from bytes": sign_from_bytes,
        "Ed25519 sign": ed_sign,
        "VerifyWithLabel": verify,
        "Ed25519 verify": ed_verify,
        "EncryptWithLabel": enc,
        "cryptography HPKE encrypt": hpke_enc,
        "X25519+HKDF+AESGCM": bare_enc,
        "DecryptWithLabel": dec,
        "cryptography HPKE decrypt": hpke_dec,
    }
    baselines: dict[str, tuple[str, ...]] = {
        "protect+unprotect 200 B": ("AESGCM enc+dec 200 B", "Ed25519 sign+verify + 2x AESGCM"),
        "SignWithLabel": ("Ed25519 sign",),
        "SignWithLabel, key from bytes": ("Ed25519 sign",),
        "VerifyWithLabel": ("Ed25519 verify",),
        "EncryptWithLabel": ("cryptography HPKE encrypt", "X25519+HKDF+AESGCM"),
        "DecryptWithLabel": ("cryptography HPKE decrypt",),
    }
    for op in ops.values():  # warm up caches and lazy imports
        _time_batch(op, max(1, batch // 10))
    samples: dict[str, list[float]] = {name: [] for name in ops}
    for _ in range(rounds):
        for name, op in ops.items():
            samples[name].append(_time_batch(op, batch))
    results: dict[str, dict[str, Any]] = {}
    for name, values in samples.items():
        entry: dict[str, Any] = {"us_per_op": statistics.median(values)}
        ratios = {
            base: statistics.median(
                v / b for v, b in zip(values, samples[base], strict=True) if b > 0
            )
            for base in baselines.get(name, ())
        }
        if ratios:
            entry["ratio_to"] = ratios
        results[name] = entry
    return results


def _table(results: dict[str, dict[str, Any]]) -> str:
    lines = [
        f"MLS ciphersuite 1 vs raw cryptography {cryptography.__version__} (medians)",
        f"{'operation':<34} {'µs/op':>9}  ratio to baseline",
        f"{'-' * 34} {'-' * 9}  {'-' * 40}",
    ]
    for name, entry in results.items():
        ratios = entry.get("ratio_to", {})
        text = ", ".join(f"{r:.2f}x {base}" for base, r in ratios.items())
        lines.append(f"{name:<34} {entry['us_per_op']:>9.1f}  {text}")
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench mls", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="few rounds, a few seconds")
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    args = parser.parse_args(argv)
    rounds, batch = (5, 40) if args.quick else (15, 200)
    results = measure(rounds, batch)
    if args.json:
        document = {
            "benchmark": "mls",
            "quick": args.quick,
            "rounds": rounds,
            "batch": batch,
            "message_bytes": MESSAGE_SIZE,
            "machine": {
                "python": platform.python_version(),
                "cryptography": cryptography.__version__,
                "cpus": os.cpu_count(),
            },
            "results": results,
        }
        print(json.dumps(document, indent=1))
    else:
        print(_table(results))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
