"""Wire frames of protocol v1 as frozen msgspec Structs (protocol.md §4).

Every frame is one JSON object in one websocket text frame, tagged by its ``type``
field. Client frames (sent by a client) and server frames (sent by the server) are
two separate tagged unions, ``ClientFrame`` and ``ServerFrame``. Constraints on
fields live in the types (``msgspec.Meta``), so a decoded frame is valid as far as
its own shape goes; handlers check only state (membership, roles, limits from
configuration).

``bytes`` fields travel as standard base64 with padding (RFC 4648 §4), as msgspec
encodes them. Ids and secrets are unpadded URL-safe base64 strings (RFC 4648 §5).
"""

from __future__ import annotations

import enum
from typing import Annotated

import msgspec

from hearth_core.errors import ErrorCode
from hearth_core.rules import MemberStatus, Role

#: Protocol versions this code speaks (protocol.md §3.1).
SUPPORTED_VERSIONS: tuple[int, ...] = (1,)
#: Hard cap on a decoded payload, whatever the configuration (protocol.md §7).
PAYLOAD_HARD_LIMIT = 1024 * 1024
#: Cap on a room's opaque metadata blob (protocol.md §7).
METADATA_LIMIT = 16 * 1024
MAX_SAFE_INT = 2**53 - 1

Ref = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT, description="request reference")]
Seq = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
Millis = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
Version = Annotated[int, msgspec.Meta(ge=1, le=65535)]
RoomId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{22}$")]
InviteId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{22}$")]
InviteSecret = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_-]{43}$")]
IdentityKey = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Nonce = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Signature = Annotated[bytes, msgspec.Meta(min_length=64, max_length=64)]
ClientMsgId = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
Pseudonym = Annotated[
    str, msgspec.Meta(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f-\x9f]+$")
]
Payload = Annotated[bytes, msgspec.Meta(max_length=PAYLOAD_HARD_LIMIT)]
RoomMetadata = Annotated[bytes, msgspec.Meta(max_length=METADATA_LIMIT)]
MetaKey = Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9_]{1,32}$")]
MetaValue = Annotated[str, msgspec.Meta(max_length=512)]
PublicMeta = Annotated[dict[MetaKey, MetaValue], msgspec.Meta(max_length=16)]
RetentionSeconds = Annotated[int, msgspec.Meta(ge=60, le=10 * 365 * 86400)]
#: Cap on one MLS object (KeyPackage, GroupInfo, Welcome, commit) in a frame (protocol.md §7).
MLS_OBJECT_LIMIT = 256 * 1024
MlsBytes = Annotated[bytes, msgspec.Meta(min_length=1, max_length=MLS_OBJECT_LIMIT)]
Epoch = Annotated[int, msgspec.Meta(ge=0, le=MAX_SAFE_INT)]
#: At most this many KeyPackages in one upload (protocol.md §12.1).
MAX_KEY_PACKAGES_PER_UPLOAD = 32


class _Frame(
    msgspec.Struct,
    tag_field="type",
    forbid_unknown_fields=True,
    frozen=True,
    kw_only=True,
    omit_defaults=True,
):
    """Base of every frame: tagged by ``type``, unknown fields refused (protocol.md §2)."""


# ---------------------------------------------------------------- client -> server


class Hello(_Frame, tag="hello", kw_only=True, frozen=True):
    """protocol.md §4.1: the first frame; lists the versions the client speaks."""

    versions: Annotated[list[Version], msgspec.Meta(min_length=1, max_length=16)]


class Auth(_Frame, tag="auth", kw_only=True, frozen=True):
    """protocol.md §4.2: proves possession of an Ed25519 identity key."""

    ref: Ref | None = None
    identity: IdentityKey
    signature: Signature


