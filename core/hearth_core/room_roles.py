"""Facilitator authority inside an MLS group: the ``room_roles`` extension and THE rule.

DESIGN.md principle 3 and issue 5: roles live inside the group, in a private-use
GroupContext extension, and one rule, this module, is run by the server before
it accepts a commit and by every client before it applies one.

The ``room_roles`` extension (type :data:`ROOM_ROLES` = 0xF0A0, in the private-use
range 0xF000-0xFFFF of RFC 9420 §17.3) carries, in the presentation language of
RFC 9420 §2.1 (``<V>`` is the variable-length vector of §2.1.2)::

    struct {
        opaque facilitator_ids<V><V>;   // credential identities, creator first
        opaque peer_leader_ids<V><V>;   // present only when non-empty
    } RoomRoles;

An identity is the ``identity`` of a basic credential (RFC 9420 §5.3). The first
field alone is exactly the encoding of ``/work/shared/mls-interop/mls-interop.mjs``
(so ts-mls reads and writes it); ``peer_leader_ids`` is appended only when it has
at least one entry, so a facilitator-only value has one encoding and old readers
that read the first vector keep working. Decoding is strict: minimal varints
(§2.1.2), no trailing bytes, at least one facilitator, every identity
1..:data:`MAX_IDENTITY_BYTES` bytes, at most :data:`MAX_ROLE_HOLDERS` per list,
no identity twice (within or across the lists).

The rule (:func:`check_commit`, :func:`check_proposal`) reads only public data:
the GroupContext extensions, the credentials of the tree's leaves, the commit's
proposals (inline or resolved by ProposalRef, RFC 9420 §5.2, §12.4) with their
senders, and the committer. So the server, which keeps the public ratchet tree
and sees handshakes as PublicMessage (RFC 9420 §6.2), runs it without any group
secret. It does NOT verify signatures, membership tags, epochs or any RFC 9420
§12.2 / §12.4.2 rule: the caller does that (the server on the PublicMessage
signature, the client through :meth:`hearth_mls.group.Group.process`).

Rules (roles are those of the epoch the commit is for):

1. Removing someone other than yourself needs a facilitator: the committer and,
   for a Remove sent earlier by a member, that proposer too. A Remove is "of
   yourself" when a member proposed its own removal (a voluntary leave) or when an
   external joiner removes the old leaf of its own identity (RFC 9420 §12.4.3.2).
2. Any GroupContextExtensions proposal (changing ``room_roles`` or anything else,
   e.g. ``external_senders``) and any ReInit need a facilitator (proposer and
   committer). The proposed extensions must still hold a valid ``room_roles``.
3. Committing a proposal by reference whose sender is external (an
   ``external_senders`` entry, RFC 9420 §12.1.8.1) or a new member
   (``new_member_proposal``, §12.1.8) needs a facilitator.
4. An external sender may only propose Remove; a new member only Add.
5. Adding a member whose identity holds a role needs a facilitator (granting a
   role by Add). An external joiner (``new_member_commit``, §12.4.3.2) whose
   identity holds a role must replace its own old leaf, keeping that leaf's
   signature key: credential identities are public bytes, so only a key the
   role-holder already proved in the group lets it back in without a
   facilitator (not even the server can put on a facilitator's identity).
6. A leaf's credential identity never changes (Update proposals and the
   committer's path leaf keep it), and no two leaves share an identity, so a
   member cannot put on a facilitator's identity.
7. A commit must not leave the room without a facilitator among its members, when
   it had one (the last facilitator cannot be removed, demoted, or leave).

The room's creator is its first facilitator (:func:`room_extensions`,
:func:`check_room_creation`). Errors are in :mod:`hearth_core.room_errors`.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hearth_core.room_errors import (
    ContextChangeNotAllowedError,
    DuplicateIdentityError,
    ExternalCommitNotAllowedError,
    ExternalSenderProposalError,
    IdentityChangeError,
    LastFacilitatorError,
    MissingRolesError,
    NotAHandshakeError,
    RemoveNotAllowedError,
    RoleChangeNotAllowedError,
    RoleGrantNotAllowedError,
    RolesDecodeError,
    RoomUsageError,
    UnknownParticipantError,
)
from hearth_mls import suite
from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.commit import Commit
from hearth_mls.credential import Credential, CredentialType
from hearth_mls.errors import DecodeError, MLSError
from hearth_mls.extension_payloads import (
    ExternalSender,
    RequiredCapabilities,
    external_senders_from_bytes,
    external_senders_to_bytes,
)
from hearth_mls.extensions import (
    EXTERNAL_SENDERS,
    REQUIRED_CAPABILITIES,
    Extension,
    GroupContext,
)
from hearth_mls.framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    PrivateMessage,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from hearth_mls.group_state import CachedProposal, GroupState
from hearth_mls.join import default_capabilities
from hearth_mls.leaf_node import Capabilities
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import members
from hearth_mls.proposals import (
    Add,
    GroupContextExtensions,
    Proposal,
    ReInit,
    Remove,
    Update,
)
from hearth_mls.tree_nodes import Node

#: The room_roles GroupContext extension type (RFC 9420 §17.3 private use, 0xF000-0xFFFF).
ROOM_ROLES = 0xF0A0
#: Longest credential identity accepted in room_roles (Hearth identities are 32 bytes).
MAX_IDENTITY_BYTES = 255
#: Most identities in one role list (rooms hold 5 to 50 people, DESIGN.md).
MAX_ROLE_HOLDERS = 64


class Role(enum.StrEnum):
    """A member's role in a room (DESIGN.md "Moderation")."""

    MEMBER = "member"
    PEER_LEADER = "peer_leader"
    FACILITATOR = "facilitator"


