"""TreeKEM: creating, merging and decrypting UpdatePaths (RFC 9420 §7.4-§7.6, §7.9).

The tree is the array of optional :class:`~hearth_mls.tree_nodes.Node` of the
``ratchet_tree`` extension (§12.4.3.3); a list shorter than the perfect width is
implicitly padded with blanks (§4.1). Functions here never mutate their input:
they return new lists, so a caller that rejects a commit keeps its old tree.

A member's private view of the tree is a :data:`PrivateKeys` mapping from node
index to HPKE private key; :func:`prune_private_keys` drops every entry the
public tree no longer backs.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from hearth_mls import tree_math
from hearth_mls.codec import Writer
from hearth_mls.commit import HPKECiphertext, UpdatePath, UpdatePathNode
from hearth_mls.errors import (
    DecryptionError,
    DuplicatePathKeyError,
    PathDecryptError,
    PathLengthError,
    PathParentHashError,
    PathSecretMismatchError,
)
from hearth_mls.leaf_node import LeafNode, LeafNodeSource
from hearth_mls.suite import (
    decrypt_with_label,
    derive_secret,
    digest,
    encrypt_with_label,
    hpke_public_key,
    sign_with_label,
)
from hearth_mls.suite import derive_hpke_key_pair as derive_key_pair
from hearth_mls.tree_nodes import Node, ParentNode

Tree = list[Node | None]
PrivateKeys = dict[int, bytes]
#: Builds the provisional GroupContext encoding from the new tree hash (§12.4.1).
ContextFor = Callable[[bytes], bytes]

KDF_NH = 32


# --- Tree shape helpers (§4.1, §4.1.1, §4.1.2) -------------------------------------


def leaf_count(tree: Sequence[Node | None]) -> int:
    """Leaves of the perfect tree holding ``tree`` (§4.1)."""
    return tree_math.leaf_count_for((len(tree) + 1) // 2)


def node_at(tree: Sequence[Node | None], x: int) -> Node | None:
    return tree[x] if x < len(tree) else None


def padded(tree: Sequence[Node | None], n_leaves: int | None = None) -> Tree:
    """A copy of ``tree`` extended with blanks to the full perfect width."""
    width = tree_math.node_width(n_leaves if n_leaves is not None else leaf_count(tree))
    out = list(tree)
    out.extend([None] * (width - len(out)))
    return out


def truncated(tree: Sequence[Node | None]) -> Tree:
    """``tree`` without trailing blank leaves (and the parents after them, §7.8)."""
    out = list(tree)
    while out and out[-1] is None:
        out.pop()
    if out and len(out) % 2 == 0:  # ended on a parent: keep the odd width
        out.pop()
    while len(out) > 1 and out[-1] is None:
        out.pop()
        out.pop()
    return out


def encryption_key(node: Node) -> bytes:
    if node.leaf is not None:
        return node.leaf.encryption_key
    assert node.parent is not None
    return node.parent.encryption_key


def resolution(tree: Sequence[Node | None], x: int) -> list[int]:
    """The resolution of node ``x`` (§4.1.1): non-blank nodes covering its subtree."""
    node = node_at(tree, x)
    if node is not None:
        out = [x]
        if node.parent is not None:
            out.extend(tree_math.leaf_to_node(i) for i in node.parent.unmerged_leaves)
        return out
    if tree_math.is_leaf(x):
        return []
    return resolution(tree, tree_math.left(x)) + resolution(tree, tree_math.right(x))


def filtered_direct_path(tree: Sequence[Node | None], leaf: int) -> list[tuple[int, int]]:
    """``(parent, copath child)`` pairs of leaf ``leaf``'s filtered direct path (§4.1.2)."""
    n = leaf_count(tree)
    x = tree_math.leaf_to_node(leaf)
    out: list[tuple[int, int]] = []
    if n == 1:
        return out
    for p, c in zip(tree_math.direct_path(x, n), tree_math.copath(x, n), strict=True):
        if resolution(tree, c):
            out.append((p, c))
    return out


