"""KeyPackages (RFC 9420 §10) and Welcome processing (§12.4.3.1), good and bad."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth_mls import suite, transcript
from hearth_mls.commit import HPKECiphertext
from hearth_mls.credential import Credential
from hearth_mls.errors import (
    ConfirmationTagError,
    GroupInfoDecryptionError,
    HPKEDecryptionError,
    InvalidKeyPackageError,
    SignatureError,
    UnsupportedError,
    UsageError,
    WelcomeNotForUsError,
)
from hearth_mls.extensions import GroupContext
from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.key_schedule import EpochSecrets
from hearth_mls.leaf_node import Lifetime
from hearth_mls.proposals import PreSharedKeyID, PSKType
from hearth_mls.psk import psk_secret
from hearth_mls.welcome import (
    KeyPackageBundle,
    create_key_package,
    create_welcome,
    decrypt_welcome,
    join_epoch,
    key_package_ref,
    sign_group_info,
    verify_group_info,
    verify_key_package,
)
from hearth_mls.welcome_structs import EncryptedGroupSecrets, GroupSecrets, Welcome

LIFETIME = Lifetime(1_000, 2_000)
CONTEXT = GroupContext(b"room", 5, b"t" * 32, b"c" * 32)
JOINER = b"j" * 32


def _bundle() -> tuple[KeyPackageBundle, bytes]:
    priv, _ = suite.generate_signature_key_pair()
    return create_key_package(Credential.basic(b"alice"), priv, LIFETIME), priv


def _group_info(signer_priv: bytes, psk_secret: bytes = bytes(32)) -> GroupInfo:
    secrets = EpochSecrets.from_joiner(JOINER, CONTEXT, psk_secret)
    tag = transcript.confirmation_tag(secrets.confirmation_key, CONTEXT.confirmed_transcript_hash)
    return sign_group_info(GroupInfo(CONTEXT, tag, signer=0), signer_priv)


def test_key_package_round_trip_and_verify() -> None:
    bundle, _ = _bundle()
    kp = KeyPackage.from_bytes(bundle.key_package.to_bytes())
    verify_key_package(kp, now=1_500)
    assert key_package_ref(kp) == suite.make_key_package_ref(kp.to_bytes())
    assert suite.hpke_public_key(bundle.init_private) == kp.init_key
    assert "init_private" not in repr(bundle)


def test_key_package_bad_signature() -> None:
    bundle, _ = _bundle()
    kp = bundle.key_package
    with pytest.raises(SignatureError):
        verify_key_package(kp.with_signature(bytes(64)))
    # A changed field invalidates the KeyPackage signature.
    with pytest.raises(SignatureError):
        verify_key_package(replace(kp, init_key=suite.generate_hpke_key_pair()[1]))


def test_key_package_rules() -> None:
    bundle, _ = _bundle()
    kp = bundle.key_package
    with pytest.raises(InvalidKeyPackageError):
        verify_key_package(replace(kp, init_key=kp.leaf_node.encryption_key))
    with pytest.raises(InvalidKeyPackageError):
        verify_key_package(kp, now=2_001)
    with pytest.raises(UnsupportedError):
        verify_key_package(replace(kp, cipher_suite=2))


def test_welcome_round_trip() -> None:
    (bundle, _), signer = _bundle(), suite.generate_signature_key_pair()
    info = _group_info(signer[0])
    welcome = create_welcome(info, JOINER, [(bundle.key_package, None)])
    welcome = Welcome.from_bytes(welcome.to_bytes())
    joined = join_epoch(welcome, bundle.key_package, bundle.init_private, lambda gi: signer[1])
    assert joined.group_info == info
    assert joined.epoch_secrets == EpochSecrets.from_joiner(JOINER, CONTEXT)


def test_welcome_for_someone_else() -> None:
    (alice, _), (bob, _) = _bundle(), _bundle()
    signer = suite.generate_signature_key_pair()
    welcome = create_welcome(_group_info(signer[0]), JOINER, [(alice.key_package, None)])
    with pytest.raises(WelcomeNotForUsError):
        decrypt_welcome(welcome, bob.key_package, bob.init_private)


def test_welcome_with_wrong_init_key_or_tampered_group_info() -> None:
    (alice, _), (bob, _) = _bundle(), _bundle()
    signer = suite.generate_signature_key_pair()
    welcome = create_welcome(_group_info(signer[0]), JOINER, [(alice.key_package, None)])
    with pytest.raises(HPKEDecryptionError):
        decrypt_welcome(welcome, alice.key_package, bob.init_private)
    # encrypted_group_info is the HPKE context, so tampering it fails HPKE first.
    tampered = replace(welcome, encrypted_group_info=welcome.encrypted_group_info[:-1] + b"\0")
    with pytest.raises(HPKEDecryptionError):
        decrypt_welcome(tampered, alice.key_package, alice.init_private)


def test_group_secrets_with_another_joiner_secret_fail_group_info_decryption() -> None:
    alice, _ = _bundle()
    signer = suite.generate_signature_key_pair()
    welcome = create_welcome(_group_info(signer[0]), JOINER, [(alice.key_package, None)])
    wrong = GroupSecrets(b"x" * 32)
    kem_output, ct = suite.encrypt_with_label(
        alice.key_package.init_key, "Welcome", welcome.encrypted_group_info, wrong.to_bytes()
    )
    entry = EncryptedGroupSecrets(
        key_package_ref(alice.key_package), HPKECiphertext(kem_output, ct)
    )
    with pytest.raises(GroupInfoDecryptionError):
        decrypt_welcome(replace(welcome, secrets=(entry,)), alice.key_package, alice.init_private)


def test_group_info_signature_and_confirmation_tag() -> None:
    alice, _ = _bundle()
    signer, other = suite.generate_signature_key_pair(), suite.generate_signature_key_pair()
    info = _group_info(signer[0])
    with pytest.raises(SignatureError):
        verify_group_info(info, other[1])
    bad_tag = sign_group_info(replace(info, confirmation_tag=b"\0" * 32), signer[0])
    welcome = create_welcome(bad_tag, JOINER, [(alice.key_package, None)])
    with pytest.raises(ConfirmationTagError):
        join_epoch(welcome, alice.key_package, alice.init_private, lambda gi: signer[1])


def test_welcome_with_psks() -> None:
    alice, _ = _bundle()
    signer = suite.generate_signature_key_pair()
    psk_id = PreSharedKeyID(PSKType.EXTERNAL, psk_nonce=b"n" * 32, psk_id=b"facilitators")
    psks = [(psk_id, b"s" * 32)]
    info = _group_info(signer[0], psk_secret(psks))
    welcome = create_welcome(info, JOINER, [(alice.key_package, None)], psks)
    with pytest.raises(UsageError):
        decrypt_welcome(welcome, alice.key_package, alice.init_private)
    joined = join_epoch(
        welcome, alice.key_package, alice.init_private, lambda gi: signer[1], lambda i: b"s" * 32
    )
    assert joined.group_secrets.psks == (psk_id,)
    with pytest.raises(GroupInfoDecryptionError):  # wrong PSK: wrong welcome key
        decrypt_welcome(welcome, alice.key_package, alice.init_private, lambda i: b"t" * 32)


def test_welcome_for_another_suite() -> None:
    alice, _ = _bundle()
    signer = suite.generate_signature_key_pair()
    welcome = create_welcome(_group_info(signer[0]), JOINER, [(alice.key_package, None)])
    with pytest.raises(UnsupportedError):
        decrypt_welcome(replace(welcome, cipher_suite=3), alice.key_package, alice.init_private)


def test_group_info_for_another_suite_inside_a_suite_1_welcome() -> None:
    alice, _ = _bundle()
    signer = suite.generate_signature_key_pair()
    info = sign_group_info(
        GroupInfo(replace(CONTEXT, cipher_suite=2), b"\0" * 32, signer=0), signer[0]
    )
    welcome = create_welcome(info, JOINER, [(alice.key_package, None)])
    with pytest.raises(UnsupportedError):
        decrypt_welcome(welcome, alice.key_package, alice.init_private)


def test_key_package_with_a_bad_leaf_signature() -> None:
    bundle, priv = _bundle()
    kp = bundle.key_package
    bad_leaf = kp.leaf_node.with_signature(bytes(64))
    resigned = replace(kp, leaf_node=bad_leaf)
    resigned = resigned.with_signature(
        suite.sign_with_label(priv, "KeyPackageTBS", resigned.to_be_signed())
    )
    with pytest.raises(SignatureError):
        verify_key_package(resigned)