def _roles_problem(facilitators: Sequence[bytes], peer_leaders: Sequence[bytes]) -> str | None:
    if not facilitators:
        return "room_roles needs at least one facilitator"
    for name, ids in (("facilitators", facilitators), ("peer leaders", peer_leaders)):
        if len(ids) > MAX_ROLE_HOLDERS:
            return f"{len(ids)} {name}, at most {MAX_ROLE_HOLDERS}"
        for identity in ids:
            if not 1 <= len(identity) <= MAX_IDENTITY_BYTES:
                return f"an identity of {len(identity)} bytes (1..{MAX_IDENTITY_BYTES})"
    every = [*facilitators, *peer_leaders]
    if len(set(every)) != len(every):
        return "an identity appears twice in room_roles"
    return None


@dataclass(frozen=True, slots=True)
class RoomRoles:
    """The decoded ``room_roles`` extension: who facilitates and who leads peers.

    Construction validates (RoomUsageError); :meth:`from_bytes` decodes strictly
    (RolesDecodeError).
    """

    facilitators: tuple[bytes, ...]
    peer_leaders: tuple[bytes, ...] = ()

    def __post_init__(self) -> None:
        problem = _roles_problem(self.facilitators, self.peer_leaders)
        if problem is not None:
            raise RoomUsageError(problem)

    # --- queries -----------------------------------------------------------------

    def role_of(self, identity: bytes) -> Role:
        if identity in self.facilitators:
            return Role.FACILITATOR
        if identity in self.peer_leaders:
            return Role.PEER_LEADER
        return Role.MEMBER

    def is_facilitator(self, identity: bytes) -> bool:
        return identity in self.facilitators

    # --- changes (each returns a new value; invalid results raise RoomUsageError) ----

    def with_role(self, identity: bytes, role: Role) -> RoomRoles:
        """``identity`` set to ``role`` (MEMBER drops any role); appended at the end."""
        facilitators = tuple(i for i in self.facilitators if i != identity)
        peer_leaders = tuple(i for i in self.peer_leaders if i != identity)
        if role is Role.FACILITATOR:
            facilitators = (*facilitators, identity)
        elif role is Role.PEER_LEADER:
            peer_leaders = (*peer_leaders, identity)
        return RoomRoles(facilitators, peer_leaders)

    # --- wire ----------------------------------------------------------------------

    def to_bytes(self) -> bytes:
        w = Writer()
        w.vector(self.facilitators, lambda w2, i: w2.opaque(i))
        if self.peer_leaders:
            w.vector(self.peer_leaders, lambda w2, i: w2.opaque(i))
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> RoomRoles:
        def get(r: Reader) -> tuple[list[bytes], list[bytes]]:
            facilitators = r.vector(lambda r2: r2.opaque())
            if not r.remaining:
                return facilitators, []
            peer_leaders = r.vector(lambda r2: r2.opaque())
            if not peer_leaders:
                raise r.error("an empty peer_leader_ids must be omitted")
            return facilitators, peer_leaders

        try:
            facilitators, peer_leaders = decode_exact(data, "RoomRoles", get)
        except DecodeError as exc:
            raise RolesDecodeError(str(exc)) from exc
        problem = _roles_problem(facilitators, peer_leaders)
        if problem is not None:
            raise RolesDecodeError(problem)
        return cls(tuple(facilitators), tuple(peer_leaders))

    def to_extension(self) -> Extension:
        return Extension(ROOM_ROLES, self.to_bytes())


