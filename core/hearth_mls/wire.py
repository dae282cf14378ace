"""Shared pieces of every RFC 9420 wire struct (§2.1, §5.1, §5.2).

:class:`WireStruct` gives each frozen dataclass ``to_bytes``/``from_bytes`` on top
of its own ``encode(w)``/``_decode_fields(r)``, and makes every
:class:`~hearth_mls.errors.DecodeError` raised inside name the innermost struct
being decoded. :func:`decode_enum` rejects code points an enum does not know.
The opaque aliases below only document intent; on the wire they are
``opaque <V>`` (§5.1.1, §5.2).
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any, ClassVar, Self, TypeVar

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


def put_opaque(w: Writer, value: bytes) -> None:
    w.opaque(value)


def get_uint16(r: Reader) -> int:
    return r.uint16()


def get_uint32(r: Reader) -> int:
    return r.uint32()


def get_opaque(r: Reader) -> bytes:
    return r.opaque()
