"""The TLS presentation language as RFC 9420 uses it (§2.1).

:class:`Writer` appends encodings to a buffer; :class:`Reader` consumes them
strictly: every length must be minimally encoded (§2.1.2), vectors may not run
past their end, and :meth:`Reader.finish` refuses trailing bytes. Every failure
is a :class:`~hearth_mls.errors.DecodeError` naming the struct being decoded.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from hearth_mls.errors import DecodeError

T = TypeVar("T")

#: Largest length a variable-length integer can carry (30 bits, §2.1.2).
VARINT_MAX = (1 << 30) - 1


def encode_varint(value: int) -> bytes:
    """Encode ``value`` in the shortest form of RFC 9420 §2.1.2."""
    if value < 0:
        raise ValueError("varint must be non-negative")
    if value < 1 << 6:
        return value.to_bytes(1, "big")
    if value < 1 << 14:
        return (value | 0x4000).to_bytes(2, "big")
    if value <= VARINT_MAX:
        return (value | 0x8000_0000).to_bytes(4, "big")
    raise ValueError("varint too large")


class Writer:
    """Accumulates the encoding of one or more structs."""

    __slots__ = ("_parts",)

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def uint8(self, value: int) -> Writer:
        self._parts.append(value.to_bytes(1, "big"))
        return self

    def uint16(self, value: int) -> Writer:
        self._parts.append(value.to_bytes(2, "big"))
        return self

    def uint32(self, value: int) -> Writer:
        self._parts.append(value.to_bytes(4, "big"))
        return self

    def uint64(self, value: int) -> Writer:
        self._parts.append(value.to_bytes(8, "big"))
        return self

    def raw(self, data: bytes) -> Writer:
        """Fixed-length bytes, no length prefix."""
        self._parts.append(bytes(data))
        return self

    def opaque(self, data: bytes) -> Writer:
        """``opaque data<V>``: a varint length then the bytes."""
        self._parts.append(encode_varint(len(data)))
        self._parts.append(bytes(data))
        return self

    def vector(self, items: list[T] | tuple[T, ...], put: Callable[[Writer, T], object]) -> Writer:
        """``T items<V>``: each item encoded by ``put``, prefixed with the total length."""
        inner = Writer()
        for item in items:
            put(inner, item)
        return self.opaque(inner.getvalue())

    def optional(self, item: T | None, put: Callable[[Writer, T], object]) -> Writer:
        """``optional<T>``: a presence octet then the item (§2.1)."""
        if item is None:
            return self.uint8(0)
        self.uint8(1)
        put(self, item)
        return self

    def getvalue(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Strict decoder over one buffer; ``struct`` names what is being decoded."""

    __slots__ = ("_data", "_end", "_pos", "struct")

    def __init__(self, data: bytes, struct: str = "data") -> None:
        self._data = bytes(data)
        self._pos = 0
        self._end = len(self._data)
        self.struct = struct

    def error(self, reason: str) -> DecodeError:
        return DecodeError(self.struct, reason)

    @property
    def remaining(self) -> int:
        return self._end - self._pos

    def _take(self, n: int) -> bytes:
        if n > self._end - self._pos:
            raise self.error(f"needs {n} bytes, {self._end - self._pos} left")
        out = self._data[self._pos : self._pos + n]
        self._pos += n
        return out

    def uint8(self) -> int:
        return self._take(1)[0]

    def uint16(self) -> int:
        return int.from_bytes(self._take(2), "big")

    def uint32(self) -> int:
        return int.from_bytes(self._take(4), "big")

    def uint64(self) -> int:
        return int.from_bytes(self._take(8), "big")

    def raw(self, n: int) -> bytes:
        return self._take(n)

    def varint(self) -> int:
        """A variable-length integer, minimally encoded (§2.1.2)."""
        first = self.uint8()
        prefix = first >> 6
        if prefix == 0:
            return first & 0x3F
        if prefix == 1:
            value = ((first & 0x3F) << 8) | self.uint8()
            if value < 1 << 6:
                raise self.error("varint is not minimally encoded")
            return value
        if prefix == 2:
            value = ((first & 0x3F) << 24) | int.from_bytes(self._take(3), "big")
            if value < 1 << 14:
                raise self.error("varint is not minimally encoded")
            return value
        raise self.error("varint has the reserved 0b11 prefix")

    def opaque(self) -> bytes:
        """``opaque data<V>``."""
        return self._take(self.varint())

    def sub(self, struct: str | None = None) -> Reader:
        """A reader over the next ``<V>`` vector's body, to decode its items."""
        body = self.opaque()
        return Reader(body, struct or self.struct)

    def vector(self, get: Callable[[Reader], T]) -> list[T]:
        """``T items<V>``: decode items until the vector's bytes are used up."""
        inner = self.sub()
        items: list[T] = []
        while inner.remaining:
            items.append(get(inner))
        return items

    def optional(self, get: Callable[[Reader], T]) -> T | None:
        """``optional<T>``: presence must be 0 or 1."""
        present = self.uint8()
        if present == 0:
            return None
        if present != 1:
            raise self.error(f"optional presence octet is {present}")
        return get(self)

    def finish(self) -> None:
        """Refuse trailing bytes."""
        if self._pos != self._end:
            raise self.error(f"{self._end - self._pos} trailing bytes")


def decode_exact(data: bytes, struct: str, get: Callable[[Reader], T]) -> T:
    """Decode ``data`` as one ``struct`` with ``get`` and refuse trailing bytes."""
    reader = Reader(data, struct)
    value = get(reader)
    reader.finish()
    return value
