"""HPKE base mode (RFC 9180) for MLS ciphersuite 1.

DHKEM(X25519, HKDF-SHA256) / HKDF-SHA256 / AES-128-GCM, mode_base only.

cryptography's own ``hazmat.primitives.hpke.Suite`` (since 47.0) offers only a
single-shot ``encrypt``/``decrypt`` with random ephemeral keys: it has no
deterministic ``DeriveKeyPair`` (RFC 9180 §7.1.3, which MLS needs for TreeKEM
node keys and ``external_pub``, RFC 9420 §8.3), no exporter (§5.3, needed for
external commits, RFC 9420 §12.4.3.2) and no way to inject the ephemeral key
that the RFC's test vectors fix. So base mode is written here on cryptography's
primitives (X25519, HKDF, AESGCM); the test suite cross-checks it against
``hpke.Suite`` in both directions.
"""

from __future__ import annotations

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from hearth_mls.errors import HPKEDecryptionError, InvalidPublicKeyError, UsageError

KEM_ID = 0x0020  # DHKEM(X25519, HKDF-SHA256), RFC 9180 §7.1
KDF_ID = 0x0001  # HKDF-SHA256, §7.2
AEAD_ID = 0x0001  # AES-128-GCM, §7.3
MODE_BASE = 0x00

N_SECRET = 32  # Nsecret of the KEM
N_ENC = 32  # Nenc = Npk for X25519
N_SK = 32
N_H = 32  # Nh of HKDF-SHA256
N_K = 16  # Nk of AES-128-GCM
N_N = 12  # Nn of AES-128-GCM
N_T = 16  # tag length

_KEM_SUITE_ID = b"KEM" + KEM_ID.to_bytes(2, "big")
_HPKE_SUITE_ID = (
    b"HPKE" + KEM_ID.to_bytes(2, "big") + KDF_ID.to_bytes(2, "big") + AEAD_ID.to_bytes(2, "big")
)
_SHA256 = hashes.SHA256()
#: RFC 9180 §5.2: the sequence number must not reach 2^(8*Nn) - 1.
_SEQ_LIMIT = (1 << (8 * N_N)) - 1


def _labeled_extract(suite_id: bytes, salt: bytes, label: bytes, ikm: bytes) -> bytes:
    """LabeledExtract (RFC 9180 §4)."""
    return HKDF.extract(_SHA256, salt, b"HPKE-v1" + suite_id + label + ikm)


def _labeled_expand(suite_id: bytes, prk: bytes, label: bytes, info: bytes, length: int) -> bytes:
    """LabeledExpand (RFC 9180 §4)."""
    labeled_info = length.to_bytes(2, "big") + b"HPKE-v1" + suite_id + label + info
    return HKDFExpand(_SHA256, length, labeled_info).derive(prk)


def derive_key_pair(ikm: bytes) -> tuple[bytes, bytes]:
    """DeriveKeyPair for X25519 (RFC 9180 §7.1.3): ``(private, public)`` raw bytes."""
    dkp_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"dkp_prk", ikm)
    sk = _labeled_expand(_KEM_SUITE_ID, dkp_prk, b"sk", b"", N_SK)
    return sk, public_key(sk)


def generate_key_pair() -> tuple[bytes, bytes]:
    """GenerateKeyPair (RFC 9180 §4): a fresh random ``(private, public)`` pair."""
    sk = X25519PrivateKey.generate()
    return sk.private_bytes_raw(), sk.public_key().public_bytes_raw()


#: An X25519 private key: raw bytes, or a loaded key object. Loading from bytes
#: costs a scalar multiplication, so callers that decrypt often keep the object.
PrivateKey = bytes | X25519PrivateKey


def public_key(private: PrivateKey) -> bytes:
    """The serialized public key of an X25519 private key."""
    return _private(private).public_key().public_bytes_raw()


def load_private_key(private: bytes) -> X25519PrivateKey:
    """Load a raw X25519 private key once, to pass to repeated decryptions."""
    return _private(private)


def _private(private: PrivateKey) -> X25519PrivateKey:
    if isinstance(private, X25519PrivateKey):
        return private
    if len(private) != N_SK:
        raise UsageError(f"X25519 private key must be {N_SK} bytes, got {len(private)}")
    return X25519PrivateKey.from_private_bytes(private)


def _dh(private: X25519PrivateKey, peer_public: bytes) -> bytes:
    """DH with validation (RFC 9180 §7.1.1): bad or low-order keys are the peer's fault."""
    if len(peer_public) != N_ENC:
        raise InvalidPublicKeyError(f"X25519 public key must be {N_ENC} bytes")
    try:
        return private.exchange(X25519PublicKey.from_public_bytes(peer_public))
    except ValueError as exc:  # all-zero shared secret: a low-order point
        raise InvalidPublicKeyError(f"X25519 exchange failed: {exc}") from None


