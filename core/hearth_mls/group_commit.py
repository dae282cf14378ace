"""Creating and processing commits as pure functions of a GroupState (RFC 9420 §12.4).

:func:`process_commit` runs every step of §12.4.2 in order and returns a new
:class:`~hearth_mls.group_state.GroupState`; it raises a specific
:class:`~hearth_mls.errors.PeerError` at the first broken rule and never
changes its input. :func:`create_commit` mirrors §12.4.1 and also builds the
Welcome for added members (§12.4.3.1).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace

from hearth_mls import suite, transcript, tree_math, treekem
from hearth_mls.commit import Commit, UpdatePath
from hearth_mls.errors import (
    DecodeError,
    InvalidExternalCommitError,
    MissingPathError,
    MissingPskError,
    NonMemberSenderError,
    PathLeafSourceError,
    UnchangedEncryptionKeyError,
    UnknownProposalError,
    UnknownSenderError,
    UsageError,
    WrongEpochError,
    WrongGroupError,
)
from hearth_mls.extension_payloads import (
    ExternalPub,
    ExternalSender,
    external_senders_from_bytes,
)
from hearth_mls.extensions import (
    EXTERNAL_PUB,
    EXTERNAL_SENDERS,
    RATCHET_TREE,
    Extension,
    GroupContext,
)
from hearth_mls.framing import (
    AuthenticatedContent,
    ContentType,
    FramedContent,
    FramedContentAuthData,
    FramedContentTBS,
    Sender,
    SenderType,
    WireFormat,
)
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import CachedProposal, GroupState, Phase
from hearth_mls.key_schedule import EpochSecrets, external_init_receiver
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.proposal_rules import (
    Applied,
    ProposalEntry,
    apply_proposals,
    validate_leaf_node,
)
from hearth_mls.proposals import (
    PreSharedKeyID,
    Proposal,
    ProposalOrRef,
    PSKType,
    Update,
)
from hearth_mls.psk import psk_secret
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import ratchet_tree_to_bytes
from hearth_mls.welcome import create_welcome
from hearth_mls.welcome_structs import PathSecret, Welcome

#: How many past resumption PSKs a member keeps (RFC 9420 §8.6 leaves it to the application).
RESUMPTION_WINDOW = 8


# --- Senders and proposals ----------------------------------------------------------


def signer_of(state: GroupState, sender: Sender) -> bytes:
    """The signature key of ``sender`` in this epoch, or UnknownSenderError (§6)."""
    if sender.sender_type is SenderType.MEMBER:
        assert sender.index is not None
        leaf = state.ratchet_tree().leaf(sender.index)
        if leaf is None:
            raise UnknownSenderError(f"leaf {sender.index} is blank or outside the tree")
        return leaf.signature_key
    if sender.sender_type is SenderType.EXTERNAL:
        assert sender.index is not None
        for ext in state.context.extensions:
            if ext.extension_type == EXTERNAL_SENDERS:
                senders = read_external_senders(ext.extension_data)
                if sender.index < len(senders):
                    return senders[sender.index].signature_key
        raise UnknownSenderError(f"no external sender {sender.index} (RFC 9420 §12.1.8.1)")
    raise UnknownSenderError(f"{sender.sender_type.name} needs the message's own key")


def read_external_senders(data: bytes) -> tuple[ExternalSender, ...]:
    """The ``external_senders`` extension (RFC 9420 §12.1.8.1: ``ExternalSender<V>``).

    ts-mls 1.6.4 writes one bare ExternalSender instead of the vector; that form
    is accepted too (the vector's length prefix tells the two apart).
    """
    try:
        return external_senders_from_bytes(data)
    except DecodeError:
        return (ExternalSender.from_bytes(data),)


def cache_proposal(state: GroupState, authenticated: AuthenticatedContent) -> GroupState:
    """Store a received proposal under its ProposalRef for a later commit (§12.1, §5.2)."""
    proposal = authenticated.content.content
    if isinstance(proposal, (bytes, Commit)):
        raise UsageError("cache_proposal needs proposal content")
    sender = authenticated.content.sender
    if sender.sender_type is SenderType.EXTERNAL and isinstance(proposal, Update):
        raise NonMemberSenderError("an external sender cannot propose an Update (§12.1.8)")
    ref = suite.make_proposal_ref(authenticated.to_bytes())
    cached = CachedProposal(ref, proposal, sender)
    return replace(state, proposals=(*state.proposals, cached))


def resolve_proposals(state: GroupState, commit: Commit, committer: Sender) -> list[ProposalEntry]:
    """The committed proposals with their senders, references resolved (§12.4)."""
    by_ref = {p.ref: p for p in state.proposals}
    out: list[ProposalEntry] = []
    for item in commit.proposals:
        if item.proposal is not None:
            out.append(ProposalEntry(item.proposal, committer))
        else:
            assert item.reference is not None
            cached = by_ref.get(item.reference)
            if cached is None:
                raise UnknownProposalError(f"unknown proposal ref {item.reference.hex()[:16]}")
            out.append(ProposalEntry(cached.proposal, cached.sender))
    return out


def lookup_psks(
    state: GroupState, ids: Sequence[PreSharedKeyID]
) -> list[tuple[PreSharedKeyID, bytes]]:
    """The PSK value of every id, or MissingPskError (§8.4, §12.4.2)."""
    external = dict(state.external_psks)
    resumption = dict(state.resumption_psks)
    out = []
    for psk_id in ids:
        if psk_id.psktype is PSKType.EXTERNAL:
            value = external.get(psk_id.psk_id or b"")
        elif psk_id.psk_group_id == state.group_id and psk_id.psk_epoch is not None:
            value = (
                state.secrets.resumption_psk
                if psk_id.psk_epoch == state.epoch
                else resumption.get(psk_id.psk_epoch)
            )
        else:
            value = None
        if value is None:
            raise MissingPskError("a PreSharedKey proposal names a PSK this member lacks")
        out.append((psk_id, value))
    return out


def _next_resumption(state: GroupState) -> tuple[tuple[int, bytes], ...]:
    kept = (*state.resumption_psks, (state.epoch, state.secrets.resumption_psk))
    return kept[-RESUMPTION_WINDOW:]


# --- Processing (§12.4.2) -----------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessedCommit:
    state: GroupState
    applied: Applied
    committer: int


def process_commit(
    state: GroupState, authenticated: AuthenticatedContent, *, now: int | None = None
) -> ProcessedCommit:
    """Apply a received, already unprotected commit (every step of RFC 9420 §12.4.2)."""
    content = authenticated.content
    commit = content.content
    if not isinstance(commit, Commit):
        raise UsageError("process_commit needs commit content")
    if content.group_id != state.group_id:
        raise WrongGroupError("commit is for another group")
    if content.epoch != state.epoch:
        raise WrongEpochError(f"commit is for epoch {content.epoch}, we are at {state.epoch}")
    sender = content.sender
    external = sender.sender_type is SenderType.NEW_MEMBER_COMMIT
    old_tree = state.ratchet_tree()
    if sender.sender_type is SenderType.MEMBER:
        assert sender.index is not None
        if old_tree.leaf(sender.index) is None:
            raise NonMemberSenderError(f"commit from blank leaf {sender.index}")
        committer: int | None = sender.index
    elif external:
        committer = None
        if commit.path is None:
            raise MissingPathError("an external commit must carry a path (§12.4.3.2)")
        if any(item.reference is not None for item in commit.proposals):
            raise InvalidExternalCommitError("an external commit has only inline proposals")
    else:
        raise NonMemberSenderError(f"a {sender.sender_type.name} sender cannot commit")
    if committer == state.own_leaf:
        raise UsageError("own commits are merged with merge_pending_commit")

    entries = resolve_proposals(state, commit, sender)
    applied = apply_proposals(
        entries,
        tree=old_tree,
        extensions=state.context.extensions,
        group_id=state.group_id,
        committer=committer,
        external=external,
        now=now,
    )
    psks = lookup_psks(state, applied.psks)
    if applied.path_required and commit.path is None:
        raise MissingPathError("this commit's proposals require a path (RFC 9420 §12.4.2)")

    removed_me = state.own_leaf in applied.removed
    tree = applied.tree
    private_keys = state.private_key_map()
    if state.own_leaf in applied.updated:
        # Someone committed our Update: our leaf now has the key we proposed (§12.1.2).
        own = tree.leaf(state.own_leaf)
        pending = dict(state.pending_leaf_keys)
        if own is not None and own.encryption_key in pending:
            private_keys[tree_math.leaf_to_node(state.own_leaf)] = pending[own.encryption_key]
    private_keys = treekem.prune_private_keys(tree, private_keys)
    commit_secret = bytes(suite.NH)
    new_epoch = state.epoch + 1
    if commit.path is not None:
        path: UpdatePath = commit.path
        if external:
            for removed in applied.removed:
                # §12.2: the joiner may only remove an old version of itself.
                old = old_tree.leaf(removed)
                if old is None or old.credential != path.leaf_node.credential:
                    raise InvalidExternalCommitError(
                        "an external commit may only remove the joiner's own old leaf"
                    )
            tree, committer = _place_external_joiner(tree, path)
        assert committer is not None
        _check_path_leaf(state, old_tree.leaf(committer), tree, committer, path, applied, now)
        tree = treekem.merge_update_path(tree, committer, path)
        if removed_me:
            return _removed(state, applied, committer)
        provisional = replace(
            state.context,
            epoch=new_epoch,
            tree_hash=tree.tree_hash(),
            extensions=applied.extensions,
        ).to_bytes()
        _, private_keys, commit_secret = treekem.decrypt_update_path(
            tree,
            committer,
            state.own_leaf,
            path,
            treekem.prune_private_keys(tree, private_keys),
            provisional,
            [i for i, _ in applied.added],
        )
    assert committer is not None
    if removed_me:
        return _removed(state, applied, committer)
    confirmed = transcript.confirmed_transcript_hash(state.interim_transcript_hash, authenticated)
    new_context = replace(
        state.context,
        epoch=new_epoch,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=confirmed,
        extensions=applied.extensions,
    )
    if applied.external_init is not None:
        external_priv = state.secrets.external_key_pair()[0]
        init_secret = external_init_receiver(external_priv, applied.external_init.kem_output)
    else:
        init_secret = state.secrets.init_secret
    secrets = EpochSecrets.advance(init_secret, new_context, commit_secret, psk_secret(psks))
    tag = authenticated.auth.confirmation_tag
    assert tag is not None
    transcript.verify_confirmation_tag(secrets.confirmation_key, confirmed, tag)
    new_state = _next_epoch(state, new_context, tree, private_keys, secrets, confirmed, tag)
    return ProcessedCommit(new_state, applied, committer)


def _next_epoch(
    state: GroupState,
    context: GroupContext,
    tree: RatchetTree,
    private_keys: dict[int, bytes],
    secrets: EpochSecrets,
    confirmed_transcript_hash: bytes,
    confirmation_tag: bytes,
    own_leaf: int | None = None,
) -> GroupState:
    """The state of the epoch a commit starts, for its committer and receivers (§8.2, §12.4)."""
    return replace(
        state,
        context=context,
        tree=tuple(tree.to_wire()),
        own_leaf=state.own_leaf if own_leaf is None else own_leaf,
        private_keys=tuple(sorted(private_keys.items())),
        secrets=secrets,
        interim_transcript_hash=transcript.interim_transcript_hash(
            confirmed_transcript_hash, confirmation_tag
        ),
        proposals=(),
        phase=Phase.ACTIVE,
        resumption_psks=_next_resumption(state),
        pending_leaf_keys=(),
    )


def _removed(state: GroupState, applied: Applied, committer: int) -> ProcessedCommit:
    """A validated commit removed us: we cannot derive the new epoch (§12.4.2, last
    note), so we keep the old epoch's keys for late messages and stop sending."""
    return ProcessedCommit(replace(state, proposals=(), phase=Phase.REMOVED), applied, committer)


def _place_external_joiner(tree: RatchetTree, path: UpdatePath) -> tuple[RatchetTree, int]:
    """The external committer takes the leftmost blank leaf (§12.4.2), in a copy of ``tree``."""
    new_tree = tree.copy()
    index = new_tree.add_leaf(path.leaf_node)
    # add_leaf marked the joiner as unmerged in its parents; the path blanks them anyway.
    return new_tree, index


def _check_path_leaf(
    state: GroupState,
    old: LeafNode | None,
    tree: RatchetTree,
    committer: int,
    path: UpdatePath,
    applied: Applied,
    now: int | None,
) -> None:
    leaf = path.leaf_node
    if leaf.leaf_node_source is not LeafNodeSource.COMMIT:
        raise PathLeafSourceError("the path's LeafNode must have source commit (§12.4.2)")
    if old is not None and old.encryption_key == leaf.encryption_key:
        raise UnchangedEncryptionKeyError("the committer kept its leaf encryption_key")
    validate_leaf_node(
        leaf,
        tree=tree,
        group_extensions=applied.extensions,
        source=LeafNodeSource.COMMIT,
        group_id=state.group_id,
        leaf_index=committer,
        replacing=committer,
        now=now,
    )


# --- Creating (§12.4.1) -------------------------------------------------------------

#: Which cached proposals a commit carries: a predicate on each
#: :class:`~hearth_mls.group_state.CachedProposal`, or a collection of ProposalRefs.
ProposalSelection = Callable[[CachedProposal], bool] | Collection[bytes]


def select_proposals(
    state: GroupState, include: ProposalSelection | None = None
) -> list[CachedProposal]:
    """The cached proposals a new commit carries, in the order they were received.

    RFC 9420 §12.4: the committer SHOULD include every valid proposal of the
    epoch "according to the rules for their proposal types and according to
    application policy", and receivers SHOULD NOT enforce that all of them are
    referenced; no proposal is mandatory. So a committer may leave out the ones
    application policy forbids it to commit (Hearth: a non-facilitator leaves out
    the server's Remove proposals, protocol.md §12). A left-out proposal stays
    cached for another commit of this epoch and is dropped at the next epoch;
    its sender MAY resend it then (§12.4).

    ``include`` is ``None`` (all of them), a predicate, or a collection of
    ProposalRefs, each of which must be cached (else :class:`UsageError`).
    The committer's own Update proposals are never committed (§12.2: the path
    supersedes them); naming one by its ref is a :class:`UsageError`.
    """
    me = Sender.member(state.own_leaf)

    def own_update(p: CachedProposal) -> bool:
        return isinstance(p.proposal, Update) and p.sender == me

    if include is None:
        return [p for p in state.proposals if not own_update(p)]
    if callable(include):
        return [p for p in state.proposals if not own_update(p) and include(p)]
    given: object = include  # a caller without type checks may pass one ref
    if isinstance(given, (bytes, bytearray)):
        raise UsageError("include takes a collection of ProposalRefs, not a single one")
    wanted = set(include)
    known = {p.ref: p for p in state.proposals}
    for ref in wanted:
        if ref not in known:
            raise UsageError(f"no cached proposal with ref {ref.hex()[:16]} in this epoch")
        if own_update(known[ref]):
            raise UsageError("a committer cannot commit its own Update proposal (§12.2)")
    return [p for p in state.proposals if p.ref in wanted]


@dataclass(frozen=True, slots=True)
class CreatedCommit:
    """A commit ready to send, and the state to adopt once the DS accepts it."""

    authenticated: AuthenticatedContent
    state: GroupState
    welcome: Welcome | None
    group_info: GroupInfo
    applied: Applied


def create_commit(
    state: GroupState,
    inline: Sequence[Proposal] = (),
    *,
    force_path: bool = False,
    include_tree_in_welcome: bool = True,
    external_pub_in_group_info: bool = True,
    wire_format: WireFormat = WireFormat.PUBLIC_MESSAGE,
    now: int | None = None,
    include: ProposalSelection | None = None,
) -> CreatedCommit:
    """Commit cached proposals (by reference) plus ``inline`` ones (§12.4.1).

    ``include`` chooses the cached proposals (see :func:`select_proposals`);
    ``None`` commits all of them, as RFC 9420 §12.4 recommends (SHOULD).
    """
    if state.phase is not Phase.ACTIVE:
        raise UsageError(f"cannot commit in state {state.phase.value}")
    me = Sender.member(state.own_leaf)
    items: list[ProposalOrRef] = [
        ProposalOrRef(reference=p.ref) for p in select_proposals(state, include)
    ]
    items += [ProposalOrRef(proposal=p) for p in inline]
    commit = Commit(tuple(items))
    entries = resolve_proposals(state, commit, me)
    applied = apply_proposals(
        entries,
        tree=state.ratchet_tree(),
        extensions=state.context.extensions,
        group_id=state.group_id,
        committer=state.own_leaf,
        now=now,
    )
    psks = lookup_psks(state, applied.psks)
    new_epoch = state.epoch + 1
    tree = applied.tree
    private_keys = treekem.prune_private_keys(tree, state.private_key_map())
    commit_secret = bytes(suite.NH)
    path_secrets: dict[int, bytes] = {}
    if applied.path_required or force_path:
        own = tree.leaf(state.own_leaf)
        assert own is not None

        def context_for(tree_hash: bytes) -> bytes:
            return replace(
                state.context, epoch=new_epoch, tree_hash=tree_hash, extensions=applied.extensions
            ).to_bytes()

        path, result = treekem.create_update_path(
            tree,
            state.own_leaf,
            own,
            state.signature_priv,
            state.group_id,
            context_for,
            [i for i, _ in applied.added],
        )
        commit = Commit(commit.proposals, path)
        tree = result.tree
        private_keys = treekem.prune_private_keys(tree, {**private_keys, **result.private_keys})
        commit_secret = result.commit_secret
        path_secrets = result.path_secrets
    return _finish_commit(
        state,
        commit,
        me,
        applied,
        tree,
        private_keys,
        commit_secret,
        psks,
        path_secrets,
        state.secrets.init_secret,
        state.signature_priv,
        state.own_leaf,
        include_tree_in_welcome=include_tree_in_welcome,
        external_pub_in_group_info=external_pub_in_group_info,
        wire_format=wire_format,
    )


def _finish_commit(
    state: GroupState,
    commit: Commit,
    sender: Sender,
    applied: Applied,
    tree: RatchetTree,
    private_keys: dict[int, bytes],
    commit_secret: bytes,
    psks: list[tuple[PreSharedKeyID, bytes]],
    path_secrets: dict[int, bytes],
    init_secret: bytes,
    signature_priv: bytes,
    own_leaf: int,
    *,
    include_tree_in_welcome: bool,
    external_pub_in_group_info: bool,
    wire_format: WireFormat = WireFormat.PUBLIC_MESSAGE,
) -> CreatedCommit:
    """Sign, advance the key schedule, tag, and build GroupInfo and Welcome (§12.4.1).

    ``wire_format`` is how the commit will travel: it is signed and enters the
    confirmed transcript hash (§6.1, §8.2).
    """
    content = FramedContent(state.group_id, state.epoch, sender, commit)
    tbs = FramedContentTBS(wire_format, content, state.context)
    signature = suite.sign_with_label(signature_priv, "FramedContentTBS", tbs.to_bytes())
    unsigned_auth = FramedContentAuthData(signature, b"")
    provisional = AuthenticatedContent(wire_format, content, unsigned_auth)
    confirmed = transcript.confirmed_transcript_hash(state.interim_transcript_hash, provisional)
    new_context = replace(
        state.context,
        epoch=state.epoch + 1,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=confirmed,
        extensions=applied.extensions,
    )
    secrets = EpochSecrets.advance(init_secret, new_context, commit_secret, psk_secret(psks))
    tag = transcript.confirmation_tag(secrets.confirmation_key, confirmed)
    authenticated = AuthenticatedContent(
        wire_format, content, FramedContentAuthData(signature, tag)
    )
    new_state = _next_epoch(
        state, new_context, tree, private_keys, secrets, confirmed, tag, own_leaf
    )
    group_info = make_group_info(
        new_state,
        tag,
        external_pub=external_pub_in_group_info,
        include_tree=include_tree_in_welcome,
    )
    welcome = None
    if applied.added:
        welcome = make_welcome(new_state, group_info, applied, path_secrets, psks, own_leaf)
    return CreatedCommit(authenticated, new_state, welcome, group_info, applied)


def make_group_info(
    state: GroupState,
    confirmation_tag: bytes,
    *,
    external_pub: bool,
    include_tree: bool,
    bare_external_pub: bool = False,
) -> GroupInfo:
    """A signed GroupInfo for the state's epoch (§12.4.3).

    ``bare_external_pub`` writes the external_pub extension as the bare key, as
    ts-mls 1.6.4 expects, instead of the RFC's ``ExternalPub`` struct (interop only).
    """
    extensions: list[Extension] = []
    if include_tree:
        extensions.append(Extension(RATCHET_TREE, ratchet_tree_to_bytes(state.tree)))
    if external_pub:
        key = state.secrets.external_pub
        pub = key if bare_external_pub else ExternalPub(key).to_bytes()
        extensions.append(Extension(EXTERNAL_PUB, pub))
    info = GroupInfo(state.context, confirmation_tag, state.own_leaf, tuple(extensions))
    return info.signed(state.signature_priv)


def make_welcome(
    state: GroupState,
    group_info: GroupInfo,
    applied: Applied,
    path_secrets: dict[int, bytes],
    psks: list[tuple[PreSharedKeyID, bytes]],
    committer: int,
) -> Welcome:
    """The Welcome for every member the commit added (§12.4.3.1).

    Each joiner gets the path secret of its lowest common ancestor with the
    committer, if the commit had a path.
    """
    new_members = []
    for index, kp in applied.added:
        secret = treekem.path_secret_for(committer, index, path_secrets)
        new_members.append((kp, PathSecret(secret) if secret is not None else None))
    return create_welcome(group_info, state.secrets.joiner_secret, new_members, psks)


__all__ = [
    "ContentType",
    "CreatedCommit",
    "ProcessedCommit",
    "ProposalSelection",
    "cache_proposal",
    "create_commit",
    "process_commit",
    "select_proposals",
]
