"""Joining: KeyPackages (RFC 9420 §10) and Welcome processing (§12.4.3.1).

The joiner's side: create and verify a KeyPackage and its reference; decrypt a
Welcome addressed to one of our KeyPackages (GroupSecrets by HPKE, then the
GroupInfo under the welcome key); verify the GroupInfo signature (§12.4.3);
rebuild the epoch's key schedule from the joiner_secret and check the
confirmation tag. The committer's side, :func:`create_welcome`, is here too.
Building the ratchet tree and the group state from them is the group layer's job.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hearth_mls import hpke, key_schedule, psk, suite, transcript
from hearth_mls.commit import HPKECiphertext
from hearth_mls.credential import Credential
from hearth_mls.errors import (
    GroupInfoDecryptionError,
    InvalidKeyPackageError,
    UnsupportedError,
    UsageError,
    WelcomeNotForUsError,
)
from hearth_mls.extensions import CIPHERSUITE_1, MLS10, Extension
from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from hearth_mls.proposals import PreSharedKeyID
from hearth_mls.welcome_structs import EncryptedGroupSecrets, GroupSecrets, PathSecret, Welcome

#: Finds the secret of a PSK named in a Welcome; raises if it is not known (§8.4).
PSKLookup = Callable[[PreSharedKeyID], bytes]

_WELCOME_LABEL = "Welcome"

#: What a Hearth client supports (§7.2): mls10, ciphersuite 1, basic credentials.
DEFAULT_CAPABILITIES = Capabilities(
    versions=(MLS10,), cipher_suites=(CIPHERSUITE_1,), credentials=(1,)
)


# --- KeyPackages (§10) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class KeyPackageBundle:
    """A signed KeyPackage and the private keys its owner keeps (§10)."""

    key_package: KeyPackage
    init_private: bytes
    encryption_private: bytes

    def __repr__(self) -> str:  # never print private keys
        return f"KeyPackageBundle(ref={key_package_ref(self.key_package).hex()[:16]}...)"


def key_package_ref(key_package: KeyPackage) -> bytes:
    """MakeKeyPackageRef of the encoded KeyPackage (§5.2)."""
    return suite.make_key_package_ref(key_package.to_bytes())


def create_key_package(
    credential: Credential,
    signature_private: suite.SignaturePrivateKey,
    lifetime: Lifetime,
    *,
    capabilities: Capabilities = DEFAULT_CAPABILITIES,
    leaf_extensions: tuple[Extension, ...] = (),
    extensions: tuple[Extension, ...] = (),
) -> KeyPackageBundle:
    """Create and sign a KeyPackage with fresh init and encryption keys (§10)."""
    init_private, init_key = suite.generate_hpke_key_pair()
    encryption_private, encryption_key = suite.generate_hpke_key_pair()
    leaf = LeafNode(
        encryption_key=encryption_key,
        signature_key=suite.signature_public_key(signature_private),
        credential=credential,
        capabilities=capabilities,
        leaf_node_source=LeafNodeSource.KEY_PACKAGE,
        extensions=leaf_extensions,
        lifetime=lifetime,
    )
    leaf = leaf.signed(signature_private)
    signed = KeyPackage(CIPHERSUITE_1, init_key, leaf, extensions).signed(signature_private)
    return KeyPackageBundle(signed, init_private, encryption_private)


def verify_key_package(key_package: KeyPackage, now: int | None = None) -> None:
    """Check a KeyPackage as §10.1 requires of the group it joins.

    Version and suite must be ours (UnsupportedError); the leaf node must come
    from a KeyPackage, have a valid lifetime at ``now`` (seconds since the
    epoch, when given) and an encryption key other than the init key
    (InvalidKeyPackageError); both signatures must verify with the leaf's
    signature key (SignatureError). Capability and extension checks against the
    group are the group layer's (§7.3).
    """
    if key_package.version != MLS10 or key_package.cipher_suite != CIPHERSUITE_1:
        raise UnsupportedError(
            f"KeyPackage for version {key_package.version}, suite {key_package.cipher_suite}"
        )
    leaf = key_package.leaf_node
    if leaf.leaf_node_source is not LeafNodeSource.KEY_PACKAGE or leaf.lifetime is None:
        raise InvalidKeyPackageError("the leaf node's source is not key_package")
    if key_package.init_key == leaf.encryption_key:
        raise InvalidKeyPackageError("init_key equals the leaf's encryption_key")
    if now is not None and not leaf.lifetime.not_before <= now <= leaf.lifetime.not_after:
        raise InvalidKeyPackageError("the KeyPackage is outside its lifetime")
    suite.verify_with_label(
        leaf.signature_key, KeyPackage.SIGN_LABEL, key_package.to_be_signed(), key_package.signature
    )
    suite.verify_with_label(
        leaf.signature_key, LeafNode.SIGN_LABEL, leaf.to_be_signed(), leaf.signature
    )


# --- GroupInfo (§12.4.3) -----------------------------------------------------


def sign_group_info(
    group_info: GroupInfo, signature_private: suite.SignaturePrivateKey
) -> GroupInfo:
    """Sign GroupInfoTBS with SignWithLabel (§12.4.3)."""
    return group_info.signed(signature_private)


def verify_group_info(group_info: GroupInfo, signer_public: bytes) -> None:
    """Verify a GroupInfo's signature by the member at ``group_info.signer`` (§12.4.3)."""
    suite.verify_with_label(
        signer_public, GroupInfo.SIGN_LABEL, group_info.to_be_signed(), group_info.signature
    )