def roles_of(extensions: Iterable[Extension]) -> RoomRoles:
    """The room_roles in a GroupContext's extensions (MissingRolesError if absent)."""
    for extension in extensions:
        if extension.extension_type == ROOM_ROLES:
            return RoomRoles.from_bytes(extension.extension_data)
    raise MissingRolesError("the GroupContext has no room_roles extension")


def replace_roles(extensions: Iterable[Extension], roles: RoomRoles) -> tuple[Extension, ...]:
    """``extensions`` with room_roles set to ``roles`` (for a GroupContextExtensions proposal).

    RFC 9420 §12.1.7: the proposal carries the complete new extension list.
    """
    kept = [e for e in extensions if e.extension_type != ROOM_ROLES]
    return (*kept, roles.to_extension())


def room_capabilities() -> Capabilities:
    """Leaf capabilities a Hearth member advertises: basic credentials and room_roles (§7.2)."""
    return default_capabilities([ROOM_ROLES])


def room_extensions(
    creator_identity: bytes, external_senders: Sequence[ExternalSender] = ()
) -> tuple[Extension, ...]:
    """A new room's GroupContext extensions: the creator is the first facilitator.

    ``required_capabilities`` (RFC 9420 §11.1) requires room_roles of every new
    member; ``external_senders`` (§12.1.8.1) lists the server's key, when given.
    """
    extensions = [
        RoomRoles((creator_identity,)).to_extension(),
        Extension(
            REQUIRED_CAPABILITIES, RequiredCapabilities(extension_types=(ROOM_ROLES,)).to_bytes()
        ),
    ]
    if external_senders:
        extensions.append(
            Extension(EXTERNAL_SENDERS, external_senders_to_bytes(tuple(external_senders)))
        )
    return tuple(extensions)


def check_room_creation(extensions: Sequence[Extension], creator_identity: bytes) -> RoomRoles:
    """A new room's GroupContext must name its creator as the only facilitator.

    It must also require room_roles of every member (RFC 9420 §11.1). Raises
    RoleChangeNotAllowedError, MissingRolesError or RolesDecodeError.
    """
    roles = roles_of(extensions)
    if roles != RoomRoles((creator_identity,)):
        raise RoleChangeNotAllowedError("a new room's only role must be its creator as facilitator")
    for extension in extensions:
        if extension.extension_type == REQUIRED_CAPABILITIES:
            try:
                required = RequiredCapabilities.from_bytes(extension.extension_data)
            except DecodeError as exc:
                raise RolesDecodeError(f"required_capabilities: {exc}") from exc
            if ROOM_ROLES in required.extension_types:
                return roles
    raise MissingRolesError("required_capabilities must require room_roles (RFC 9420 §11.1)")


# --- the public view the rule reads ----------------------------------------------------


def _identity(credential: Credential, what: str) -> bytes:
    if credential.credential_type is not CredentialType.BASIC or credential.identity is None:
        raise UnknownParticipantError(f"{what} has no basic credential identity (RFC 9420 §5.3)")
    return credential.identity


@dataclass(frozen=True, slots=True)
class RoomView:
    """The public state of one epoch the rule needs: roles, roster, external senders.

    ``roster`` maps each member's leaf index to its credential identity.
    """

    roles: RoomRoles
    roster: Mapping[int, bytes]
    extensions: tuple[Extension, ...] = ()
    external_sender_count: int = 0
    #: Each member's leaf signature key (RFC 9420 §7.2), by leaf index.
    signature_keys: Mapping[int, bytes] = field(default_factory=dict)

    @classmethod
    def from_public(cls, context: GroupContext, tree: Sequence[Node | None]) -> RoomView:
        """From a GroupContext and a public ratchet tree (what a server keeps, §12.4.3)."""
        leaves = members(tree)
        roster = {index: _identity(leaf.credential, f"leaf {index}") for index, leaf in leaves}
        keys = {index: leaf.signature_key for index, leaf in leaves}
        count = 0
        for extension in context.extensions:
            if extension.extension_type == EXTERNAL_SENDERS:
                try:
                    count = len(external_senders_from_bytes(extension.extension_data))
                except DecodeError as exc:
                    raise RolesDecodeError(f"external_senders: {exc}") from exc
        return cls(roles_of(context.extensions), roster, context.extensions, count, keys)

    @classmethod
    def from_group_state(cls, state: GroupState) -> RoomView:
        """From a client's group state, reading only its public parts."""
        return cls.from_public(state.context, state.tree)

    def role_of_leaf(self, leaf_index: int) -> Role:
        identity = self.roster.get(leaf_index)
        if identity is None:
            raise UnknownParticipantError(f"leaf {leaf_index} is not a member")
        return self.roles.role_of(identity)


