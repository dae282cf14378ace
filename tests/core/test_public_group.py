"""The Delivery Service's public view of a group (hearth_core.public_group), followed
through real commits of a real room and compared with the members' own state."""

from __future__ import annotations

import dataclasses

import pytest

from hearth_core import room_errors as err
from hearth_core.public_group import PublicGroup
from hearth_core.room_roles import (
    Role,
    RoomView,
    check_commit_message,
    replace_roles,
    room_capabilities,
)
from hearth_mls import errors as mls_errors
from hearth_mls.framing import PublicMessage
from hearth_mls.group import Group, external_proposal
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, GroupContextExtensions, Remove
from tests.core.room_fixtures import Room, make_room, wire


def group_info_bytes(group: Group) -> bytes:
    return MLSMessage(group.group_info()).to_bytes()


def assert_same(server: PublicGroup, group: Group) -> None:
    state = group.state
    assert server.context == state.context
    assert server.interim_transcript_hash == state.interim_transcript_hash
    assert server.view() == RoomView.from_group_state(state)


def serve(room: Room, server: PublicGroup, committer: bytes, commit: bytes) -> PublicGroup:
    """What the server does: rule, then public apply; then members apply it."""
    check_commit_message(server.view(), commit, server.proposals)
    server = server.apply_commit(commit)
    room.accept(committer, commit)
    assert_same(server, room.groups[committer])
    return server


def test_server_follows_a_room_through_every_kind_of_commit() -> None:
    room = make_room()
    alice = room.groups[b"alice"]
    server = PublicGroup.from_group_info(group_info_bytes(alice))
    assert_same(server, alice)
    # adds (with Welcome), one commit per member
    for name in (b"bob", b"carol", b"dana"):
        kp = create_key_package(name, capabilities=room_capabilities())
        message, welcome, _ = alice.commit((Add(kp.key_package),))
        server = serve(room, server, b"alice", wire(message))
        assert welcome is not None
        room.groups[name] = Group.join(welcome.body, kp)  # type: ignore[arg-type]
    assert server.epoch == 3
    # an update (empty commit with a path) by a member
    server = serve(room, server, b"bob", room.commit(b"bob"))
    # a voluntary leave by reference, committed by a member
    leave = room.groups[b"dana"].propose_remove(room.leaf_of(b"dana"))
    server = server.add_proposal(wire(leave))
    room.broadcast_proposal(leave, b"dana")
    server = serve(room, server, b"carol", room.commit(b"carol"))
    assert b"dana" not in room.groups
    # a role change
    view = server.view()
    roles = view.roles.with_role(b"bob", Role.FACILITATOR)
    gce = GroupContextExtensions(replace_roles(view.extensions, roles))
    server = serve(room, server, b"alice", room.commit(b"alice", (gce,)))
    assert server.view().roles == roles
    # the server's own Remove proposal, committed by the new facilitator
    ban = external_proposal(server.group_id, server.epoch, 0, room.server_priv, Remove(2))
    server = server.add_proposal(wire(ban))
    room.broadcast_proposal(ban, None)
    server = serve(room, server, b"bob", room.commit(b"bob"))
    assert set(room.groups) == {b"alice", b"bob"}
    assert server.epoch == 7
    # a joiner can start from the server's tree
    info = room.groups[b"alice"].group_info(include_tree=False)
    again = PublicGroup.from_group_info(MLSMessage(info).to_bytes(), server.ratchet_tree())
    assert again.context == server.context


def test_refused_messages_change_nothing() -> None:
    room = make_room(b"bob", b"carol")
    server = PublicGroup.from_group_info(group_info_bytes(room.groups[b"alice"]))
    commit = MLSMessage.from_bytes(room.commit(b"bob", ()))
    body = commit.body
    assert isinstance(body, PublicMessage)
    forged = dataclasses.replace(body, auth=dataclasses.replace(body.auth, signature=bytes(64)))
    with pytest.raises(mls_errors.SignatureError):
        server.apply_commit(forged)
    other = dataclasses.replace(
        body, content=dataclasses.replace(body.content, sender=body.content.sender.member(0))
    )
    with pytest.raises(mls_errors.SignatureError):
        server.apply_commit(other)  # signed by bob, claims alice
    wrong_group = dataclasses.replace(
        body, content=dataclasses.replace(body.content, group_id=b"x")
    )
    with pytest.raises(mls_errors.WrongGroupError):
        server.apply_commit(wrong_group)
    with pytest.raises(err.NotAHandshakeError):
        server.apply_commit(wire(room.groups[b"carol"].protect(b"hi")))
    with pytest.raises(err.NotAHandshakeError):
        server.add_proposal(commit)
    with pytest.raises(err.NotAHandshakeError):
        server.apply_commit(wire(room.groups[b"carol"].propose_remove(2)))
    before = server.context
    accepted = server.apply_commit(commit)
    assert accepted.epoch == before.epoch + 1
    assert server.context == before  # the original is untouched
    with pytest.raises(mls_errors.WrongEpochError):
        accepted.apply_commit(commit)  # a replay of the old epoch's commit


def test_unknown_proposal_reference() -> None:
    room = make_room(b"bob")
    server = PublicGroup.from_group_info(group_info_bytes(room.groups[b"alice"]))
    room.broadcast_proposal(room.groups[b"bob"].propose_remove(1), b"bob")
    commit = room.commit(b"alice")
    with pytest.raises(mls_errors.UnknownProposalError):
        server.apply_commit(commit)


def test_server_follows_an_external_join() -> None:
    room = make_room(b"bob")
    alice = room.groups[b"alice"]
    server = PublicGroup.from_group_info(group_info_bytes(alice))
    joiner, commit = Group.join_external(alice.group_info(), b"erin")
    check_commit_message(server.view(), wire(commit))
    server = server.apply_commit(wire(commit))
    alice.process(MLSMessage.from_bytes(wire(commit)))
    assert_same(server, alice)
    assert_same(server, joiner)
    assert server.view().roster[2] == b"erin"


def test_bad_group_info() -> None:
    room = make_room(b"bob")
    info = room.groups[b"alice"].group_info()
    bad = dataclasses.replace(info, signature=bytes(64))
    with pytest.raises(mls_errors.SignatureError):
        PublicGroup.from_group_info(MLSMessage(bad).to_bytes())
    bare = room.groups[b"alice"].group_info(include_tree=False)
    with pytest.raises(mls_errors.MissingPathError):
        PublicGroup.from_group_info(bare)
    with pytest.raises(err.NotAHandshakeError):
        PublicGroup.from_group_info(wire(room.groups[b"bob"].propose_remove(1)))
    # the struct works as well as its bytes
    assert PublicGroup.from_group_info(info).context == info.group_context
