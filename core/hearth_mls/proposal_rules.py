"""Validating and applying a commit's proposal list (RFC 9420 §7.3, §10.1, §12.1, §12.2, §12.3).

:func:`validate_key_package` and :func:`validate_leaf_node` implement the
KeyPackage and LeafNode checks; :func:`apply_proposals` checks a proposal list
against every rule of §12.2 and applies it in the order of §12.3, returning a
new tree and extension list (the inputs are never modified). The tree edits
themselves are :class:`~hearth_mls.ratchet_tree.RatchetTree`'s (§12.1.1-§12.1.3).
Each broken MUST raises its own :class:`~hearth_mls.errors.GroupRuleError` subclass.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from hearth_mls import suite
from hearth_mls import tree_validation as tv
from hearth_mls.errors import (
    AddExistingMemberError,
    ConflictingLeafProposalsError,
    DecodeError,
    DuplicateAddError,
    DuplicateLeafKeyError,
    DuplicatePskError,
    ExternalInitInMemberCommitError,
    InitKeyReuseError,
    InvalidExternalCommitError,
    InvalidProposalError,
    KeyPackageSuiteError,
    LeafSignatureError,
    MultipleGroupContextExtensionsError,
    NonMemberSenderError,
    PskProposalError,
    ReInitNotAloneError,
    RemoveBlankLeafError,
    RemoveCommitterError,
    SignatureError,
    UpdateByCommitterError,
)
from hearth_mls.extension_payloads import RequiredCapabilities
from hearth_mls.extensions import (
    CIPHERSUITE_1,
    MLS10,
    REQUIRED_CAPABILITIES,
    Extension,
)
from hearth_mls.framing import Sender, SenderType
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.proposals import (
    Add,
    ExternalInit,
    GroupContextExtensions,
    PreSharedKey,
    PreSharedKeyID,
    Proposal,
    PSKType,
    ReInit,
    Remove,
    ResumptionPSKUsage,
    Update,
)
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.suite import verify_with_label
from hearth_mls.tree_nodes import Node


def members(tree: Sequence[Node | None]) -> list[tuple[int, LeafNode]]:
    """``(leaf index, LeafNode)`` of every non-blank leaf of a ``ratchet_tree`` node
    list (§12.4.3.3) such as :attr:`GroupState.tree <hearth_mls.group_state.GroupState.tree>`."""
    return [
        (x // 2, node.leaf)
        for x, node in enumerate(tree)
        if x % 2 == 0 and node is not None and node.leaf is not None
    ]


# --- LeafNode and KeyPackage validation (§7.3, §10.1) ------------------------------


def required_capabilities(extensions: Sequence[Extension]) -> RequiredCapabilities | None:
    """The ``required_capabilities`` extension among ``extensions``, decoded (§11.1)."""
    for ext in extensions:
        if ext.extension_type == REQUIRED_CAPABILITIES:
            try:
                return RequiredCapabilities.from_bytes(ext.extension_data)
            except DecodeError as exc:
                raise InvalidProposalError(f"required_capabilities: {exc}") from exc
    return None


def validate_leaf_node(
    leaf: LeafNode,
    *,
    tree: RatchetTree,
    group_extensions: Sequence[Extension],
    source: LeafNodeSource,
    group_id: bytes,
    leaf_index: int,
    replacing: int | None = None,
    now: int | None = None,
) -> None:
    """Every check of RFC 9420 §7.3 on a LeafNode about to sit at ``leaf_index``.

    Delegates to :func:`hearth_mls.tree_validation.validate_leaf_node`, plus
    the parent-node half of the key uniqueness rule. ``replacing`` is the leaf
    this node replaces (Update or commit path), whose keys are not duplicates.
    """
    if next(tree.occupied_leaves(), None) is not None:
        tv.validate_leaf_node(
            leaf,
            tree,
            group_id,
            leaf_index,
            expected_source=source,
            required=required_capabilities(group_extensions),
            group_extensions=tuple(group_extensions),
            replaces=replacing,
            now=now,
        )
    for _x, parent in tree.parents():
        if parent.encryption_key == leaf.encryption_key:
            raise DuplicateLeafKeyError("encryption_key already used by a parent node")


def validate_key_package(
    key_package: KeyPackage,
    *,
    tree: RatchetTree,
    group_extensions: Sequence[Extension],
    now: int | None = None,
) -> None:
    """RFC 9420 §10.1: suite, version, signature, init key and the leaf's §7.3 checks."""
    if key_package.version != MLS10 or key_package.cipher_suite != CIPHERSUITE_1:
        raise KeyPackageSuiteError(
            f"KeyPackage is version {key_package.version} suite {key_package.cipher_suite}"
        )
    try:
        verify_with_label(
            key_package.leaf_node.signature_key,
            KeyPackage.SIGN_LABEL,
            key_package.to_be_signed(),
            key_package.signature,
        )
    except SignatureError as exc:
        raise LeafSignatureError("KeyPackage signature does not verify (§10.1)") from exc
    if key_package.init_key == key_package.leaf_node.encryption_key:
        raise InitKeyReuseError("init_key equals the leaf encryption_key (RFC 9420 §10.1)")
    validate_leaf_node(
        key_package.leaf_node,
        tree=tree,
        group_extensions=group_extensions,
        source=LeafNodeSource.KEY_PACKAGE,
        group_id=b"",
        leaf_index=tree.leftmost_blank_leaf(),
        now=int(time.time()) if now is None else now,
    )