@dataclass(frozen=True, slots=True)
class ResolvedProposal:
    """One proposal of a commit with its sender; ``by_reference`` if sent before (§12.4)."""

    proposal: Proposal
    sender: Sender
    by_reference: bool


@dataclass(frozen=True, slots=True)
class CommitUnderReview:
    """A commit as the rule reads it: committer, its path leaf identity, proposals."""

    committer: Sender
    proposals: tuple[ResolvedProposal, ...]
    #: Identity of the UpdatePath's leaf node, when the commit has a path (§12.4).
    path_identity: bytes | None = None
    #: Signature key of the UpdatePath's leaf node, when the commit has a path.
    path_signature_key: bytes | None = None


@dataclass(frozen=True, slots=True)
class Allowed:
    """The rule's verdict for an acceptable commit, with what it changes."""

    #: Credential identity and (current) role of whoever committed.
    committer: bytes
    committer_role: Role
    #: The roles of the next epoch (changed by a GroupContextExtensions proposal, or not).
    roles_after: RoomRoles
    #: Identities of the removed leaves, and of those among them that left on their own.
    removed: tuple[bytes, ...] = ()
    self_removals: tuple[bytes, ...] = ()
    #: Identities added by Add proposals (an external joiner is ``committer``).
    added: tuple[bytes, ...] = ()
    roles_changed: bool = False


# --- reading handshakes as the server does ---------------------------------------------


def _public_message(message: MLSMessage | bytes) -> PublicMessage:
    if isinstance(message, bytes):
        try:
            message = MLSMessage.from_bytes(message)
        except MLSError as exc:
            raise NotAHandshakeError(f"not an MLSMessage: {exc}") from exc
    if not isinstance(message.body, PublicMessage):
        raise NotAHandshakeError(
            f"handshakes travel as PublicMessage, not {message.wire_format.name} (DESIGN.md)"
        )
    return message.body


def cached_proposal(message: MLSMessage | bytes | PublicMessage) -> CachedProposal:
    """A PublicMessage proposal with its ProposalRef (RFC 9420 §5.2), for a later commit."""
    body = message if isinstance(message, PublicMessage) else _public_message(message)
    proposal = body.content.content
    if isinstance(proposal, (bytes, Commit)):
        raise NotAHandshakeError("the message is not a proposal")
    authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, body.content, body.auth)
    ref = suite.make_proposal_ref(authenticated.to_bytes())
    return CachedProposal(ref, proposal, body.content.sender)


def review_commit(content: FramedContent, pending: Iterable[CachedProposal]) -> CommitUnderReview:
    """Resolve a commit's proposal references against this epoch's proposals (§12.4)."""
    commit = content.content
    if not isinstance(commit, Commit):
        raise NotAHandshakeError("the message is not a commit")
    by_ref = {p.ref: p for p in pending}
    resolved: list[ResolvedProposal] = []
    for item in commit.proposals:
        if item.proposal is not None:
            resolved.append(ResolvedProposal(item.proposal, content.sender, False))
            continue
        assert item.reference is not None
        cached = by_ref.get(item.reference)
        if cached is None:
            raise UnknownParticipantError(f"unknown proposal ref {item.reference.hex()[:16]}")
        resolved.append(ResolvedProposal(cached.proposal, cached.sender, True))
    path_identity = path_key = None
    if commit.path is not None:
        path_identity = _identity(commit.path.leaf_node.credential, "the commit's path leaf")
        path_key = commit.path.leaf_node.signature_key
    return CommitUnderReview(content.sender, tuple(resolved), path_identity, path_key)


def check_commit_message(
    view: RoomView, message: MLSMessage | bytes, pending: Iterable[CachedProposal] = ()
) -> Allowed:
    """Decode a PublicMessage commit, resolve its references and run :func:`check_commit`."""
    body = _public_message(message)
    return check_commit(view, review_commit(body.content, pending))


