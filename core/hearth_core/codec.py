"""Encode and decode protocol v1 frames (protocol.md §2, §5.1).

One decoder per direction and one encoder, built once::

    frame = decode_client_frame(raw)      # bytes or str from a text frame
    raw = encode_frame(frame)             # bytes, sent as a *text* frame

A frame that does not decode raises ``FrameError`` with the stable error code the
server puts on the wire (``bad_json``, ``unknown_type``, ``missing_field``, ...) and
the JSON path of the field at fault. A bench or test client only needs this module
and ``hearth_core.auth``.
"""

from __future__ import annotations

import re
import typing
from typing import Any

import msgspec

from hearth_core.errors import ErrorCode, FrameError
from hearth_core.frames import ClientFrame, ServerFrame

_CLIENT_DECODER: msgspec.json.Decoder[ClientFrame] = msgspec.json.Decoder(ClientFrame)
_SERVER_DECODER: msgspec.json.Decoder[ServerFrame] = msgspec.json.Decoder(ServerFrame)
_ENCODER = msgspec.json.Encoder()

_AT = re.compile(r" - at `(?P<path>[^`]*)`$")
_NAMED = re.compile(r"`(?P<name>[^`]+)`")


def encode_frame(frame: msgspec.Struct) -> bytes:
    """The frame as compact UTF-8 JSON bytes (send them as a text frame, protocol.md §2.1)."""
    return _ENCODER.encode(frame)


def decode_client_frame(data: bytes | str) -> ClientFrame:
    """Decode a client frame or raise ``FrameError`` (protocol.md §5.1)."""
    try:
        return _CLIENT_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise FrameError(ErrorCode.BAD_JSON, f"malformed JSON: {exc}") from None


def decode_server_frame(data: bytes | str) -> ServerFrame:
    """Decode a server frame or raise ``FrameError`` (used by clients and tests)."""
    try:
        return _SERVER_DECODER.decode(data)
    except msgspec.ValidationError as exc:
        raise _validation_error(str(exc)) from None
    except msgspec.DecodeError as exc:
        raise FrameError(ErrorCode.BAD_JSON, f"malformed JSON: {exc}") from None


def _validation_error(text: str) -> FrameError:
    """Map a msgspec validation message to a stable code and a field path."""
    match = _AT.search(text)
    path = match.group("path") if match else "$"
    head = text[: match.start()] if match else text
    if head.startswith("Object missing required field"):
        name = _NAMED.search(head)
        field = f"{path}.{name.group('name')}" if name else path
        return FrameError(ErrorCode.MISSING_FIELD, f"missing required field {field}", field)
    if head.startswith("Object contains unknown field"):
        name = _NAMED.search(head)
        field = f"{path}.{name.group('name')}" if name else path
        return FrameError(ErrorCode.UNKNOWN_FIELD, f"unknown field {field}", field)
    if path == "$.type":
        return FrameError(ErrorCode.UNKNOWN_TYPE, "unknown frame type", path)
    if path == "$" and head.startswith("Expected `object`"):
        return FrameError(ErrorCode.NOT_OBJECT, "a frame must be a JSON object", path)
    if head.startswith("Invalid base64"):
        return FrameError(ErrorCode.INVALID_BASE64, f"invalid base64 at {path}", path)
    return FrameError(ErrorCode.INVALID_FIELD, f"{head} at {path}", path)


def frame_tags(union: Any) -> dict[str, type[msgspec.Struct]]:
    """Map each ``type`` tag of a frame union to its Struct class (for docs and tests)."""
    tags: dict[str, type[msgspec.Struct]] = {}
    for member in typing.get_args(union):
        tag = member.__struct_config__.tag
        assert isinstance(tag, str)
        tags[tag] = member
    return tags
