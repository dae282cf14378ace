"""``tree-operations.json``: Add, Update and Remove applied to a ratchet tree.

RFC 9420 §12.1.1-§12.1.3 and §7.7: check ``tree_hash_before``, apply the
proposal from ``proposal_sender``, and compare the resulting tree's encoding
and tree hash (§7.8).
"""

from __future__ import annotations

from hearth_mls.proposals import Add, Remove, Update, proposal_from_bytes
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.vectors import Entry


def check(entry: Entry) -> None:
    tree = RatchetTree.from_bytes(bytes.fromhex(entry["tree_before"]))
    if tree.tree_hash().hex() != entry["tree_hash_before"]:
        raise AssertionError("tree_hash_before differs")
    proposal = proposal_from_bytes(bytes.fromhex(entry["proposal"]))
    sender = int(entry["proposal_sender"])
    if isinstance(proposal, Add):
        tree.add_leaf(proposal.key_package.leaf_node)
    elif isinstance(proposal, Update):
        tree.update_leaf(sender, proposal.leaf_node)
    elif isinstance(proposal, Remove):
        tree.remove_leaf(proposal.removed)
    else:
        raise AssertionError(f"unexpected proposal {type(proposal).__name__}")
    if tree.to_bytes().hex() != entry["tree_after"]:
        raise AssertionError("tree_after differs")
    if tree.tree_hash().hex() != entry["tree_hash_after"]:
        raise AssertionError("tree_hash_after differs")
