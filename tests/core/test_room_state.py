"""Application envelopes (hearth_core.room_state): codec, limits, room-state authority,
and the envelope travelling inside a real MLS group as ciphertext."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth_core import room_errors as err
from hearth_core.room_roles import Role, RoomView
from hearth_core.room_state import (
    ENVELOPE_VERSION,
    MAX_ENVELOPE_BYTES,
    MAX_GUIDELINES_CHARS,
    MAX_NAME_CHARS,
    MAX_TEXT_CHARS,
    MAX_TOPIC_CHARS,
    Chat,
    Me,
    RoomState,
    apply_room_state,
    decode_envelope,
    encode_envelope,
    has_forbidden_characters,
)
from hearth_mls.mls_message import MLSMessage
from tests.core.room_fixtures import make_room, wire

STATE = RoomState(3, "Tuesday circle", "Sleep and nightmares", "Be kind.\nNo advice unless asked.")


def raw(obj: object, version: int = ENVELOPE_VERSION) -> bytes:
    return bytes([version]) + msgspec.msgpack.encode(obj)


@pytest.mark.parametrize(
    "envelope",
    [
        Chat("hello"),
        Chat("two\nlines\twith tab, ünïcode and emoji 🌱"),
        Me("waves"),
        STATE,
        RoomState(1, "x"),
        Chat("x" * MAX_TEXT_CHARS),
        RoomState(
            2**53,
            "n" * MAX_NAME_CHARS,
            "t" * MAX_TOPIC_CHARS,
            "🌱" * MAX_GUIDELINES_CHARS,
        ),
    ],
)
def test_round_trip(envelope: Chat | Me | RoomState) -> None:
    data = encode_envelope(envelope)
    assert data[0] == ENVELOPE_VERSION
    assert len(data) <= MAX_ENVELOPE_BYTES
    assert decode_envelope(data) == envelope


def test_encoding_is_tagged_msgpack() -> None:
    assert encode_envelope(Chat("hi")) == raw({"t": "chat", "text": "hi"})
    assert decode_envelope(raw({"t": "me", "text": "nods"})) == Me("nods")
    assert decode_envelope(raw({"t": "room_state", "revision": 1, "name": "r"})) == RoomState(
        1, "r"
    )


@pytest.mark.parametrize(
    ("obj", "field"),
    [
        ({"t": "chat", "text": ""}, "text"),
        ({"t": "chat", "text": " \n\t "}, "blank"),
        ({"t": "chat", "text": "x" * (MAX_TEXT_CHARS + 1)}, "text"),
        ({"t": "chat", "text": "bell\x07"}, "text"),
        ({"t": "chat", "text": "esc\x1b[2J"}, "text"),
        ({"t": "chat", "text": "cr\r"}, "text"),
        ({"t": "chat", "text": "del\x7f"}, "text"),
        ({"t": "chat", "text": "c1\x9b"}, "text"),
        ({"t": "chat", "text": "bidi\u202e"}, "text"),
        ({"t": "chat", "text": "iso\u2067"}, "text"),
        ({"t": "chat", "text": 7}, "text"),
        ({"t": "chat"}, "text"),
        ({"t": "chat", "text": "hi", "extra": 1}, "extra"),
        ({"t": "shout", "text": "hi"}, "t"),
        ({"text": "hi"}, "t"),
        ({"t": "me", "text": "a\x00"}, "text"),
        ({"t": "room_state", "revision": 0, "name": "r"}, "revision"),
        ({"t": "room_state", "revision": 2**53 + 1, "name": "r"}, "revision"),
        ({"t": "room_state", "revision": "1", "name": "r"}, "revision"),
        ({"t": "room_state", "revision": 1, "name": ""}, "name"),
        ({"t": "room_state", "revision": 1, "name": "   "}, "blank"),
        ({"t": "room_state", "revision": 1, "name": "two\nlines"}, "name"),
        ({"t": "room_state", "revision": 1, "name": "n" * (MAX_NAME_CHARS + 1)}, "name"),
        ({"t": "room_state", "revision": 1, "name": "r", "topic": "a\tb"}, "topic"),
        ({"t": "room_state", "revision": 1, "name": "r", "topic": "t" * 281}, "topic"),
        (
            {"t": "room_state", "revision": 1, "name": "r", "guidelines": "g" * 6001},
            "guidelines",
        ),
        ({"t": "room_state", "revision": 1, "name": "r", "guidelines": "\x1b]0;"}, "guidelines"),
        ([1, 2], "object"),
    ],
)
def test_invalid_envelopes_are_refused(obj: object, field: str) -> None:
    with pytest.raises(err.EnvelopeDecodeError, match=field):
        decode_envelope(raw(obj))


def test_framing_errors() -> None:
    with pytest.raises(err.EnvelopeDecodeError, match="empty"):
        decode_envelope(b"")
    with pytest.raises(err.EnvelopeVersionError, match="version 2"):
        decode_envelope(raw({"t": "chat", "text": "hi"}, version=2))
    with pytest.raises(err.EnvelopeVersionError, match="version 0"):
        decode_envelope(b"\x00")
    with pytest.raises(err.EnvelopeDecodeError, match="MessagePack"):
        decode_envelope(b"\x01\xc1")
    with pytest.raises(err.EnvelopeDecodeError, match="MessagePack"):
        decode_envelope(encode_envelope(Chat("hi")) + b"\x00")
    with pytest.raises(err.EnvelopeDecodeError, match="MessagePack"):
        decode_envelope(encode_envelope(Chat("hi"))[:-1])
    with pytest.raises(err.EnvelopeTooLargeError):
        decode_envelope(b"\x01" + b"\x00" * MAX_ENVELOPE_BYTES)


def test_reprs_never_show_the_text() -> None:
    for envelope in (Chat("my secret"), Me("my secret"), RoomState(1, "my secret", "t", "g")):
        assert "secret" not in repr(envelope)
        assert "secret" not in f"{envelope}"


def test_errors_never_echo_the_text() -> None:
    secret = "my address is 12 Elm St\x07"
    with pytest.raises(err.EnvelopeDecodeError) as caught:
        decode_envelope(raw({"t": "chat", "text": secret}))
    assert "Elm" not in str(caught.value)


@pytest.mark.parametrize(
    "bad",
    [Chat("\x1b[31m"), Chat("x" * (MAX_TEXT_CHARS + 1)), RoomState(0, "r"), RoomState(1, "a\nb")],
)
def test_encoding_an_invalid_envelope_is_a_usage_error(bad: Chat | Me | RoomState) -> None:
    with pytest.raises(err.RoomUsageError):
        encode_envelope(bad)


@pytest.mark.parametrize("kind", [Chat, Me])
def test_blank_text_cannot_be_built(kind: type[Chat] | type[Me]) -> None:
    with pytest.raises(err.RoomUsageError, match="blank"):
        kind(" \n")
    with pytest.raises(err.RoomUsageError, match="blank"):
        RoomState(1, "  ")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_only_raise_envelope_errors(data: bytes) -> None:
    try:
        envelope = decode_envelope(data)
    except err.EnvelopeError:
        return
    assert decode_envelope(encode_envelope(envelope)) == envelope


@given(st.text(max_size=200))
def test_chat_text_accepted_exactly_when_clean(text: str) -> None:
    ok = bool(text.strip()) and not has_forbidden_characters(text)
    try:
        encode_envelope(Chat(text))  # blank text already fails in the constructor
    except err.RoomUsageError:
        assert not ok
    else:
        assert ok


def test_room_state_authority_and_revisions() -> None:
    first = RoomState(1, "circle")
    assert apply_room_state(None, first, Role.FACILITATOR) == first
    for role in (Role.MEMBER, Role.PEER_LEADER):
        with pytest.raises(err.RoomStateRejectedError, match=role.value):
            apply_room_state(first, RoomState(2, "mine"), role)
    newer = RoomState(2, "circle", "topic")
    assert apply_room_state(first, newer, Role.FACILITATOR) == newer
    assert apply_room_state(newer, RoomState(2, "circle", "topic"), Role.FACILITATOR) is newer
    with pytest.raises(err.RoomStateRejectedError, match="same revision"):
        apply_room_state(newer, RoomState(2, "other"), Role.FACILITATOR)
    with pytest.raises(err.RoomStateRejectedError, match="stale"):
        apply_room_state(newer, first, Role.FACILITATOR)


def test_envelopes_travel_as_ciphertext_in_a_real_group() -> None:
    room = make_room(b"bob")
    alice, bob = room.groups[b"alice"], room.groups[b"bob"]
    sent = wire(alice.protect(encode_envelope(STATE)))
    # what the server stores: none of the metadata is visible
    for needle in (b"Tuesday", b"Sleep", b"kind", b"room_state"):
        assert needle not in sent
    received = bob.process(MLSMessage.from_bytes(sent))
    update = decode_envelope(received.plaintext)
    assert isinstance(update, RoomState)
    assert received.sender.index is not None
    role = RoomView.from_group_state(bob.state).role_of_leaf(received.sender.index)
    assert apply_room_state(None, update, role) == STATE
    # a member's room state is decrypted fine but refused by the rule
    reply = alice.process(
        MLSMessage.from_bytes(wire(bob.protect(encode_envelope(RoomState(9, "hijack")))))
    )
    assert reply.sender.index is not None
    role = RoomView.from_group_state(alice.state).role_of_leaf(reply.sender.index)
    with pytest.raises(err.RoomStateRejectedError):
        apply_room_state(STATE, decode_envelope(reply.plaintext), role)  # type: ignore[arg-type]
