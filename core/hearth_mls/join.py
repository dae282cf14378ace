"""Starting a group, joining from a Welcome, and joining by external commit.

RFC 9420 §11 (group creation), §12.4.3.1 (Welcome), §12.4.3.2 (external
commits), §12.4.3.3 (the ratchet_tree extension), §10 (KeyPackages).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from hearth_mls import suite, transcript, tree_math, treekem
from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.commit import Commit
from hearth_mls.credential import Credential, CredentialType
from hearth_mls.errors import (
    ConfirmationTagError,
    DecodeError,
    GroupInfoDecryptionError,
    HPKEDecryptionError,
    MissingPskError,
    SignatureError,
    UnsupportedError,
    WelcomeError,
    WelcomeNotForUsError,
)
from hearth_mls.extension_payloads import ExternalPub
from hearth_mls.extensions import (
    CIPHERSUITE_1,
    EXTERNAL_PUB,
    MLS10,
    RATCHET_TREE,
    Extension,
    GroupContext,
)
from hearth_mls.framing import Sender
from hearth_mls.group_commit import CreatedCommit, _finish_commit, lookup_psks
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import GroupState
from hearth_mls.key_package import KeyPackage
from hearth_mls.key_schedule import EpochSecrets, external_init_sender
from hearth_mls.leaf_node import Capabilities, LeafNode, LeafNodeSource, Lifetime
from hearth_mls.proposal_rules import ProposalEntry, apply_proposals, required_capabilities
from hearth_mls.proposals import ExternalInit, PreSharedKeyID, Proposal, ProposalOrRef, Remove
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import ratchet_tree_from_bytes
from hearth_mls.tree_validation import validate_tree
from hearth_mls.welcome import check_confirmation, decrypt_welcome, verify_group_info
from hearth_mls.welcome import create_key_package as create_signed_key_package
from hearth_mls.welcome_structs import Welcome

#: Length of a bare X25519 public key (RFC 9180 §7.1: Npk = 32).
X25519_KEY_LENGTH = 32

#: Default KeyPackage lifetime: 90 days (RFC 9420 §10 leaves it to the application).
KEY_PACKAGE_LIFETIME = 90 * 24 * 3600


@dataclass(frozen=True, slots=True)
class KeyPackageSecrets:
    """The private halves of a KeyPackage, kept until a Welcome uses it (§10)."""

    key_package: KeyPackage
    init_priv: bytes
    encryption_priv: bytes
    signature_priv: bytes

    @property
    def ref(self) -> bytes:
        return suite.make_key_package_ref(self.key_package.to_bytes())

    def to_bytes(self) -> bytes:
        """For the client's key store: the KeyPackage then the three private keys."""
        w = Writer()
        self.key_package.encode(w)
        w.opaque(self.init_priv).opaque(self.encryption_priv).opaque(self.signature_priv)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> KeyPackageSecrets:
        def get(r: Reader) -> KeyPackageSecrets:
            return cls(KeyPackage.decode(r), r.opaque(), r.opaque(), r.opaque())

        return decode_exact(data, "KeyPackageSecrets", get)


def default_capabilities(extensions: Sequence[int] = ()) -> Capabilities:
    return Capabilities(
        versions=(MLS10,),
        cipher_suites=(CIPHERSUITE_1,),
        extensions=tuple(extensions),
        proposals=(),
        credentials=(int(CredentialType.BASIC),),
    )


def capabilities_for(extensions: Sequence[Extension]) -> Capabilities:
    """Default capabilities that also cover a group's extensions and required ones (§7.3)."""
    required = required_capabilities(extensions)
    wanted = {e.extension_type for e in extensions if e.extension_type > 5}
    if required is not None:
        wanted.update(t for t in required.extension_types if t > 5)
    return default_capabilities(sorted(wanted))


def create_key_package(
    identity: bytes,
    *,
    signature_priv: bytes | None = None,
    capabilities: Capabilities | None = None,
    lifetime: int = KEY_PACKAGE_LIFETIME,
    now: int | None = None,
) -> KeyPackageSecrets:
    """A fresh signed KeyPackage with a basic credential (RFC 9420 §10)."""
    if signature_priv is None:
        signature_priv = suite.generate_signature_key_pair()[0]
    t = int(time.time()) if now is None else now
    bundle = create_signed_key_package(
        Credential(CredentialType.BASIC, identity=identity),
        signature_priv,
        Lifetime(max(0, t - 3600), t + lifetime),
        capabilities=capabilities or default_capabilities(),
    )
    return KeyPackageSecrets(
        bundle.key_package, bundle.init_private, bundle.encryption_private, signature_priv
    )


