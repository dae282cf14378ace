"""Welcome, EncryptedGroupSecrets, GroupSecrets and PathSecret (RFC 9420 §12.4.3.1)."""

from __future__ import annotations

import pytest

from hearth_mls.commit import HPKECiphertext
from hearth_mls.errors import DecodeError
from hearth_mls.proposals import PreSharedKeyID, PSKType
from hearth_mls.welcome_structs import EncryptedGroupSecrets, GroupSecrets, PathSecret, Welcome
from tests.mls import samples


def test_group_secrets_round_trip() -> None:
    secrets = GroupSecrets(
        b"J" * 32, PathSecret(b"P" * 32), (PreSharedKeyID(PSKType.EXTERNAL, b"n", psk_id=b"i"),)
    )
    assert GroupSecrets.from_bytes(secrets.to_bytes()) == secrets
    assert GroupSecrets.from_bytes(GroupSecrets(b"j").to_bytes()) == GroupSecrets(b"j")


def test_welcome_round_trip_and_lookup() -> None:
    entry = EncryptedGroupSecrets(b"ref-1", HPKECiphertext(b"enc", b"ct"))
    welcome = Welcome(1, (entry,), b"encrypted-info")
    assert Welcome.from_bytes(welcome.to_bytes()) == welcome
    assert welcome.secrets_for(b"ref-1") == entry
    assert welcome.secrets_for(b"ref-2") is None


def test_vector_group_secrets_round_trip() -> None:
    data = samples.message_field("group_secrets")
    assert GroupSecrets.from_bytes(data).to_bytes() == data


def test_bad_path_secret_presence_rejected() -> None:
    with pytest.raises(DecodeError, match="presence octet is 7") as info:
        GroupSecrets.from_bytes(b"\x00\x07")
    assert info.value.struct == "GroupSecrets"
