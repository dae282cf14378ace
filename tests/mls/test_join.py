"""Joining from a Welcome: each failure has its own error (RFC 9420 §12.4.3.1)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from hearth_mls import errors
from hearth_mls.group import Group
from hearth_mls.join import KeyPackageSecrets, create_key_package, join_from_welcome
from hearth_mls.proposals import Add
from hearth_mls.welcome_structs import Welcome


def _welcome_for_bob() -> tuple[Welcome, KeyPackageSecrets]:
    alice = Group.create(b"alice")
    bob = create_key_package(b"bob")
    _, message, _ = alice.commit([Add(bob.key_package)])
    assert message is not None
    assert isinstance(message.body, Welcome)
    return message.body, bob


def test_a_welcome_for_another_key_package() -> None:
    welcome, _ = _welcome_for_bob()
    with pytest.raises(errors.WelcomeNotForUsError):
        join_from_welcome(welcome, create_key_package(b"carol"))


def test_group_secrets_that_do_not_decrypt() -> None:
    welcome, bob = _welcome_for_bob()
    entry = welcome.secrets[0]
    ct = entry.encrypted_group_secrets
    bad = replace(ct, ciphertext=bytes(len(ct.ciphertext)))
    damaged = replace(welcome, secrets=(replace(entry, encrypted_group_secrets=bad),))
    with pytest.raises(errors.WelcomeError, match="GroupSecrets") as info:
        join_from_welcome(damaged, bob)
    assert isinstance(info.value.__cause__, errors.HPKEDecryptionError)


def test_group_info_that_does_not_decrypt() -> None:
    welcome, bob = _welcome_for_bob()
    info_ct = welcome.encrypted_group_info
    damaged = replace(welcome, encrypted_group_info=info_ct[:-1] + bytes([info_ct[-1] ^ 1]))
    # The GroupSecrets are bound to the encrypted GroupInfo (§12.4.3.1), so
    # tampering with it already fails their decryption.
    with pytest.raises(errors.WelcomeError):
        join_from_welcome(damaged, bob)


def test_another_cipher_suite() -> None:
    welcome, bob = _welcome_for_bob()
    with pytest.raises(errors.WelcomeError, match="cipher suite"):
        join_from_welcome(replace(welcome, cipher_suite=2), bob)


def test_the_welcome_still_joins_after_the_rejections() -> None:
    welcome, bob = _welcome_for_bob()
    state = join_from_welcome(welcome, bob)
    assert state.epoch == 1
    assert state.own_leaf == 1