class CreateRoom(_Frame, tag="create_room", kw_only=True, frozen=True):
    """protocol.md §4.3: creates a room; the creator becomes its first facilitator."""

    ref: Ref | None = None
    identity: IdentityKey
    pseudonym: Pseudonym
    metadata: RoomMetadata = b""
    waiting_room: bool = False
    retention: RetentionSeconds | None = None
    #: protocol.md §12.2: an MLSMessage GroupInfo makes this an end-to-end encrypted room.
    group_info: MlsBytes | None = None
    #: The ratchet tree (RFC 9420 §12.4.3.3) when the GroupInfo has no ratchet_tree extension.
    ratchet_tree: MlsBytes | None = None


class CreateInvite(_Frame, tag="create_invite", kw_only=True, frozen=True):
    """protocol.md §4.4: a facilitator creates an invite."""

    ref: Ref | None = None
    room: RoomId
    max_uses: Annotated[int, msgspec.Meta(ge=1, le=10000)] = 1
    expires_in: Annotated[int, msgspec.Meta(ge=60, le=30 * 86400)] = 86400
    waiting_room: bool | None = None


class RevokeInvite(_Frame, tag="revoke_invite", kw_only=True, frozen=True):
    """protocol.md §4.4: a facilitator revokes an invite by its public id."""

    ref: Ref | None = None
    room: RoomId
    invite: InviteId


class Join(_Frame, tag="join", kw_only=True, frozen=True):
    """protocol.md §4.5: joins the room an invite secret belongs to."""

    ref: Ref | None = None
    identity: IdentityKey
    invite: InviteSecret
    pseudonym: Pseudonym


class Admit(_Frame, tag="admit", kw_only=True, frozen=True):
    """protocol.md §4.5: a facilitator admits a member from the waiting room."""

    ref: Ref | None = None
    room: RoomId
    member: IdentityKey


class Subscribe(_Frame, tag="subscribe", kw_only=True, frozen=True):
    """protocol.md §4.6: binds the room and resumes after sequence ``after``."""

    ref: Ref | None = None
    room: RoomId
    identity: IdentityKey
    after: Seq = 0


class Send(_Frame, tag="send", kw_only=True, frozen=True):
    """protocol.md §4.7: sends an opaque payload to a room."""

    ref: Ref | None = None
    room: RoomId
    id: ClientMsgId
    payload: Payload
    meta: PublicMeta | None = None


class Leave(_Frame, tag="leave", kw_only=True, frozen=True):
    """protocol.md §4.5: leaves a room for good."""

    ref: Ref | None = None
    room: RoomId


class Members(_Frame, tag="members", kw_only=True, frozen=True):
    """protocol.md §4.8: asks for the room's member list."""

    ref: Ref | None = None
    room: RoomId


class Typing(_Frame, tag="typing", kw_only=True, frozen=True):
    """protocol.md §4.8: an ephemeral typing indicator (never stored, never acknowledged)."""

    room: RoomId
    active: bool


class UploadKeyPackages(_Frame, tag="upload_key_packages", kw_only=True, frozen=True):
    """protocol.md §12.1: stores one-time KeyPackages of an identity (empty list: stock query)."""

    ref: Ref | None = None
    identity: IdentityKey
    key_packages: Annotated[list[MlsBytes], msgspec.Meta(max_length=MAX_KEY_PACKAGES_PER_UPLOAD)]


class ClaimKeyPackage(_Frame, tag="claim_key_package", kw_only=True, frozen=True):
    """protocol.md §12.3: a facilitator claims one KeyPackage of a room member to Add it."""

    ref: Ref | None = None
    room: RoomId
    member: IdentityKey


class CommitFrame(_Frame, tag="commit", kw_only=True, frozen=True):
    """protocol.md §12.4: a PublicMessage commit, its Welcome and the new GroupInfo."""

    ref: Ref | None = None
    room: RoomId
    id: ClientMsgId
    commit: MlsBytes
    group_info: MlsBytes
    welcome: MlsBytes | None = None


class GetGroupInfo(_Frame, tag="get_group_info", kw_only=True, frozen=True):
    """protocol.md §12.5: the room's current GroupInfo and ratchet tree (external join)."""

    ref: Ref | None = None
    room: RoomId


