"""The room_roles extension and the facilitator authority rule (hearth_core.room_roles).

Every rule case runs on real MLS groups: a real member makes a real commit, the
test decodes its wire bytes as the server would (view from a GroupInfo and its
ratchet tree, proposals cached from PublicMessages) and, where it matters, shows
that a client that runs the rule before applying stays in its epoch.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from hearth_core import room_errors as err
from hearth_core.room_roles import (
    MAX_IDENTITY_BYTES,
    MAX_ROLE_HOLDERS,
    ROOM_ROLES,
    Role,
    RoomRoles,
    RoomView,
    cached_proposal,
    check_before_processing,
    check_commit,
    check_commit_message,
    check_proposal_message,
    check_room_creation,
    replace_roles,
    review_commit,
    roles_of,
    room_capabilities,
    room_extensions,
)
from hearth_mls import errors as mls_errors
from hearth_mls import suite
from hearth_mls.codec import Writer
from hearth_mls.credential import Credential
from hearth_mls.extension_payloads import (
    ExternalSender,
    RequiredCapabilities,
    external_senders_to_bytes,
)
from hearth_mls.extensions import (
    CIPHERSUITE_1,
    EXTERNAL_SENDERS,
    MLS10,
    REQUIRED_CAPABILITIES,
    Extension,
    GroupContext,
)
from hearth_mls.framing import FramedContent, PublicMessage, Sender, WireFormat
from hearth_mls.group import Group, external_proposal
from hearth_mls.join import create_key_package, external_join
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, GroupContextExtensions, ReInit, Remove
from hearth_mls.protection import Protector, sign_content
from hearth_mls.secret_tree import SecretTree
from hearth_mls.tree_nodes import ratchet_tree_from_bytes
from tests.core.room_fixtures import Room, make_room, wire

# --- the extension's encoding ----------------------------------------------------------


def test_facilitator_only_encoding_is_the_interop_encoding() -> None:
    # mls-interop.mjs: encodeRoles(ids) = opaqueV(concat(ids.map(id => opaqueV(id))))
    assert RoomRoles((b"alice",)).to_bytes() == bytes([6, 5]) + b"alice"
    two = RoomRoles((b"alice", b"bob")).to_bytes()
    assert two == bytes([10, 5]) + b"alice" + bytes([3]) + b"bob"
    assert RoomRoles.from_bytes(two) == RoomRoles((b"alice", b"bob"))


def test_peer_leaders_are_appended_only_when_present() -> None:
    roles = RoomRoles((b"alice",), (b"pat", b"quinn"))
    data = roles.to_bytes()
    assert data == bytes([6, 5]) + b"alice" + bytes([10, 3]) + b"pat" + bytes([5]) + b"quinn"
    assert RoomRoles.from_bytes(data) == roles
    # a reader of the first vector only (ts-mls' decodeRoles) sees the facilitators
    assert data[: 1 + data[0]] == RoomRoles((b"alice",)).to_bytes()


def test_long_lists_use_longer_varints() -> None:
    ids = tuple(bytes([i]) * 40 for i in range(MAX_ROLE_HOLDERS))
    roles = RoomRoles(ids[:2], ids[2:])
    assert RoomRoles.from_bytes(roles.to_bytes()) == roles


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "needs"),
        (bytes([0]), "at least one facilitator"),
        (bytes([6, 5]) + b"alic", "needs"),
        (bytes([6, 5]) + b"alice" + b"\x00", "empty peer_leader_ids"),
        (bytes([6, 5]) + b"alice" + b"\x07", "needs"),
        (bytes([6, 5]) + b"alice" + bytes([4, 3]) + b"bob" + b"!", "trailing"),
        (bytes([0x40, 6, 5]) + b"alice", "minimally"),
        (bytes([0xC0, 0, 0, 0]), "reserved"),
        (bytes([12, 5]) + b"alice" + bytes([5]) + b"alice", "twice"),
        (bytes([6, 5]) + b"alice" + bytes([6, 5]) + b"alice", "twice"),
        (bytes([1, 0]), "0 bytes"),
        (bytes([2, 1, 0]) + bytes([1, 0]), "0 bytes"),
    ],
)
def test_malformed_roles_are_refused(data: bytes, reason: str) -> None:
    with pytest.raises(err.RolesDecodeError, match=reason):
        RoomRoles.from_bytes(data)


def test_oversized_identity_and_list_are_refused() -> None:
    big = b"x" * (MAX_IDENTITY_BYTES + 1)
    data = Writer().vector([big], lambda w, i: w.opaque(i)).getvalue()
    with pytest.raises(err.RolesDecodeError, match="256 bytes"):
        RoomRoles.from_bytes(data)
    many = [bytes([i]) for i in range(MAX_ROLE_HOLDERS + 1)]
    data = Writer().vector(many, lambda w, i: w.opaque(i)).getvalue()
    with pytest.raises(err.RolesDecodeError, match="at most"):
        RoomRoles.from_bytes(data)


@pytest.mark.parametrize(
    ("facilitators", "peer_leaders"),
    [((), ()), ((b"a", b"a"), ()), ((b"a",), (b"a",)), ((b"",), ()), ((b"a",), (b"",))],
)
def test_invalid_roles_cannot_be_built(
    facilitators: tuple[bytes, ...], peer_leaders: tuple[bytes, ...]
) -> None:
    with pytest.raises(err.RoomUsageError):
        RoomRoles(facilitators, peer_leaders)


def test_with_role_and_role_of() -> None:
    roles = RoomRoles((b"alice",))
    roles = roles.with_role(b"bob", Role.FACILITATOR).with_role(b"pat", Role.PEER_LEADER)
    assert roles == RoomRoles((b"alice", b"bob"), (b"pat",))
    assert [roles.role_of(i) for i in (b"alice", b"pat", b"zoe")] == [
        Role.FACILITATOR,
        Role.PEER_LEADER,
        Role.MEMBER,
    ]
    assert roles.with_role(b"pat", Role.MEMBER) == RoomRoles((b"alice", b"bob"))
    assert roles.with_role(b"bob", Role.PEER_LEADER) == RoomRoles((b"alice",), (b"pat", b"bob"))
    with pytest.raises(err.RoomUsageError, match="at least one facilitator"):
        RoomRoles((b"alice",)).with_role(b"alice", Role.MEMBER)


def test_roles_of_and_replace_roles() -> None:
    exts = room_extensions(b"alice")
    assert roles_of(exts) == RoomRoles((b"alice",))
    with pytest.raises(err.MissingRolesError):
        roles_of(exts[1:])
    new = replace_roles(exts, RoomRoles((b"alice", b"bob")))
    assert roles_of(new) == RoomRoles((b"alice", b"bob"))
    assert [e.extension_type for e in new] == [REQUIRED_CAPABILITIES, ROOM_ROLES]


def test_room_creation_names_the_creator_as_first_facilitator() -> None:
    exts = room_extensions(b"alice")
    assert check_room_creation(exts, b"alice") == RoomRoles((b"alice",))
    with pytest.raises(err.RoleChangeNotAllowedError):
        check_room_creation(exts, b"mallory")
    two = replace_roles(exts, RoomRoles((b"alice", b"bob")))
    with pytest.raises(err.RoleChangeNotAllowedError):
        check_room_creation(two, b"alice")
    with pytest.raises(err.MissingRolesError, match="required_capabilities"):
        check_room_creation(exts[:1], b"alice")
    lax = (exts[0], Extension(REQUIRED_CAPABILITIES, RequiredCapabilities().to_bytes()))
    with pytest.raises(err.MissingRolesError):
        check_room_creation(lax, b"alice")
    bad = (exts[0], Extension(REQUIRED_CAPABILITIES, b"\x01"))
    with pytest.raises(err.RolesDecodeError):
        check_room_creation(bad, b"alice")
    # a real group made with these extensions passes, from its own GroupContext
    group = Group.create(b"alice", extensions=exts)
    assert check_room_creation(group.state.context.extensions, b"alice")


def test_new_members_must_support_room_roles() -> None:
    room = make_room(b"bob")
    plain = create_key_package(b"carol")  # default capabilities: no room_roles
    with pytest.raises(mls_errors.RequiredCapabilityError):
        room.groups[b"alice"].commit((Add(plain.key_package),))
    assert room_capabilities().extensions == (ROOM_ROLES,)
    assert room_capabilities().cipher_suites == (CIPHERSUITE_1,)
    assert room_capabilities().versions == (MLS10,)


# --- the view ------------------------------------------------------------------------


def test_server_view_equals_client_view() -> None:
    room = make_room(b"bob", b"carol")
    server = room.server_view()
    for group in room.groups.values():
        client = RoomView.from_group_state(group.state)
        assert client == server
    assert server.roster == {0: b"alice", 1: b"bob", 2: b"carol"}
    assert server.external_sender_count == 1
    assert server.role_of_leaf(0) is Role.FACILITATOR
    assert server.role_of_leaf(2) is Role.MEMBER
    with pytest.raises(err.UnknownParticipantError):
        server.role_of_leaf(7)


def test_view_of_a_group_without_roles_is_refused() -> None:
    group = Group.create(b"alice")
    with pytest.raises(err.MissingRolesError):
        RoomView.from_group_state(group.state)


# --- allowed commits ---------------------------------------------------------------------


def test_facilitator_removes_a_member() -> None:
    room = make_room(b"bob", b"carol")
    commit = room.commit(b"alice", (Remove(room.leaf_of(b"carol")),))
    verdict = check_commit_message(room.server_view(), commit, room.pending)
    assert verdict.committer == b"alice"
    assert verdict.committer_role is Role.FACILITATOR
    assert verdict.removed == (b"carol",)
    assert not verdict.roles_changed
    assert verdict.self_removals == ()
    room.accept(b"alice", commit)
    assert set(room.groups) == {b"alice", b"bob"}


def test_member_leaves_and_anyone_commits_it() -> None:
    room = make_room(b"bob", b"carol")
    room.broadcast_proposal(room.groups[b"carol"].propose_remove(room.leaf_of(b"carol")), b"carol")
    assert check_proposal_message(room.server_view(), wire(room.groups[b"carol"].propose_remove(2)))
    commit = room.commit(b"bob")  # bob is no facilitator: a leave is not a removal of others
    for view in (room.server_view(), RoomView.from_group_state(room.groups[b"alice"].state)):
        verdict = check_commit_message(view, commit, room.pending)
        assert verdict.removed == verdict.self_removals == (b"carol",)
        assert verdict.committer_role is Role.MEMBER
    room.accept(b"bob", commit)
    assert set(room.groups) == {b"alice", b"bob"}


def test_member_adds_and_updates() -> None:
    room = make_room(b"bob")
    kp = create_key_package(b"dana", capabilities=room_capabilities())
    commit = room.commit(b"bob", (Add(kp.key_package),))
    verdict = check_commit_message(room.server_view(), commit, room.pending)
    assert verdict.added == (b"dana",)
    room.groups[b"bob"].discard_pending_commit()
    message, _, _ = room.groups[b"bob"].commit(force_path=True)
    assert check_commit_message(room.server_view(), wire(message)).committer == b"bob"
    room.accept(b"bob", wire(message))


def test_promotion_then_the_new_facilitator_removes() -> None:
    room = make_room(b"bob", b"carol")
    view = room.server_view()
    promoted = view.roles.with_role(b"bob", Role.FACILITATOR).with_role(b"carol", Role.PEER_LEADER)
    gce = GroupContextExtensions(replace_roles(view.extensions, promoted))
    commit = room.commit(b"alice", (gce,))
    verdict = check_commit_message(view, commit)
    assert verdict.roles_changed
    assert verdict.roles_after == promoted
    room.accept(b"alice", commit)
    view = room.server_view()
    assert view.roles == promoted
    assert view.role_of_leaf(room.leaf_of(b"carol")) is Role.PEER_LEADER
    commit = room.commit(b"bob", (Remove(room.leaf_of(b"carol")),))
    assert check_commit_message(view, commit).removed == (b"carol",)
    room.accept(b"bob", commit)
    # one facilitator may remove the other: one remains
    commit = room.commit(b"bob", (Remove(room.leaf_of(b"alice")),))
    assert check_commit_message(room.server_view(), commit).removed == (b"alice",)


def test_server_external_remove_committed_by_a_facilitator() -> None:
    room = make_room(b"bob", b"carol")
    g = room.groups[b"alice"]
    proposal = external_proposal(g.group_id, g.epoch, 0, room.server_priv, Remove(2))
    cached = check_proposal_message(room.server_view(), wire(proposal))
    assert cached.sender.index == 0
    room.broadcast_proposal(proposal, None)
    commit = room.commit(b"alice")
    verdict = check_commit_message(room.server_view(), commit, room.pending)
    assert verdict.removed == (b"carol",)
    room.accept(b"alice", commit)
    assert b"carol" not in room.groups


def test_facilitator_adds_a_peer_leader_identity() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    roles = view.roles.with_role(b"pat", Role.PEER_LEADER)
    commit = room.commit(b"alice", (GroupContextExtensions(replace_roles(view.extensions, roles)),))
    room.accept(b"alice", commit)
    kp = create_key_package(b"pat", capabilities=room_capabilities())
    commit = room.commit(b"alice", (Add(kp.key_package),))
    assert check_commit_message(room.server_view(), commit).added == (b"pat",)


def test_facilitator_changes_other_extensions() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    kept = tuple(e for e in view.extensions if e.extension_type != EXTERNAL_SENDERS)
    commit = room.commit(b"alice", (GroupContextExtensions(kept),))
    verdict = check_commit_message(view, commit)
    assert not verdict.roles_changed
    room.accept(b"alice", commit)
    assert room.server_view().external_sender_count == 0


# --- refused commits -----------------------------------------------------------------------


def test_member_cannot_remove_another_and_clients_stay_in_epoch() -> None:
    room = make_room(b"bob", b"carol")
    commit = room.commit(b"bob", (Remove(room.leaf_of(b"carol")),))
    with pytest.raises(err.RemoveNotAllowedError) as caught:
        check_commit_message(room.server_view(), commit, room.pending)
    assert caught.value.code == "remove_not_allowed"
    assert isinstance(caught.value, err.NotFacilitatorError)
    # a test server forwards it anyway: every client runs the rule first and refuses
    for name in (b"alice", b"carol"):
        group = room.groups[name]
        before = group.epoch
        with pytest.raises(err.RemoveNotAllowedError):
            check_commit_message(RoomView.from_group_state(group.state), commit, ())
        assert group.epoch == before
    room.groups[b"bob"].discard_pending_commit()
    # the room goes on: a legitimate commit still applies everywhere
    legit = room.commit(b"alice", (Remove(room.leaf_of(b"carol")),))
    room.accept(b"alice", legit)
    assert room.groups[b"alice"].epoch_authenticator == room.groups[b"bob"].epoch_authenticator


def test_member_cannot_propose_removing_another() -> None:
    room = make_room(b"bob", b"carol")
    proposal = room.groups[b"bob"].propose_remove(room.leaf_of(b"carol"))
    with pytest.raises(err.RemoveNotAllowedError, match="leaf 1"):
        check_proposal_message(room.server_view(), wire(proposal))
    # forwarded anyway and committed by a facilitator: still refused (the proposer)
    room.broadcast_proposal(proposal, b"bob")
    commit = room.commit(b"alice")
    with pytest.raises(err.RemoveNotAllowedError):
        check_commit_message(room.server_view(), commit, room.pending)


def test_member_cannot_commit_a_facilitators_removal() -> None:
    room = make_room(b"bob", b"carol")
    room.broadcast_proposal(room.groups[b"alice"].propose_remove(2), b"alice")
    commit = room.commit(b"bob")
    with pytest.raises(err.RemoveNotAllowedError, match="committer"):
        check_commit_message(room.server_view(), commit, room.pending)


def test_member_cannot_change_roles() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    grab = view.roles.with_role(b"bob", Role.FACILITATOR)
    gce = GroupContextExtensions(replace_roles(view.extensions, grab))
    commit = room.commit(b"bob", (gce,))
    with pytest.raises(err.RoleChangeNotAllowedError):
        check_commit_message(view, commit)
    room.groups[b"bob"].discard_pending_commit()
    with pytest.raises(err.RoleChangeNotAllowedError):
        check_proposal_message(view, wire(room.groups[b"bob"].propose(gce)))


def test_member_cannot_change_other_extensions() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    mine = ExternalSender(suite.generate_signature_key_pair()[1], Credential.basic(b"bob-bot"))
    kept = [e for e in view.extensions if e.extension_type != EXTERNAL_SENDERS]
    exts = (*kept, Extension(EXTERNAL_SENDERS, external_senders_to_bytes((mine,))))
    commit = room.commit(b"bob", (GroupContextExtensions(exts),))
    with pytest.raises(err.ContextChangeNotAllowedError):
        check_commit_message(view, commit)


def test_member_cannot_reinit() -> None:
    room = make_room(b"bob")
    proposal = room.groups[b"bob"].propose(ReInit(b"new-group", MLS10, CIPHERSUITE_1))
    with pytest.raises(err.ContextChangeNotAllowedError, match="ReInit"):
        check_proposal_message(room.server_view(), wire(proposal))


def test_facilitator_cannot_drop_or_break_roles() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    dropped = tuple(e for e in view.extensions if e.extension_type != ROOM_ROLES)
    commit = room.commit(b"alice", (GroupContextExtensions(dropped),))
    with pytest.raises(err.MissingRolesError):
        check_commit_message(view, commit)
    room.groups[b"alice"].discard_pending_commit()
    broken = (*dropped, Extension(ROOM_ROLES, b"\x00"))
    commit = room.commit(b"alice", (GroupContextExtensions(broken),))
    with pytest.raises(err.RolesDecodeError):
        check_commit_message(view, commit)


def test_member_cannot_commit_the_servers_proposal() -> None:
    room = make_room(b"bob", b"carol")
    g = room.groups[b"alice"]
    room.broadcast_proposal(
        external_proposal(g.group_id, g.epoch, 0, room.server_priv, Remove(2)), None
    )
    commit = room.commit(b"bob")
    with pytest.raises(err.ExternalCommitNotAllowedError):
        check_commit_message(room.server_view(), commit, room.pending)


def test_member_cannot_commit_a_new_members_add_proposal() -> None:
    room = make_room(b"bob")
    kp = create_key_package(b"dana", capabilities=room_capabilities())
    g = room.groups[b"alice"]
    content = FramedContent(g.group_id, g.epoch, Sender.new_member_proposal(), Add(kp.key_package))
    auth = sign_content(WireFormat.PUBLIC_MESSAGE, content, kp.signature_priv, None)
    knock = MLSMessage(PublicMessage(content, auth.auth))
    assert check_proposal_message(room.server_view(), wire(knock)).proposal == Add(kp.key_package)
    room.broadcast_proposal(knock, None)
    commit = room.commit(b"bob")
    with pytest.raises(err.ExternalCommitNotAllowedError):
        check_commit_message(room.server_view(), commit, room.pending)
    room.groups[b"bob"].discard_pending_commit()
    admitted = room.commit(b"alice")  # a facilitator admits from the waiting room
    assert check_commit_message(room.server_view(), admitted, room.pending).added == (b"dana",)


@pytest.mark.parametrize("kind", ["add", "reinit"])
def test_external_sender_may_only_propose_remove(kind: str) -> None:
    room = make_room(b"bob")
    g = room.groups[b"alice"]
    kp = create_key_package(b"dana", capabilities=room_capabilities())
    body = Add(kp.key_package) if kind == "add" else ReInit(b"x", MLS10, CIPHERSUITE_1)
    proposal = external_proposal(g.group_id, g.epoch, 0, room.server_priv, body)
    with pytest.raises(err.ExternalSenderProposalError):
        check_proposal_message(room.server_view(), wire(proposal))


def test_unknown_external_sender_index() -> None:
    room = make_room(b"bob")
    g = room.groups[b"alice"]
    proposal = external_proposal(g.group_id, g.epoch, 3, room.server_priv, Remove(1))
    with pytest.raises(err.UnknownParticipantError, match="external sender 3"):
        check_proposal_message(room.server_view(), wire(proposal))


@pytest.mark.parametrize("granted", [Role.FACILITATOR, Role.PEER_LEADER])
def test_member_cannot_add_someone_holding_a_role(granted: Role) -> None:
    room = make_room(b"bob")
    view = room.server_view()
    roles = view.roles.with_role(b"zoe", granted)
    room.accept(
        b"alice",
        room.commit(b"alice", (GroupContextExtensions(replace_roles(view.extensions, roles)),)),
    )
    kp = create_key_package(b"zoe", capabilities=room_capabilities())
    commit = room.commit(b"bob", (Add(kp.key_package),))
    with pytest.raises(err.RoleGrantNotAllowedError):
        check_commit_message(room.server_view(), commit)
    room.groups[b"bob"].discard_pending_commit()
    with pytest.raises(err.RoleGrantNotAllowedError):
        check_proposal_message(
            room.server_view(), wire(room.groups[b"bob"].propose_add(kp.key_package))
        )


def test_no_two_leaves_share_an_identity() -> None:
    room = make_room(b"bob")
    twin = create_key_package(b"bob", capabilities=room_capabilities())  # another key, same name
    commit = room.commit(b"alice", (Add(twin.key_package),))
    with pytest.raises(err.DuplicateIdentityError):
        check_commit_message(room.server_view(), commit)


def test_committer_cannot_change_its_identity() -> None:
    room = make_room(b"bob")
    message, _, _ = room.groups[b"bob"].commit(force_path=True)
    reviewed = review_commit(MLSMessage.from_bytes(wire(message)).body.content, ())  # type: ignore[union-attr]
    assert reviewed.path_identity == b"bob"
    with pytest.raises(err.IdentityChangeError):
        check_commit(room.server_view(), dataclasses.replace(reviewed, path_identity=b"alice"))


def test_last_facilitator_cannot_leave() -> None:
    room = make_room(b"bob")
    room.broadcast_proposal(room.groups[b"alice"].propose_remove(0), b"alice")
    commit = room.commit(b"bob")
    with pytest.raises(err.LastFacilitatorError):
        check_commit_message(room.server_view(), commit, room.pending)


def test_last_facilitator_cannot_demote_themself() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    # the only facilitator hands the role to someone who is not in the room
    roles = RoomRoles((b"absent",))
    commit = room.commit(b"alice", (GroupContextExtensions(replace_roles(view.extensions, roles)),))
    with pytest.raises(err.LastFacilitatorError):
        check_commit_message(view, commit)
    room.groups[b"alice"].discard_pending_commit()
    # handing over to a member present is fine
    roles = RoomRoles((b"bob",))
    commit = room.commit(b"alice", (GroupContextExtensions(replace_roles(view.extensions, roles)),))
    assert check_commit_message(view, commit).roles_after == roles


def test_unreadable_handshakes() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    with pytest.raises(err.NotAHandshakeError, match="not an MLSMessage"):
        check_commit_message(view, b"\x00\x01garbage")
    app = room.groups[b"bob"].protect(b"hello")
    with pytest.raises(err.NotAHandshakeError, match="PRIVATE_MESSAGE"):
        check_commit_message(view, wire(app))
    proposal = room.groups[b"bob"].propose_remove(1)
    with pytest.raises(err.NotAHandshakeError, match="not a commit"):
        check_commit_message(view, wire(proposal))
    commit = room.commit(b"alice", ())
    with pytest.raises(err.NotAHandshakeError, match="not a proposal"):
        cached_proposal(commit)
    with pytest.raises(err.NotAHandshakeError, match="not a proposal"):
        check_proposal_message(view, commit)


def test_unknown_proposal_reference() -> None:
    room = make_room(b"bob")
    room.broadcast_proposal(room.groups[b"bob"].propose_remove(1), b"bob")
    commit = room.commit(b"alice")
    with pytest.raises(err.UnknownParticipantError, match="unknown proposal ref"):
        check_commit_message(room.server_view(), commit, ())


def test_commit_from_an_unknown_leaf() -> None:
    room = make_room(b"bob", b"carol")
    commit = room.commit(b"carol", ())
    view = room.server_view()
    without_carol = dataclasses.replace(view, roster={0: b"alice", 1: b"bob"})
    with pytest.raises(err.UnknownParticipantError, match="committer"):
        check_commit_message(without_carol, commit)


def test_external_join_by_a_new_member() -> None:
    room = make_room(b"bob")
    info = room.groups[b"alice"].group_info()
    joiner, commit = Group.join_external(info, b"erin")
    verdict = check_commit_message(room.server_view(), wire(commit))
    assert verdict.committer == b"erin"
    assert verdict.committer_role is Role.MEMBER
    assert verdict.removed == ()
    for name in (b"alice", b"bob"):
        room.groups[name].process(MLSMessage.from_bytes(wire(commit)))
        assert room.groups[name].epoch_authenticator == joiner.epoch_authenticator


def external_commit(
    room: Room,
    identity: bytes,
    *,
    remove_old: int | None = None,
    signature_priv: bytes | None = None,
) -> bytes:
    """A real external commit (RFC 9420 §12.4.3.2) through the room's GroupInfo."""
    info = room.groups[b"alice"].group_info()
    created = external_join(info, identity, remove_old=remove_old, signature_priv=signature_priv)
    body = PublicMessage(created.authenticated.content, created.authenticated.auth)
    return MLSMessage(body).to_bytes()


