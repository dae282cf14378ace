"""The contents of the extensions RFC 9420 defines (§12.1.8.1, §11.1, §12.4.3.2).

An :class:`~hearth_mls.extensions.Extension` carries opaque bytes; these structs
are what those bytes decode to for ``required_capabilities`` (§11.1),
``external_senders`` (§12.1.8.1, a vector of :class:`ExternalSender`),
``external_pub`` (§12.4.3.2) and ``application_id`` (§5.3.3). The
``ratchet_tree`` extension is in :mod:`hearth_mls.tree_nodes`. Code points in
``required_capabilities`` are kept as plain integers.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer, decode_exact
from hearth_mls.credential import Credential
from hearth_mls.wire import (
    HPKEPublicKey,
    SignaturePublicKey,
    WireStruct,
    get_uint16,
    put_struct,
    put_uint16,
)


@dataclass(frozen=True, slots=True)
class RequiredCapabilities(WireStruct):
    """Extensions, proposals and credentials every member must support (§11.1)."""

    extension_types: tuple[int, ...] = ()
    proposal_types: tuple[int, ...] = ()
    credential_types: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        w.vector(self.extension_types, put_uint16)
        w.vector(self.proposal_types, put_uint16)
        w.vector(self.credential_types, put_uint16)

    @classmethod
    def _decode_fields(cls, r: Reader) -> RequiredCapabilities:
        return cls(*(tuple(r.vector(get_uint16)) for _ in range(3)))


@dataclass(frozen=True, slots=True)
class ExternalSender(WireStruct):
    """``struct { SignaturePublicKey signature_key; Credential credential; }`` (§12.1.8.1)."""

    signature_key: SignaturePublicKey
    credential: Credential

    def encode(self, w: Writer) -> None:
        w.opaque(self.signature_key)
        self.credential.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ExternalSender:
        return cls(r.opaque(), Credential.decode(r))


def external_senders_to_bytes(senders: tuple[ExternalSender, ...]) -> bytes:
    """``ExternalSender external_senders<V>``: the extension's data (§12.1.8.1)."""
    return Writer().vector(senders, put_struct).getvalue()


def external_senders_from_bytes(data: bytes) -> tuple[ExternalSender, ...]:
    return tuple(decode_exact(data, "external_senders", lambda r: r.vector(ExternalSender.decode)))


@dataclass(frozen=True, slots=True)
class ExternalPub(WireStruct):
    """``struct { HPKEPublicKey external_pub; } ExternalPub`` (§12.4.3.2)."""

    external_pub: HPKEPublicKey

    def encode(self, w: Writer) -> None:
        w.opaque(self.external_pub)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ExternalPub:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class ApplicationId(WireStruct):
    """``opaque application_id<V>`` (§5.3.3)."""

    application_id: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.application_id)

    @classmethod
    def _decode_fields(cls, r: Reader) -> ApplicationId:
        return cls(r.opaque())
