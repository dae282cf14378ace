"""Ciphersuite 1, MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (RFC 9420 §5.1, §17.1).

SHA-256 hash, HMAC-SHA256 MAC, HKDF-SHA256 KDF, AES-128-GCM AEAD, Ed25519
signatures and HPKE with DHKEM(X25519). Keys travel as raw bytes: X25519 and
Ed25519 private and public keys are their 32-byte RFC 7748 / RFC 8032 forms,
exactly as they appear on the wire (``HPKEPublicKey``, ``SignaturePublicKey``).
"""

from __future__ import annotations

import hashlib
import hmac

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

from hearth_mls import hpke
from hearth_mls.codec import Writer
from hearth_mls.errors import SignatureError, UsageError

#: The ciphersuite's registry value (§17.1).
CIPHER_SUITE = 0x0001
#: Output size of the hash and KDF (KDF.Nh).
NH = 32
#: AEAD key size (AEAD.Nk) and nonce size (AEAD.Nn).
NK = 16
NN = 12
#: Ed25519 key and signature sizes.
SIGNATURE_PUBLIC_KEY_LEN = 32
SIGNATURE_LEN = 64

_SHA256 = hashes.SHA256()
_MLS_PREFIX = b"MLS 1.0 "


def _label(label: bytes | str) -> bytes:
    return label.encode() if isinstance(label, str) else label


def digest(data: bytes) -> bytes:
    """Hash (SHA-256)."""
    return hashlib.sha256(data).digest()


def mac(key: bytes, data: bytes) -> bytes:
    """MAC (HMAC-SHA256, §5.1)."""
    return hmac.digest(key, data, "sha256")


def mac_equal(a: bytes, b: bytes) -> bool:
    """Constant-time comparison of two MACs."""
    return hmac.compare_digest(a, b)


def extract(salt: bytes, ikm: bytes) -> bytes:
    """KDF.Extract (HKDF-SHA256, RFC 5869 §2.2)."""
    return HKDF.extract(_SHA256, salt, ikm)


def expand(prk: bytes, info: bytes, length: int) -> bytes:
    """KDF.Expand (HKDF-SHA256, RFC 5869 §2.3)."""
    return HKDFExpand(_SHA256, length, info).derive(prk)


def expand_with_label(secret: bytes, label: bytes | str, context: bytes, length: int) -> bytes:
    """ExpandWithLabel (RFC 9420 §8): KDFLabel = {length, "MLS 1.0 " + label, context}."""
    if not 0 <= length <= 0xFFFF:
        raise UsageError(f"ExpandWithLabel length {length} out of range")
    kdf_label = Writer().uint16(length).opaque(_MLS_PREFIX + _label(label)).opaque(context)
    return expand(secret, kdf_label.getvalue(), length)


def derive_secret(secret: bytes, label: bytes | str) -> bytes:
    """DeriveSecret (RFC 9420 §8): ExpandWithLabel(secret, label, "", Nh)."""
    return expand_with_label(secret, label, b"", NH)


def derive_tree_secret(secret: bytes, label: bytes | str, generation: int, length: int) -> bytes:
    """DeriveTreeSecret (RFC 9420 §9): the context is the uint32 generation."""
    return expand_with_label(secret, label, generation.to_bytes(4, "big"), length)


def ref_hash(label: bytes | str, value: bytes) -> bytes:
    """RefHash (RFC 9420 §5.2): Hash(RefHashInput{label, value})."""
    return digest(Writer().opaque(_label(label)).opaque(value).getvalue())


def make_key_package_ref(key_package: bytes) -> bytes:
    """MakeKeyPackageRef over the encoded KeyPackage (RFC 9420 §5.2)."""
    return ref_hash(b"MLS 1.0 KeyPackage Reference", key_package)


def make_proposal_ref(authenticated_content: bytes) -> bytes:
    """MakeProposalRef over the encoded AuthenticatedContent (RFC 9420 §5.2)."""
    return ref_hash(b"MLS 1.0 Proposal Reference", authenticated_content)