def test_member_resyncs_by_external_commit() -> None:
    room = make_room(b"bob", b"carol")
    commit = external_commit(room, b"bob", remove_old=room.leaf_of(b"bob"))
    verdict = check_commit_message(room.server_view(), commit)
    assert verdict.removed == verdict.self_removals == (b"bob",)


def test_external_joiner_cannot_remove_others() -> None:
    room = make_room(b"bob", b"carol")
    commit = external_commit(room, b"erin", remove_old=room.leaf_of(b"carol"))
    with pytest.raises(err.RemoveNotAllowedError):
        check_commit_message(room.server_view(), commit)


def test_external_joiner_cannot_put_on_a_facilitator_identity() -> None:
    room = make_room(b"bob")
    view = room.server_view()
    # alice's identity without replacing her leaf
    with pytest.raises(err.RoleGrantNotAllowedError):
        check_commit_message(view, external_commit(room, b"alice"))
    # replacing her leaf, but with a key that is not hers (what a rogue server could do)
    stolen = external_commit(room, b"alice", remove_old=room.leaf_of(b"alice"))
    with pytest.raises(err.RoleGrantNotAllowedError, match="same signature key"):
        check_commit_message(view, stolen)
    # the real alice, back with her own signature key after losing her group state
    key = room.groups[b"alice"].state.signature_priv
    back = external_commit(room, b"alice", remove_old=room.leaf_of(b"alice"), signature_priv=key)
    verdict = check_commit_message(view, back)
    assert verdict.committer_role is Role.FACILITATOR
    assert verdict.self_removals == (b"alice",)