# --- Tree hash (§7.8) -------------------------------------------------------------


def tree_hash(tree: Sequence[Node | None], x: int | None = None) -> bytes:
    """The tree hash of node ``x`` (the root when ``None``), RFC 9420 §7.8."""
    if x is None:
        x = tree_math.root(leaf_count(tree))
    node = node_at(tree, x)
    if tree_math.is_leaf(x):
        return _leaf_hash(tree_math.node_to_leaf(x), node.leaf if node is not None else None)
    w = Writer().uint8(2)
    w.optional(node.parent if node is not None else None, lambda w2, par: par.encode(w2))
    w.opaque(tree_hash(tree, tree_math.left(x))).opaque(tree_hash(tree, tree_math.right(x)))
    return digest(w.getvalue())


@functools.lru_cache(maxsize=4096)
def _leaf_hash(index: int, leaf: LeafNode | None) -> bytes:
    """``Hash(TreeHashInput)`` of a leaf (§7.8); memoized, leaves rarely change."""
    w = Writer().uint8(1).uint32(index)
    w.optional(leaf, lambda w2, node: node.encode(w2))
    return digest(w.getvalue())


# --- Parent hashes (§7.9) -----------------------------------------------------------


def parent_hash_of(node: ParentNode, original_sibling_tree_hash: bytes) -> bytes:
    """``Hash(ParentHashInput)`` of ``node`` (§7.9)."""
    w = Writer().opaque(node.encryption_key).opaque(node.parent_hash)
    w.opaque(original_sibling_tree_hash)
    return digest(w.getvalue())


def set_path_parent_hashes(
    tree: Tree, path: Sequence[tuple[int, int]], keys: Sequence[bytes]
) -> tuple[Tree, bytes]:
    """Set the filtered path's parent nodes with ``keys``, parent hashes top-down (§7.9).

    Returns the new tree and the parent hash the leaf must carry.
    """
    out = list(tree)
    above = b""  # the root's parent_hash is empty (§7.9)
    for p, c in reversed(path):
        key = keys[path.index((p, c))]
        parent = ParentNode(encryption_key=key, parent_hash=above)
        out[p] = Node(parent=parent)
        above = parent_hash_of(parent, tree_hash(out, c))
    return out, above


# --- Creating an UpdatePath (§7.4, §7.5, §7.6) -------------------------------------


@dataclass(frozen=True, slots=True)
class PathResult:
    """What creating or applying an UpdatePath yields."""

    tree: Tree
    private_keys: PrivateKeys
    commit_secret: bytes
    #: path_secret for each node of the sender's filtered direct path (creator only).
    path_secrets: dict[int, bytes]


def blank_direct_path(tree: Tree, leaf: int) -> Tree:
    out = padded(tree)
    n = leaf_count(out)
    if n > 1:
        for p in tree_math.direct_path(tree_math.leaf_to_node(leaf), n):
            out[p] = None
    return out


