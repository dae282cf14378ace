"""Validating leaf nodes and whole ratchet trees (RFC 9420 §7.3, §7.9.2, §12.4.3.1).

:func:`validate_leaf_node` runs the §7.3 checks on one LeafNode where it
appears (a KeyPackage, an Update, a commit's UpdatePath, or a received tree);
:func:`validate_tree` runs every check a joiner must run on a tree it receives
(§12.4.3.1): unmerged leaves, unique parent keys, every leaf, parent-hash
validity of every non-blank parent (top down, §7.9.2) and the tree hash.

Each failure raises its own subclass of
:class:`~hearth_mls.errors.LeafNodeError` or
:class:`~hearth_mls.errors.TreeValidationError`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from hearth_mls import suite, tree_math
from hearth_mls.errors import (
    CredentialUnsupportedError,
    DuplicateLeafKeyError,
    DuplicateParentKeyError,
    GroupExtensionUnsupportedError,
    LeafExtensionUnsupportedError,
    LeafLifetimeError,
    LeafSignatureError,
    LeafSourceError,
    ParentHashError,
    RequiredCapabilityError,
    SignatureError,
    TreeHashMismatchError,
    UnmergedLeafError,
    UpdateKeyUnchangedError,
)
from hearth_mls.extension_payloads import RequiredCapabilities
from hearth_mls.extensions import Extension
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_nodes import ParentNode

#: Extension types every client implements; capabilities need not list them (§7.2).
DEFAULT_EXTENSION_TYPES = frozenset(range(1, 6))
#: Proposal types every client implements (§7.2).
DEFAULT_PROPOSAL_TYPES = frozenset(range(1, 8))

LEAF_NODE_LABEL = LeafNode.SIGN_LABEL


def verify_leaf_signature(leaf: LeafNode, group_id: bytes, leaf_index: int) -> None:
    """``VerifyWithLabel(signature_key, "LeafNodeTBS", LeafNodeTBS, signature)`` (§7.2).

    ``group_id`` and ``leaf_index`` are bound only for the update and commit sources.
    """
    if leaf.leaf_node_source is LeafNodeSource.KEY_PACKAGE:
        tbs = leaf.to_be_signed()
    else:
        tbs = leaf.to_be_signed(group_id, leaf_index)
    try:
        suite.verify_with_label(leaf.signature_key, LEAF_NODE_LABEL, tbs, leaf.signature)
    except SignatureError as exc:
        raise LeafSignatureError(f"leaf {leaf_index}: {exc}") from None


def check_required_capabilities(
    leaf: LeafNode, required: RequiredCapabilities | None, where: str = "leaf"
) -> None:
    """The leaf supports every non-default capability the group requires (§7.3, §11.1)."""
    if required is None:
        return
    caps = leaf.capabilities
    wanted = [
        ("extension", set(required.extension_types) - DEFAULT_EXTENSION_TYPES, caps.extensions),
        ("proposal", set(required.proposal_types) - DEFAULT_PROPOSAL_TYPES, caps.proposals),
        ("credential", set(required.credential_types), caps.credentials),
    ]
    for kind, needed, offered in wanted:
        missing = sorted(needed - set(offered))
        if missing:
            raise RequiredCapabilityError(f"{where} does not support required {kind} {missing}")


def check_group_extensions(
    leaf: LeafNode, group_extensions: tuple[Extension, ...], where: str = "leaf"
) -> None:
    """The leaf supports every non-default GroupContext extension (RFC 9420 §13)."""
    missing = sorted(
        {e.extension_type for e in group_extensions}
        - DEFAULT_EXTENSION_TYPES
        - set(leaf.capabilities.extensions)
    )
    if missing:
        raise GroupExtensionUnsupportedError(
            f"{where} does not support the group's extensions {missing}"
        )


def check_leaf_extensions(leaf: LeafNode, where: str = "leaf") -> None:
    """Non-default extensions and the credential type are in the capabilities (§7.2, §7.3)."""
    caps = leaf.capabilities
    unlisted = sorted(
        {e.extension_type for e in leaf.extensions} - DEFAULT_EXTENSION_TYPES - set(caps.extensions)
    )
    if unlisted:
        raise LeafExtensionUnsupportedError(
            f"{where} has extensions {unlisted} not listed in its capabilities"
        )
    if leaf.credential.credential_type not in caps.credentials:
        raise CredentialUnsupportedError(
            f"{where} does not list its own credential type "
            f"{int(leaf.credential.credential_type)} in its capabilities"
        )


def check_credential_support(
    leaf: LeafNode, others: Iterable[LeafNode], where: str = "leaf"
) -> None:
    """Every member supports this leaf's credential type and vice versa (§7.3)."""
    own_type = leaf.credential.credential_type
    for other in others:
        if own_type not in other.capabilities.credentials:
            raise CredentialUnsupportedError(
                f"{where}: credential type {int(own_type)} is not supported by every member"
            )
        if other.credential.credential_type not in leaf.capabilities.credentials:
            raise CredentialUnsupportedError(
                f"{where} does not support credential type "
                f"{int(other.credential.credential_type)} in use in the group"
            )


