"""``passive-client-*.json``: join from a Welcome and follow the group's commits.

test-vectors.md "Passive Client Scenarios": join with the given KeyPackage
secrets, tree and external PSKs (RFC 9420 §12.4.3.1), check the epoch
authenticator, then for every epoch cache the proposals and apply the commit
(§12.4.2) and check the new epoch authenticator.
"""

from __future__ import annotations

from typing import Any

from hearth_mls import suite
from hearth_mls.group import Group
from hearth_mls.join import KeyPackageSecrets
from hearth_mls.key_package import KeyPackage
from hearth_mls.mls_message import MLSMessage
from hearth_mls.welcome_structs import Welcome


def _key_package(data: bytes) -> KeyPackage:
    message = MLSMessage.from_bytes(data)
    if not isinstance(message.body, KeyPackage):
        raise AssertionError("key_package is not an MLSMessage(KeyPackage)")
    return message.body


def check(entry: dict[str, Any]) -> None:
    kp = _key_package(bytes.fromhex(entry["key_package"]))
    secrets = KeyPackageSecrets(
        kp,
        init_priv=bytes.fromhex(entry["init_priv"]),
        encryption_priv=bytes.fromhex(entry["encryption_priv"]),
        signature_priv=bytes.fromhex(entry["signature_priv"]),
    )
    if suite.hpke_public_key(secrets.init_priv) != kp.init_key:
        raise AssertionError("init_priv does not match the KeyPackage")
    if suite.hpke_public_key(secrets.encryption_priv) != kp.leaf_node.encryption_key:
        raise AssertionError("encryption_priv does not match the KeyPackage")
    if suite.signature_public_key(secrets.signature_priv) != kp.leaf_node.signature_key:
        raise AssertionError("signature_priv does not match the KeyPackage")
    welcome = MLSMessage.from_bytes(bytes.fromhex(entry["welcome"])).body
    if not isinstance(welcome, Welcome):
        raise AssertionError("welcome is not an MLSMessage(Welcome)")
    tree = entry.get("ratchet_tree")
    psks = [(bytes.fromhex(p["psk_id"]), bytes.fromhex(p["psk"])) for p in entry["external_psks"]]
    group = Group.join(
        welcome,
        secrets,
        ratchet_tree=bytes.fromhex(tree) if tree else None,
        external_psks=psks,
    )
    if group.epoch_authenticator.hex() != entry["initial_epoch_authenticator"]:
        raise AssertionError("initial epoch authenticator differs")
    for number, epoch in enumerate(entry["epochs"]):
        for proposal in epoch["proposals"]:
            group.process(MLSMessage.from_bytes(bytes.fromhex(proposal)))
        group.process(MLSMessage.from_bytes(bytes.fromhex(epoch["commit"])))
        if group.epoch_authenticator.hex() != epoch["epoch_authenticator"]:
            raise AssertionError(f"epoch {number}: epoch authenticator differs")