def _sign_content(label: bytes | str, content: bytes) -> bytes:
    """SignContent (RFC 9420 §5.1.2)."""
    return Writer().opaque(_MLS_PREFIX + _label(label)).opaque(content).getvalue()


def generate_signature_key_pair() -> tuple[bytes, bytes]:
    """A fresh Ed25519 ``(private, public)`` pair (RFC 9420 §5.1.2)."""
    key = Ed25519PrivateKey.generate()
    return key.private_bytes_raw(), key.public_key().public_bytes_raw()


#: An Ed25519 private key: raw bytes, or a loaded key object. Loading from bytes
#: costs as much as a signature, so a member that signs often keeps the object.
SignaturePrivateKey = bytes | Ed25519PrivateKey


def signature_public_key(private: SignaturePrivateKey) -> bytes:
    """The Ed25519 public key of a private key."""
    return _signing_key(private).public_key().public_bytes_raw()


def load_signature_private_key(private: bytes) -> Ed25519PrivateKey:
    """Load a raw Ed25519 private key once, to pass to repeated signings."""
    return _signing_key(private)


def _signing_key(private: SignaturePrivateKey) -> Ed25519PrivateKey:
    if isinstance(private, Ed25519PrivateKey):
        return private
    if len(private) != 32:
        raise UsageError(f"Ed25519 private key must be 32 bytes, got {len(private)}")
    return Ed25519PrivateKey.from_private_bytes(private)


def sign_with_label(private: SignaturePrivateKey, label: bytes | str, content: bytes) -> bytes:
    """SignWithLabel (RFC 9420 §5.1.2) with Ed25519."""
    return _signing_key(private).sign(_sign_content(label, content))


def verify_with_label(public: bytes, label: bytes | str, content: bytes, signature: bytes) -> None:
    """VerifyWithLabel (RFC 9420 §5.1.2); raises :class:`SignatureError` if invalid.

    A malformed public key or signature is the signer's fault too, so it also
    raises :class:`SignatureError`.
    """
    if len(public) != SIGNATURE_PUBLIC_KEY_LEN or len(signature) != SIGNATURE_LEN:
        raise SignatureError(
            f"{_label(label).decode(errors='replace')}: malformed key or signature"
        )
    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, _sign_content(label, content))
    except (InvalidSignature, ValueError):
        raise SignatureError(
            f"{_label(label).decode(errors='replace')}: signature does not verify"
        ) from None


def _encrypt_context(label: bytes | str, context: bytes) -> bytes:
    """EncryptContext (RFC 9420 §5.1.3)."""
    return Writer().opaque(_MLS_PREFIX + _label(label)).opaque(context).getvalue()


def encrypt_with_label(
    public: bytes, label: bytes | str, context: bytes, plaintext: bytes
) -> tuple[bytes, bytes]:
    """EncryptWithLabel (RFC 9420 §5.1.3): ``(kem_output, ciphertext)``.

    SealBase with info = EncryptContext and an empty aad.
    """
    return hpke.seal_base(public, _encrypt_context(label, context), b"", plaintext)


def decrypt_with_label(
    private: hpke.PrivateKey,
    label: bytes | str,
    context: bytes,
    kem_output: bytes,
    ciphertext: bytes,
) -> bytes:
    """DecryptWithLabel (RFC 9420 §5.1.3); raises :class:`HPKEDecryptionError`."""
    return hpke.open_base(kem_output, private, _encrypt_context(label, context), b"", ciphertext)


def derive_hpke_key_pair(ikm: bytes) -> tuple[bytes, bytes]:
    """KEM.DeriveKeyPair (RFC 9180 §7.1.3) as RFC 9420 uses it (§7.4, §8.3)."""
    return hpke.derive_key_pair(ikm)


def generate_hpke_key_pair() -> tuple[bytes, bytes]:
    """A fresh X25519 ``(private, public)`` pair for init or encryption keys."""
    return hpke.generate_key_pair()


def hpke_public_key(private: hpke.PrivateKey) -> bytes:
    """The X25519 public key of a raw private key."""
    return hpke.public_key(private)
