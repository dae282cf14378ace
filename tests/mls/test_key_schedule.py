"""Key schedule (RFC 9420 §8): joiners and members agree; external init (§8.3)."""

from __future__ import annotations

from hearth_mls import key_schedule, suite
from hearth_mls.extensions import GroupContext
from hearth_mls.key_schedule import EpochSecrets

CONTEXT = GroupContext(
    group_id=b"room", epoch=3, tree_hash=b"t" * 32, confirmed_transcript_hash=b""
)


def test_joiner_derives_the_same_epoch_as_members() -> None:
    init, commit, psk = b"i" * 32, b"c" * 32, b"p" * 32
    member = EpochSecrets.advance(init, CONTEXT, commit, psk)
    joiner = EpochSecrets.from_joiner(member.joiner_secret, CONTEXT, psk)
    assert joiner == member
    assert key_schedule.welcome_secret(member.joiner_secret, psk) == member.welcome_secret


def test_every_input_changes_the_epoch() -> None:
    base = EpochSecrets.advance(b"i" * 32, CONTEXT)
    other_context = GroupContext(b"room", 4, b"t" * 32, b"")
    variants = [
        EpochSecrets.advance(b"j" * 32, CONTEXT),
        EpochSecrets.advance(b"i" * 32, other_context),
        EpochSecrets.advance(b"i" * 32, CONTEXT, commit_secret=b"c" * 32),
        EpochSecrets.advance(b"i" * 32, CONTEXT, psk_secret=b"p" * 32),
    ]
    for variant in variants:
        assert variant.encryption_secret != base.encryption_secret
        assert variant.init_secret != base.init_secret


def test_all_epoch_secrets_are_distinct() -> None:
    secrets = EpochSecrets.advance(b"i" * 32, CONTEXT)
    values = [getattr(secrets, name) for name in EpochSecrets.__slots__]
    assert len(set(values)) == len(values)
    assert "redacted" in repr(secrets)


def test_exporter_depends_on_label_context_and_length() -> None:
    secrets = EpochSecrets.advance(b"i" * 32, CONTEXT)
    a = secrets.export("hearth room key", b"ctx", 32)
    assert len(a) == 32
    assert secrets.export("hearth room key", b"ctx2", 32) != a
    assert secrets.export("other", b"ctx", 32) != a
    assert secrets.export("hearth room key", b"ctx", 16) != a[:16]


def test_external_init_round_trip() -> None:
    secrets = EpochSecrets.advance(b"i" * 32, CONTEXT)
    priv, pub = secrets.external_key_pair()
    assert suite.hpke_public_key(priv) == pub == secrets.external_pub
    kem_output, init_secret = key_schedule.external_init_sender(pub)
    assert key_schedule.external_init_receiver(priv, kem_output) == init_secret


def test_welcome_key_and_nonce_sizes() -> None:
    key, nonce = EpochSecrets.advance(b"i" * 32, CONTEXT).welcome_key_nonce()
    assert (len(key), len(nonce)) == (suite.NK, suite.NN)
