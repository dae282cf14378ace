"""GroupInfo and GroupInfoTBS (RFC 9420 §12.4.3)."""

from __future__ import annotations

import pytest

from hearth_mls.errors import DecodeError
from hearth_mls.extensions import Extension
from hearth_mls.group_info import GroupInfo
from tests.mls import samples


def test_round_trip_and_tbs() -> None:
    info = GroupInfo(samples.group_context(), b"tag", 4, (Extension(4, b"\x01k"),), b"sig")
    data = info.to_bytes()
    assert GroupInfo.from_bytes(data) == info
    assert data == info.to_be_signed() + b"\x03sig"
    assert info.with_signature(b"other").to_be_signed() == info.to_be_signed()


def test_truncated_group_context_is_named() -> None:
    with pytest.raises(DecodeError) as info:
        GroupInfo.from_bytes(samples.group_context().to_bytes()[:10])
    assert info.value.struct == "GroupContext"
