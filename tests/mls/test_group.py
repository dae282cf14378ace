"""The group state machine end to end (RFC 9420 §11, §12): real keys, real messages."""

from __future__ import annotations

import pytest

from hearth_mls import errors, suite
from hearth_mls.credential import Credential
from hearth_mls.extension_payloads import ExternalSender, external_senders_to_bytes
from hearth_mls.extensions import EXTERNAL_SENDERS, Extension
from hearth_mls.group import EPOCH_WINDOW, TRANSITIONS, Group, external_proposal
from hearth_mls.group_state import FORMAT_VERSION, MIGRATIONS, Phase
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, PreSharedKey, PreSharedKeyID, PSKType, Remove, Update
from hearth_mls.welcome_structs import Welcome
from tests.mls.group_helpers import trio


def wire(message: MLSMessage) -> MLSMessage:
    """Through the wire encoding, as a Delivery Service would carry it."""
    return MLSMessage.from_bytes(message.to_bytes())


def welcome_of(message: MLSMessage | None) -> Welcome:
    assert message is not None
    assert isinstance(message.body, Welcome)
    return message.body


def test_create_add_join_and_talk() -> None:
    t = trio()
    assert t.alice.epoch == t.bob.epoch == t.carol.epoch == 1
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator == t.carol.epoch_authenticator
    assert [ident for _, ident in t.bob.members()] == [b"alice", b"bob", b"carol"]
    received = t.carol.process(wire(t.bob.protect(b"hello", b"meta")))
    assert (received.kind, received.plaintext, received.authenticated_data) == (
        "application",
        b"hello",
        b"meta",
    )
    assert received.sender.index == 1
    assert t.bob.export_secret("x", b"", 16) == t.alice.export_secret("x", b"", 16)


def test_join_with_tree_out_of_band() -> None:
    alice = Group.create(b"alice")
    kb = create_key_package(b"bob")
    _, welcome, created = alice.commit([Add(kb.key_package)], include_tree_in_welcome=False)
    alice.merge_pending_commit()
    with pytest.raises(errors.WelcomeError):
        Group.join(welcome_of(welcome), kb)
    from hearth_mls.tree_nodes import ratchet_tree_to_bytes

    tree = ratchet_tree_to_bytes(list(created.state.tree))
    bob = Group.join(welcome_of(welcome), kb, ratchet_tree=tree)
    assert bob.epoch_authenticator == alice.epoch_authenticator


def test_update_remove_and_removed_member_cannot_decrypt() -> None:
    t = trio()
    commit, _, _ = t.bob.commit(force_path=True)
    t.bob.merge_pending_commit()
    t.alice.process(wire(commit))
    t.carol.process(wire(commit))
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator == t.carol.epoch_authenticator
    commit, _, _ = t.alice.commit([Remove(2)])
    t.alice.merge_pending_commit()
    assert t.carol.process(wire(commit)).removed
    assert t.carol.phase is Phase.REMOVED
    t.bob.process(wire(commit))
    secret = t.alice.protect(b"after removal")
    assert t.bob.process(wire(secret)).plaintext == b"after removal"
    with pytest.raises(errors.WrongEpochError):
        t.carol.process(wire(secret))
    with pytest.raises(errors.StateTransitionError):
        t.carol.protect(b"still here?")


def test_proposals_by_reference() -> None:
    t = trio()
    kd = create_key_package(b"dave")
    for proposal in (t.bob.propose_add(kd.key_package), t.bob.propose_remove(0)):
        t.carol.process(wire(proposal))
        t.alice.process(wire(proposal))
    # Alice cannot commit her own removal; Carol commits both references.
    commit, welcome, _ = t.carol.commit()
    t.carol.merge_pending_commit()
    t.bob.process(wire(commit))
    assert t.alice.process(wire(commit)).removed
    dave = Group.join(welcome_of(welcome), kd)
    assert dave.epoch_authenticator == t.bob.epoch_authenticator == t.carol.epoch_authenticator
    assert [ident for _, ident in dave.members()] == [b"dave", b"bob", b"carol"]


def test_external_psk_commit() -> None:
    t = trio()
    for g in (t.alice, t.bob, t.carol):
        g.add_external_psk(b"shared", b"k" * 32)
    psk = PreSharedKeyID(PSKType.EXTERNAL, suite.generate_hpke_key_pair()[1], psk_id=b"shared")
    commit, _, _ = t.alice.commit([PreSharedKey(psk)])
    t.alice.merge_pending_commit()
    t.bob.process(wire(commit))
    assert t.bob.epoch_authenticator == t.alice.epoch_authenticator


def test_group_context_extensions_commit() -> None:
    from hearth_mls.proposals import GroupContextExtensions

    t = trio()
    commit, _, _ = t.alice.commit([GroupContextExtensions((Extension(0x0001, b"app"),))])
    t.alice.merge_pending_commit()
    t.bob.process(wire(commit))
    assert t.bob.state.context.extensions == (Extension(0x0001, b"app"),)
    assert t.bob.epoch_authenticator == t.alice.epoch_authenticator


