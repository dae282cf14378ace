"""MLSMessage, every wire format (RFC 9420 §6)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError
from hearth_mls.framing import WireFormat
from hearth_mls.mls_message import MLSMessage
from tests.mls import samples


@pytest.mark.parametrize(
    ("field", "wire_format"),
    [
        ("mls_welcome", WireFormat.WELCOME),
        ("mls_group_info", WireFormat.GROUP_INFO),
        ("mls_key_package", WireFormat.KEY_PACKAGE),
        ("public_message_commit", WireFormat.PUBLIC_MESSAGE),
        ("private_message", WireFormat.PRIVATE_MESSAGE),
    ],
)
def test_vector_messages_decode_with_their_wire_format(field: str, wire_format: WireFormat) -> None:
    data = samples.message_field(field, 5)
    message = MLSMessage.from_bytes(data)
    assert message.wire_format is wire_format
    assert message.to_bytes() == data


def test_constructed_key_package_message() -> None:
    message = MLSMessage(samples.key_package())
    assert message.to_bytes()[:4] == b"\x00\x01\x00\x05"
    assert MLSMessage.from_bytes(message.to_bytes()) == message


def test_unsupported_version_rejected() -> None:
    with pytest.raises(DecodeError, match="unsupported protocol version 2") as info:
        MLSMessage.from_bytes(b"\x00\x02\x00\x01")
    assert info.value.struct == "MLSMessage"


def test_unknown_wire_format_rejected() -> None:
    with pytest.raises(DecodeError, match="unknown WireFormat 0"):
        MLSMessage.from_bytes(b"\x00\x01\x00\x00")
