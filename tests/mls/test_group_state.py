"""Serialized group state: round trip and strict decoding (RFC 9420 §8 state, our format)."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hearth_mls.codec import Reader, Writer
from hearth_mls.errors import DecodeError, StateVersionError
from hearth_mls.group import Group
from hearth_mls.group_state import FORMAT_VERSION, state_from_bytes, state_to_bytes
from hearth_mls.mls_message import MLSMessage
from hearth_mls.tree_nodes import ratchet_tree_to_bytes
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


def test_version_1_blobs_written_by_older_code_still_load() -> None:
    """Blobs saved before the secret tree had its own encoder keep working (§14)."""
    saved = json.loads((Path(__file__).parent / "data" / "group_state_v1.json").read_text())
    assert int.from_bytes(bytes.fromhex(saved["bob"])[:2], "big") == 1
    alice = Group.from_bytes(bytes.fromhex(saved["alice"]))
    bob = Group.from_bytes(bytes.fromhex(saved["bob"]))
    late = bob.process(MLSMessage.from_bytes(bytes.fromhex(saved["skipped_message"])))
    assert late.plaintext == b"skipped"
    assert alice.process(bob.protect(b"after the upgrade")).plaintext == b"after the upgrade"
    assert Group.from_bytes(bob.to_bytes()).to_bytes() == bob.to_bytes()


def test_non_utf8_phase_is_a_decode_error() -> None:
    blob = Group.create(b"alice").to_bytes()
    state, epochs, _ = state_from_bytes(blob)
    good = state_to_bytes(state, epochs)
    marker = len(b"active").to_bytes(1, "big") + b"active"
    assert good.count(marker) == 1
    bad = good.replace(marker, len(b"\x80ctive").to_bytes(1, "big") + b"\x80ctive")
    with pytest.raises(DecodeError, match="unknown phase"):
        state_from_bytes(bad)


def test_a_stored_tree_ending_in_a_blank_is_a_decode_error() -> None:
    blob = Group.create(b"alice").to_bytes()
    r = Reader(blob)
    version, body = r.uint16(), r.opaque()
    state, _, _ = state_from_bytes(blob)
    wire = list(state.tree)
    good, bad = ratchet_tree_to_bytes(wire), ratchet_tree_to_bytes([*wire, None, None])
    assert body.count(good) == 1
    damaged = Writer().uint16(version).opaque(body.replace(good, bad)).getvalue()
    with pytest.raises(DecodeError, match="ratchet tree"):
        state_from_bytes(damaged)


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