def create_group(
    identity: bytes,
    *,
    group_id: bytes | None = None,
    extensions: Sequence[Extension] = (),
    signature_priv: bytes | None = None,
    capabilities: Capabilities | None = None,
) -> GroupState:
    """A one-member group at epoch 0 (RFC 9420 §11)."""
    if signature_priv is None:
        signature_priv = suite.generate_signature_key_pair()[0]
    enc_priv, enc_pub = suite.generate_hpke_key_pair()
    caps = capabilities or capabilities_for(extensions)
    leaf = LeafNode(
        encryption_key=enc_pub,
        signature_key=suite.signature_public_key(signature_priv),
        credential=Credential(CredentialType.BASIC, identity=identity),
        capabilities=caps,
        leaf_node_source=LeafNodeSource.KEY_PACKAGE,
        lifetime=Lifetime(0, (1 << 64) - 1),
    )
    leaf = leaf.signed(signature_priv)
    tree = RatchetTree.with_leaf(leaf)
    context = GroupContext(
        group_id=group_id if group_id is not None else os.urandom(16),
        epoch=0,
        tree_hash=tree.tree_hash(),
        confirmed_transcript_hash=b"",
        extensions=tuple(extensions),
    )
    secrets = EpochSecrets.advance(os.urandom(suite.NH), context, os.urandom(suite.NH))
    return GroupState(
        context=context,
        tree=tuple(tree.to_wire()),
        own_leaf=0,
        signature_priv=signature_priv,
        private_keys=((0, enc_priv),),
        secrets=secrets,
        interim_transcript_hash=transcript.interim_transcript_hash(
            b"", transcript.confirmation_tag(secrets.confirmation_key, b"")
        ),
    )


def _tree_from(group_info: GroupInfo, ratchet_tree: bytes | None) -> RatchetTree:
    data = ratchet_tree
    for ext in group_info.extensions:
        if ext.extension_type == RATCHET_TREE:
            data = ext.extension_data
    if data is None:
        raise WelcomeError("no ratchet tree: not in the GroupInfo and none given (§12.4.3.3)")
    nodes = ratchet_tree_from_bytes(data)
    while nodes and nodes[-1] is None:  # trailing blanks are tolerated, as before
        nodes.pop()
    return RatchetTree.from_wire(nodes)


def _signed_tree(group_info: GroupInfo, ratchet_tree: bytes | None) -> RatchetTree:
    """The group's tree, once the GroupInfo's signer in it has verified its signature (§12.4.3)."""
    tree = _tree_from(group_info, ratchet_tree)
    signer = tree.leaf(group_info.signer)
    if signer is None:
        raise WelcomeError(f"GroupInfo signer {group_info.signer} is not in the tree")
    try:
        verify_group_info(group_info, signer.signature_key)
    except SignatureError as exc:
        raise WelcomeError("GroupInfo signature does not verify") from exc
    return tree


def verify_tree(tree: RatchetTree, context: GroupContext) -> None:
    """Every integrity check of RFC 9420 §12.4.3.1 on a received ratchet tree.

    Delegates to :func:`hearth_mls.tree_validation.validate_tree` (leaf
    signatures and capabilities, unique keys, unmerged leaves, parent hashes,
    tree hash against the GroupContext).
    """
    validate_tree(
        tree,
        context.group_id,
        tree_hash=context.tree_hash,
        required=required_capabilities(context.extensions),
        group_extensions=context.extensions,
    )


def join_from_welcome(
    welcome: Welcome,
    kp_secrets: KeyPackageSecrets,
    *,
    ratchet_tree: bytes | None = None,
    external_psks: Sequence[tuple[bytes, bytes]] = (),
) -> GroupState:
    """Join a group from a Welcome (every step of RFC 9420 §12.4.3.1).

    :mod:`hearth_mls.welcome` decrypts the Welcome and checks the GroupInfo;
    here every way the Welcome cannot be joined is a :class:`WelcomeError`,
    except a Welcome for another KeyPackage (:class:`WelcomeNotForUsError`)
    and a PSK this member lacks (:class:`MissingPskError`).
    """
    if welcome.secrets_for(kp_secrets.ref) is None:
        raise WelcomeNotForUsError("the Welcome has no secrets for this KeyPackage")
    if welcome.cipher_suite != CIPHERSUITE_1:
        raise WelcomeError(f"Welcome cipher suite {welcome.cipher_suite} is not ours")
    psk_map = dict(external_psks)

    def lookup(psk_id: PreSharedKeyID) -> bytes:
        value = psk_map.get(psk_id.psk_id or b"")
        if value is None:
            raise MissingPskError("the Welcome names a PSK this member lacks")
        return value

    try:
        group_secrets, group_info, psk = decrypt_welcome(
            welcome, kp_secrets.key_package, kp_secrets.init_priv, lookup
        )
    except HPKEDecryptionError as exc:
        raise WelcomeError("GroupSecrets do not decrypt") from exc
    except GroupInfoDecryptionError as exc:
        raise WelcomeError("GroupInfo does not decrypt") from exc
    except UnsupportedError as exc:
        raise WelcomeError("GroupInfo names another version or cipher suite") from exc
    ctx = group_info.group_context
    tree = _signed_tree(group_info, ratchet_tree)
    if tree.tree_hash() != ctx.tree_hash:
        raise WelcomeError("the ratchet tree does not match the GroupInfo's tree_hash")
    verify_tree(tree, ctx)
    own_leaf = next(
        (
            i
            for i, leaf in tree.occupied_leaves()
            if leaf.encryption_key == kp_secrets.key_package.leaf_node.encryption_key
            and leaf.signature_key == kp_secrets.key_package.leaf_node.signature_key
        ),
        None,
    )
    if own_leaf is None:
        raise WelcomeError("our KeyPackage's leaf is not in the tree")
    private_keys = {tree_math.leaf_to_node(own_leaf): kp_secrets.encryption_priv}
    if group_secrets.path_secret is not None:
        ancestor = tree_math.common_ancestor(
            tree_math.leaf_to_node(own_leaf), tree_math.leaf_to_node(group_info.signer)
        )
        derived = treekem.keys_from_path_secret(
            tree, group_info.signer, ancestor, group_secrets.path_secret.path_secret
        )
        if ancestor not in derived:
            raise WelcomeError("the path secret does not derive the common ancestor's key")
        private_keys.update(derived)
    try:
        secrets = check_confirmation(group_info, group_secrets.joiner_secret, psk)
    except ConfirmationTagError as exc:
        raise WelcomeError("GroupInfo confirmation tag does not match") from exc
    return GroupState(
        context=ctx,
        tree=tuple(tree.to_wire()),
        own_leaf=own_leaf,
        signature_priv=kp_secrets.signature_priv,
        private_keys=tuple(sorted(private_keys.items())),
        secrets=secrets,
        interim_transcript_hash=transcript.interim_transcript_hash(
            ctx.confirmed_transcript_hash, group_info.confirmation_tag
        ),
        external_psks=tuple(external_psks),
    )