# --- Welcome (§12.4.3.1) -----------------------------------------------------


def _group_info_aead(welcome_secret: bytes) -> tuple[AESGCM, bytes]:
    key, nonce = key_schedule.welcome_key_nonce(welcome_secret)
    return AESGCM(key), nonce


def create_welcome(
    group_info: GroupInfo,
    joiner_secret: bytes,
    new_members: Sequence[tuple[KeyPackage, PathSecret | None]],
    psks: Sequence[tuple[PreSharedKeyID, bytes]] = (),
) -> Welcome:
    """Encrypt a signed GroupInfo and each new member's GroupSecrets (§12.4.3.1)."""
    psk_secret = psk.psk_secret(psks)
    aead, nonce = _group_info_aead(key_schedule.welcome_secret(joiner_secret, psk_secret))
    encrypted_group_info = aead.encrypt(nonce, group_info.to_bytes(), b"")
    psk_ids = tuple(psk_id for psk_id, _ in psks)
    secrets = []
    for key_package, path_secret in new_members:
        group_secrets = GroupSecrets(joiner_secret, path_secret, psk_ids)
        kem_output, ciphertext = suite.encrypt_with_label(
            key_package.init_key, _WELCOME_LABEL, encrypted_group_info, group_secrets.to_bytes()
        )
        secrets.append(
            EncryptedGroupSecrets(
                key_package_ref(key_package), HPKECiphertext(kem_output, ciphertext)
            )
        )
    return Welcome(CIPHERSUITE_1, tuple(secrets), encrypted_group_info)


@dataclass(frozen=True, slots=True)
class JoinedEpoch:
    """What a decrypted and checked Welcome gives the new member."""

    group_secrets: GroupSecrets
    group_info: GroupInfo
    psk_secret: bytes
    epoch_secrets: key_schedule.EpochSecrets

    def __repr__(self) -> str:
        return f"JoinedEpoch(epoch={self.group_info.group_context.epoch})"


def decrypt_welcome(
    welcome: Welcome,
    key_package: KeyPackage,
    init_private: hpke.PrivateKey,
    psk_lookup: PSKLookup | None = None,
) -> tuple[GroupSecrets, GroupInfo, bytes]:
    """Decrypt our GroupSecrets and the GroupInfo: ``(secrets, group_info, psk_secret)``.

    The GroupInfo's signature and confirmation tag are not checked here; see
    :func:`join_epoch`.
    """
    if welcome.cipher_suite != CIPHERSUITE_1:
        raise UnsupportedError(f"Welcome for ciphersuite {welcome.cipher_suite}")
    entry = welcome.secrets_for(key_package_ref(key_package))
    if entry is None:
        raise WelcomeNotForUsError("the Welcome holds no secrets for our KeyPackage")
    encrypted = entry.encrypted_group_secrets
    plaintext = suite.decrypt_with_label(
        init_private,
        _WELCOME_LABEL,
        welcome.encrypted_group_info,
        encrypted.kem_output,
        encrypted.ciphertext,
    )
    group_secrets = GroupSecrets.from_bytes(plaintext)
    if group_secrets.psks and psk_lookup is None:
        raise UsageError("the Welcome requires PSKs but no PSK lookup was given")
    psk_secret = psk.psk_secret(
        [(psk_id, psk_lookup(psk_id)) for psk_id in group_secrets.psks] if psk_lookup else []
    )
    aead, nonce = _group_info_aead(
        key_schedule.welcome_secret(group_secrets.joiner_secret, psk_secret)
    )
    try:
        raw_group_info = aead.decrypt(nonce, welcome.encrypted_group_info, b"")
    except InvalidTag:
        raise GroupInfoDecryptionError("encrypted_group_info does not decrypt") from None
    group_info = GroupInfo.from_bytes(raw_group_info)
    context = group_info.group_context
    if context.version != MLS10 or context.cipher_suite != welcome.cipher_suite:
        raise UnsupportedError("the GroupInfo's version or ciphersuite differs from the Welcome")
    return group_secrets, group_info, psk_secret


def check_confirmation(
    group_info: GroupInfo, joiner_secret: bytes, psk_secret: bytes
) -> key_schedule.EpochSecrets:
    """Rebuild the epoch from joiner_secret and check the GroupInfo's confirmation tag."""
    context = group_info.group_context
    secrets = key_schedule.EpochSecrets.from_joiner(joiner_secret, context, psk_secret)
    transcript.verify_confirmation_tag(
        secrets.confirmation_key, context.confirmed_transcript_hash, group_info.confirmation_tag
    )
    return secrets


def join_epoch(
    welcome: Welcome,
    key_package: KeyPackage,
    init_private: hpke.PrivateKey,
    signer_public: Callable[[GroupInfo], bytes],
    psk_lookup: PSKLookup | None = None,
) -> JoinedEpoch:
    """Decrypt a Welcome, verify the GroupInfo's signature and confirmation tag (§12.4.3.1).

    ``signer_public`` returns the signature key of the member at
    ``group_info.signer`` (from the ratchet tree, which the group layer builds).
    """
    group_secrets, group_info, psk_secret = decrypt_welcome(
        welcome, key_package, init_private, psk_lookup
    )
    verify_group_info(group_info, signer_public(group_info))
    secrets = check_confirmation(group_info, group_secrets.joiner_secret, psk_secret)
    return JoinedEpoch(group_secrets, group_info, psk_secret, secrets)