# --- against ts-mls (an independent implementation) -----------------------------------------


def test_ts_mls_commits_are_judged_like_its_own_policy() -> None:
    """Fixture captured from ts-mls 1.6.4 running /work/shared/mls-interop/mls-interop.mjs:
    its room_roles bytes decode here, Bob's rogue removal is refused and Alice's commit of
    the Delivery Service's Remove (by reference) is allowed, as its own policy decided."""
    data = json.loads((Path(__file__).parent / "data" / "ts_mls_roles.json").read_text())
    roles = RoomRoles.from_bytes(bytes.fromhex(data["roles_extension_data"]))
    assert roles == RoomRoles((b"alice",))
    assert roles.to_bytes().hex() == data["roles_extension_data"]
    # ts-mls writes one ExternalSender without the RFC's vector (issue 4); re-encode it
    sender = ExternalSender.from_bytes(bytes.fromhex(data["external_senders_extension_data"]))
    context = GroupContext(
        group_id=b"room-1234",
        epoch=1,
        tree_hash=b"",
        confirmed_transcript_hash=b"",
        extensions=(
            Extension(EXTERNAL_SENDERS, external_senders_to_bytes((sender,))),
            roles.to_extension(),
        ),
    )
    tree = ratchet_tree_from_bytes(bytes.fromhex(data["ratchet_tree"]))
    view = RoomView.from_public(context, tree)
    assert view.roster == {0: b"alice", 1: b"bob", 2: b"carol"}
    assert data["rogue_remove_action_at_alice"] == "reject"
    with pytest.raises(err.RemoveNotAllowedError):
        check_commit_message(view, bytes.fromhex(data["rogue_remove_commit"]))
    proposal = check_proposal_message(view, bytes.fromhex(data["external_remove_proposal"]))
    assert data["remove_action_at_bob"] == "accept"
    verdict = check_commit_message(view, bytes.fromhex(data["commit_remove"]), [proposal])
    assert verdict.removed == (b"carol",)
    assert verdict.committer == b"alice"


