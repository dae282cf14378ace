"""``tree-validation.json``: resolutions, tree hashes, parent hashes and leaf signatures.

RFC 9420 §4.1.1, §7.8, §7.9.2 and §7.2: every node's resolution and tree hash
must match, and the whole tree must pass the joiner's checks (§12.4.3.1) with
the vector's ``group_id``.
"""

from __future__ import annotations

from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_validation import validate_tree
from hearth_mls.vectors import Entry


def check(entry: Entry) -> None:
    tree = RatchetTree.from_bytes(bytes.fromhex(entry["tree"]))
    resolutions = entry["resolutions"]
    hashes = entry["tree_hashes"]
    if len(resolutions) != tree.width or len(hashes) != tree.width:
        raise AssertionError(f"vector covers {len(resolutions)} nodes, tree has {tree.width}")
    computed = tree.tree_hashes()
    for x in range(tree.width):
        if tree.resolution(x) != resolutions[x]:
            raise AssertionError(f"resolution of node {x}: {tree.resolution(x)}")
        if computed[x].hex() != hashes[x]:
            raise AssertionError(f"tree hash of node {x} differs")
        if tree.subtree_hash(x) != computed[x]:
            raise AssertionError(f"recursive and bottom-up tree hashes of node {x} differ")
    validate_tree(tree, bytes.fromhex(entry["group_id"]), tree_hash=computed[tree.root])