def check_lifetime(leaf: LeafNode, now: int, where: str = "leaf") -> None:
    """``not_before <= now <= not_after`` for a leaf with a lifetime (§7.3)."""
    lifetime = leaf.lifetime
    if lifetime is not None and not lifetime.not_before <= now <= lifetime.not_after:
        raise LeafLifetimeError(f"{where}: time {now} is outside its lifetime")


def validate_leaf_node(
    leaf: LeafNode,
    tree: RatchetTree,
    group_id: bytes,
    leaf_index: int,
    *,
    expected_source: LeafNodeSource | None = None,
    required: RequiredCapabilities | None = None,
    group_extensions: tuple[Extension, ...] = (),
    replaces: int | None = None,
    now: int | None = None,
) -> None:
    """The §7.3 checks on ``leaf``, about to sit at ``leaf_index`` of ``tree``.

    ``expected_source`` is ``key_package`` for an Add, ``update`` for an Update
    and ``commit`` for an UpdatePath; ``replaces`` is the leaf index whose node
    this leaf replaces (Update and UpdatePath), excluded from the uniqueness
    checks; ``now`` (seconds) enables the lifetime check. Credential
    validation itself (§5.3.1) is the application's job. ``group_extensions``
    are the GroupContext's extensions, which every member must support (§13).
    """
    where = f"leaf {leaf_index}"
    verify_leaf_signature(leaf, group_id, leaf_index)
    check_required_capabilities(leaf, required, where)
    check_group_extensions(leaf, group_extensions, where)
    others = [node for index, node in tree.occupied_leaves() if index not in (replaces, leaf_index)]
    check_credential_support(leaf, others, where)
    if now is not None:
        check_lifetime(leaf, now, where)
    check_leaf_extensions(leaf, where)
    if expected_source is not None and leaf.leaf_node_source is not expected_source:
        raise LeafSourceError(
            f"{where} has source {leaf.leaf_node_source.name.lower()}, "
            f"expected {expected_source.name.lower()}"
        )
    if expected_source is LeafNodeSource.UPDATE and replaces is not None:
        old = tree.leaf(replaces)
        if old is not None and old.encryption_key == leaf.encryption_key:
            raise UpdateKeyUnchangedError(f"{where}: an Update must change the encryption key")
    for other in others:
        if other.signature_key == leaf.signature_key:
            raise DuplicateLeafKeyError(f"{where}: signature key is used by another member")
        if other.encryption_key == leaf.encryption_key:
            raise DuplicateLeafKeyError(f"{where}: encryption key is used by another member")


def verify_unmerged_leaves(tree: RatchetTree) -> None:
    """Every unmerged leaf is a non-blank descendant, unmerged all the way up (§12.4.3.1)."""
    n = tree.n_leaves
    for p, node in tree.parents():
        for leaf_index in node.unmerged_leaves:
            if tree.leaf(leaf_index) is None:
                raise UnmergedLeafError(f"node {p}: unmerged leaf {leaf_index} is blank or absent")
            x = 2 * leaf_index
            if not tree_math.is_descendant(x, p) or x == p:
                raise UnmergedLeafError(
                    f"node {p}: unmerged leaf {leaf_index} is not its descendant"
                )
            for between in tree_math.direct_path(x, n):
                if between == p:
                    break
                middle = tree.parent(between)
                if middle is not None and leaf_index not in middle.unmerged_leaves:
                    raise UnmergedLeafError(
                        f"node {between} lies between leaf {leaf_index} and node {p} "
                        "but does not list it as unmerged"
                    )