def create_update_path(
    tree: Sequence[Node | None],
    leaf: int,
    leaf_template: LeafNode,
    signature_priv: bytes,
    group_id: bytes,
    context_for: ContextFor,
    excluded_leaves: Sequence[int] = (),
    leaf_secret: bytes | None = None,
) -> tuple[UpdatePath, PathResult]:
    """Re-key ``leaf``'s direct path and encrypt the path secrets (§7.4-§7.6).

    ``leaf_template`` supplies the new leaf's credential, capabilities, signature
    key and extensions; its encryption key, source, parent hash and signature are
    replaced. ``excluded_leaves`` are members added by the same commit (§7.6).
    """
    base = blank_direct_path(list(tree), leaf)
    path = filtered_direct_path(base, leaf)
    leaf_secret = leaf_secret if leaf_secret is not None else os.urandom(KDF_NH)
    leaf_priv, leaf_pub = derive_key_pair(derive_secret(leaf_secret, "node"))
    secrets: list[bytes] = []
    keys: list[bytes] = []
    privs: PrivateKeys = {tree_math.leaf_to_node(leaf): leaf_priv}
    secret = os.urandom(KDF_NH)
    for p, _c in path:
        secrets.append(secret)
        priv, pub = derive_key_pair(derive_secret(secret, "node"))
        keys.append(pub)
        privs[p] = priv
        secret = derive_secret(secret, "path")
    # commit_secret = path_secret[n+1] (§12.4.1); a fresh secret for an empty path.
    commit_secret = secret
    new_tree, leaf_parent_hash = set_path_parent_hashes(base, path, keys)
    new_leaf = replace(
        leaf_template,
        encryption_key=leaf_pub,
        leaf_node_source=LeafNodeSource.COMMIT,
        lifetime=None,
        parent_hash=leaf_parent_hash,
        signature=b"",
    )
    tbs = new_leaf.to_be_signed(group_id, leaf)
    new_leaf = new_leaf.with_signature(sign_with_label(signature_priv, "LeafNodeTBS", tbs))
    new_tree[tree_math.leaf_to_node(leaf)] = Node(leaf=new_leaf)
    context = context_for(tree_hash(new_tree))
    excluded = {tree_math.leaf_to_node(i) for i in excluded_leaves}
    nodes: list[UpdatePathNode] = []
    for (_p, c), secret_k, key in zip(path, secrets, keys, strict=True):
        cts = []
        for r in resolution(new_tree, c):
            if r in excluded:
                continue
            target = new_tree[r]
            assert target is not None
            kem_output, ct = encrypt_with_label(
                encryption_key(target), "UpdatePathNode", context, secret_k
            )
            cts.append(HPKECiphertext(kem_output=kem_output, ciphertext=ct))
        nodes.append(UpdatePathNode(encryption_key=key, encrypted_path_secret=tuple(cts)))
    update_path = UpdatePath(leaf_node=new_leaf, nodes=tuple(nodes))
    path_secrets = {p: s for (p, _c), s in zip(path, secrets, strict=True)}
    return update_path, PathResult(new_tree, privs, commit_secret, path_secrets)


# --- Applying an UpdatePath (§7.5, §7.6, §12.4.2) -----------------------------------


def merge_update_path(tree: Sequence[Node | None], sender: int, update_path: UpdatePath) -> Tree:
    """Merge ``update_path`` into a copy of ``tree`` and check its parent hash (§7.5, §7.9).

    Raises :class:`PathLengthError` when the path does not fit the sender's
    filtered direct path, :class:`DuplicatePathKeyError` when one of its keys is
    already in the tree and :class:`PathParentHashError` when the leaf's
    ``parent_hash`` is not the merged path's.
    """
    base = blank_direct_path(list(tree), sender)
    path = filtered_direct_path(base, sender)
    if len(path) != len(update_path.nodes):
        raise PathLengthError(
            f"UpdatePath has {len(update_path.nodes)} nodes, the sender's filtered direct "
            f"path has {len(path)} (RFC 9420 §7.6)"
        )
    present = {encryption_key(n) for i, n in enumerate(base) if n is not None}
    present.discard(_leaf_key(base, sender))
    new_keys = [update_path.leaf_node.encryption_key] + [
        n.encryption_key for n in update_path.nodes
    ]
    if len(set(new_keys)) != len(new_keys) or present.intersection(new_keys):
        raise DuplicatePathKeyError("an UpdatePath public key already appears in the tree")
    new_tree, leaf_parent_hash = set_path_parent_hashes(
        base, path, [n.encryption_key for n in update_path.nodes]
    )
    if update_path.leaf_node.parent_hash != leaf_parent_hash:
        raise PathParentHashError("the path leaf's parent_hash does not match (RFC 9420 §7.9.2)")
    new_tree[tree_math.leaf_to_node(sender)] = Node(leaf=update_path.leaf_node)
    return new_tree