def test_external_sender_proposes_removal() -> None:
    server_priv, server_pub = suite.generate_signature_key_pair()
    sender = ExternalSender(server_pub, Credential.basic(b"hearth-server"))
    ext = Extension(EXTERNAL_SENDERS, external_senders_to_bytes((sender,)))
    alice = Group.create(b"alice", extensions=[ext])
    kb, kc = create_key_package(b"bob"), create_key_package(b"carol")
    _, welcome, _ = alice.commit([Add(kb.key_package), Add(kc.key_package)])
    alice.merge_pending_commit()
    bob = Group.join(welcome_of(welcome), kb)
    proposal = external_proposal(alice.group_id, alice.epoch, 0, server_priv, Remove(2))
    alice.process(wire(proposal))
    bob.process(wire(proposal))
    commit, _, _ = alice.commit()
    alice.merge_pending_commit()
    bob.process(wire(commit))
    assert [ident for _, ident in bob.members()] == [b"alice", b"bob"]
    # An unknown external sender index is refused, state unchanged.
    before = bob.to_bytes()
    stranger = external_proposal(bob.group_id, bob.epoch, 3, server_priv, Remove(0))
    with pytest.raises(errors.UnknownSenderError):
        bob.process(wire(stranger))
    assert bob.to_bytes() == before
    with pytest.raises(errors.UsageError):
        external_proposal(bob.group_id, bob.epoch, 0, server_priv, Update(bob.state.tree[0].leaf))  # type: ignore[union-attr,arg-type]


def test_external_join() -> None:
    t = trio()
    dave, commit = Group.join_external(t.bob.group_info(), b"dave")
    for g in (t.alice, t.bob, t.carol):
        g.process(wire(commit))
    assert dave.epoch_authenticator == t.alice.epoch_authenticator
    assert t.alice.process(wire(dave.protect(b"hi"))).plaintext == b"hi"
    assert dave.own_leaf == 3


def test_pending_commit_can_be_discarded_for_the_servers_choice() -> None:
    t = trio()
    ours, _, _ = t.alice.commit(force_path=True)
    assert t.alice.phase is Phase.PENDING_COMMIT
    with pytest.raises(errors.StateTransitionError) as info:
        t.alice.commit()
    assert "pending_commit" in str(info.value)
    assert "commit" in str(info.value)
    theirs, _, _ = t.bob.commit(force_path=True)
    t.bob.merge_pending_commit()
    t.alice.process(wire(theirs))  # the DS ordered Bob's first: ours is void
    assert t.alice.phase is Phase.ACTIVE
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator
    with pytest.raises(errors.StateTransitionError):
        t.alice.merge_pending_commit()
    ours2, _, _ = t.alice.commit(force_path=True)
    t.alice.discard_pending_commit()
    assert t.alice.epoch == t.bob.epoch
    assert ours.to_bytes() != ours2.to_bytes()


def test_transition_table_names_state_and_event() -> None:
    assert "commit" not in TRANSITIONS[Phase.REMOVED]
    t = trio()
    with pytest.raises(errors.StateTransitionError) as info:
        t.alice.discard_pending_commit()
    assert (info.value.state, info.value.event) == ("active", "discard_pending")


def test_late_application_messages_within_the_window() -> None:
    t = trio()
    late = [t.bob.protect(f"late {i}".encode()) for i in range(3)]
    commits = []
    for _ in range(EPOCH_WINDOW - 1):
        commit, _, _ = t.alice.commit(force_path=True)
        t.alice.merge_pending_commit()
        t.bob.process(wire(commit))
        commits.append(commit)
    assert t.alice.process(wire(late[2])).plaintext == b"late 2"
    assert t.alice.process(wire(late[0])).plaintext == b"late 0"
    with pytest.raises(errors.GenerationReusedError):
        t.alice.process(wire(late[0]))
    commit, _, _ = t.alice.commit(force_path=True)
    t.alice.merge_pending_commit()
    with pytest.raises(errors.WrongEpochError):
        t.alice.process(wire(late[1]))


def test_rejected_application_message_changes_nothing() -> None:
    t = trio()
    message = t.bob.protect(b"x")
    body = message.body
    from dataclasses import replace

    ct = body.ciphertext  # type: ignore[union-attr]
    # Keep the sender-data sample (the first Nh bytes), break the AEAD tag.
    tampered = MLSMessage(replace(body, ciphertext=ct[:-16] + bytes(16)))  # type: ignore[type-var]
    before = t.alice.to_bytes()
    with pytest.raises(errors.ContentDecryptionError):
        t.alice.process(tampered)
    assert t.alice.to_bytes() == before
    assert t.alice.process(wire(message)).plaintext == b"x"


def test_state_round_trip_and_persistence_hook() -> None:
    saved: list[bytes] = []
    alice = Group.create(b"alice", on_change=saved.append)
    kb = create_key_package(b"bob")
    _, welcome, _ = alice.commit([Add(kb.key_package)])
    alice.merge_pending_commit()
    assert len(saved) >= 3  # created, pending, merged
    bob = Group.join(welcome_of(welcome), kb)
    restored = Group.from_bytes(saved[-1])
    assert restored.to_bytes() == alice.to_bytes()
    assert restored.process(wire(bob.protect(b"after restart"))).plaintext == b"after restart"
    assert int.from_bytes(saved[-1][:2], "big") == FORMAT_VERSION


