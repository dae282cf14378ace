"""Credentials: who a member claims to be (RFC 9420 §5.3).

A :class:`Credential` is ``basic`` (an opaque identity the application
authenticates) or ``x509`` (a chain of DER certificates, decoded but not
validated here). Other credential types cannot be parsed, because the RFC gives
them no length prefix, so they are rejected when decoding.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hearth_mls.codec import Reader, Writer
from hearth_mls.errors import UsageError
from hearth_mls.wire import WireStruct, decode_enum, put_struct


class CredentialType(IntEnum):
    """MLS Credential Types registry (§17.5)."""

    BASIC = 1
    X509 = 2


@dataclass(frozen=True, slots=True)
class Certificate(WireStruct):
    """``struct { opaque cert_data<V>; } Certificate`` (§5.3)."""

    cert_data: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.cert_data)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Certificate:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class Credential(WireStruct):
    """A basic identity or an X.509 chain (§5.3); exactly one of the two is set."""

    credential_type: CredentialType
    identity: bytes | None = None
    certificates: tuple[Certificate, ...] | None = None

    def __post_init__(self) -> None:
        if self.credential_type is CredentialType.BASIC:
            if self.identity is None or self.certificates is not None:
                raise UsageError("a basic credential carries an identity only")
        elif self.identity is not None or self.certificates is None:
            raise UsageError("an x509 credential carries certificates only")

    @classmethod
    def basic(cls, identity: bytes) -> Credential:
        return cls(CredentialType.BASIC, identity=identity)

    @classmethod
    def x509(cls, chain: list[bytes]) -> Credential:
        return cls(CredentialType.X509, certificates=tuple(Certificate(c) for c in chain))

    def encode(self, w: Writer) -> None:
        w.uint16(self.credential_type)
        if self.identity is not None:
            w.opaque(self.identity)
        else:
            w.vector(self.certificates or (), put_struct)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Credential:
        kind = decode_enum(r, CredentialType, r.uint16())
        if kind is CredentialType.BASIC:
            return cls(kind, identity=r.opaque())
        return cls(kind, certificates=tuple(r.vector(Certificate.decode)))