def check_proposal_message(view: RoomView, message: MLSMessage | bytes) -> CachedProposal:
    """Run :func:`check_proposal` on a PublicMessage proposal; return it with its ref."""
    cached = cached_proposal(message)
    check_proposal(view, cached.proposal, cached.sender)
    return cached


def check_before_processing(state: GroupState, message: MLSMessage) -> Allowed | None:
    """A client's gate before :meth:`hearth_mls.group.Group.process` (issue 5).

    An application PrivateMessage passes (``None``: nothing to judge). A
    PublicMessage proposal must pass :func:`check_proposal` (``None``), a
    PublicMessage commit :func:`check_commit` against this member's public state
    and cached proposals (its :class:`Allowed`). A handshake as PrivateMessage is
    refused: Hearth sends handshakes as PublicMessage so the server can apply the
    same rule (DESIGN.md principle 3).
    """
    body = message.body
    if isinstance(body, PrivateMessage):
        if body.content_type is ContentType.APPLICATION:
            return None
        raise NotAHandshakeError("a handshake as PrivateMessage: Hearth sends them in public")
    view = RoomView.from_group_state(state)
    if isinstance(body, PublicMessage) and isinstance(body.content.content, Commit):
        return check_commit_message(view, message, state.proposals)
    check_proposal_message(view, message)
    return None


# --- the rule ----------------------------------------------------------------------------


def _member_identity(view: RoomView, sender: Sender, what: str) -> bytes:
    assert sender.index is not None
    identity = view.roster.get(sender.index)
    if identity is None:
        raise UnknownParticipantError(f"{what} at leaf {sender.index} is not a member")
    return identity


def _context_change_error(view: RoomView, proposal: GroupContextExtensions, who: str) -> Exception:
    changed = roles_of(proposal.extensions) != view.roles
    if changed:
        return RoleChangeNotAllowedError(f"{who} is not a facilitator and cannot change roles")
    return ContextChangeNotAllowedError(f"{who} is not a facilitator and cannot change the group")


def check_proposal(view: RoomView, proposal: Proposal, sender: Sender) -> None:
    """The rule for one proposal and its sender (rules 1, 2, 4, 5, 6 of the module doc).

    The server runs it on every standalone proposal before storing it; :func:`check_commit`
    runs it on every proposal a commit carries.
    """
    if isinstance(proposal, GroupContextExtensions):
        roles_of(proposal.extensions)  # the new context must still hold valid roles
    kind = sender.sender_type
    if kind is SenderType.EXTERNAL:
        assert sender.index is not None
        if sender.index >= view.external_sender_count:
            raise UnknownParticipantError(f"no external sender {sender.index} (RFC 9420 §12.1.8.1)")
        if not isinstance(proposal, Remove):
            raise ExternalSenderProposalError(
                f"an external sender may only propose Remove, not {type(proposal).__name__}"
            )
        return
    if kind is SenderType.NEW_MEMBER_PROPOSAL:
        if not isinstance(proposal, Add):
            raise ExternalSenderProposalError("a new member may only propose Add (§12.1.8)")
        return
    if kind is SenderType.NEW_MEMBER_COMMIT:
        return  # inline proposals of an external commit: judged in check_commit
    identity = _member_identity(view, sender, "the proposer")
    facilitator = view.roles.is_facilitator(identity)
    who = f"leaf {sender.index}"
    if isinstance(proposal, Remove):
        if proposal.removed != sender.index and not facilitator:
            raise RemoveNotAllowedError(f"{who} is not a facilitator and cannot remove others")
    elif isinstance(proposal, GroupContextExtensions):
        if not facilitator:
            raise _context_change_error(view, proposal, who)
    elif isinstance(proposal, ReInit):
        if not facilitator:
            raise ContextChangeNotAllowedError(f"{who} is not a facilitator and cannot ReInit")
    elif isinstance(proposal, Add):
        added = _identity(proposal.key_package.leaf_node.credential, "the added KeyPackage")
        if view.roles.role_of(added) is not Role.MEMBER and not facilitator:
            raise RoleGrantNotAllowedError(f"{who} cannot add a member who holds a role")
    elif isinstance(proposal, Update):
        new = _identity(proposal.leaf_node.credential, "the Update's leaf")
        if new != identity:
            raise IdentityChangeError(f"{who} cannot change its credential identity")