def test_unknown_state_version_and_migration_hook() -> None:
    alice = Group.create(b"alice")
    blob = alice.to_bytes()
    old = (FORMAT_VERSION + 100).to_bytes(2, "big") + blob[2:]
    with pytest.raises(errors.StateVersionError):
        Group.from_bytes(old)
    MIGRATIONS[FORMAT_VERSION + 100] = lambda body: (FORMAT_VERSION, body)
    try:
        assert Group.from_bytes(old).to_bytes() == blob
    finally:
        del MIGRATIONS[FORMAT_VERSION + 100]


def test_external_senders_in_ts_mls_form_are_read() -> None:
    from hearth_mls.group_commit import read_external_senders

    sender = ExternalSender(b"k" * 32, Credential.basic(b"ds"))
    assert read_external_senders(external_senders_to_bytes((sender,))) == (sender,)
    assert read_external_senders(sender.to_bytes()) == (sender,)


def test_commit_as_private_message() -> None:
    t = trio()
    commit, _, _ = t.alice.commit([Remove(2)], private=True)
    t.alice.merge_pending_commit()
    assert commit.wire_format.name == "PRIVATE_MESSAGE"
    assert t.bob.process(wire(commit)).kind == "commit"
    assert t.carol.process(wire(commit)).removed
    assert t.bob.epoch_authenticator == t.alice.epoch_authenticator


def test_own_commit_echoed_by_the_server_merges_it() -> None:
    t = trio()
    commit, _, _ = t.alice.commit(force_path=True)
    assert t.alice.process(wire(commit)).kind == "commit"
    assert t.alice.phase is Phase.ACTIVE
    t.bob.process(wire(commit))
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator


def test_update_proposal_committed_by_another_member() -> None:
    t = trio()
    old_key = t.bob.state.tree[2].leaf.encryption_key  # type: ignore[union-attr]
    proposal = t.bob.propose_update()
    t.alice.process(wire(proposal))
    t.carol.process(wire(proposal))
    commit, _, _ = t.alice.commit()
    t.alice.merge_pending_commit()
    t.bob.process(wire(commit))
    t.carol.process(wire(commit))
    assert t.bob.state.tree[2].leaf.encryption_key != old_key  # type: ignore[union-attr]
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator == t.carol.epoch_authenticator
    # Bob holds the new leaf's key: he decrypts the next path secret sent to him.
    commit, _, _ = t.carol.commit(force_path=True)
    t.carol.merge_pending_commit()
    t.bob.process(wire(commit))
    assert t.bob.epoch_authenticator == t.carol.epoch_authenticator


def test_own_update_proposal_is_superseded_by_our_commit() -> None:
    t = trio()
    proposal = t.bob.propose_update()
    t.alice.process(wire(proposal))
    commit, _, _ = t.bob.commit()  # includes a path, not the Update
    t.bob.merge_pending_commit()
    t.alice.process(wire(commit))
    assert t.alice.epoch_authenticator == t.bob.epoch_authenticator


def test_rejected_commit_while_ours_is_pending_keeps_ours() -> None:
    from tests.mls.group_helpers import forge, inline

    t = trio()
    t.alice.commit(force_path=True)
    before = t.alice.to_bytes()
    bad = forge(t.bob, inline(Remove(2)))  # no path: rejected
    with pytest.raises(errors.MissingPathError):
        t.alice.process(wire(bad))
    assert t.alice.to_bytes() == before
    assert t.alice.phase is Phase.PENDING_COMMIT
    t.alice.merge_pending_commit()


def test_pending_commit_survives_a_restart() -> None:
    t = trio()
    commit, _, _ = t.alice.commit(force_path=True)
    restored = Group.from_bytes(t.alice.to_bytes())
    assert restored.phase is Phase.PENDING_COMMIT
    assert restored.process(wire(commit)).kind == "commit"  # the DS echo merges it
    t.bob.process(wire(commit))
    assert restored.epoch_authenticator == t.bob.epoch_authenticator


def test_key_package_secrets_round_trip() -> None:
    from hearth_mls.join import KeyPackageSecrets

    kp = create_key_package(b"bob")
    restored = KeyPackageSecrets.from_bytes(kp.to_bytes())
    assert restored == kp
    with pytest.raises(errors.DecodeError):
        KeyPackageSecrets.from_bytes(kp.to_bytes() + b"\0")


def test_external_join_into_a_group_with_a_private_extension() -> None:
    roles = Extension(0xF0A0, b"\x06\x05alice")
    alice = Group.create(b"alice", extensions=[roles])
    dave, commit = Group.join_external(alice.group_info(), b"dave")
    alice.process(wire(commit))
    assert dave.epoch_authenticator == alice.epoch_authenticator
    assert dave.state.context.extensions == (roles,)
