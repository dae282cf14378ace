"""Proposals: the changes a commit applies to a group (RFC 9420 §12.1).

Each proposal body is its own frozen struct (:class:`Add`, :class:`Update`,
:class:`Remove`, :class:`PreSharedKey`, :class:`ReInit`, :class:`ExternalInit`,
:class:`GroupContextExtensions`) with a ``PROPOSAL_TYPE``; :data:`Proposal` is
their union and travels as ``uint16 proposal_type`` + body
(:func:`encode_proposal`, :func:`decode_proposal`). A proposal type outside the
RFC's registry cannot be parsed (its body has no length) and is rejected.
:class:`ProposalOrRef` is a commit's inline proposal or reference (§12.4).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar

from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.errors import UsageError
from hearth_mls.extensions import Extension, decode_extensions, encode_extensions
from hearth_mls.key_package import KeyPackage
from hearth_mls.leaf_node import LeafNode
from hearth_mls.wire import ProposalRef, WireStruct, decode_enum


class ProposalType(IntEnum):
    """MLS Proposal Types registry (§17.4)."""

    ADD = 1
    UPDATE = 2
    REMOVE = 3
    PSK = 4
    REINIT = 5
    EXTERNAL_INIT = 6
    GROUP_CONTEXT_EXTENSIONS = 7


class PSKType(IntEnum):
    """``enum { external(1), resumption(2) } PSKType`` (§8.4)."""

    EXTERNAL = 1
    RESUMPTION = 2


class ResumptionPSKUsage(IntEnum):
    """Why a resumption PSK is injected (§8.4)."""

    APPLICATION = 1
    REINIT = 2
    BRANCH = 3


@dataclass(frozen=True, slots=True)
class PreSharedKeyID(WireStruct):
    """An external PSK id, or a resumption PSK's usage, group and epoch (§8.4)."""

    psktype: PSKType
    psk_nonce: bytes
    psk_id: bytes | None = None
    usage: ResumptionPSKUsage | None = None
    psk_group_id: bytes | None = None
    psk_epoch: int | None = None

    def __post_init__(self) -> None:
        resumption = (self.usage, self.psk_group_id, self.psk_epoch)
        if self.psktype is PSKType.EXTERNAL:
            if self.psk_id is None or any(v is not None for v in resumption):
                raise UsageError("an external PSK id carries psk_id only")
        elif self.psk_id is not None or any(v is None for v in resumption):
            raise UsageError("a resumption PSK id carries usage, psk_group_id and psk_epoch")

    def encode(self, w: Writer) -> None:
        w.uint8(self.psktype)
        if self.psk_id is not None:
            w.opaque(self.psk_id)
        else:
            assert self.usage is not None
            assert self.psk_group_id is not None
            assert self.psk_epoch is not None
            w.uint8(self.usage).opaque(self.psk_group_id).uint64(self.psk_epoch)
        w.opaque(self.psk_nonce)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PreSharedKeyID:
        psktype = decode_enum(r, PSKType, r.uint8())
        if psktype is PSKType.EXTERNAL:
            psk_id = r.opaque()
            return cls(psktype, psk_nonce=r.opaque(), psk_id=psk_id)
        usage = decode_enum(r, ResumptionPSKUsage, r.uint8())
        group_id = r.opaque()
        epoch = r.uint64()
        return cls(psktype, r.opaque(), usage=usage, psk_group_id=group_id, psk_epoch=epoch)


@dataclass(frozen=True, slots=True)
class Add(WireStruct):
    """``struct { KeyPackage key_package; } Add`` (§12.1.1)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.ADD
    key_package: KeyPackage

    def encode(self, w: Writer) -> None:
        self.key_package.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Add:
        return cls(KeyPackage.decode(r))


@dataclass(frozen=True, slots=True)
class Update(WireStruct):
    """``struct { LeafNode leaf_node; } Update`` (§12.1.2)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.UPDATE
    leaf_node: LeafNode

    def encode(self, w: Writer) -> None:
        self.leaf_node.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Update:
        return cls(LeafNode.decode(r))


