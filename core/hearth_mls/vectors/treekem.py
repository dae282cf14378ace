"""``treekem.json``: UpdatePath create, merge and decrypt (RFC 9420 §7.4-§7.6, §7.9).

Follows the verification steps of test-vectors.md "TreeKEM": private state per
leaf, each given UpdatePath merged (parent-hash checked) and decrypted by every
other member, then a fresh UpdatePath from the same sender decrypted by all.
"""

from __future__ import annotations

from typing import Any

from hearth_mls import tree_math, treekem
from hearth_mls.commit import UpdatePath
from hearth_mls.extensions import GroupContext
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.suite import derive_hpke_key_pair, derive_secret, hpke_public_key


def _context(entry: dict[str, Any]) -> treekem.ContextFor:
    def make(tree_hash: bytes) -> bytes:
        return GroupContext(
            group_id=bytes.fromhex(entry["group_id"]),
            epoch=entry["epoch"],
            tree_hash=tree_hash,
            confirmed_transcript_hash=bytes.fromhex(entry["confirmed_transcript_hash"]),
            cipher_suite=entry["cipher_suite"],
        ).to_bytes()

    return make


def check(entry: dict[str, Any]) -> None:
    tree = RatchetTree.from_bytes(bytes.fromhex(entry["ratchet_tree"]))
    context_for = _context(entry)
    privates: dict[int, treekem.PrivateKeys] = {}
    signature_privs: dict[int, bytes] = {}
    for leaf in entry["leaves_private"]:
        index = leaf["index"]
        keys = {tree_math.leaf_to_node(index): bytes.fromhex(leaf["encryption_priv"])}
        for ps in leaf["path_secrets"]:
            secret = bytes.fromhex(ps["path_secret"])
            keys[ps["node"]] = derive_hpke_key_pair(derive_secret(secret, "node"))[0]
        for x, priv in keys.items():
            node = tree.node(x)
            assert node is not None, f"private key for blank node {x}"
            assert node.encryption_key == hpke_public_key(priv), f"node {x} key"
        privates[index] = keys
        signature_privs[index] = bytes.fromhex(leaf["signature_priv"])

    for up in entry["update_paths"]:
        sender = up["sender"]
        path = UpdatePath.from_bytes(bytes.fromhex(up["update_path"]))
        merged = treekem.merge_update_path(tree, sender, path)
        context = context_for(merged.tree_hash())
        expected_commit = bytes.fromhex(up["commit_secret"])
        for j, keys in privates.items():
            if j == sender:
                continue
            secret, _, commit_secret = treekem.decrypt_update_path(
                merged, sender, j, path, keys, context
            )
            assert secret.hex() == up["path_secrets"][j], f"path secret for leaf {j}"
            assert commit_secret == expected_commit, f"commit secret at leaf {j}"
        assert merged.tree_hash().hex() == up["tree_hash_after"], "tree_hash_after"

        # A fresh UpdatePath from the same sender must decrypt for everyone.
        leaf_node = tree.leaf(sender)
        assert leaf_node is not None
        new_path, result = treekem.create_update_path(
            tree,
            sender,
            leaf_node,
            signature_privs[sender],
            bytes.fromhex(entry["group_id"]),
            context_for,
        )
        merged2 = treekem.merge_update_path(tree, sender, new_path)
        assert merged2.tree_hash() == result.tree.tree_hash()
        context2 = context_for(merged2.tree_hash())
        for j, keys in privates.items():
            if j == sender:
                continue
            _, _, commit_secret = treekem.decrypt_update_path(
                merged2, sender, j, new_path, keys, context2
            )
            assert commit_secret == result.commit_secret, f"new commit secret at leaf {j}"
