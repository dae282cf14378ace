"""The group state machine a client drives (RFC 9420 §12; STYLE.md habit 2).

A :class:`Group` owns one member's :class:`~hearth_mls.group_state.GroupState`
plus the receiver secrets of the last :data:`EPOCH_WINDOW` epochs (so late
application messages still decrypt, RFC 9420 §14) and at most one pending
commit of its own. Each event is checked against :data:`TRANSITIONS`; an
illegal one raises :class:`~hearth_mls.errors.StateTransitionError` naming the
phase and the event. Every successful change calls ``on_change`` with the
serialized state, so the caller can persist it; a rejected message raises and
leaves the group exactly as it was.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from hearth_mls import suite
from hearth_mls.commit import Commit
from hearth_mls.errors import (
    ContentTypeError,
    NonMemberSenderError,
    StateTransitionError,
    UnknownSenderError,
    UsageError,
    WrongEpochError,
    WrongGroupError,
)
from hearth_mls.extensions import Extension
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
from hearth_mls.group_commit import (
    CreatedCommit,
    cache_proposal,
    create_commit,
    make_group_info,
    process_commit,
    signer_of,
)
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import (
    EpochKeys,
    GroupState,
    PendingCommit,
    Phase,
    state_from_bytes,
    state_to_bytes,
)
from hearth_mls.join import KeyPackageSecrets, create_group, external_join, join_from_welcome
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import members
from hearth_mls.proposals import (
    Add,
    GroupContextExtensions,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    PSKType,
    Remove,
    Update,
)
from hearth_mls.protection import Protector, sign_content, verify_content
from hearth_mls.secret_tree import SecretTree
from hearth_mls.welcome_structs import Welcome

#: Epochs (current included) whose receiver secrets are kept for late messages.
EPOCH_WINDOW = 4

#: Which events each phase allows (STYLE.md habit 2: state machines are tables).
TRANSITIONS: dict[Phase, frozenset[str]] = {
    Phase.ACTIVE: frozenset(
        {"propose", "commit", "protect", "process", "unprotect", "export", "group_info"}
    ),
    Phase.PENDING_COMMIT: frozenset(
        {"merge_pending", "discard_pending", "protect", "process", "unprotect", "export"}
    ),
    Phase.REMOVED: frozenset({"unprotect", "export"}),
}


@dataclass(frozen=True, slots=True)
class Received:
    """What processing one incoming MLSMessage produced."""

    kind: str  # "application", "proposal" or "commit"
    sender: Sender
    epoch: int
    plaintext: bytes = b""
    authenticated_data: bytes = b""
    removed: bool = False


def _new_epoch_keys(state: GroupState) -> EpochKeys:
    tree = state.ratchet_tree()
    return EpochKeys(
        context=state.context,
        sender_data_secret=state.secrets.sender_data_secret,
        secret_tree=SecretTree(state.secrets.encryption_secret, tree.n_leaves),
        signature_keys=tuple((i, leaf.signature_key) for i, leaf in tree.occupied_leaves()),
    )


class Group:
    """One member's view of one MLS group (RFC 9420 §12)."""

    def __init__(
        self,
        state: GroupState,
        epochs: Sequence[EpochKeys] | None = None,
        pending: PendingCommit | None = None,
        *,
        on_change: Callable[[bytes], None] | None = None,
    ) -> None:
        self._state = state
        self._epochs: list[EpochKeys] = list(epochs) if epochs else [_new_epoch_keys(state)]
        self._pending: PendingCommit | None = pending
        self._on_change = on_change
        self._persist()

    # --- construction -----------------------------------------------------------

    @classmethod
    def create(
        cls,
        identity: bytes,
        *,
        group_id: bytes | None = None,
        extensions: Sequence[Extension] = (),
        signature_priv: bytes | None = None,
        on_change: Callable[[bytes], None] | None = None,
    ) -> Group:
        state = create_group(
            identity, group_id=group_id, extensions=extensions, signature_priv=signature_priv
        )
        return cls(state, on_change=on_change)

    @classmethod
    def join(
        cls,
        welcome: Welcome,
        key_package: KeyPackageSecrets,
        *,
        ratchet_tree: bytes | None = None,
        external_psks: Sequence[tuple[bytes, bytes]] = (),
        on_change: Callable[[bytes], None] | None = None,
    ) -> Group:
        state = join_from_welcome(
            welcome, key_package, ratchet_tree=ratchet_tree, external_psks=external_psks
        )
        return cls(state, on_change=on_change)

    @classmethod
    def join_external(
        cls,
        group_info: GroupInfo,
        identity: bytes,
        *,
        ratchet_tree: bytes | None = None,
        remove_old: int | None = None,
        on_change: Callable[[bytes], None] | None = None,
    ) -> tuple[Group, MLSMessage]:
        """Join by external commit (§12.4.3.2); returns the group and the commit to send.

        ``remove_old`` is the leaf of an old version of ourselves to remove (a rejoin).
        """
        created = external_join(
            group_info, identity, ratchet_tree=ratchet_tree, remove_old=remove_old
        )
        message = MLSMessage(
            PublicMessage(created.authenticated.content, created.authenticated.auth)
        )
        return cls(created.state, on_change=on_change), message

    @classmethod
    def from_bytes(cls, data: bytes, *, on_change: Callable[[bytes], None] | None = None) -> Group:
        state, epochs, pending = state_from_bytes(data)
        return cls(state, epochs, pending, on_change=on_change)

    def to_bytes(self) -> bytes:
        return state_to_bytes(self._state, self._epochs, self._pending)

    # --- read-only views --------------------------------------------------------

    @property
    def state(self) -> GroupState:
        return self._state

    @property
    def phase(self) -> Phase:
        return self._state.phase

    @property
    def epoch(self) -> int:
        return self._state.epoch

    @property
    def group_id(self) -> bytes:
        return self._state.group_id

    @property
    def own_leaf(self) -> int:
        return self._state.own_leaf

    @property
    def epoch_authenticator(self) -> bytes:
        return self._state.secrets.epoch_authenticator

    def members(self) -> list[tuple[int, bytes]]:
        """``(leaf index, identity)`` of every member."""
        return [(i, leaf.credential.identity or b"") for i, leaf in members(self._state.tree)]

    def export_secret(self, label: str, context: bytes, length: int) -> bytes:
        self._check("export")
        return self._state.secrets.export(label, context, length)

    def add_external_psk(self, psk_id: bytes, psk: bytes) -> None:
        self._state = replace(
            self._state, external_psks=(*self._state.external_psks, (psk_id, psk))
        )
        self._persist()

    # --- the state machine ------------------------------------------------------

    def _check(self, event: str) -> None:
        if event not in TRANSITIONS[self._state.phase]:
            raise StateTransitionError(self._state.phase.value, event)

    def _persist(self) -> None:
        if self._on_change is not None:
            self._on_change(self.to_bytes())

    def _current(self) -> EpochKeys:
        return self._epochs[-1]

    def _protector(self, keys: EpochKeys, state: GroupState | None = None) -> Protector:
        membership = state.secrets.membership_key if state is not None else b""
        return Protector(keys.context, keys.secret_tree, keys.sender_data_secret, membership)

    def _enter_epoch(self, state: GroupState) -> None:
        self._state = state
        self._epochs = [*self._epochs, _new_epoch_keys(state)][-EPOCH_WINDOW:]

    # Proposals (§12.1) ---------------------------------------------------------

    def propose(self, proposal: Proposal) -> MLSMessage:
        """Send ``proposal`` as a PublicMessage and cache it for the next commit."""
        self._check("propose")
        content = FramedContent(self.group_id, self.epoch, Sender.member(self.own_leaf), proposal)
        message = self._protector(self._current(), self._state).protect_public(
            content, self._state.signature_priv
        )
        authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, content, message.auth)
        self._state = cache_proposal(self._state, authenticated)
        self._persist()
        return MLSMessage(message)

    def propose_add(self, key_package: KeyPackage) -> MLSMessage:
        return self.propose(Add(key_package))

    def propose_update(self) -> MLSMessage:
        """Propose a fresh encryption key for our leaf (§12.1.2); another member commits it."""
        self._check("propose")
        state = self._state
        own = state.ratchet_tree().leaf(state.own_leaf)
        assert own is not None
        priv, pub = suite.generate_hpke_key_pair()
        leaf = replace(
            own,
            encryption_key=pub,
            leaf_node_source=LeafNodeSource.UPDATE,
            lifetime=None,
            parent_hash=None,
            signature=b"",
        )
        leaf = leaf.signed(state.signature_priv, state.group_id, state.own_leaf)
        self._state = replace(state, pending_leaf_keys=(*state.pending_leaf_keys, (pub, priv)))
        try:
            return self.propose(Update(leaf))
        except Exception:
            self._state = state
            raise

    def propose_remove(self, leaf_index: int) -> MLSMessage:
        return self.propose(Remove(leaf_index))

    def propose_external_psk(self, psk_id: bytes) -> MLSMessage:
        ident = PreSharedKeyID(PSKType.EXTERNAL, _nonce(), psk_id=psk_id)
        return self.propose(PreSharedKey(ident))

    def propose_group_context_extensions(self, extensions: Sequence[Extension]) -> MLSMessage:
        return self.propose(GroupContextExtensions(tuple(extensions)))

    # Commits (§12.4) -----------------------------------------------------------

    def commit(
        self,
        inline: Sequence[Proposal] = (),
        *,
        force_path: bool = False,
        include_tree_in_welcome: bool = True,
        private: bool = False,
    ) -> tuple[MLSMessage, MLSMessage | None, CreatedCommit]:
        """Commit cached plus ``inline`` proposals; the result is *pending* (§12.4.1).

        Handshake messages travel as PublicMessage (DESIGN.md) unless ``private``.

        Returns the commit MLSMessage, the Welcome MLSMessage (if members were
        added) and the full :class:`CreatedCommit`. Call :meth:`merge_pending_commit`
        once the Delivery Service accepted it, or :meth:`discard_pending_commit`.
        """
        self._check("commit")
        wire_format = WireFormat.PRIVATE_MESSAGE if private else WireFormat.PUBLIC_MESSAGE
        created = create_commit(
            self._state,
            inline,
            force_path=force_path,
            include_tree_in_welcome=include_tree_in_welcome,
            wire_format=wire_format,
        )
        protector = self._protector(self._current(), self._state)
        tag = created.authenticated.auth.confirmation_tag
        content = created.authenticated.content
        signature_priv = self._state.signature_priv
        message: PublicMessage | PrivateMessage
        if private:
            message = protector.protect_private(content, signature_priv, tag)
        else:
            message = protector.protect_public(content, signature_priv, tag)
        self._pending = PendingCommit(created.authenticated.content, created.state)
        self._state = replace(self._state, phase=Phase.PENDING_COMMIT)
        self._persist()
        welcome = MLSMessage(created.welcome) if created.welcome is not None else None
        return MLSMessage(message), welcome, created

    def merge_pending_commit(self) -> None:
        self._check("merge_pending")
        assert self._pending is not None
        self._enter_epoch(self._pending.state)
        self._pending = None
        self._persist()

    def discard_pending_commit(self) -> None:
        """Forget our commit (the DS chose another one); the epoch is unchanged."""
        self._check("discard_pending")
        self._pending = None
        self._state = replace(self._state, phase=Phase.ACTIVE)
        self._persist()

    def group_info(
        self,
        *,
        external_pub: bool = True,
        include_tree: bool = True,
        bare_external_pub: bool = False,
    ) -> GroupInfo:
        """A fresh signed GroupInfo for the current epoch (§12.4.3)."""
        self._check("group_info")
        from hearth_mls import transcript

        tag = transcript.confirmation_tag(
            self._state.secrets.confirmation_key, self._state.context.confirmed_transcript_hash
        )
        return make_group_info(
            self._state,
            tag,
            external_pub=external_pub,
            include_tree=include_tree,
            bare_external_pub=bare_external_pub,
        )

    # Application messages (§6.3) ------------------------------------------------

    def protect(self, plaintext: bytes, authenticated_data: bytes = b"") -> MLSMessage:
        self._check("protect")
        content = FramedContent(
            self.group_id,
            self.epoch,
            Sender.member(self.own_leaf),
            plaintext,
            authenticated_data,
        )
        protector = self._protector(self._current(), self._state)
        message = protector.protect_private(content, self._state.signature_priv)
        self._persist()
        return MLSMessage(message)

    # Incoming (§6, §12.4.2) ------------------------------------------------------

    def process(self, message: MLSMessage) -> Received:
        """Unprotect and apply one incoming message; on any error nothing changes."""
        body = message.body
        if isinstance(body, PrivateMessage):
            self._check("unprotect" if body.content_type is ContentType.APPLICATION else "process")
            return self._process_private(body)
        if isinstance(body, PublicMessage):
            self._check("process")
            return self._process_public(body)
        raise ContentTypeError(f"cannot process a {message.wire_format.name} here")

    def _keys_for(self, group_id: bytes, epoch: int) -> EpochKeys:
        if group_id != self.group_id:
            raise WrongGroupError("message is for another group")
        for keys in reversed(self._epochs):
            if keys.epoch == epoch:
                return keys
        raise WrongEpochError(f"no keys for epoch {epoch} (current {self.epoch})")

    def _process_private(self, body: PrivateMessage) -> Received:
        keys = self._keys_for(body.group_id, body.epoch)
        if body.content_type is not ContentType.APPLICATION and keys.epoch != self.epoch:
            raise WrongEpochError("handshake messages must be for the current epoch")
        signature_keys = dict(keys.signature_keys)

        def lookup(sender: Sender) -> bytes:
            key = signature_keys.get(sender.index if sender.index is not None else -1)
            if key is None:
                raise UnknownSenderError(f"leaf {sender.index} is not a member in that epoch")
            return key

        # Decrypt against a copy of the secret tree so a rejected message changes nothing.
        trial = copy.deepcopy(keys.secret_tree)
        protector = Protector(
            keys.context, trial, keys.sender_data_secret, self._state.secrets.membership_key
        )
        authenticated = protector.unprotect_private(body, lookup)
        if body.content_type is ContentType.APPLICATION:
            index = self._epochs.index(keys)
            self._epochs[index] = replace(keys, secret_tree=trial)
            self._persist()
            content = authenticated.content
            assert isinstance(content.content, bytes)
            return Received(
                "application",
                content.sender,
                content.epoch,
                content.content,
                content.authenticated_data,
            )
        return self._handle_handshake(authenticated, trial)

    def _process_public(self, body: PublicMessage) -> Received:
        content = body.content
        if content.group_id != self.group_id:
            raise WrongGroupError("message is for another group")
        if content.epoch != self.epoch:
            raise WrongEpochError(f"message is for epoch {content.epoch}, we are at {self.epoch}")
        state = self._state
        protector = self._protector(self._current(), state)
        sender = content.sender
        if sender.sender_type is SenderType.NEW_MEMBER_COMMIT:
            commit = content.content
            if not isinstance(commit, Commit) or commit.path is None:
                raise NonMemberSenderError(
                    "a new_member_commit sender must send a commit with a path"
                )
            authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, content, body.auth)
            verify_content(authenticated, commit.path.leaf_node.signature_key, state.context)
        elif sender.sender_type is SenderType.NEW_MEMBER_PROPOSAL:
            proposal = content.content
            if not isinstance(proposal, Add):
                raise NonMemberSenderError("a new_member_proposal must be an Add (§12.1.8)")
            authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, content, body.auth)
            verify_content(authenticated, proposal.key_package.leaf_node.signature_key, None)
        else:
            authenticated = protector.unprotect_public(body, lambda s: signer_of(state, s))
        return self._handle_handshake(authenticated, None)

    def _handle_handshake(
        self, authenticated: AuthenticatedContent, trial: SecretTree | None
    ) -> Received:
        content = authenticated.content
        if isinstance(content.content, Commit):
            pending = self._pending
            if pending is not None and content == pending.content:
                # The Delivery Service echoed our own commit: it won (§12.4).
                self.merge_pending_commit()
                return Received("commit", content.sender, self.epoch)
            if self._state.phase is Phase.PENDING_COMMIT:
                # The DS ordered another commit first: ours is void (§12.4).
                base = replace(self._state, phase=Phase.ACTIVE)
            else:
                base = self._state
            processed = process_commit(base, authenticated)
            self._pending = None
            if processed.state.phase is Phase.REMOVED:
                self._state = processed.state
            else:
                self._enter_epoch(processed.state)
            self._persist()
            return Received(
                "commit",
                content.sender,
                processed.state.epoch,
                removed=processed.state.phase is Phase.REMOVED,
            )
        new_state = cache_proposal(self._state, authenticated)
        if trial is not None:
            self._epochs[-1] = replace(self._epochs[-1], secret_tree=trial)
        self._state = new_state
        self._persist()
        return Received("proposal", content.sender, self.epoch)


def external_proposal(
    group_id: bytes, epoch: int, sender_index: int, signature_priv: bytes, proposal: Proposal
) -> MLSMessage:
    """A proposal from an external sender listed in ``external_senders`` (§12.1.8, §12.1.8.1).

    Signed without a GroupContext and without a membership tag (§6.1, §6.2);
    a Delivery Service uses this to propose removing a member, for example.
    """
    if isinstance(proposal, Update):
        raise UsageError("an external sender cannot propose an Update (RFC 9420 §12.1.8)")
    content = FramedContent(group_id, epoch, Sender.external(sender_index), proposal)
    auth = sign_content(WireFormat.PUBLIC_MESSAGE, content, signature_priv, None)
    return MLSMessage(PublicMessage(content, auth.auth))


def _nonce() -> bytes:
    import os

    return os.urandom(suite.NH)


__all__ = ["EPOCH_WINDOW", "TRANSITIONS", "Group", "Received", "external_proposal"]