# --- Proposal lists (§12.2, §12.3) --------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProposalEntry:
    """A proposal with its sender, as committed (by value or by reference)."""

    proposal: Proposal
    sender: Sender


@dataclass(slots=True)
class Applied:
    """The result of applying a proposal list (RFC 9420 §12.3)."""

    tree: RatchetTree
    extensions: tuple[Extension, ...]
    added: list[tuple[int, KeyPackage]] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    psks: list[PreSharedKeyID] = field(default_factory=list)
    external_init: ExternalInit | None = None
    has_gce: bool = False

    @property
    def path_required(self) -> bool:
        """§12.4.2: a path is required for Updates, Removes, an empty list or ExternalInit."""
        return bool(self.updated or self.removed or self.external_init is not None) or not (
            self.added or self.psks or self.has_gce
        )


def _psk_key(psk: PreSharedKeyID) -> tuple[object, ...]:
    return (psk.psktype, psk.psk_id, psk.usage, psk.psk_group_id, psk.psk_epoch)


def apply_proposals(
    entries: Sequence[ProposalEntry],
    *,
    tree: RatchetTree,
    extensions: tuple[Extension, ...],
    group_id: bytes,
    committer: int | None,
    external: bool = False,
    now: int | None = None,
) -> Applied:
    """Check ``entries`` against RFC 9420 §12.2 and apply them in §12.3's order.

    ``committer`` is the committer's leaf index (``None`` for an external commit).
    ``tree`` is not modified: the result holds a changed copy.
    """
    kinds = [type(e.proposal) for e in entries]
    if external:
        if kinds.count(ExternalInit) != 1:
            raise InvalidExternalCommitError("an external commit needs exactly one ExternalInit")
        if kinds.count(Remove) > 1:
            raise InvalidExternalCommitError("an external commit has at most one Remove")
        others = [k for k in kinds if k not in (ExternalInit, Remove, PreSharedKey)]
        if others:
            raise InvalidExternalCommitError(
                f"an external commit cannot carry {others[0].__name__}"
            )
    elif ExternalInit in kinds:
        raise ExternalInitInMemberCommitError("a member's commit contains an ExternalInit")
    if ReInit in kinds and len(kinds) > 1:
        raise ReInitNotAloneError("a ReInit must be the only proposal of its commit")
    if kinds.count(GroupContextExtensions) > 1:
        raise MultipleGroupContextExtensionsError("more than one GroupContextExtensions")

    touched: set[int] = set()
    for e in entries:
        target: int | None = None
        if isinstance(e.proposal, Update):
            if e.sender.sender_type is not SenderType.MEMBER:
                raise InvalidProposalError("an Update must come from a member (§12.1.2)")
            if e.sender.index == committer:
                raise UpdateByCommitterError(f"leaf {committer} commits its own Update")
            target = e.sender.index
        elif isinstance(e.proposal, Remove):
            target = e.proposal.removed
            if target == committer and committer is not None:
                raise RemoveCommitterError(f"leaf {committer} commits its own removal")
            if tree.leaf(target) is None:
                raise RemoveBlankLeafError(f"Remove names blank or absent leaf {target}")
        if target is not None:
            if target in touched:
                raise ConflictingLeafProposalsError(f"several Updates/Removes for leaf {target}")
            touched.add(target)

    psk_ids = [e.proposal.psk for e in entries if isinstance(e.proposal, PreSharedKey)]
    for psk in psk_ids:
        if len(psk.psk_nonce) != suite.NH:
            raise PskProposalError(f"psk_nonce is {len(psk.psk_nonce)} bytes, not Nh (§12.1.4)")
        if psk.psktype is PSKType.RESUMPTION and psk.usage is not ResumptionPSKUsage.APPLICATION:
            raise PskProposalError("a resumption PSK outside reinit/branch must be application")
    if len({_psk_key(p) for p in psk_ids}) != len(psk_ids):
        raise DuplicatePskError("two PreSharedKey proposals name the same PSK")

    removed = {e.proposal.removed for e in entries if isinstance(e.proposal, Remove)}
    adds = [e.proposal.key_package for e in entries if isinstance(e.proposal, Add)]
    seen: set[bytes] = set()
    for kp in adds:
        key = kp.leaf_node.signature_key
        if key in seen:
            raise DuplicateAddError("two Adds carry the same signature key")
        seen.add(key)
        for index, member in tree.occupied_leaves():
            if member.signature_key == key and index not in removed:
                raise AddExistingMemberError(f"Add duplicates member {index}'s signature key")

    # 1. GroupContextExtensions (§12.3); all members must support them (§12.1.7).
    new_extensions = extensions
    has_gce = False
    for e in entries:
        if isinstance(e.proposal, GroupContextExtensions):
            new_extensions = tuple(e.proposal.extensions)
            has_gce = True
    out = Applied(tree=tree.copy(), extensions=new_extensions, has_gce=has_gce)
    if has_gce:
        required = required_capabilities(new_extensions)
        for index, member in tree.occupied_leaves():
            if index in removed:
                continue
            tv.check_required_capabilities(member, required, f"member {index}")
            tv.check_group_extensions(member, new_extensions, f"member {index}")
    # 2. Updates.
    for e in entries:
        if isinstance(e.proposal, Update):
            sender_leaf = e.sender.index
            assert sender_leaf is not None
            if out.tree.leaf(sender_leaf) is None:
                raise NonMemberSenderError(f"Update from blank leaf {sender_leaf}")
            validate_leaf_node(
                e.proposal.leaf_node,
                tree=out.tree,
                group_extensions=new_extensions,
                source=LeafNodeSource.UPDATE,
                group_id=group_id,
                leaf_index=sender_leaf,
                replacing=sender_leaf,
                now=now,
            )
            out.tree.update_leaf(sender_leaf, e.proposal.leaf_node)
            out.updated.append(sender_leaf)
    # 3. Removes.
    for e in entries:
        if isinstance(e.proposal, Remove):
            out.tree.remove_leaf(e.proposal.removed)
            out.removed.append(e.proposal.removed)
    # 4. Adds, in order.
    for e in entries:
        if isinstance(e.proposal, Add):
            kp = e.proposal.key_package
            validate_key_package(kp, tree=out.tree, group_extensions=new_extensions, now=now)
            index = out.tree.add_leaf(kp.leaf_node)
            out.added.append((index, kp))
    # 5. PSKs, 6. ExternalInit.
    out.psks = psk_ids
    for e in entries:
        if isinstance(e.proposal, ExternalInit):
            out.external_init = e.proposal
    return out