def _leaf_key(tree: Sequence[Node | None], leaf: int) -> bytes | None:
    node = node_at(tree, tree_math.leaf_to_node(leaf))
    return node.leaf.encryption_key if node is not None and node.leaf is not None else None


def decrypt_update_path(
    new_tree: Sequence[Node | None],
    sender: int,
    receiver: int,
    update_path: UpdatePath,
    private_keys: Mapping[int, bytes],
    context: bytes,
    excluded_leaves: Sequence[int] = (),
) -> tuple[bytes, PrivateKeys, bytes]:
    """Decrypt the path secret meant for ``receiver`` (§7.6).

    ``new_tree`` is the tree after :func:`merge_update_path` (filtered direct
    paths are the same before and after the merge). Returns the decrypted
    path secret, the receiver's updated private keys and the commit secret.
    """
    path = filtered_direct_path(new_tree, sender)
    receiver_node = tree_math.leaf_to_node(receiver)
    excluded = {tree_math.leaf_to_node(i) for i in excluded_leaves}
    for k, (_p, c) in enumerate(path):
        if not tree_math.is_descendant(receiver_node, c):
            continue
        targets = [r for r in resolution(new_tree, c) if r not in excluded]
        cts = update_path.nodes[k].encrypted_path_secret
        if len(cts) != len(targets):
            raise PathLengthError(
                f"{len(cts)} ciphertexts for a resolution of {len(targets)} (RFC 9420 §7.6)"
            )
        for r, ct in zip(targets, cts, strict=True):
            priv = private_keys.get(r)
            if priv is None:
                continue
            try:
                secret = decrypt_with_label(
                    priv, "UpdatePathNode", context, ct.kem_output, ct.ciphertext
                )
            except DecryptionError as exc:
                raise PathDecryptError(f"path secret for node {r} does not decrypt") from exc
            first = secret
            keys = dict(private_keys)
            for j in range(k, len(path)):
                priv_j, pub_j = derive_key_pair(derive_secret(secret, "node"))
                if pub_j != update_path.nodes[j].encryption_key:
                    raise PathSecretMismatchError(
                        f"path secret does not derive node {path[j][0]}'s key (RFC 9420 §7.5)"
                    )
                keys[path[j][0]] = priv_j
                secret = derive_secret(secret, "path")
            return first, prune_private_keys(new_tree, keys), secret
        raise PathDecryptError(f"no private key for the resolution of node {c}")
    raise PathDecryptError(f"leaf {receiver} is not under the sender's filtered direct path")


def prune_private_keys(tree: Sequence[Node | None], keys: Mapping[int, bytes]) -> PrivateKeys:
    """Keep only private keys whose node is present with the matching public key."""
    out: PrivateKeys = {}
    for x, priv in keys.items():
        node = node_at(tree, x)
        if node is not None and encryption_key(node) == hpke_public_key(priv):
            out[x] = priv
    return out


def path_secret_for(
    sender: int, joiner: int, tree: Sequence[Node | None], path_secrets: Mapping[int, bytes]
) -> bytes | None:
    """The path secret of the lowest common ancestor of sender and joiner (§12.4.3.1)."""
    ancestor = tree_math.common_ancestor(
        tree_math.leaf_to_node(sender), tree_math.leaf_to_node(joiner)
    )
    return path_secrets.get(ancestor)


def keys_from_path_secret(
    tree: Sequence[Node | None], committer: int, start_node: int, path_secret: bytes
) -> PrivateKeys:
    """Derive private keys from ``start_node`` up the committer's filtered path (§12.4.3.1)."""
    out: PrivateKeys = {}
    started = False
    secret = path_secret
    for p, _c in filtered_direct_path(tree, committer):
        if p == start_node:
            started = True
        if started:
            out[p] = derive_key_pair(derive_secret(secret, "node"))[0]
            secret = derive_secret(secret, "path")
    return prune_private_keys(tree, out)