def verify_unique_parent_keys(tree: RatchetTree) -> None:
    """No parent's encryption key appears in another node of the tree (§12.4.3.1)."""
    keys = Counter(
        node.encryption_key for x in range(tree.width) if (node := tree.node(x)) is not None
    )
    for p, node in tree.parents():
        if keys[node.encryption_key] > 1:
            raise DuplicateParentKeyError(f"node {p}: encryption key appears in another node")


def _parent_hash_field(tree: RatchetTree, d: int) -> bytes | None:
    node = tree.node(d)
    if isinstance(node, ParentNode):
        return node.parent_hash
    if node is not None and node.leaf_node_source is LeafNodeSource.COMMIT:
        return node.parent_hash
    return None


def parent_hash_links(tree: RatchetTree, p: int) -> list[int]:
    """The nodes D below ``p`` whose parent hash is valid with respect to ``p`` (§7.9.2)."""
    node = tree.parent(p)
    if node is None:
        return []
    links: list[int] = []
    for c, s in ((tree_math.left(p), tree_math.right(p)), (tree_math.right(p), tree_math.left(p))):
        expected = tree.parent_hash(p, s)
        resolution = tree.resolution(c)
        unmerged_below = {
            2 * leaf for leaf in node.unmerged_leaves if tree_math.is_descendant(2 * leaf, c)
        }
        for d in resolution:
            if _parent_hash_field(tree, d) != expected:
                continue
            if set(resolution) - {d} == unmerged_below:
                links.append(d)
    return links


def verify_parent_hashes(tree: RatchetTree) -> None:
    """Each non-blank parent is parent-hash valid through exactly one descendant (§7.9.2).

    Top down: since every link goes strictly downwards, all chains end at leaves.
    The unmerged leaves are checked first, since resolutions are built from them.
    """
    verify_unmerged_leaves(tree)
    for p, _node in tree.parents():
        links = parent_hash_links(tree, p)
        if len(links) != 1:
            raise ParentHashError(
                f"node {p} is parent-hash valid through {len(links)} descendants, expected 1"
            )


def validate_tree(
    tree: RatchetTree,
    group_id: bytes,
    *,
    tree_hash: bytes | None = None,
    required: RequiredCapabilities | None = None,
    group_extensions: tuple[Extension, ...] = (),
    now: int | None = None,
) -> None:
    """Every check of RFC 9420 §12.4.3.1 "Verify the integrity of the ratchet tree".

    ``tree_hash`` is the GroupInfo's ``group_context.tree_hash`` when known;
    ``group_extensions`` its extensions, which every leaf must support (§13).
    """
    verify_unmerged_leaves(tree)
    verify_unique_parent_keys(tree)
    leaves = list(tree.occupied_leaves())
    for kind in ("signature_key", "encryption_key"):
        seen: dict[bytes, int] = {}
        for index, leaf in leaves:
            key = getattr(leaf, kind)
            if key in seen:
                raise DuplicateLeafKeyError(
                    f"leaves {seen[key]} and {index} share their {kind.replace('_', ' ')}"
                )
            seen[key] = index
    for index, leaf in leaves:
        where = f"leaf {index}"
        verify_leaf_signature(leaf, group_id, index)
        check_required_capabilities(leaf, required, where)
        check_group_extensions(leaf, group_extensions, where)
        check_leaf_extensions(leaf, where)
        if now is not None:
            check_lifetime(leaf, now, where)
    in_use = {leaf.credential.credential_type for _, leaf in leaves}
    for index, leaf in leaves:
        missing = sorted(int(t) for t in in_use - set(leaf.capabilities.credentials))
        if missing:
            raise CredentialUnsupportedError(
                f"leaf {index} does not support credential types {missing} in use"
            )
    verify_parent_hashes(tree)
    if tree_hash is not None and tree.tree_hash() != tree_hash:
        raise TreeHashMismatchError("the ratchet tree's hash differs from the GroupContext's")
