"""Message framing structs (RFC 9420 §6, §8.2).

The content every handshake or application message carries is a
:class:`FramedContent` (group, epoch, :class:`Sender`, authenticated data and
one of: application bytes, a proposal, a commit). It is signed as
:class:`FramedContentTBS` and authenticated by :class:`FramedContentAuthData`.
On the wire it travels either as a :class:`PublicMessage` (signed, with a
membership tag for members, §6.2) or as a :class:`PrivateMessage` whose
ciphertext decrypts to :class:`PrivateMessageContent` and whose sender is hidden
in an encrypted :class:`SenderData` (§6.3). The AAD and transcript-hash inputs
(§6.3.1, §6.3.2, §8.2) are here too; the cryptography that uses them is not.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.commit import Commit
from hearth_mls.errors import NonZeroPaddingError, UsageError
from hearth_mls.extensions import MLS10, GroupContext
from hearth_mls.proposals import Proposal, decode_proposal, encode_proposal
from hearth_mls.wire import MAC, WireStruct, decode_enum


class ContentType(IntEnum):
    """``enum { application(1), proposal(2), commit(3) } ContentType`` (§6)."""

    APPLICATION = 1
    PROPOSAL = 2
    COMMIT = 3


class SenderType(IntEnum):
    """Who sent a message (§6)."""

    MEMBER = 1
    EXTERNAL = 2
    NEW_MEMBER_PROPOSAL = 3
    NEW_MEMBER_COMMIT = 4


class WireFormat(IntEnum):
    """MLS Wire Formats registry (§17.2)."""

    PUBLIC_MESSAGE = 1
    PRIVATE_MESSAGE = 2
    WELCOME = 3
    GROUP_INFO = 4
    KEY_PACKAGE = 5


#: The content of a FramedContent: application bytes, a proposal or a commit.
Content = bytes | Proposal | Commit


def content_type_of(content: Content) -> ContentType:
    if isinstance(content, bytes):
        return ContentType.APPLICATION
    if isinstance(content, Commit):
        return ContentType.COMMIT
    return ContentType.PROPOSAL


def _encode_content(w: Writer, content: Content) -> None:
    if isinstance(content, bytes):
        w.opaque(content)
    elif isinstance(content, Commit):
        content.encode(w)
    else:
        encode_proposal(w, content)


def _decode_content(r: Reader, content_type: ContentType) -> Content:
    if content_type is ContentType.APPLICATION:
        return r.opaque()
    if content_type is ContentType.PROPOSAL:
        return decode_proposal(r)
    return Commit.decode(r)


@dataclass(frozen=True, slots=True)
class Sender(WireStruct):
    """A member's leaf index, an external sender's index, or a new member (§6)."""

    sender_type: SenderType
    index: int | None = None

    def __post_init__(self) -> None:
        indexed = self.sender_type in (SenderType.MEMBER, SenderType.EXTERNAL)
        if indexed != (self.index is not None):
            raise UsageError(f"a {self.sender_type.name.lower()} sender index is wrong")

    @classmethod
    def member(cls, leaf_index: int) -> Sender:
        return cls(SenderType.MEMBER, leaf_index)

    @classmethod
    def external(cls, sender_index: int) -> Sender:
        return cls(SenderType.EXTERNAL, sender_index)

    @classmethod
    def new_member_proposal(cls) -> Sender:
        return cls(SenderType.NEW_MEMBER_PROPOSAL)

    @classmethod
    def new_member_commit(cls) -> Sender:
        return cls(SenderType.NEW_MEMBER_COMMIT)

    def encode(self, w: Writer) -> None:
        w.uint8(self.sender_type)
        if self.index is not None:
            w.uint32(self.index)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Sender:
        kind = decode_enum(r, SenderType, r.uint8())
        if kind in (SenderType.MEMBER, SenderType.EXTERNAL):
            return cls(kind, r.uint32())
        return cls(kind)


@dataclass(frozen=True, slots=True)
class FramedContent(WireStruct):
    """What a message says and who says it, before authentication (§6)."""

    group_id: bytes
    epoch: int
    sender: Sender
    content: Content
    authenticated_data: bytes = b""

    @property
    def content_type(self) -> ContentType:
        return content_type_of(self.content)

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id).uint64(self.epoch)
        self.sender.encode(w)
        w.opaque(self.authenticated_data).uint8(self.content_type)
        _encode_content(w, self.content)

    @classmethod
    def _decode_fields(cls, r: Reader) -> FramedContent:
        group_id = r.opaque()
        epoch = r.uint64()
        sender = Sender.decode(r)
        authenticated_data = r.opaque()
        content_type = decode_enum(r, ContentType, r.uint8())
        content = _decode_content(r, content_type)
        return cls(group_id, epoch, sender, content, authenticated_data)


@dataclass(frozen=True, slots=True)
class FramedContentAuthData(WireStruct):
    """The signature, plus the confirmation tag exactly for commits (§6.1)."""

    signature: bytes
    confirmation_tag: MAC | None = None

    def encode(self, w: Writer) -> None:
        w.opaque(self.signature)
        if self.confirmation_tag is not None:
            w.opaque(self.confirmation_tag)

    def check_for(self, content_type: ContentType) -> None:
        if (self.confirmation_tag is not None) != (content_type is ContentType.COMMIT):
            raise UsageError("a confirmation tag is present exactly for commit content")

    @classmethod
    def decode_for(cls, r: Reader, content_type: ContentType) -> FramedContentAuthData:
        outer = r.struct
        r.struct = "FramedContentAuthData"
        try:
            signature = r.opaque()
            tag = r.opaque() if content_type is ContentType.COMMIT else None
        finally:
            r.struct = outer
        return cls(signature, tag)

    @classmethod
    def _decode_fields(cls, r: Reader) -> FramedContentAuthData:
        raise UsageError("FramedContentAuthData is decoded with decode_for(content_type)")


def _context_required(sender: Sender) -> bool:
    return sender.sender_type in (SenderType.MEMBER, SenderType.NEW_MEMBER_COMMIT)


@dataclass(frozen=True, slots=True)
class FramedContentTBS(WireStruct):
    """What the sender signs: the content, bound to the group context for members (§6.1)."""

    wire_format: WireFormat
    content: FramedContent
    context: GroupContext | None = None
    version: int = MLS10

    def __post_init__(self) -> None:
        if _context_required(self.content.sender) != (self.context is not None):
            raise UsageError("FramedContentTBS has a group context exactly for members")

    def encode(self, w: Writer) -> None:
        w.uint16(self.version).uint16(self.wire_format)
        self.content.encode(w)
        if self.context is not None:
            self.context.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> FramedContentTBS:
        version = r.uint16()
        wire_format = decode_enum(r, WireFormat, r.uint16())
        content = FramedContent.decode(r)
        context = GroupContext.decode(r) if _context_required(content.sender) else None
        return cls(wire_format, content, context, version)


@dataclass(frozen=True, slots=True)
class AuthenticatedContent(WireStruct):
    """Content plus its authentication, independent of how it travelled (§6.1)."""

    wire_format: WireFormat
    content: FramedContent
    auth: FramedContentAuthData

    def __post_init__(self) -> None:
        self.auth.check_for(self.content.content_type)

    def encode(self, w: Writer) -> None:
        w.uint16(self.wire_format)
        self.content.encode(w)
        self.auth.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> AuthenticatedContent:
        wire_format = decode_enum(r, WireFormat, r.uint16())
        content = FramedContent.decode(r)
        return cls(wire_format, content, FramedContentAuthData.decode_for(r, content.content_type))


@dataclass(frozen=True, slots=True)
class AuthenticatedContentTBM(WireStruct):
    """The membership-tag MAC input (§6.2)."""

    content_tbs: FramedContentTBS
    auth: FramedContentAuthData

    def encode(self, w: Writer) -> None:
        self.content_tbs.encode(w)
        self.auth.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> AuthenticatedContentTBM:
        tbs = FramedContentTBS.decode(r)
        return cls(tbs, FramedContentAuthData.decode_for(r, tbs.content.content_type))


@dataclass(frozen=True, slots=True)
class PublicMessage(WireStruct):
    """A signed, unencrypted message; members add a membership tag (§6.2)."""

    content: FramedContent
    auth: FramedContentAuthData
    membership_tag: MAC | None = None

    def __post_init__(self) -> None:
        self.auth.check_for(self.content.content_type)
        member = self.content.sender.sender_type is SenderType.MEMBER
        if member != (self.membership_tag is not None):
            raise UsageError("a PublicMessage has a membership tag exactly for members")

    def encode(self, w: Writer) -> None:
        self.content.encode(w)
        self.auth.encode(w)
        if self.membership_tag is not None:
            w.opaque(self.membership_tag)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PublicMessage:
        content = FramedContent.decode(r)
        auth = FramedContentAuthData.decode_for(r, content.content_type)
        member = content.sender.sender_type is SenderType.MEMBER
        return cls(content, auth, r.opaque() if member else None)


@dataclass(frozen=True, slots=True)
class PrivateMessage(WireStruct):
    """An encrypted message; the sender is in ``encrypted_sender_data`` (§6.3)."""

    group_id: bytes
    epoch: int
    content_type: ContentType
    authenticated_data: bytes
    encrypted_sender_data: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id).uint64(self.epoch).uint8(self.content_type)
        w.opaque(self.authenticated_data).opaque(self.encrypted_sender_data)
        w.opaque(self.ciphertext)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PrivateMessage:
        group_id = r.opaque()
        epoch = r.uint64()
        content_type = decode_enum(r, ContentType, r.uint8())
        return cls(group_id, epoch, content_type, r.opaque(), r.opaque(), r.opaque())


@dataclass(frozen=True, slots=True)
class PrivateMessageContent(WireStruct):
    """The plaintext of a PrivateMessage: content, auth and zero padding (§6.3.1).

    The content type is not in these bytes (it is in the PrivateMessage), so
    decode with :meth:`decode_for` / :meth:`from_bytes_for`. Padding must be
    all zero octets; otherwise decoding raises
    :class:`~hearth_mls.errors.NonZeroPaddingError` (a DecodeError).
    """

    content: Content
    auth: FramedContentAuthData
    padding_length: int = 0

    def __post_init__(self) -> None:
        self.auth.check_for(content_type_of(self.content))
        if self.padding_length < 0:
            raise UsageError("padding length is negative")

    @property
    def content_type(self) -> ContentType:
        return content_type_of(self.content)

    def encode(self, w: Writer) -> None:
        _encode_content(w, self.content)
        self.auth.encode(w)
        w.raw(bytes(self.padding_length))

    @classmethod
    def decode_for(cls, r: Reader, content_type: ContentType) -> PrivateMessageContent:
        """Decode to the end of ``r``: content, auth, then only zero padding."""
        outer = r.struct
        r.struct = "PrivateMessageContent"
        try:
            content = _decode_content(r, content_type)
            auth = FramedContentAuthData.decode_for(r, content_type)
            padding = r.raw(r.remaining)
            if padding.count(0) != len(padding):
                raise NonZeroPaddingError(r.struct, "padding is not all zero (RFC 9420 §6.3.1)")
        finally:
            r.struct = outer
        return cls(content, auth, len(padding))

    @classmethod
    def from_bytes_for(cls, data: bytes, content_type: ContentType) -> PrivateMessageContent:
        return decode_exact(
            data, "PrivateMessageContent", lambda r: cls.decode_for(r, content_type)
        )

    @classmethod
    def _decode_fields(cls, r: Reader) -> PrivateMessageContent:
        raise UsageError("PrivateMessageContent is decoded with decode_for(content_type)")


@dataclass(frozen=True, slots=True)
class PrivateContentAAD(WireStruct):
    """The AEAD associated data of a PrivateMessage's content (§6.3.1)."""

    group_id: bytes
    epoch: int
    content_type: ContentType
    authenticated_data: bytes = b""

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id).uint64(self.epoch).uint8(self.content_type)
        w.opaque(self.authenticated_data)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PrivateContentAAD:
        group_id = r.opaque()
        epoch = r.uint64()
        content_type = decode_enum(r, ContentType, r.uint8())
        return cls(group_id, epoch, content_type, r.opaque())


