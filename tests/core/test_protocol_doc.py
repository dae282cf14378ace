"""protocol.md is normative: every example decodes, every frame type, error code and
close code appears in it (DESIGN.md "Quality bars")."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from hearth_core.codec import decode_client_frame, decode_server_frame, encode_frame, frame_tags
from hearth_core.errors import CloseCode, ErrorCode
from hearth_core.frames import ClientFrame, ServerFrame

DOC = Path(__file__).resolve().parents[2] / "protocol.md"
CLIENT_TAGS = frame_tags(ClientFrame)
SERVER_TAGS = frame_tags(ServerFrame)


def examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.S)


def example_types() -> list[str]:
    return [json.loads(block)["type"] for block in examples()]


def test_tags_are_disjoint_between_directions() -> None:
    assert not (CLIENT_TAGS.keys() & SERVER_TAGS.keys())


@pytest.mark.parametrize("block", examples())
def test_every_example_decodes_with_the_real_decoder(block: str) -> None:
    raw = block.encode()
    kind = json.loads(block)["type"]
    if kind in CLIENT_TAGS:
        frame = decode_client_frame(raw)
        assert isinstance(frame, CLIENT_TAGS[kind])
        again = decode_client_frame(encode_frame(frame))
    else:
        assert kind in SERVER_TAGS, f"example of unknown frame type {kind!r}"
        frame = decode_server_frame(raw)
        assert isinstance(frame, SERVER_TAGS[kind])
        again = decode_server_frame(encode_frame(frame))
    assert again == frame


@pytest.mark.parametrize("tag", sorted(CLIENT_TAGS | SERVER_TAGS))
def test_every_frame_type_has_an_example(tag: str) -> None:
    assert tag in example_types(), f"protocol.md has no JSON example of {tag!r}"


@pytest.mark.parametrize("code", list(ErrorCode))
def test_every_error_code_is_documented(code: ErrorCode) -> None:
    assert f"| `{code.value}` |" in DOC.read_text(), f"{code.value} missing from §5 tables"


@pytest.mark.parametrize("code", list(CloseCode))
def test_every_close_code_is_documented(code: CloseCode) -> None:
    assert f"| {code.value} |" in DOC.read_text(), f"close code {code.value} missing from §6"


def test_the_doc_test_notices_a_missing_example() -> None:
    """The check above can fail: a type that is not in the doc is reported missing."""
    assert "no_such_frame" not in example_types()
    assert len(examples()) >= len(CLIENT_TAGS) + len(SERVER_TAGS)
