"""The room rule with the Group API the client engine uses (protocol.md §12, issue 5):
a member's commit that leaves the server's Removal out, and a facilitator's rejoin
that keeps its signature key."""

from __future__ import annotations

import pytest

from hearth_core import room_errors as err
from hearth_core.room_roles import check_before_processing, check_commit_message
from hearth_mls.framing import SenderType
from hearth_mls.group import Group, external_proposal
from hearth_mls.group_state import CachedProposal
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Remove
from tests.core.room_fixtures import make_room, wire


def not_external(cached: CachedProposal) -> bool:
    return cached.sender.sender_type is not SenderType.EXTERNAL


def test_member_commit_without_the_servers_removal_passes_the_rule() -> None:
    room = make_room(b"bob", b"carol")
    alice, bob = room.groups[b"alice"], room.groups[b"bob"]
    removal = external_proposal(
        alice.group_id, alice.epoch, 0, room.server_priv, Remove(room.leaf_of(b"carol"))
    )
    room.broadcast_proposal(removal, None)
    everything, _, _ = bob.commit()
    with pytest.raises(err.ExternalCommitNotAllowedError):
        check_commit_message(room.server_view(), wire(everything), room.pending)
    bob.discard_pending_commit()
    message, _, _ = bob.commit(include=not_external)
    verdict = check_commit_message(room.server_view(), wire(message), room.pending)
    assert verdict.committer == b"bob"
    assert verdict.removed == ()
    assert check_before_processing(alice.state, MLSMessage.from_bytes(wire(message))) is not None
    room.accept(b"bob", wire(message))
    assert sorted(room.groups) == [b"alice", b"bob", b"carol"]
    assert alice.epoch_authenticator == room.groups[b"carol"].epoch_authenticator


def test_facilitator_rejoins_with_its_signature_key() -> None:
    room = make_room(b"bob")
    alice, bob = room.groups[b"alice"], room.groups[b"bob"]
    info = bob.group_info()
    _, fresh = Group.join_external(info, b"alice", remove_old=0)
    with pytest.raises(err.RoleGrantNotAllowedError, match="same signature key"):
        check_commit_message(room.server_view(), wire(fresh))
    rejoined, commit = Group.join_external(
        info, b"alice", remove_old=0, signature_priv=alice.state.signature_priv
    )
    verdict = check_commit_message(room.server_view(), wire(commit))
    assert verdict.committer == b"alice"
    assert verdict.self_removals == (b"alice",)
    bob.process(MLSMessage.from_bytes(wire(commit)))
    assert bob.epoch_authenticator == rejoined.epoch_authenticator
