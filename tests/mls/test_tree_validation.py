"""Leaf node validation (RFC 9420 §7.3) and tree validation on joining (§7.9.2, §12.4.3.1).

Valid trees come from ``tree-validation.json``; each negative test breaks one
rule and expects that rule's own error.
"""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hearth_mls.credential import Credential
from hearth_mls.errors import (
    CredentialUnsupportedError,
    DuplicateLeafKeyError,
    DuplicateParentKeyError,
    GroupExtensionUnsupportedError,
    LeafExtensionUnsupportedError,
    LeafLifetimeError,
    LeafNodeError,
    LeafSignatureError,
    LeafSourceError,
    ParentHashError,
    RequiredCapabilityError,
    TreeHashMismatchError,
    TreeValidationError,
    UnmergedLeafError,
    UpdateKeyUnchangedError,
)
from hearth_mls.extension_payloads import RequiredCapabilities
from hearth_mls.extensions import Extension
from hearth_mls.leaf_node import Capabilities, LeafNodeSource, Lifetime
from hearth_mls.ratchet_tree import RatchetTree
from hearth_mls.tree_validation import (
    parent_hash_links,
    validate_leaf_node,
    validate_tree,
    verify_leaf_signature,
)
from tests.conftest import VECTORS
from tests.mls import samples


def _vector(index: int) -> tuple[RatchetTree, bytes]:
    entry = json.loads((VECTORS / "tree-validation.json").read_text())[index]
    return RatchetTree.from_bytes(bytes.fromhex(entry["tree"])), bytes.fromhex(entry["group_id"])


def _set_parent(tree: RatchetTree, x: int, **changes: object) -> None:
    node = tree.parent(x)
    assert node is not None
    tree.set_parent(x, replace(node, **changes))  # type: ignore[arg-type]


# -- whole trees (§12.4.3.1) ----------------------------------------------------------


@pytest.mark.parametrize("index", [0, 4, 8, 12, 13])
def test_vector_trees_are_valid(index: int) -> None:
    tree, group_id = _vector(index)
    validate_tree(tree, group_id, tree_hash=tree.tree_hash())


def test_every_parent_has_exactly_one_link() -> None:
    tree, _ = _vector(13)
    for p, _node in tree.parents():
        assert len(parent_hash_links(tree, p)) == 1


def test_tampered_parent_hash_rejected() -> None:
    tree, group_id = _vector(2)
    _set_parent(tree, 3, parent_hash=b"\x00" * 32)
    with pytest.raises(ParentHashError, match="node 3"):
        validate_tree(tree, group_id)


def test_replaced_parent_key_breaks_parent_hash() -> None:
    tree, group_id = _vector(2)
    _set_parent(tree, 7, encryption_key=b"\x01" * 32)
    with pytest.raises(ParentHashError):
        validate_tree(tree, group_id)


def test_parent_key_duplicating_another_node_rejected() -> None:
    tree, group_id = _vector(2)
    leaf = tree.leaf(0)
    assert leaf is not None
    _set_parent(tree, 5, encryption_key=leaf.encryption_key)
    with pytest.raises(DuplicateParentKeyError, match="node 5"):
        validate_tree(tree, group_id)


def test_unmerged_leaf_missing_in_between_rejected() -> None:
    tree, group_id = _vector(13)  # leaf 5 is unmerged at nodes 11 and 7
    _set_parent(tree, 11, unmerged_leaves=())
    with pytest.raises(UnmergedLeafError, match="node 11 lies between leaf 5 and node 7"):
        validate_tree(tree, group_id)


def test_unmerged_leaf_that_is_blank_rejected() -> None:
    tree, group_id = _vector(13)
    blank = next(i for i in range(tree.n_leaves) if tree.leaf(i) is None)
    node = tree.parent(7)
    assert node is not None
    _set_parent(tree, 7, unmerged_leaves=(*node.unmerged_leaves, blank))
    with pytest.raises(UnmergedLeafError, match="is blank"):
        validate_tree(tree, group_id)


