"""Delivery Service checks on MLS objects, with no I/O (protocol.md §12).

The server calls these before storing anything; each failure is a
:class:`~hearth_core.errors.FrameError` with the stable code protocol.md §5.6
names, so a refused object changes nothing. Group-level checks (signatures
against the public tree, the proposal rules) are in
:class:`hearth_core.public_group.PublicGroup`, the authority rule in
:mod:`hearth_core.room_roles`; this module holds what neither covers:
KeyPackage upload checks (RFC 9420 §10.1), Welcome addressing (§12.4.3.1),
GroupInfo consistency with the epoch a commit creates (§12.4.3), and the
identities a commit adds and removes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from hearth_core.errors import ErrorCode, FrameError
from hearth_core.public_group import PublicGroup
from hearth_core.room_roles import ROOM_ROLES
from hearth_mls import suite
from hearth_mls.commit import Commit
from hearth_mls.credential import CredentialType
from hearth_mls.errors import MLSError
from hearth_mls.extensions import CIPHERSUITE_1, MLS10
from hearth_mls.framing import ContentType, PrivateMessage, PublicMessage, SenderType
from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import LeafNodeSource
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Remove
from hearth_mls.welcome_structs import Welcome


def decode_mls(data: bytes, what: str, field: str | None = None) -> MLSMessage:
    """An MLSMessage (RFC 9420 §6), or ``mls_invalid``."""
    try:
        return MLSMessage.from_bytes(data)
    except MLSError as exc:
        raise FrameError(
            ErrorCode.MLS_INVALID, f"{what}: not an MLSMessage ({exc})", field
        ) from exc


# --- KeyPackages (protocol.md §12.1) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class CheckedKeyPackage:
    """An uploaded KeyPackage that passed every check, with its KeyPackageRef (§5.2)."""

    ref: bytes
    data: bytes
    identity: bytes
    not_after_s: int


def check_key_package(
    data: bytes, identity: bytes, now_s: int, field: str | None = None
) -> CheckedKeyPackage:
    """protocol.md §12.1 steps 1-5 for one MLSMessage KeyPackage (RFC 9420 §10.1, §7.3)."""

    def fail(code: ErrorCode, message: str) -> FrameError:
        return FrameError(code, message, field)

    try:
        message = MLSMessage.from_bytes(data)
    except MLSError as exc:
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, f"not an MLSMessage: {exc}") from exc
    kp = message.body
    if not isinstance(kp, KeyPackage):
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, f"a {message.wire_format.name}, not a KeyPackage")
    if kp.version != MLS10 or kp.cipher_suite != CIPHERSUITE_1:
        raise fail(
            ErrorCode.UNSUPPORTED_SUITE,
            f"cipher suite {kp.cipher_suite} (version {kp.version}); only suite 1 is accepted",
        )
    leaf = kp.leaf_node
    try:
        suite.verify_with_label(
            leaf.signature_key, "KeyPackageTBS", kp.to_be_signed(), kp.signature
        )
        suite.verify_with_label(
            leaf.signature_key, "LeafNodeTBS", leaf.to_be_signed(), leaf.signature
        )
    except MLSError as exc:
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, "a signature does not verify (§10.1)") from exc
    if leaf.leaf_node_source is not LeafNodeSource.KEY_PACKAGE or leaf.lifetime is None:
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, "the leaf node's source is not key_package")
    if kp.init_key == leaf.encryption_key:
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, "init_key equals the leaf encryption_key")
    caps = leaf.capabilities
    if CIPHERSUITE_1 not in caps.cipher_suites or ROOM_ROLES not in caps.extensions:
        raise fail(ErrorCode.KEY_PACKAGE_INVALID, "capabilities lack suite 1 or room_roles")
    if not leaf.lifetime.not_before <= now_s <= leaf.lifetime.not_after:
        raise fail(ErrorCode.KEY_PACKAGE_EXPIRED, "the lifetime does not include the current time")
    credential = leaf.credential
    if credential.credential_type is not CredentialType.BASIC or credential.identity != identity:
        raise fail(
            ErrorCode.CREDENTIAL_MISMATCH, "the credential identity is not the uploading identity"
        )
    ref = suite.make_key_package_ref(kp.to_bytes())
    return CheckedKeyPackage(ref, data, identity, leaf.lifetime.not_after)


# --- Welcome (protocol.md §12.4 step 7) ------------------------------------------------


def welcome_refs(data: bytes) -> frozenset[bytes]:
    """The KeyPackageRefs a Welcome is addressed to (RFC 9420 §12.4.3.1)."""
    message = decode_mls(data, "welcome", "$.welcome")
    welcome = message.body
    if not isinstance(welcome, Welcome):
        raise FrameError(ErrorCode.WELCOME_INVALID, "not a Welcome", "$.welcome")
    if welcome.cipher_suite != CIPHERSUITE_1:
        raise FrameError(ErrorCode.UNSUPPORTED_SUITE, "the Welcome is not suite 1", "$.welcome")
    refs = [s.new_member for s in welcome.secrets]
    if not refs or len(set(refs)) != len(refs):
        raise FrameError(ErrorCode.WELCOME_INVALID, "the Welcome names no or repeated KeyPackages")
    return frozenset(refs)


# --- commits (protocol.md §12.4) -------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CommitEffects:
    """Who a verified commit comes from, adds and removes (public data only)."""

    committer: bytes
    external: bool
    #: KeyPackageRef -> credential identity of every added KeyPackage.
    added: dict[bytes, bytes]
    removed: tuple[bytes, ...]


def public_handshake(message: MLSMessage) -> PublicMessage:
    """The PublicMessage of a handshake, or ``mls_invalid`` (protocol.md §12.6)."""
    body = message.body
    if not isinstance(body, PublicMessage) or isinstance(body.content.content, bytes):
        raise FrameError(ErrorCode.MLS_INVALID, "handshakes travel as PublicMessage (§12)")
    return body


def commit_effects(group: PublicGroup, body: PublicMessage) -> CommitEffects:
    """Resolve a commit (already verified against ``group``) into identities."""
    commit = body.content.content
    assert isinstance(commit, Commit)
    by_ref = {p.ref: p.proposal for p in group.proposals}
    added: dict[bytes, bytes] = {}
    removed: list[bytes] = []
    view = group.view()
    for item in commit.proposals:
        proposal = item.proposal if item.proposal is not None else by_ref.get(item.reference or b"")
        if isinstance(proposal, Add):
            credential = proposal.key_package.leaf_node.credential
            ref = suite.make_key_package_ref(proposal.key_package.to_bytes())
            added[ref] = credential.identity or b""
        elif isinstance(proposal, Remove):
            identity = view.roster.get(proposal.removed)
            if identity is not None:
                removed.append(identity)
    sender = body.content.sender
    external = sender.sender_type is SenderType.NEW_MEMBER_COMMIT
    if external:
        assert commit.path is not None
        committer = commit.path.leaf_node.credential.identity or b""
    else:
        assert sender.index is not None
        committer = view.roster.get(sender.index, b"")
    return CommitEffects(committer, external, added, tuple(removed))


def check_group_info(after: PublicGroup, data: bytes) -> bytes:
    """The GroupInfo describes exactly the epoch ``after`` (RFC 9420 §12.4.3), signed."""
    message = decode_mls(data, "group_info", "$.group_info")
    if not isinstance(message.body, GroupInfo):
        raise FrameError(ErrorCode.GROUP_INFO_INVALID, "not a GroupInfo", "$.group_info")
    try:
        claimed = PublicGroup.from_group_info(message.body, after.ratchet_tree())
    except MLSError as exc:
        raise FrameError(
            ErrorCode.GROUP_INFO_INVALID, f"the GroupInfo does not verify ({exc})", "$.group_info"
        ) from exc
    if (
        claimed.context != after.context
        or claimed.interim_transcript_hash != after.interim_transcript_hash
    ):
        raise FrameError(
            ErrorCode.GROUP_INFO_INVALID,
            "the GroupInfo is not the epoch the commit creates",
            "$.group_info",
        )
    return data


def application_epoch(message: MLSMessage) -> tuple[bytes, int]:
    """Group id and epoch of an application PrivateMessage (protocol.md §12.6)."""
    body = message.body
    if not isinstance(body, PrivateMessage):
        raise FrameError(ErrorCode.MLS_INVALID, "not a PrivateMessage", "$.payload")
    if body.content_type is not ContentType.APPLICATION:
        raise FrameError(
            ErrorCode.MLS_INVALID, "a handshake as PrivateMessage: send it in public", "$.payload"
        )
    return body.group_id, body.epoch


def leaf_of(group: PublicGroup, identity: bytes) -> int | None:
    """The leaf index whose credential identity is ``identity`` (at most one, §12.8 rule 6)."""
    for index, who in group.view().roster.items():
        if who == identity:
            return index
    return None


def external_sender_index(group: PublicGroup, signature_key: bytes) -> int | None:
    """The ``external_senders`` index holding ``signature_key`` (RFC 9420 §12.1.8.1)."""
    from hearth_mls.extension_payloads import external_senders_from_bytes
    from hearth_mls.extensions import EXTERNAL_SENDERS

    for extension in group.context.extensions:
        if extension.extension_type == EXTERNAL_SENDERS:
            senders = external_senders_from_bytes(extension.extension_data)
            for index, sender in enumerate(senders):
                if sender.signature_key == signature_key:
                    return index
    return None


__all__: Sequence[str] = [
    "CheckedKeyPackage",
    "CommitEffects",
    "application_epoch",
    "check_group_info",
    "check_key_package",
    "commit_effects",
    "decode_mls",
    "external_sender_index",
    "leaf_of",
    "public_handshake",
    "welcome_refs",
]