def _committer_identity(view: RoomView, commit: CommitUnderReview) -> bytes:
    kind = commit.committer.sender_type
    if kind is SenderType.MEMBER:
        identity = _member_identity(view, commit.committer, "the committer")
        if commit.path_identity is not None and commit.path_identity != identity:
            raise IdentityChangeError("the committer's path leaf changes its identity")
        return identity
    if kind is SenderType.NEW_MEMBER_COMMIT:
        if commit.path_identity is None:
            raise NotAHandshakeError("an external commit must carry a path (§12.4.3.2)")
        return commit.path_identity
    raise NotAHandshakeError(f"a {kind.name.lower()} sender cannot commit (RFC 9420 §12.4)")


def check_commit(view: RoomView, commit: CommitUnderReview) -> Allowed:
    """THE authority rule for one commit (every rule of the module doc), or an error.

    ``view`` is the epoch the commit is for; nothing is modified.
    """
    committer = _committer_identity(view, commit)
    external_join = commit.committer.sender_type is SenderType.NEW_MEMBER_COMMIT
    facilitator = view.roles.is_facilitator(committer)
    roles_after = view.roles
    removed: list[int] = []
    self_removed: list[bytes] = []
    added: list[bytes] = []
    for item in commit.proposals:
        proposal, sender = item.proposal, item.sender
        check_proposal(view, proposal, sender)
        foreign = sender.sender_type in (SenderType.EXTERNAL, SenderType.NEW_MEMBER_PROPOSAL)
        if item.by_reference and foreign and not facilitator:
            raise ExternalCommitNotAllowedError(
                "only a facilitator may commit proposals from external senders or new members"
            )
        if isinstance(proposal, Remove):
            target = view.roster.get(proposal.removed)
            if target is None:
                raise UnknownParticipantError(f"Remove of leaf {proposal.removed}, not a member")
            own = (
                sender.sender_type is SenderType.MEMBER and sender.index == proposal.removed
            ) or (external_join and sender == commit.committer and target == committer)
            if not own and not facilitator:
                raise RemoveNotAllowedError(
                    "the committer is not a facilitator: cannot remove others"
                )
            removed.append(proposal.removed)
            if own:
                self_removed.append(target)
        elif isinstance(proposal, GroupContextExtensions):
            if not facilitator:
                raise _context_change_error(view, proposal, "the committer")
            roles_after = roles_of(proposal.extensions)
        elif isinstance(proposal, ReInit):
            if not facilitator:
                raise ContextChangeNotAllowedError("the committer is not a facilitator: no ReInit")
        elif isinstance(proposal, Add):
            identity = _identity(proposal.key_package.leaf_node.credential, "the added KeyPackage")
            if view.roles.role_of(identity) is not Role.MEMBER and not facilitator:
                raise RoleGrantNotAllowedError("the committer cannot add a member who holds a role")
            added.append(identity)
    if external_join and view.roles.role_of(committer) is not Role.MEMBER:
        replaced = [
            leaf for leaf in removed if view.signature_keys.get(leaf) == commit.path_signature_key
        ]
        if not any(view.roster[leaf] == committer for leaf in replaced):
            raise RoleGrantNotAllowedError(
                "an external joiner holding a role must replace its own leaf, same signature key"
            )
    remaining = [i for leaf, i in view.roster.items() if leaf not in removed]
    after = [*remaining, *added, *([committer] if external_join else [])]
    if len(set(after)) != len(after):
        raise DuplicateIdentityError("after the commit two leaves would share an identity")
    had_facilitator = any(view.roles.is_facilitator(i) for i in view.roster.values())
    if had_facilitator and not any(roles_after.is_facilitator(i) for i in after):
        raise LastFacilitatorError("the commit would leave the room without a facilitator")
    return Allowed(
        committer=committer,
        committer_role=view.roles.role_of(committer),
        removed=tuple(view.roster[leaf] for leaf in removed),
        added=tuple(added),
        roles_after=roles_after,
        roles_changed=roles_after != view.roles,
        self_removals=tuple(self_removed),
    )


__all__ = [
    "MAX_IDENTITY_BYTES",
    "MAX_ROLE_HOLDERS",
    "ROOM_ROLES",
    "Allowed",
    "CommitUnderReview",
    "ResolvedProposal",
    "Role",
    "RoomRoles",
    "RoomView",
    "cached_proposal",
    "check_before_processing",
    "check_commit",
    "check_commit_message",
    "check_proposal",
    "check_proposal_message",
    "check_room_creation",
    "replace_roles",
    "review_commit",
    "roles_of",
    "room_capabilities",
    "room_extensions",
]