def test_unmerged_leaf_outside_subtree_rejected() -> None:
    tree, group_id = _vector(13)
    _set_parent(tree, 11, unmerged_leaves=(5, 0))
    with pytest.raises(UnmergedLeafError, match="not its descendant"):
        validate_tree(tree, group_id)


def test_extra_unmerged_leaf_breaks_parent_hash() -> None:
    tree, group_id = _vector(2)  # full tree: the root over leaves 0..7
    _set_parent(tree, 1, unmerged_leaves=(1,))
    with pytest.raises(ParentHashError):
        validate_tree(tree, group_id)


def test_tampered_leaf_signature_rejected() -> None:
    tree, group_id = _vector(1)
    leaf = tree.leaf(2)
    assert leaf is not None
    tree.set_leaf(2, leaf.with_signature(bytes(64)))
    with pytest.raises(LeafSignatureError, match="leaf 2"):
        validate_tree(tree, group_id)


def test_wrong_group_id_breaks_commit_leaf_signatures() -> None:
    tree, _ = _vector(1)
    with pytest.raises(LeafSignatureError):
        validate_tree(tree, b"another group")


def test_duplicate_leaf_encryption_key_rejected() -> None:
    tree, group_id = _vector(1)
    first = tree.leaf(0)
    second = tree.leaf(1)
    assert first is not None
    assert second is not None
    tree.set_leaf(1, replace(second, encryption_key=first.encryption_key))
    with pytest.raises(DuplicateLeafKeyError, match="leaves 0 and 1 share their encryption key"):
        validate_tree(tree, group_id)


def test_tree_hash_mismatch_rejected() -> None:
    tree, group_id = _vector(0)
    with pytest.raises(TreeHashMismatchError):
        validate_tree(tree, group_id, tree_hash=b"\x00" * 32)


def test_required_capability_missing_rejected() -> None:
    tree, group_id = _vector(0)
    required = RequiredCapabilities(extension_types=(0xFF00,))
    with pytest.raises(RequiredCapabilityError, match="extension \\[65280\\]"):
        validate_tree(tree, group_id, required=required)
    # Default extension types need not be listed (RFC 9420 §11.1).
    validate_tree(tree, group_id, required=RequiredCapabilities(extension_types=(2, 5)))


def test_expired_leaf_rejected_when_time_given() -> None:
    tree, group_id = _vector(0)
    leaf = next(leaf for _, leaf in tree.occupied_leaves() if leaf.lifetime is not None)
    assert leaf.lifetime is not None
    with pytest.raises(LeafLifetimeError):
        validate_tree(tree, group_id, now=leaf.lifetime.not_after + 1)


def test_error_families() -> None:
    assert issubclass(ParentHashError, TreeValidationError)
    assert issubclass(LeafSignatureError, LeafNodeError)


# -- single leaf nodes (§7.3) -------------------------------------------------------------


def _member_tree() -> RatchetTree:
    tree = RatchetTree.with_leaf(samples.signed_leaf())
    tree.add_leaf(samples.signed_leaf())
    return tree


def test_valid_key_package_leaf() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf()
    validate_leaf_node(leaf, tree, b"group", 2, expected_source=LeafNodeSource.KEY_PACKAGE, now=5)


def test_update_leaf_signed_for_its_index() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf(LeafNodeSource.UPDATE, leaf_index=1)
    validate_leaf_node(leaf, tree, b"group", 1, expected_source=LeafNodeSource.UPDATE, replaces=1)
    with pytest.raises(LeafSignatureError):
        verify_leaf_signature(leaf, b"group", 0)
    with pytest.raises(LeafSignatureError):
        verify_leaf_signature(leaf, b"other", 1)


def test_wrong_source_rejected() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf()
    with pytest.raises(LeafSourceError, match="expected commit"):
        validate_leaf_node(leaf, tree, b"group", 2, expected_source=LeafNodeSource.COMMIT)


def test_update_keeping_encryption_key_rejected() -> None:
    tree = _member_tree()
    old = tree.leaf(1)
    assert old is not None
    leaf = samples.signed_leaf(
        LeafNodeSource.UPDATE, leaf_index=1, encryption_key=old.encryption_key
    )
    with pytest.raises(UpdateKeyUnchangedError):
        validate_leaf_node(
            leaf, tree, b"group", 1, expected_source=LeafNodeSource.UPDATE, replaces=1
        )