def test_client_gate_before_processing() -> None:
    room = make_room(b"bob", b"carol")
    carol = room.groups[b"carol"]
    chat = room.groups[b"bob"].protect(b"hi")
    assert check_before_processing(carol.state, chat) is None
    leave = room.groups[b"bob"].propose_remove(room.leaf_of(b"bob"))
    assert check_before_processing(carol.state, leave) is None
    rogue = room.groups[b"bob"].propose_remove(room.leaf_of(b"carol"))
    with pytest.raises(err.RemoveNotAllowedError):
        check_before_processing(carol.state, rogue)
    carol.process(leave)
    room.groups[b"alice"].process(leave)
    message, _, _ = room.groups[b"alice"].commit()
    verdict = check_before_processing(carol.state, message)
    assert verdict is not None
    assert verdict.self_removals == (b"bob",)
    # a handshake sent as PrivateMessage is refused by the gate
    hidden = room.groups[b"alice"]
    hidden.discard_pending_commit()
    state = hidden.state
    protector = Protector(
        state.context,
        SecretTree(state.secrets.encryption_secret, 4),
        state.secrets.sender_data_secret,
        state.secrets.membership_key,
    )
    content = FramedContent(state.group_id, state.epoch, Sender.member(0), Remove(2))
    private = MLSMessage(protector.protect_private(content, state.signature_priv))
    with pytest.raises(err.NotAHandshakeError, match="PrivateMessage"):
        check_before_processing(carol.state, private)
