"""Group API for the client engine: choosing a commit's proposals (RFC 9420 §12.4),
rejoining with the same signature key (§12.4.3.2), the persistence hook."""

from __future__ import annotations

import pytest

from hearth_mls import errors, suite
from hearth_mls.commit import Commit
from hearth_mls.credential import Credential
from hearth_mls.extension_payloads import ExternalSender, external_senders_to_bytes
from hearth_mls.extensions import EXTERNAL_SENDERS, Extension
from hearth_mls.framing import PublicMessage, SenderType
from hearth_mls.group import Group, external_proposal
from hearth_mls.group_commit import select_proposals
from hearth_mls.group_state import CachedProposal, Phase
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Remove
from hearth_mls.welcome_structs import Welcome
from tests.mls.group_helpers import trio


def wire(message: MLSMessage) -> MLSMessage:
    return MLSMessage.from_bytes(message.to_bytes())


def refs_in(message: MLSMessage) -> list[bytes]:
    """The ProposalRefs a commit carries by reference."""
    assert isinstance(message.body, PublicMessage)
    commit = message.body.content.content
    assert isinstance(commit, Commit)
    return [item.reference for item in commit.proposals if item.reference is not None]


def not_external(cached: CachedProposal) -> bool:
    return cached.sender.sender_type is not SenderType.EXTERNAL


def server_room() -> tuple[Group, Group, Group, bytes]:
    """Alice, Bob and Carol (leaves 0-2) in a group whose external sender 0 is the server."""
    server_priv, server_pub = suite.generate_signature_key_pair()
    sender = ExternalSender(server_pub, Credential.basic(b"hearth-server"))
    ext = Extension(EXTERNAL_SENDERS, external_senders_to_bytes((sender,)))
    alice = Group.create(b"alice", extensions=[ext])
    kb, kc = create_key_package(b"bob"), create_key_package(b"carol")
    _, welcome, _ = alice.commit([Add(kb.key_package), Add(kc.key_package)])
    alice.merge_pending_commit()
    assert welcome is not None
    assert isinstance(welcome.body, Welcome)
    bob, carol = Group.join(welcome.body, kb), Group.join(welcome.body, kc)
    return alice, bob, carol, server_priv


def test_commit_without_the_servers_removal_is_processed_and_the_removal_stays_cached() -> None:
    alice, bob, carol, server_priv = server_room()
    removal = external_proposal(alice.group_id, alice.epoch, 0, server_priv, Remove(2))
    for group in (alice, bob, carol):
        group.process(wire(removal))
    [cached] = bob.state.proposals
    commit, _, _ = bob.commit(include=not_external)
    assert refs_in(commit) == []
    # Left out, still cached for another commit of this epoch (RFC 9420 §12.4).
    assert bob.state.proposals == (cached,)
    for receiver in (alice, carol):
        assert not receiver.process(wire(commit)).removed
    bob.merge_pending_commit()
    assert alice.epoch_authenticator == bob.epoch_authenticator == carol.epoch_authenticator
    assert [ident for _, ident in carol.members()] == [b"alice", b"bob", b"carol"]
    # The new epoch drops every proposal of the old one, committed or not.
    assert alice.state.proposals == bob.state.proposals == carol.state.proposals == ()


def test_left_out_proposal_is_committed_later_in_the_same_epoch() -> None:
    alice, bob, carol, server_priv = server_room()
    removal = external_proposal(alice.group_id, alice.epoch, 0, server_priv, Remove(2))
    for group in (alice, bob, carol):
        group.process(wire(removal))
    [cached] = alice.state.proposals
    alice.commit(include=[])
    alice.discard_pending_commit()  # e.g. the Delivery Service chose another commit
    assert alice.state.proposals == (cached,)
    commit, _, _ = alice.commit(include=[cached.ref])
    assert refs_in(commit) == [cached.ref]
    alice.merge_pending_commit()
    bob.process(wire(commit))
    assert carol.process(wire(commit)).removed
    assert [ident for _, ident in bob.members()] == [b"alice", b"bob"]
    assert bob.epoch_authenticator == alice.epoch_authenticator


def test_commit_a_chosen_subset_by_ref_in_received_order() -> None:
    t = trio()
    kd, ke = create_key_package(b"dave"), create_key_package(b"erin")
    for proposal in (
        t.bob.propose_add(kd.key_package),
        t.bob.propose_remove(2),
        t.carol.propose_add(ke.key_package),
    ):
        for group in (t.alice, t.bob, t.carol):
            if group.own_leaf != proposal_sender(proposal):
                group.process(wire(proposal))
    add_dave, remove_carol, add_erin = t.alice.state.proposals
    assert isinstance(remove_carol.proposal, Remove)
    commit, welcome, created = t.alice.commit(include=[add_erin.ref, add_dave.ref])
    assert refs_in(commit) == [add_dave.ref, add_erin.ref]  # as received, not as listed
    assert [i for i, _ in created.applied.added] == [3, 4]
    assert t.alice.state.proposals == (add_dave, remove_carol, add_erin)
    t.alice.merge_pending_commit()
    assert welcome is not None
    assert isinstance(welcome.body, Welcome)
    for group in (t.bob, t.carol):
        assert not group.process(wire(commit)).removed
    dave = Group.join(welcome.body, kd)
    assert dave.epoch_authenticator == t.carol.epoch_authenticator
    assert [ident for _, ident in t.bob.members()] == [b"alice", b"bob", b"carol", b"dave", b"erin"]