class RequestRemoval(_Frame, tag="request_removal", kw_only=True, frozen=True):
    """protocol.md §12.7: a facilitator asks the server to propose a member's Remove."""

    ref: Ref | None = None
    room: RoomId
    member: IdentityKey
    ban: bool = False


ClientFrame = (
    Hello
    | Auth
    | CreateRoom
    | CreateInvite
    | RevokeInvite
    | Join
    | Admit
    | Subscribe
    | Send
    | Leave
    | Members
    | Typing
    | UploadKeyPackages
    | ClaimKeyPackage
    | CommitFrame
    | GetGroupInfo
    | RequestRemoval
)

# ---------------------------------------------------------------- server -> client


class Limits(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """protocol.md §7: the limits this server enforces, announced in ``server_hello``."""

    max_payload: int
    max_frame: int
    send_rate: float
    send_burst: int
    page_size: int
    max_identities: int
    max_rooms: int


class MemberInfo(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """protocol.md §4.8: one member as other members see it."""

    identity: IdentityKey
    pseudonym: Pseudonym
    role: Role
    status: MemberStatus
    online: bool = False


class MemberChange(enum.StrEnum):
    """What happened to a member (protocol.md §4.8)."""

    JOINED = "joined"
    WAITING = "waiting"
    ADMITTED = "admitted"
    LEFT = "left"


class MessageKind(enum.StrEnum):
    """What a stored message carries (protocol.md §4.7, §12.6)."""

    APPLICATION = "application"
    PROPOSAL = "proposal"
    COMMIT = "commit"


class ServerHello(_Frame, tag="server_hello", kw_only=True, frozen=True):
    """protocol.md §4.1: the chosen version, the auth challenge nonce and the limits.

    ``ds_key`` is the server's Delivery Service signature key (Ed25519, RFC 9420
    §12.1.8.1 external sender) that MLS rooms list in ``external_senders`` (§12.2).
    """

    version: Version
    nonce: Nonce
    limits: Limits
    ds_key: IdentityKey | None = None


class Authed(_Frame, tag="authed", kw_only=True, frozen=True):
    """protocol.md §4.2: the identity is authenticated on this connection."""

    ref: Ref | None = None
    identity: IdentityKey


class RoomCreated(_Frame, tag="room_created", kw_only=True, frozen=True):
    """protocol.md §4.3: the new room's id; the room is bound to the creating identity."""

    ref: Ref | None = None
    room: RoomId
    role: Role
    retention: int | None = None
    epoch: Epoch | None = None


class InviteCreated(_Frame, tag="invite_created", kw_only=True, frozen=True):
    """protocol.md §4.4: the invite secret, shown once and never again."""

    ref: Ref | None = None
    room: RoomId
    invite: InviteId
    secret: InviteSecret
    expires_at: Millis
    max_uses: int
    waiting_room: bool


class Joined(_Frame, tag="joined", kw_only=True, frozen=True):
    """protocol.md §4.5: the identity is now a member, or waiting to be admitted."""

    ref: Ref | None = None
    room: RoomId
    role: Role
    status: MemberStatus


class Subscribed(_Frame, tag="subscribed", kw_only=True, frozen=True):
    """protocol.md §4.6: history follows as ``message`` frames, then ``synced``."""

    ref: Ref | None = None
    room: RoomId
    role: Role
    head: Seq
    purged_through: Seq
    metadata: RoomMetadata = b""
    epoch: Epoch | None = None


class Message(_Frame, tag="message", kw_only=True, frozen=True):
    """protocol.md §4.7: one stored message, in room sequence order."""

    room: RoomId
    seq: Seq
    sender: IdentityKey
    ts: Millis
    payload: Payload
    meta: PublicMeta | None = None
    kind: MessageKind = MessageKind.APPLICATION
    epoch: Epoch | None = None


class Synced(_Frame, tag="synced", kw_only=True, frozen=True):
    """protocol.md §4.6: history is complete up to ``seq``; live messages follow."""

    room: RoomId
    seq: Seq


class Ack(_Frame, tag="ack", kw_only=True, frozen=True):
    """protocol.md §4.7: the message is durably stored with this sequence number."""

    ref: Ref | None = None
    room: RoomId
    id: ClientMsgId
    seq: Seq
    ts: Millis
    duplicate: bool = False


class MemberList(_Frame, tag="member_list", kw_only=True, frozen=True):
    """protocol.md §4.8: the room's members (waiting ones only for facilitators)."""

    ref: Ref | None = None
    room: RoomId
    members: list[MemberInfo]


class MemberUpdate(_Frame, tag="member_update", kw_only=True, frozen=True):
    """protocol.md §4.8: a member joined, is waiting, was admitted or left."""

    room: RoomId
    change: MemberChange
    member: MemberInfo


class Presence(_Frame, tag="presence", kw_only=True, frozen=True):
    """protocol.md §4.8: a member came online or went offline in the room (ephemeral)."""

    room: RoomId
    identity: IdentityKey
    online: bool


class MemberTyping(_Frame, tag="member_typing", kw_only=True, frozen=True):
    """protocol.md §4.8: a member started or stopped typing (ephemeral)."""

    room: RoomId
    identity: IdentityKey
    active: bool


class Ok(_Frame, tag="ok", kw_only=True, frozen=True):
    """protocol.md §4.9: the request named by ``ref`` succeeded and has nothing to return."""

    ref: Ref | None = None


class Error(_Frame, tag="error", kw_only=True, frozen=True):
    """protocol.md §5: a request failed; ``code`` is stable, ``message`` is for humans."""

    ref: Ref | None = None
    code: ErrorCode
    message: str
    field: str | None = None
    room: RoomId | None = None
    retry_after: float | None = None
    #: The room's current epoch, for ``stale_epoch`` (protocol.md §12.4).
    epoch: Epoch | None = None


class KeyPackageStock(_Frame, tag="key_package_stock", kw_only=True, frozen=True):
    """protocol.md §12.1: how many unclaimed KeyPackages the server holds for the identity."""

    ref: Ref | None = None
    identity: IdentityKey
    stock: Annotated[int, msgspec.Meta(ge=0)]
    low: bool = False


class KeyPackageFrame(_Frame, tag="key_package", kw_only=True, frozen=True):
    """protocol.md §12.3: a claimed KeyPackage (MLSMessage bytes), now used up."""

    ref: Ref | None = None
    room: RoomId
    member: IdentityKey
    key_package: MlsBytes


class CommitAccepted(_Frame, tag="commit_accepted", kw_only=True, frozen=True):
    """protocol.md §12.4: the commit won its epoch and is stored with this sequence."""

    ref: Ref | None = None
    room: RoomId
    id: ClientMsgId
    seq: Seq
    epoch: Epoch
    ts: Millis
    duplicate: bool = False


class GroupInfoFrame(_Frame, tag="group_info", kw_only=True, frozen=True):
    """protocol.md §12.5: the GroupInfo of the current epoch and the full ratchet tree."""

    ref: Ref | None = None
    room: RoomId
    epoch: Epoch
    seq: Seq
    group_info: MlsBytes
    ratchet_tree: MlsBytes


class WelcomeFrame(_Frame, tag="welcome", kw_only=True, frozen=True):
    """protocol.md §12.4: a Welcome released with its commit to the identities it names."""

    room: RoomId
    seq: Seq
    epoch: Epoch
    welcome: MlsBytes


ServerFrame = (
    ServerHello
    | Authed
    | RoomCreated
    | InviteCreated
    | Joined
    | Subscribed
    | Message
    | Synced
    | Ack
    | MemberList
    | MemberUpdate
    | Presence
    | MemberTyping
    | Ok
    | Error
    | KeyPackageStock
    | KeyPackageFrame
    | CommitAccepted
    | GroupInfoFrame
    | WelcomeFrame
)
