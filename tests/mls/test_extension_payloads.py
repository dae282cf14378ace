"""Contents of the RFC 9420 extensions (§11.1, §12.1.8.1, §12.4.3.2, §5.3.3)."""

from __future__ import annotations

import pytest

from hearth_mls.credential import Credential
from hearth_mls.errors import DecodeError
from hearth_mls.extension_payloads import (
    ApplicationId,
    ExternalPub,
    ExternalSender,
    RequiredCapabilities,
    external_senders_from_bytes,
    external_senders_to_bytes,
)


def test_required_capabilities_keep_unknown_values() -> None:
    required = RequiredCapabilities((0xFF00, 0x0A0A), (7,), (1, 2))
    assert RequiredCapabilities.from_bytes(required.to_bytes()) == required


def test_external_senders_rfc_encoding() -> None:
    senders = (ExternalSender(b"K" * 32, Credential.basic(b"server")),)
    data = external_senders_to_bytes(senders)
    # A vector of ExternalSender structs (RFC 9420 §12.1.8.1), not a struct wrapping it.
    assert data[0] == len(data) - 1
    assert external_senders_from_bytes(data) == senders


def test_external_senders_trailing_bytes_rejected() -> None:
    data = external_senders_to_bytes(()) + b"\x00"
    with pytest.raises(DecodeError, match="trailing"):
        external_senders_from_bytes(data)


def test_external_pub_and_application_id() -> None:
    assert ExternalPub.from_bytes(ExternalPub(b"pub").to_bytes()) == ExternalPub(b"pub")
    assert ApplicationId(b"app").to_bytes() == b"\x03app"
