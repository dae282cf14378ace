"""Checker for ``message-protection.json`` (RFC 9420 §6.2, §6.3).

For each of the proposal, the commit and the application data: the vector's
PublicMessage verifies and yields the raw value; our own PublicMessage of it
verifies (and protecting application data as a PublicMessage is refused); the
vector's PrivateMessage unprotects with a fresh two-leaf secret tree; our own
PrivateMessage, made with another fresh tree, unprotects with a third.
"""

from __future__ import annotations

from hearth_mls.commit import Commit
from hearth_mls.errors import UsageError
from hearth_mls.extensions import GroupContext
from hearth_mls.framing import (
    AuthenticatedContent,
    Content,
    FramedContent,
    PrivateMessage,
    PublicMessage,
    Sender,
)
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import proposal_from_bytes, proposal_to_bytes
from hearth_mls.protection import Protector
from hearth_mls.secret_tree import SecretTree
from hearth_mls.vectors import Entry

_SENDER = Sender.member(1)


def _raw(content: Content) -> bytes:
    if isinstance(content, bytes):
        return content
    if isinstance(content, Commit):
        return content.to_bytes()
    return proposal_to_bytes(content)


def _public(data: bytes) -> PublicMessage:
    body = MLSMessage.from_bytes(data).body
    if not isinstance(body, PublicMessage):
        raise AssertionError("expected a PublicMessage")
    return body


def _private(data: bytes) -> PrivateMessage:
    body = MLSMessage.from_bytes(data).body
    if not isinstance(body, PrivateMessage):
        raise AssertionError("expected a PrivateMessage")
    return body


def check(entry: Entry) -> None:
    context = GroupContext(
        group_id=bytes.fromhex(entry["group_id"]),
        epoch=entry["epoch"],
        tree_hash=bytes.fromhex(entry["tree_hash"]),
        confirmed_transcript_hash=bytes.fromhex(entry["confirmed_transcript_hash"]),
        cipher_suite=entry["cipher_suite"],
    )
    encryption_secret = bytes.fromhex(entry["encryption_secret"])
    signature_priv = bytes.fromhex(entry["signature_priv"])
    signature_pub = bytes.fromhex(entry["signature_pub"])

    def protector() -> Protector:
        return Protector(
            context,
            SecretTree(encryption_secret, 2),
            bytes.fromhex(entry["sender_data_secret"]),
            bytes.fromhex(entry["membership_key"]),
        )

    def signer(sender: Sender) -> bytes:
        if sender != _SENDER:
            raise AssertionError(f"unexpected sender {sender}")
        return signature_pub

    values: dict[str, Content] = {
        "proposal": proposal_from_bytes(bytes.fromhex(entry["proposal"])),
        "commit": Commit.from_bytes(bytes.fromhex(entry["commit"])),
        "application": bytes.fromhex(entry["application"]),
    }
    for name, value in values.items():
        raw = entry[name]
        tag: bytes | None = None
        if name != "application":
            got = protector().unprotect_public(_public(bytes.fromhex(entry[f"{name}_pub"])), signer)
            _expect_content(f"{name}_pub", got, raw)
            tag = got.auth.confirmation_tag
        content = FramedContent(context.group_id, context.epoch, _SENDER, value)
        if name == "application":
            try:
                protector().protect_public(content, signature_priv)
            except UsageError:
                pass
            else:
                raise AssertionError("application data was protected as a PublicMessage")
        else:
            ours = protector().protect_public(content, signature_priv, tag)
            ours = PublicMessage.from_bytes(ours.to_bytes())
            _expect_content(f"{name} own public", protector().unprotect_public(ours, signer), raw)

        got = protector().unprotect_private(_private(bytes.fromhex(entry[f"{name}_priv"])), signer)
        _expect_content(f"{name}_priv", got, raw)
        if name == "commit":
            tag = got.auth.confirmation_tag
        sealed = protector().protect_private(content, signature_priv, tag)
        sealed = PrivateMessage.from_bytes(sealed.to_bytes())
        _expect_content(f"{name} own private", protector().unprotect_private(sealed, signer), raw)


def _expect_content(name: str, got: AuthenticatedContent, raw_hex: str) -> None:
    if got.content.sender != _SENDER:
        raise AssertionError(f"{name}: sender {got.content.sender}")
    if _raw(got.content.content).hex() != raw_hex:
        raise AssertionError(f"{name}: content differs")