@dataclass(frozen=True, slots=True)
class SenderData(WireStruct):
    """``struct { uint32 leaf_index; uint32 generation; opaque reuse_guard[4]; }`` (§6.3.2)."""

    leaf_index: int
    generation: int
    reuse_guard: bytes

    def __post_init__(self) -> None:
        if len(self.reuse_guard) != 4:
            raise UsageError("reuse_guard is exactly 4 bytes")

    def encode(self, w: Writer) -> None:
        w.uint32(self.leaf_index).uint32(self.generation).raw(self.reuse_guard)

    @classmethod
    def _decode_fields(cls, r: Reader) -> SenderData:
        return cls(r.uint32(), r.uint32(), r.raw(4))


@dataclass(frozen=True, slots=True)
class SenderDataAAD(WireStruct):
    """The AEAD associated data of the encrypted sender data (§6.3.2)."""

    group_id: bytes
    epoch: int
    content_type: ContentType

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id).uint64(self.epoch).uint8(self.content_type)

    @classmethod
    def _decode_fields(cls, r: Reader) -> SenderDataAAD:
        group_id = r.opaque()
        epoch = r.uint64()
        return cls(group_id, epoch, decode_enum(r, ContentType, r.uint8()))


@dataclass(frozen=True, slots=True)
class ConfirmedTranscriptHashInput(WireStruct):
    """What a commit adds to the confirmed transcript hash (§8.2)."""

    wire_format: WireFormat
    content: FramedContent
    signature: bytes

    def __post_init__(self) -> None:
        if self.content.content_type is not ContentType.COMMIT:
            raise UsageError("the confirmed transcript hash covers commits only")

    def encode(self, w: Writer) -> None:
        w.uint16(self.wire_format)
        self.content.encode(w)
        w.opaque(self.signature)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ConfirmedTranscriptHashInput:
        wire_format = decode_enum(r, WireFormat, r.uint16())
        content = FramedContent.decode(r)
        if content.content_type is not ContentType.COMMIT:
            raise r.error("content is not a commit")
        return cls(wire_format, content, r.opaque())


@dataclass(frozen=True, slots=True)
class InterimTranscriptHashInput(WireStruct):
    """``struct { MAC confirmation_tag; } InterimTranscriptHashInput`` (§8.2)."""

    confirmation_tag: MAC

    def encode(self, w: Writer) -> None:
        w.opaque(self.confirmation_tag)

    @classmethod
    def _decode_fields(cls, r: Reader) -> InterimTranscriptHashInput:
        return cls(r.opaque())
