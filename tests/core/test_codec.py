"""hearth_core.codec: round trips and the stable code of each bad input (protocol.md §5.1)."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hearth_core.codec import decode_client_frame, decode_server_frame, encode_frame
from hearth_core.errors import ErrorCode, FrameError
from hearth_core.frames import Ack, Hello, Message, Send

ROOM = "Qm9vdGgxMjM0NTY3ODkwYW"
B64_KEY = base64.b64encode(bytes(32)).decode()


@pytest.mark.parametrize(
    ("raw", "code", "field"),
    [
        (b"{", ErrorCode.BAD_JSON, None),
        (b"\xff\xfe", ErrorCode.BAD_JSON, None),
        (b"[1, 2]", ErrorCode.NOT_OBJECT, "$"),
        (b'"hello"', ErrorCode.NOT_OBJECT, "$"),
        (b'{"type": "shout"}', ErrorCode.UNKNOWN_TYPE, "$.type"),
        (b'{"type": 7}', ErrorCode.UNKNOWN_TYPE, "$.type"),
        (b'{"versions": [1]}', ErrorCode.MISSING_FIELD, "$.type"),
        (b'{"type": "hello"}', ErrorCode.MISSING_FIELD, "$.versions"),
        (b'{"type": "hello", "versions": [1], "x": 1}', ErrorCode.UNKNOWN_FIELD, "$.x"),
        (b'{"type": "hello", "versions": ["1"]}', ErrorCode.INVALID_FIELD, "$.versions[0]"),
        (b'{"type": "hello", "versions": []}', ErrorCode.INVALID_FIELD, "$.versions"),
        (
            b'{"type": "send", "room": "short", "id": "a", "payload": ""}',
            ErrorCode.INVALID_FIELD,
            "$.room",
        ),
        (
            f'{{"type": "send", "room": "{ROOM}", "id": "a", "payload": "!!!"}}'.encode(),
            ErrorCode.INVALID_BASE64,
            "$.payload",
        ),
        (
            f'{{"type": "send", "room": "{ROOM}", "id": "a b", "payload": ""}}'.encode(),
            ErrorCode.INVALID_FIELD,
            "$.id",
        ),
        (
            f'{{"type": "auth", "identity": "{B64_KEY[:-4]}", "signature": ""}}'.encode(),
            ErrorCode.INVALID_FIELD,
            "$.identity",
        ),
        (
            f'{{"type": "typing", "room": "{ROOM}", "active": "yes"}}'.encode(),
            ErrorCode.INVALID_FIELD,
            "$.active",
        ),
    ],
)
def test_each_bad_input_gets_its_code(raw: bytes, code: ErrorCode, field: str | None) -> None:
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code is code
    assert info.value.field == field


def test_server_frames_do_not_decode_as_client_frames() -> None:
    raw = encode_frame(Ack(room=ROOM, id="x", seq=1, ts=2))
    assert decode_server_frame(raw) == Ack(room=ROOM, id="x", seq=1, ts=2)
    with pytest.raises(FrameError) as info:
        decode_client_frame(raw)
    assert info.value.code is ErrorCode.UNKNOWN_TYPE


def test_defaults_are_omitted_on_the_wire() -> None:
    assert encode_frame(Hello(versions=[1])) == b'{"type":"hello","versions":[1]}'
    assert b"duplicate" not in encode_frame(Ack(room=ROOM, id="x", seq=1, ts=2))


@given(
    payload=st.binary(max_size=2048),
    msg_id=st.from_regex(r"[A-Za-z0-9_.:-]{1,64}", fullmatch=True),
    ref=st.none() | st.integers(min_value=0, max_value=2**53 - 1),
)
def test_send_round_trips(payload: bytes, msg_id: str, ref: int | None) -> None:
    frame = Send(ref=ref, room=ROOM, id=msg_id, payload=payload)
    assert decode_client_frame(encode_frame(frame)) == frame


@given(raw=st.binary(max_size=256))
def test_arbitrary_bytes_only_raise_frame_error(raw: bytes) -> None:
    codes = set(ErrorCode)
    try:
        decode_client_frame(raw)
    except FrameError as exc:
        code = exc.code
    else:
        return
    assert code in codes


def test_message_frame_bytes_are_the_same_for_everyone() -> None:
    frame = Message(room=ROOM, seq=3, sender=bytes(32), ts=5, payload=b"\x00\x01")
    assert encode_frame(frame) == encode_frame(frame)
    assert decode_server_frame(encode_frame(frame)) == frame
