"""A group as the Delivery Service sees it: public tree, GroupContext, no secrets.

Issue 5: "the server keeps the room's public ratchet tree and verifies the
signature of each PublicMessage before accepting it". :class:`PublicGroup`
starts from a GroupInfo (RFC 9420 §12.4.3: signature and tree checked as a
joiner would, §12.4.3.1) and follows the group through its PublicMessage
proposals and commits, recomputing everything that is public: the ratchet tree
(proposals applied as §12.3, the UpdatePath merged as §7.5 with its parent
hashes, truncation §7.8), the tree hash (§7.8), the transcript hashes (§8.2)
and the GroupContext extensions. So it can verify the signature of the next
message against the exact GroupContext (§6.1) and build the
:class:`~hearth_core.room_roles.RoomView` the authority rule reads.

What it cannot check without group secrets: membership tags (§6.2),
confirmation tags (§8.2), the UpdatePath's encrypted secrets (§7.6), PSKs. The
members check those; a commit the members would refuse for those reasons is
one whose sender can only hurt itself (its epoch never happens for them), and
the server learns it when the members report it.

Every method returns a new :class:`PublicGroup` (or raises): a refused message
changes nothing. Errors are hearth_mls's (:class:`hearth_mls.errors.PeerError`
for bad messages) and :mod:`hearth_core.room_errors` for non-handshakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from hearth_core.room_errors import NotAHandshakeError
from hearth_core.room_roles import RoomView, cached_proposal
from hearth_mls import transcript, treekem
from hearth_mls.commit import Commit
from hearth_mls.errors import (
    MissingPathError,
    NonMemberSenderError,
    PathLeafSourceError,
    UnchangedEncryptionKeyError,
    UnknownProposalError,
    UnknownSenderError,
    WrongEpochError,
    WrongGroupError,
)
from hearth_mls.extension_payloads import external_senders_from_bytes
from hearth_mls.extensions import EXTERNAL_SENDERS, RATCHET_TREE, Extension, GroupContext
from hearth_mls.framing import (
    AuthenticatedContent,
    PublicMessage,
    Sender,
    SenderType,
    WireFormat,
)
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import CachedProposal
from hearth_mls.join import verify_tree
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import ProposalEntry, apply_proposals, validate_leaf_node
from hearth_mls.proposals import Add
from hearth_mls.protection import verify_content
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import Node, ratchet_tree_from_bytes, ratchet_tree_to_bytes
from hearth_mls.welcome import verify_group_info


def _public(message: MLSMessage | bytes | PublicMessage) -> PublicMessage:
    if isinstance(message, PublicMessage):
        return message
    if isinstance(message, bytes):
        message = MLSMessage.from_bytes(message)
    if not isinstance(message.body, PublicMessage):
        raise NotAHandshakeError(f"expected a PublicMessage, got {message.wire_format.name}")
    return message.body


@dataclass(frozen=True, slots=True)
class PublicGroup:
    """The public state of one group in one epoch (RFC 9420 §8.1, §7.8, §8.2)."""

    context: GroupContext
    tree: tuple[Node | None, ...]
    interim_transcript_hash: bytes
    #: PublicMessage proposals received in this epoch, by ProposalRef (§12.1, §5.2).
    proposals: tuple[CachedProposal, ...] = ()

    @classmethod
    def from_group_info(
        cls, group_info: GroupInfo | bytes, ratchet_tree: bytes | None = None
    ) -> PublicGroup:
        """Start from a GroupInfo (an MLSMessage's bytes or the struct) and its tree.

        The tree comes from the GroupInfo's ``ratchet_tree`` extension or
        ``ratchet_tree`` (§12.4.3.3); it is validated and the GroupInfo's
        signature checked as a joiner would (§12.4.3.1).
        """
        if isinstance(group_info, bytes):
            body = MLSMessage.from_bytes(group_info).body
            if not isinstance(body, GroupInfo):
                raise NotAHandshakeError("expected an MLSMessage carrying a GroupInfo")
            group_info = body
        data = ratchet_tree
        for extension in group_info.extensions:
            if extension.extension_type == RATCHET_TREE:
                data = extension.extension_data
        if data is None:
            raise MissingPathError("no ratchet tree in the GroupInfo and none given (§12.4.3.3)")
        nodes = ratchet_tree_from_bytes(data)
        while nodes and nodes[-1] is None:  # trailing blanks are tolerated
            nodes.pop()
        tree = RatchetTree.from_wire(nodes)
        context = group_info.group_context
        verify_tree(tree, context)
        signer = tree.leaf(group_info.signer)
        if signer is None:
            raise UnknownSenderError("the GroupInfo's signer is not in the tree")
        verify_group_info(group_info, signer.signature_key)
        interim = transcript.interim_transcript_hash(
            context.confirmed_transcript_hash, group_info.confirmation_tag
        )
        return cls(context, tuple(tree.to_wire()), interim)

    # --- views -------------------------------------------------------------------------

    @property
    def epoch(self) -> int:
        return self.context.epoch

    @property
    def group_id(self) -> bytes:
        return self.context.group_id

    def view(self) -> RoomView:
        """What the room rule reads (roles, roster, external senders, signature keys)."""
        return RoomView.from_public(self.context, self.tree)

    def ratchet_tree(self) -> bytes:
        """The ``ratchet_tree`` extension encoding, for joiners (§12.4.3.3)."""
        return ratchet_tree_to_bytes(self.tree)

    def _ratchet_tree(self) -> RatchetTree:
        """A fresh :class:`RatchetTree` of :attr:`tree` to read or change."""
        return RatchetTree.from_wire(self.tree)

    # --- verifying ---------------------------------------------------------------------

    def _signer(self, content: Sender, body: PublicMessage) -> tuple[bytes, GroupContext | None]:
        kind = content.sender_type
        if kind is SenderType.MEMBER:
            assert content.index is not None
            leaf = self._ratchet_tree().leaf(content.index)
            if leaf is None:
                raise UnknownSenderError(f"leaf {content.index} is not a member")
            return leaf.signature_key, self.context
        if kind is SenderType.EXTERNAL:
            assert content.index is not None
            for extension in self.context.extensions:
                if extension.extension_type == EXTERNAL_SENDERS:
                    senders = external_senders_from_bytes(extension.extension_data)
                    if content.index < len(senders):
                        return senders[content.index].signature_key, None
            raise UnknownSenderError(f"no external sender {content.index} (§12.1.8.1)")
        inner = body.content.content
        if kind is SenderType.NEW_MEMBER_COMMIT:
            if not isinstance(inner, Commit) or inner.path is None:
                raise NonMemberSenderError("a new_member_commit must be a commit with a path")
            return inner.path.leaf_node.signature_key, self.context
        if not isinstance(inner, Add):
            raise NonMemberSenderError("a new_member_proposal must be an Add (§12.1.8)")
        return inner.key_package.leaf_node.signature_key, None

    def verify(self, message: MLSMessage | bytes | PublicMessage) -> AuthenticatedContent:
        """Check group, epoch and signature of a PublicMessage handshake (§6.1, §6.2).

        The membership tag needs the membership key, which only members hold.
        """
        body = _public(message)
        content = body.content
        if isinstance(content.content, bytes):
            raise NotAHandshakeError("application data never travels as PublicMessage (§6.2)")
        if content.group_id != self.group_id:
            raise WrongGroupError("the message is for another group")
        if content.epoch != self.epoch:
            raise WrongEpochError(f"the message is for epoch {content.epoch}, not {self.epoch}")
        key, context = self._signer(content.sender, body)
        authenticated = AuthenticatedContent(WireFormat.PUBLIC_MESSAGE, content, body.auth)
        verify_content(authenticated, key, context)  # SignatureError
        return authenticated

    # --- following the group -----------------------------------------------------------

    def add_proposal(self, message: MLSMessage | bytes | PublicMessage) -> PublicGroup:
        """Verify a PublicMessage proposal and keep it for this epoch's commit."""
        body = _public(message)
        if isinstance(body.content.content, Commit):
            raise NotAHandshakeError("a commit, not a proposal")
        self.verify(body)
        return replace(self, proposals=(*self.proposals, cached_proposal(body)))

    def apply_commit(self, message: MLSMessage | bytes | PublicMessage) -> PublicGroup:
        """The next epoch's public state after a verified commit (§12.4.2, public steps)."""
        body = _public(message)
        commit = body.content.content
        if not isinstance(commit, Commit):
            raise NotAHandshakeError("not a commit")
        authenticated = self.verify(body)
        sender = body.content.sender
        external = sender.sender_type is SenderType.NEW_MEMBER_COMMIT
        committer = sender.index if sender.sender_type is SenderType.MEMBER else None
        entries = self._resolve(commit, sender)
        applied = apply_proposals(
            entries,
            tree=self._ratchet_tree(),
            extensions=self.context.extensions,
            group_id=self.group_id,
            committer=committer,
            external=external,
        )
        if applied.path_required and commit.path is None:
            raise MissingPathError("this commit's proposals require a path (§12.4.2)")
        tree = applied.tree
        if commit.path is not None:
            if external:
                tree = tree.copy()
                committer = tree.add_leaf(commit.path.leaf_node)
            assert committer is not None
            self._check_path_leaf(tree, committer, commit, applied.extensions)
            tree = treekem.merge_update_path(tree, committer, commit.path)
        confirmed = transcript.confirmed_transcript_hash(
            self.interim_transcript_hash, authenticated
        )
        tag = authenticated.auth.confirmation_tag
        assert tag is not None
        context = replace(
            self.context,
            epoch=self.epoch + 1,
            tree_hash=tree.tree_hash(),
            confirmed_transcript_hash=confirmed,
            extensions=applied.extensions,
        )
        interim = transcript.interim_transcript_hash(confirmed, tag)
        return PublicGroup(context, tuple(tree.to_wire()), interim)

    def _resolve(self, commit: Commit, committer: Sender) -> list[ProposalEntry]:
        by_ref = {p.ref: p for p in self.proposals}
        entries: list[ProposalEntry] = []
        for item in commit.proposals:
            if item.proposal is not None:
                entries.append(ProposalEntry(item.proposal, committer))
                continue
            assert item.reference is not None
            cached = by_ref.get(item.reference)
            if cached is None:
                raise UnknownProposalError(f"unknown proposal ref {item.reference.hex()[:16]}")
            entries.append(ProposalEntry(cached.proposal, cached.sender))
        return entries

    def _check_path_leaf(
        self,
        tree: RatchetTree,
        committer: int,
        commit: Commit,
        extensions: Sequence[Extension],
    ) -> None:
        assert commit.path is not None
        leaf = commit.path.leaf_node
        if leaf.leaf_node_source is not LeafNodeSource.COMMIT:
            raise PathLeafSourceError("the path's LeafNode must have source commit (§12.4.2)")
        old = self._ratchet_tree().leaf(committer)
        if old is not None and old.encryption_key == leaf.encryption_key:
            raise UnchangedEncryptionKeyError("the committer kept its leaf encryption_key")
        validate_leaf_node(
            leaf,
            tree=tree,
            group_extensions=extensions,
            source=LeafNodeSource.COMMIT,
            group_id=self.group_id,
            leaf_index=committer,
            replacing=committer,
        )


__all__ = ["PublicGroup"]
