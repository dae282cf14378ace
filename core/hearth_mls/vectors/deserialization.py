"""``deserialization.json``: variable-length vector headers (RFC 9420 §2.1.2)."""

from __future__ import annotations

from hearth_mls.codec import Reader, encode_varint
from hearth_mls.vectors import Entry


def check(entry: Entry) -> None:
    header = bytes.fromhex(entry["vlbytes_header"])
    reader = Reader(header, "vlbytes_header")
    length = reader.varint()
    reader.finish()
    if length != entry["length"]:
        raise AssertionError(f"decoded length {length} != {entry['length']}")
    if encode_varint(length) != header:
        raise AssertionError("re-encoding the length gives other bytes")
