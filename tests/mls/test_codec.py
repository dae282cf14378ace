"""RFC 9420 §2.1 presentation-language codec (``hearth_mls.codec``)."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth_mls.codec import Reader, Writer, decode_exact, encode_varint
from hearth_mls.errors import DecodeError


@pytest.mark.parametrize(
    ("value", "encoded"),
    [
        (0, "00"),
        (37, "25"),
        (63, "3f"),
        (64, "4040"),
        (15293, "7bbd"),
        (16383, "7fff"),
        (16384, "80004000"),
        (494878333, "9d7f3e7d"),
        ((1 << 30) - 1, "bfffffff"),
    ],
)
def test_varint_round_trip(value: int, encoded: str) -> None:
    assert encode_varint(value).hex() == encoded
    assert decode_exact(bytes.fromhex(encoded), "varint", Reader.varint) == value


@pytest.mark.parametrize("encoded", ["4025", "80000025", "80003fff"])
def test_varint_must_be_minimal(encoded: str) -> None:
    with pytest.raises(DecodeError, match="minimally"):
        decode_exact(bytes.fromhex(encoded), "varint", Reader.varint)


def test_varint_reserved_prefix() -> None:
    with pytest.raises(DecodeError, match="reserved"):
        decode_exact(bytes.fromhex("c0000000000000000"[:16]), "varint", Reader.varint)


def test_trailing_bytes_name_the_struct() -> None:
    with pytest.raises(DecodeError, match=r"^Thing: 1 trailing bytes"):
        decode_exact(b"\x01\x00\x00", "Thing", lambda r: r.uint16())


def test_vector_and_optional() -> None:
    data = Writer().vector([1, 2, 3], Writer.uint16).optional(b"x", Writer.opaque).getvalue()
    reader = Reader(data)
    assert reader.vector(Reader.uint16) == [1, 2, 3]
    assert reader.optional(Reader.opaque) == b"x"
    reader.finish()
    with pytest.raises(DecodeError, match="presence"):
        decode_exact(b"\x02", "opt", lambda r: r.optional(Reader.uint8))


def test_vector_item_overrunning_its_vector() -> None:
    # a vector of 3 bytes holding uint16 items: the second item runs past the vector's end
    with pytest.raises(DecodeError):
        decode_exact(b"\x03\x00\x01\x00", "vec", lambda r: r.vector(Reader.uint16))


@given(st.binary(max_size=64))
def test_arbitrary_bytes_only_raise_decode_error(data: bytes) -> None:
    for get in (Reader.varint, Reader.opaque, lambda r: r.vector(Reader.opaque)):
        with contextlib.suppress(DecodeError):
            decode_exact(data, "fuzz", get)
