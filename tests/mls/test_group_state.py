"""Serialized group state: round trip and strict decoding (RFC 9420 §8 state, our format)."""

from __future__ import annotations

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_mls.errors import DecodeError, StateVersionError
from hearth_mls.group import Group
from hearth_mls.group_state import FORMAT_VERSION, state_from_bytes, state_to_bytes
from tests.mls.group_helpers import trio


def test_round_trip_after_traffic() -> None:
    t = trio()
    t.alice.process(t.bob.protect(b"one"))
    blob = t.alice.to_bytes()
    state, epochs, pending = state_from_bytes(blob)
    assert state == t.alice.state
    assert pending is None
    assert state_to_bytes(state, epochs) == blob


def test_trailing_bytes_and_truncation_are_decode_errors() -> None:
    blob = Group.create(b"alice").to_bytes()
    for bad in (blob + b"\0", blob[:-1], blob[:2]):
        try:
            state_from_bytes(bad)
        except DecodeError:
            continue
        raise AssertionError("accepted a damaged state blob")


_VALID = trio().bob.to_bytes()


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(0, len(_VALID) - 1), st.integers(0, 255))
def test_arbitrary_or_mutated_bytes_only_raise_decode_or_version_errors(
    data: bytes, position: int, value: int
) -> None:
    mutated = _VALID[:position] + bytes([value]) + _VALID[position + 1 :]
    for candidate in (data, FORMAT_VERSION.to_bytes(2, "big") + data, mutated):
        with contextlib.suppress(DecodeError, StateVersionError):
            state_from_bytes(candidate)