@dataclass(frozen=True, slots=True)
class Remove(WireStruct):
    """``struct { uint32 removed; } Remove`` (§12.1.3): a leaf index."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.REMOVE
    removed: int

    def encode(self, w: Writer) -> None:
        w.uint32(self.removed)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Remove:
        return cls(r.uint32())


@dataclass(frozen=True, slots=True)
class PreSharedKey(WireStruct):
    """``struct { PreSharedKeyID psk; } PreSharedKey`` (§12.1.4)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.PSK
    psk: PreSharedKeyID

    def encode(self, w: Writer) -> None:
        self.psk.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PreSharedKey:
        return cls(PreSharedKeyID.decode(r))


@dataclass(frozen=True, slots=True)
class ReInit(WireStruct):
    """Re-create the group with new parameters (§12.1.5)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.REINIT
    group_id: bytes
    version: int
    cipher_suite: int
    extensions: tuple[Extension, ...] = ()

    def encode(self, w: Writer) -> None:
        w.opaque(self.group_id).uint16(self.version).uint16(self.cipher_suite)
        encode_extensions(w, self.extensions)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ReInit:
        return cls(r.opaque(), r.uint16(), r.uint16(), decode_extensions(r))


@dataclass(frozen=True, slots=True)
class ExternalInit(WireStruct):
    """``struct { opaque kem_output<V>; } ExternalInit`` (§12.1.6)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.EXTERNAL_INIT
    kem_output: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.kem_output)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ExternalInit:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class GroupContextExtensions(WireStruct):
    """Replace the GroupContext's extensions (§12.1.7)."""

    PROPOSAL_TYPE: ClassVar[ProposalType] = ProposalType.GROUP_CONTEXT_EXTENSIONS
    extensions: tuple[Extension, ...] = ()

    def encode(self, w: Writer) -> None:
        encode_extensions(w, self.extensions)

    @classmethod
    def _decode_fields(cls, r: Reader) -> GroupContextExtensions:
        return cls(decode_extensions(r))


Proposal = Add | Update | Remove | PreSharedKey | ReInit | ExternalInit | GroupContextExtensions

_BODY: dict[ProposalType, type[Proposal]] = {
    ProposalType.ADD: Add,
    ProposalType.UPDATE: Update,
    ProposalType.REMOVE: Remove,
    ProposalType.PSK: PreSharedKey,
    ProposalType.REINIT: ReInit,
    ProposalType.EXTERNAL_INIT: ExternalInit,
    ProposalType.GROUP_CONTEXT_EXTENSIONS: GroupContextExtensions,
}


def encode_proposal(w: Writer, proposal: Proposal) -> None:
    """``struct { ProposalType proposal_type; select ... } Proposal`` (§12.1)."""
    w.uint16(proposal.PROPOSAL_TYPE)
    proposal.encode(w)


def decode_proposal(r: Reader) -> Proposal:
    outer = r.struct
    r.struct = "Proposal"
    try:
        kind = decode_enum(r, ProposalType, r.uint16())
        return _BODY[kind].decode(r)
    finally:
        r.struct = outer


def proposal_to_bytes(proposal: Proposal) -> bytes:
    w = Writer()
    encode_proposal(w, proposal)
    return w.getvalue()


def proposal_from_bytes(data: bytes) -> Proposal:
    return decode_exact(data, "Proposal", decode_proposal)


class ProposalOrRefType(IntEnum):
    """``enum { proposal(1), reference(2) } ProposalOrRefType`` (§12.4)."""

    PROPOSAL = 1
    REFERENCE = 2


@dataclass(frozen=True, slots=True)
class ProposalOrRef(WireStruct):
    """A proposal carried inline in a commit, or a ProposalRef to one sent before (§12.4)."""

    proposal: Proposal | None = None
    reference: ProposalRef | None = None

    def __post_init__(self) -> None:
        if (self.proposal is None) == (self.reference is None):
            raise UsageError("a ProposalOrRef holds either a proposal or a reference")

    def encode(self, w: Writer) -> None:
        if self.proposal is not None:
            w.uint8(ProposalOrRefType.PROPOSAL)
            encode_proposal(w, self.proposal)
        elif self.reference is not None:
            w.uint8(ProposalOrRefType.REFERENCE).opaque(self.reference)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ProposalOrRef:
        kind = decode_enum(r, ProposalOrRefType, r.uint8())
        if kind is ProposalOrRefType.PROPOSAL:
            return cls(proposal=decode_proposal(r))
        return cls(reference=r.opaque())
