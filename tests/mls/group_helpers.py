"""Builders for group tests: real groups, and commits forged by a real member.

A forged commit is signed and membership-tagged correctly by the committer, so
the receiver gets past framing and reaches the RFC 9420 §12.2/§12.4.2 rule the
test targets.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hearth_mls import suite
from hearth_mls.commit import Commit, UpdatePath
from hearth_mls.framing import FramedContent, Sender
from hearth_mls.group import Group
from hearth_mls.join import KeyPackageSecrets, create_key_package
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import LeafNode
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Proposal, ProposalOrRef
from hearth_mls.protection import Protector
from hearth_mls.secret_tree import SecretTree


@dataclass
class Trio:
    alice: Group
    bob: Group
    carol: Group
    kp_bob: KeyPackageSecrets
    kp_carol: KeyPackageSecrets


def trio() -> Trio:
    """Alice (leaf 0) created the group and added Bob (1) and Carol (2)."""
    alice = Group.create(b"alice")
    kb, kc = create_key_package(b"bob"), create_key_package(b"carol")
    _, welcome, _ = alice.commit([Add(kb.key_package), Add(kc.key_package)])
    alice.merge_pending_commit()
    assert welcome is not None
    assert isinstance(welcome.body, type(welcome.body))
    bob = Group.join(welcome.body, kb)  # type: ignore[arg-type]
    carol = Group.join(welcome.body, kc)  # type: ignore[arg-type]
    return Trio(alice, bob, carol, kb, kc)


def forge(
    committer: Group,
    commit: Commit,
    *,
    tag: bytes = bytes(32),
    sender: Sender | None = None,
) -> MLSMessage:
    """``commit`` signed and membership-tagged by ``committer`` for its current epoch."""
    state = committer.state
    protector = Protector(
        state.context,
        SecretTree(state.secrets.encryption_secret, state.ratchet_tree().n_leaves),
        state.secrets.sender_data_secret,
        state.secrets.membership_key,
    )
    content = FramedContent(
        state.group_id, state.epoch, sender or Sender.member(state.own_leaf), commit
    )
    return MLSMessage(protector.protect_public(content, state.signature_priv, tag))


def inline(*proposals: Proposal, path: UpdatePath | None = None) -> Commit:
    return Commit(tuple(ProposalOrRef(proposal=p) for p in proposals), path)


def resign_key_package(kp: KeyPackage, signature_priv: bytes, **changes: object) -> KeyPackage:
    """``kp`` with ``changes`` applied and both signatures made valid again."""
    leaf_changes = {k[5:]: v for k, v in changes.items() if k.startswith("leaf_")}
    kp_changes = {k: v for k, v in changes.items() if not k.startswith("leaf_")}
    leaf: LeafNode = replace(kp.leaf_node, **leaf_changes)  # type: ignore[arg-type]
    leaf = leaf.with_signature(
        suite.sign_with_label(signature_priv, "LeafNodeTBS", leaf.to_be_signed())
    )
    out: KeyPackage = replace(kp, leaf_node=leaf, **kp_changes)  # type: ignore[arg-type]
    return out.with_signature(
        suite.sign_with_label(signature_priv, "KeyPackageTBS", out.to_be_signed())
    )


def resign_leaf(leaf: LeafNode, signature_priv: bytes, group_id: bytes, index: int) -> LeafNode:
    return leaf.with_signature(
        suite.sign_with_label(signature_priv, "LeafNodeTBS", leaf.to_be_signed(group_id, index))
    )