def _extract_and_expand(dh: bytes, kem_context: bytes) -> bytes:
    eae_prk = _labeled_extract(_KEM_SUITE_ID, b"", b"eae_prk", dh)
    return _labeled_expand(_KEM_SUITE_ID, eae_prk, b"shared_secret", kem_context, N_SECRET)


def encap(public: bytes, ephemeral: bytes | None = None) -> tuple[bytes, bytes]:
    """Encap (RFC 9180 §4.1): ``(shared_secret, enc)``.

    ``ephemeral`` fixes the ephemeral private key; only test vectors should pass it.
    """
    sk_e = X25519PrivateKey.generate() if ephemeral is None else _private(ephemeral)
    enc = sk_e.public_key().public_bytes_raw()
    dh = _dh(sk_e, public)
    return _extract_and_expand(dh, enc + public), enc


def decap(enc: bytes, private: PrivateKey) -> bytes:
    """Decap (RFC 9180 §4.1): the shared secret."""
    sk_r = _private(private)
    dh = _dh(sk_r, enc)
    return _extract_and_expand(dh, enc + sk_r.public_key().public_bytes_raw())


class Context:
    """An HPKE encryption context (RFC 9180 §5.2, §5.3).

    Holds the AEAD key, base nonce, exporter secret and the sequence number; each
    :meth:`seal` or successful :meth:`open` advances the sequence number.
    """

    __slots__ = ("_aead", "base_nonce", "exporter_secret", "key", "seq")

    def __init__(self, key: bytes, base_nonce: bytes, exporter_secret: bytes) -> None:
        self.key = key
        self.base_nonce = base_nonce
        self.exporter_secret = exporter_secret
        self.seq = 0
        self._aead = AESGCM(key)

    def nonce(self, seq: int) -> bytes:
        """ComputeNonce (RFC 9180 §5.2): base_nonce XOR I2OSP(seq, Nn)."""
        return (int.from_bytes(self.base_nonce, "big") ^ seq).to_bytes(N_N, "big")

    def _next(self) -> int:
        if self.seq >= _SEQ_LIMIT:
            raise UsageError("HPKE sequence number overflow")
        return self.seq

    def seal(self, aad: bytes, plaintext: bytes) -> bytes:
        ct = self._aead.encrypt(self.nonce(self._next()), plaintext, aad)
        self.seq += 1
        return ct

    def open(self, aad: bytes, ciphertext: bytes) -> bytes:
        try:
            pt = self._aead.decrypt(self.nonce(self._next()), ciphertext, aad)
        except InvalidTag:
            raise HPKEDecryptionError("HPKE ciphertext does not authenticate") from None
        self.seq += 1
        return pt

    def export(self, exporter_context: bytes, length: int) -> bytes:
        """Secret export (RFC 9180 §5.3)."""
        if not 0 <= length <= 255 * N_H:
            raise UsageError(f"HPKE export length {length} out of range")
        return _labeled_expand(
            _HPKE_SUITE_ID, self.exporter_secret, b"sec", exporter_context, length
        )


def key_schedule(shared_secret: bytes, info: bytes) -> Context:
    """KeySchedule for mode_base (RFC 9180 §5.1), with empty psk and psk_id."""
    psk_id_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"psk_id_hash", b"")
    info_hash = _labeled_extract(_HPKE_SUITE_ID, b"", b"info_hash", info)
    context = bytes([MODE_BASE]) + psk_id_hash + info_hash
    secret = _labeled_extract(_HPKE_SUITE_ID, shared_secret, b"secret", b"")
    return Context(
        key=_labeled_expand(_HPKE_SUITE_ID, secret, b"key", context, N_K),
        base_nonce=_labeled_expand(_HPKE_SUITE_ID, secret, b"base_nonce", context, N_N),
        exporter_secret=_labeled_expand(_HPKE_SUITE_ID, secret, b"exp", context, N_H),
    )


def setup_base_s(
    public: bytes, info: bytes, ephemeral: bytes | None = None
) -> tuple[bytes, Context]:
    """SetupBaseS (RFC 9180 §5.1.1): ``(enc, sender context)``."""
    shared_secret, enc = encap(public, ephemeral)
    return enc, key_schedule(shared_secret, info)


def setup_base_r(enc: bytes, private: PrivateKey, info: bytes) -> Context:
    """SetupBaseR (RFC 9180 §5.1.1): the receiver context."""
    return key_schedule(decap(enc, private), info)


def seal_base(public: bytes, info: bytes, aad: bytes, plaintext: bytes) -> tuple[bytes, bytes]:
    """Single-shot SealBase (RFC 9180 §6.1): ``(enc, ciphertext)``."""
    enc, ctx = setup_base_s(public, info)
    return enc, ctx.seal(aad, plaintext)


def open_base(enc: bytes, private: PrivateKey, info: bytes, aad: bytes, ciphertext: bytes) -> bytes:
    """Single-shot OpenBase (RFC 9180 §6.1)."""
    return setup_base_r(enc, private, info).open(aad, ciphertext)
