"""TreeKEM: creating, merging and decrypting UpdatePaths (RFC 9420 §7.4-§7.6, §7.9).

The tree is a :class:`~hearth_mls.ratchet_tree.RatchetTree`, which owns the
tree shape, resolutions, filtered direct paths (§4.1) and the tree and parent
hashes (§7.8, §7.9). Functions here never mutate their input: they work on a
:meth:`~hearth_mls.ratchet_tree.RatchetTree.copy`, so a caller that rejects a
commit keeps its old tree.

A member's private view of the tree is a :data:`PrivateKeys` mapping from node
index to HPKE private key; :func:`prune_private_keys` drops every entry the
public tree no longer backs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from hearth_mls import tree_math
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
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.suite import (
    decrypt_with_label,
    derive_secret,
    encrypt_with_label,
    hpke_public_key,
)
from hearth_mls.suite import derive_hpke_key_pair as derive_key_pair

PrivateKeys = dict[int, bytes]
#: Builds the provisional GroupContext encoding from the new tree hash (§12.4.1).
ContextFor = Callable[[bytes], bytes]

KDF_NH = 32


# --- Creating an UpdatePath (§7.4, §7.5, §7.6) -------------------------------------


@dataclass(frozen=True, slots=True)
class PathResult:
    """What creating or applying an UpdatePath yields."""

    tree: RatchetTree
    private_keys: PrivateKeys
    commit_secret: bytes
    #: path_secret for each node of the sender's filtered direct path (creator only).
    path_secrets: dict[int, bytes]


def create_update_path(
    tree: RatchetTree,
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
    new_tree = tree.copy()
    path = new_tree.filtered_path(leaf)
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
    leaf_parent_hash = new_tree.merge_path_keys(leaf, keys)
    new_leaf = replace(
        leaf_template,
        encryption_key=leaf_pub,
        leaf_node_source=LeafNodeSource.COMMIT,
        lifetime=None,
        parent_hash=leaf_parent_hash,
        signature=b"",
    )
    new_leaf = new_leaf.signed(signature_priv, group_id, leaf)
    new_tree.set_leaf(leaf, new_leaf)
    context = context_for(new_tree.tree_hash())
    excluded = {tree_math.leaf_to_node(i) for i in excluded_leaves}
    nodes: list[UpdatePathNode] = []
    for (_p, c), secret_k, key in zip(path, secrets, keys, strict=True):
        cts = []
        for r in new_tree.resolution(c):
            if r in excluded:
                continue
            target = new_tree.node(r)
            assert target is not None
            kem_output, ct = encrypt_with_label(
                target.encryption_key, "UpdatePathNode", context, secret_k
            )
            cts.append(HPKECiphertext(kem_output=kem_output, ciphertext=ct))
        nodes.append(UpdatePathNode(encryption_key=key, encrypted_path_secret=tuple(cts)))
    update_path = UpdatePath(leaf_node=new_leaf, nodes=tuple(nodes))
    path_secrets = {p: s for (p, _c), s in zip(path, secrets, strict=True)}
    return update_path, PathResult(new_tree, privs, commit_secret, path_secrets)


# --- Applying an UpdatePath (§7.5, §7.6, §12.4.2) -----------------------------------


def merge_update_path(tree: RatchetTree, sender: int, update_path: UpdatePath) -> RatchetTree:
    """Merge ``update_path`` into a copy of ``tree`` and check its parent hash (§7.5, §7.9).

    Raises :class:`PathLengthError` when the path does not fit the sender's
    filtered direct path, :class:`DuplicatePathKeyError` when one of its keys is
    already in the tree and :class:`PathParentHashError` when the leaf's
    ``parent_hash`` is not the merged path's.
    """
    new_tree = tree.copy()
    path = new_tree.filtered_path(sender)
    if len(path) != len(update_path.nodes):
        raise PathLengthError(
            f"UpdatePath has {len(update_path.nodes)} nodes, the sender's filtered direct "
            f"path has {len(path)} (RFC 9420 §7.6)"
        )
    # Keys the path replaces (the sender's leaf and direct path) may reappear.
    new_tree.blank_direct_path(sender)
    present = {node.encryption_key for x in range(new_tree.width) if (node := new_tree.node(x))}
    old_leaf = tree.leaf(sender)
    if old_leaf is not None:
        present.discard(old_leaf.encryption_key)
    new_keys = [update_path.leaf_node.encryption_key] + [
        n.encryption_key for n in update_path.nodes
    ]
    if len(set(new_keys)) != len(new_keys) or present.intersection(new_keys):
        raise DuplicatePathKeyError("an UpdatePath public key already appears in the tree")
    leaf_parent_hash = new_tree.merge_path_keys(
        sender, [n.encryption_key for n in update_path.nodes]
    )
    if update_path.leaf_node.parent_hash != leaf_parent_hash:
        raise PathParentHashError("the path leaf's parent_hash does not match (RFC 9420 §7.9.2)")
    new_tree.set_leaf(sender, update_path.leaf_node)
    return new_tree


def decrypt_update_path(
    new_tree: RatchetTree,
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
    path = new_tree.filtered_path(sender)
    receiver_node = tree_math.leaf_to_node(receiver)
    excluded = {tree_math.leaf_to_node(i) for i in excluded_leaves}
    for k, (_p, c) in enumerate(path):
        if not tree_math.is_descendant(receiver_node, c):
            continue
        targets = [r for r in new_tree.resolution(c) if r not in excluded]
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


def prune_private_keys(tree: RatchetTree, keys: Mapping[int, bytes]) -> PrivateKeys:
    """Keep only private keys whose node is present with the matching public key."""
    out: PrivateKeys = {}
    for x, priv in keys.items():
        node = tree.node(x) if x < tree.width else None
        if node is not None and node.encryption_key == hpke_public_key(priv):
            out[x] = priv
    return out


def path_secret_for(sender: int, joiner: int, path_secrets: Mapping[int, bytes]) -> bytes | None:
    """The path secret of the lowest common ancestor of sender and joiner (§12.4.3.1)."""
    ancestor = tree_math.common_ancestor(
        tree_math.leaf_to_node(sender), tree_math.leaf_to_node(joiner)
    )
    return path_secrets.get(ancestor)


def keys_from_path_secret(
    tree: RatchetTree, committer: int, start_node: int, path_secret: bytes
) -> PrivateKeys:
    """Derive private keys from ``start_node`` up the committer's filtered path (§12.4.3.1)."""
    out: PrivateKeys = {}
    started = False
    secret = path_secret
    for p in tree.filtered_direct_path(committer):
        if p == start_node:
            started = True
        if started:
            out[p] = derive_key_pair(derive_secret(secret, "node"))[0]
            secret = derive_secret(secret, "path")
    return prune_private_keys(tree, out)