def test_duplicate_encryption_key_with_member_rejected() -> None:
    tree = _member_tree()
    member = tree.leaf(0)
    assert member is not None
    leaf = samples.signed_leaf(encryption_key=member.encryption_key)
    with pytest.raises(DuplicateLeafKeyError, match="encryption key"):
        validate_leaf_node(leaf, tree, b"group", 2)


def test_unlisted_extension_rejected() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf(extensions=(Extension(0xFF00, b"x"),))
    with pytest.raises(LeafExtensionUnsupportedError, match="65280"):
        validate_leaf_node(leaf, tree, b"group", 2)
    listed = samples.signed_leaf(
        extensions=(Extension(0xFF00, b"x"), Extension(1, b"app")),
        capabilities=Capabilities((1,), (1,), (0xFF00,), (), (1,)),
    )
    validate_leaf_node(listed, tree, b"group", 2)


def test_credential_type_not_supported_by_members_rejected() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf(
        credential=Credential.x509([b"der"]),
        capabilities=Capabilities((1,), (1,), (), (), (1, 2)),
    )
    with pytest.raises(CredentialUnsupportedError, match="not supported by every member"):
        validate_leaf_node(leaf, tree, b"group", 2)


def test_leaf_not_supporting_members_credential_rejected() -> None:
    leaf = samples.signed_leaf(
        credential=Credential.x509([b"der"]),
        capabilities=Capabilities((1,), (1,), (), (), (2,)),
    )
    tree = RatchetTree.with_leaf(
        samples.signed_leaf(
            credential=Credential.x509([b"d"]),
            capabilities=Capabilities((1,), (1,), (), (), (1, 2)),
        )
    )
    tree.add_leaf(samples.signed_leaf(capabilities=Capabilities((1,), (1,), (), (), (1, 2))))
    with pytest.raises(CredentialUnsupportedError, match="does not support credential type 1"):
        validate_leaf_node(leaf, tree, b"group", 2)


def test_own_credential_type_must_be_listed() -> None:
    tree = RatchetTree.with_leaf(samples.signed_leaf())
    leaf = samples.signed_leaf(capabilities=Capabilities((1,), (1,), (), (), (2,)))
    with pytest.raises(CredentialUnsupportedError):
        validate_leaf_node(leaf, tree, b"group", 1)


def test_lifetime_checked_when_time_given() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf(lifetime=Lifetime(100, 200))
    validate_leaf_node(leaf, tree, b"group", 2, now=150)
    with pytest.raises(LeafLifetimeError):
        validate_leaf_node(leaf, tree, b"group", 2, now=201)
    with pytest.raises(LeafLifetimeError):
        validate_leaf_node(leaf, tree, b"group", 2, now=99)


def test_required_capabilities_on_a_new_leaf() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf()
    with pytest.raises(RequiredCapabilityError, match="proposal \\[9\\]"):
        validate_leaf_node(
            leaf, tree, b"group", 2, required=RequiredCapabilities(proposal_types=(9,))
        )
    with pytest.raises(RequiredCapabilityError, match="credential \\[2\\]"):
        validate_leaf_node(
            leaf, tree, b"group", 2, required=RequiredCapabilities(credential_types=(2,))
        )


def test_group_extension_not_supported_rejected() -> None:
    tree = _member_tree()
    leaf = samples.signed_leaf()
    roles = (Extension(0xFF00, b"roles"), Extension(5, b"\x00"))
    with pytest.raises(GroupExtensionUnsupportedError, match="65280"):
        validate_leaf_node(leaf, tree, b"group", 2, group_extensions=roles)
    supporting = samples.signed_leaf(capabilities=Capabilities((1,), (1,), (0xFF00,), (), (1,)))
    validate_leaf_node(supporting, tree, b"group", 2, group_extensions=roles)
    vector_tree, group_id = _vector(0)
    with pytest.raises(GroupExtensionUnsupportedError):
        validate_tree(vector_tree, group_id, group_extensions=roles)
