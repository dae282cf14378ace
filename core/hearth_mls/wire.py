"""Shared pieces of every RFC 9420 wire struct (§2.1, §5.1, §5.2).

:class:`WireStruct` gives each frozen dataclass ``to_bytes``/``from_bytes`` on top
of its own ``encode(w)``/``_decode_fields(r)``, and makes every
:class:`~hearth_mls.errors.DecodeError` raised inside name the innermost struct
being decoded. :class:`SignedStruct` adds the ``XxxTBS`` encoding and
``SignWithLabel`` signing shared by KeyPackage, LeafNode and GroupInfo (§5.1.2).
:func:`decode_enum` rejects code points an enum does not know.
The opaque aliases below only document intent; on the wire they are
``opaque <V>`` (§5.1.1, §5.2).
"""

from __future__ import annotations

import dataclasses
from enum import IntEnum
from typing import Any, ClassVar, Self, TypeVar, cast

from hearth_mls import suite
from hearth_mls.codec import Reader, Writer, decode_exact

#: ``opaque HPKEPublicKey<V>`` (§5.1.1).
HPKEPublicKey = bytes
#: ``opaque SignaturePublicKey<V>`` (§5.1.1).
SignaturePublicKey = bytes
#: ``opaque HashReference<V>``: KeyPackageRef and ProposalRef (§5.2).
HashReference = bytes
KeyPackageRef = bytes
ProposalRef = bytes
#: ``opaque MAC<V>`` (§6.1).
MAC = bytes

E = TypeVar("E", bound=IntEnum)


class WireStruct:
    """Base of the wire structs: naming in errors and byte-string convenience."""

    __slots__ = ()
    #: The struct's name in RFC 9420, used in DecodeError messages.
    STRUCT: ClassVar[str] = ""

    def encode(self, w: Writer) -> None:
        raise NotImplementedError

    @classmethod
    def _decode_fields(cls, r: Reader) -> Self:
        raise NotImplementedError

    @classmethod
    def decode(cls, r: Reader) -> Self:
        """Decode one struct from ``r``; errors name this struct."""
        outer = r.struct
        r.struct = cls.STRUCT or cls.__name__
        try:
            return cls._decode_fields(r)
        finally:
            r.struct = outer

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes) -> Self:
        """Decode exactly one struct, refusing trailing bytes."""
        return decode_exact(data, cls.STRUCT or cls.__name__, cls.decode)


class SignedStruct(WireStruct):
    """A struct whose encoding is its signed content followed by ``opaque signature<V>``.

    Subclasses are frozen dataclasses with a ``signature`` field; they write
    everything but the signature in ``_encode_content`` and name their
    ``SignWithLabel`` label in ``SIGN_LABEL`` (RFC 9420 §5.1.2, §7.2, §10, §12.4.3).
    """

    __slots__ = ()
    SIGN_LABEL: ClassVar[str] = ""
    signature: bytes

    def _encode_content(self, w: Writer) -> None:
        raise NotImplementedError

    def encode(self, w: Writer) -> None:
        self._encode_content(w)
        w.opaque(self.signature)

    def to_be_signed(self) -> bytes:
        """The ``...TBS`` encoding: everything but the signature."""
        w = Writer()
        self._encode_content(w)
        return w.getvalue()

    def with_signature(self, signature: bytes) -> Self:
        signed: Self = dataclasses.replace(cast(Any, self), signature=signature)
        return signed

    def signed(self, signature_priv: suite.SignaturePrivateKey) -> Self:
        """A copy signed with ``SignWithLabel(., SIGN_LABEL, to_be_signed())``."""
        tbs = self.to_be_signed()
        return self.with_signature(suite.sign_with_label(signature_priv, self.SIGN_LABEL, tbs))


def decode_enum(r: Reader, enum: type[E], value: int) -> E:
    """``value`` as a member of ``enum`` or a DecodeError naming both."""
    try:
        return enum(value)
    except ValueError:
        raise r.error(f"unknown {enum.__name__} {value}") from None


def put_struct(w: Writer, item: Any) -> None:
    """Callback for :meth:`Writer.vector`/:meth:`Writer.optional` over wire structs."""
    item.encode(w)


def put_uint16(w: Writer, value: int) -> None:
    w.uint16(value)


def put_uint32(w: Writer, value: int) -> None:
    w.uint32(value)


def get_uint16(r: Reader) -> int:
    return r.uint16()


def get_uint32(r: Reader) -> int:
    return r.uint32()