def read_external_pub(data: bytes) -> bytes:
    """The key of an ``external_pub`` extension (RFC 9420 §12.4.3.2).

    The RFC encodes ``struct { HPKEPublicKey external_pub; }`` (a length-prefixed
    key, 33 bytes for X25519); ts-mls 1.6.4 writes the bare 32-byte key. Both are
    accepted: the lengths cannot be confused.
    """
    if len(data) == X25519_KEY_LENGTH:
        return data
    return ExternalPub.from_bytes(data).external_pub


def external_join(
    group_info: GroupInfo,
    identity: bytes,
    *,
    ratchet_tree: bytes | None = None,
    signature_priv: bytes | None = None,
    remove_old: int | None = None,
) -> CreatedCommit:
    """Join by external commit through a GroupInfo with external_pub (RFC 9420 §12.4.3.2)."""
    ctx = group_info.group_context
    tree = _signed_tree(group_info, ratchet_tree)
    verify_tree(tree, ctx)
    external_pub = next(
        (
            read_external_pub(e.extension_data)
            for e in group_info.extensions
            if e.extension_type == EXTERNAL_PUB
        ),
        None,
    )
    if external_pub is None:
        raise WelcomeError("the GroupInfo has no external_pub extension (§12.4.3.2)")
    kem_output, init_secret = external_init_sender(external_pub)
    proposals: list[Proposal] = [ExternalInit(kem_output)]
    if remove_old is not None:
        proposals.append(Remove(remove_old))
    sender = Sender.new_member_commit()
    entries = [ProposalEntry(p, sender) for p in proposals]
    applied = apply_proposals(
        entries,
        tree=tree,
        extensions=ctx.extensions,
        group_id=ctx.group_id,
        committer=None,
        external=True,
    )
    kp = create_key_package(
        identity, signature_priv=signature_priv, capabilities=capabilities_for(ctx.extensions)
    )
    template = kp.key_package.leaf_node
    placed = applied.tree.copy()
    own_leaf = placed.add_leaf(template)
    new_epoch = ctx.epoch + 1

    def context_for(tree_hash: bytes) -> bytes:
        return replace(
            ctx, epoch=new_epoch, tree_hash=tree_hash, extensions=applied.extensions
        ).to_bytes()

    path, result = treekem.create_update_path(
        placed, own_leaf, template, kp.signature_priv, ctx.group_id, context_for
    )
    interim = transcript.interim_transcript_hash(
        ctx.confirmed_transcript_hash, group_info.confirmation_tag
    )
    state = GroupState(
        context=ctx,
        tree=tuple(tree.to_wire()),
        own_leaf=own_leaf,
        signature_priv=kp.signature_priv,
        private_keys=(),
        secrets=EpochSecrets.from_joiner(bytes(suite.NH), ctx),  # replaced below
        interim_transcript_hash=interim,
    )
    commit = Commit(tuple(_inline(p) for p in proposals), path)
    return _finish_commit(
        state,
        commit,
        sender,
        applied,
        result.tree,
        treekem.prune_private_keys(result.tree, result.private_keys),
        result.commit_secret,
        lookup_psks(state, applied.psks),
        result.path_secrets,
        init_secret,
        kp.signature_priv,
        own_leaf,
        include_tree_in_welcome=True,
        external_pub_in_group_info=True,
    )


def _inline(p: Proposal) -> ProposalOrRef:
    return ProposalOrRef(proposal=p)


__all__ = [
    "DecodeError",
    "KeyPackageSecrets",
    "create_group",
    "create_key_package",
    "external_join",
    "join_from_welcome",
]