def proposal_sender(message: MLSMessage) -> int:
    assert isinstance(message.body, PublicMessage)
    index = message.body.content.sender.index
    assert index is not None
    return index


def test_default_still_commits_every_cached_proposal() -> None:
    t = trio()
    kd = create_key_package(b"dave")
    t.alice.process(wire(t.bob.propose_add(kd.key_package)))
    t.alice.process(wire(t.carol.propose_update()))
    commit, _, _ = t.alice.commit()
    assert refs_in(commit) == [p.ref for p in t.alice.state.proposals]
    assert len(refs_in(commit)) == 2


def test_bad_selections_are_refused_and_change_nothing() -> None:
    t = trio()
    t.alice.process(wire(t.bob.propose_remove(2)))
    own_update = t.alice.propose_update()
    assert isinstance(own_update.body, PublicMessage)
    removal, update = t.alice.state.proposals
    before = t.alice.to_bytes()
    with pytest.raises(errors.UsageError, match="no cached proposal"):
        t.alice.commit(include=[b"\x01" * 32])
    with pytest.raises(errors.UsageError, match="own Update"):
        t.alice.commit(include=[update.ref])
    with pytest.raises(errors.UsageError, match="not a single one"):
        t.alice.commit(include=removal.ref)
    assert t.alice.to_bytes() == before
    assert t.alice.phase is Phase.ACTIVE
    # A predicate never picks our own Update: the path supersedes it (§12.2).
    assert select_proposals(t.alice.state, lambda _c: True) == [removal]


def test_rejoin_by_external_commit_keeps_the_signature_key() -> None:
    t = trio()
    old_key = t.bob.state.ratchet_tree().leaf(t.bob.own_leaf)
    assert old_key is not None
    signature_priv = t.bob.state.signature_priv
    bob, commit = Group.join_external(
        t.alice.group_info(), b"bob", remove_old=1, signature_priv=signature_priv
    )
    new_leaf = bob.state.ratchet_tree().leaf(bob.own_leaf)
    assert new_leaf is not None
    assert new_leaf.signature_key == old_key.signature_key
    assert bob.state.signature_priv == signature_priv
    assert bob.own_leaf == 1  # the leftmost blank leaf: the one it just vacated
    for group in (t.alice, t.carol):
        group.process(wire(commit))
    assert bob.epoch_authenticator == t.alice.epoch_authenticator == t.carol.epoch_authenticator
    assert t.carol.process(wire(bob.protect(b"back"))).plaintext == b"back"
    # Without the parameter the rejoined leaf has a fresh key, as before.
    fresh, _ = Group.join_external(t.alice.group_info(), b"bob", remove_old=1)
    fresh_leaf = fresh.state.ratchet_tree().leaf(fresh.own_leaf)
    assert fresh_leaf is not None
    assert fresh_leaf.signature_key != old_key.signature_key


def test_external_joiners_group_info_is_the_one_to_publish() -> None:
    t = trio()
    dave, commit = Group.join_external(t.alice.group_info(), b"dave")
    info = dave.group_info()
    assert info.group_context == dave.state.context
    t.alice.process(wire(commit))
    erin, commit2 = Group.join_external(info, b"erin")
    t.alice.process(wire(commit2))
    assert erin.epoch_authenticator == t.alice.epoch_authenticator


def test_group_info_after_merge_equals_the_commits() -> None:
    t = trio()
    _, _, created = t.alice.commit(force_path=True)
    t.alice.merge_pending_commit()
    assert t.alice.group_info().to_bytes() == created.group_info.to_bytes()


def test_set_on_change_attaches_a_hook_later() -> None:
    t = trio()
    saved: list[bytes] = []
    dave, commit = Group.join_external(t.alice.group_info(), b"dave")
    assert saved == []
    dave.set_on_change(saved.append)
    assert saved == [dave.to_bytes()]
    t.alice.process(wire(commit))
    t.alice.process(wire(dave.protect(b"hi")))
    assert len(saved) == 2
    assert Group.from_bytes(saved[-1]).to_bytes() == dave.to_bytes()
    dave.set_on_change(None)
    dave.protect(b"quiet")
    assert len(saved) == 2
