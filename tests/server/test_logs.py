"""Logs carry no payload, key, invite secret, pseudonym or IP address (DESIGN.md principle 2).

The autouse ``server_logs`` fixture checks every server test's logs; these tests show
that the check and the allow-list can actually catch something.
"""

from __future__ import annotations

import base64
import io
import json

from hearth_core.ids import log_tag
from hearth_server.logs import configure_logging, get_logger

from .conftest import MARK, leaks


def test_leak_detector_finds_payloads_and_addresses() -> None:
    assert leaks(f"x {MARK.decode()}-1 y")
    assert leaks(base64.b64encode(MARK + b"-7").decode())
    assert leaks('{"peer": "127.0.0.1"}')
    assert leaks("[::1]:8765")
    assert not leaks('{"event": "listening", "port": 8765}')


def test_allow_list_drops_unknown_keys_and_tags_rooms(server_logs: io.StringIO) -> None:
    stream = io.StringIO()
    configure_logging("debug", stream)
    room = "Qm9vdGgxMjM0NTY3ODkwYW"
    get_logger().info(
        "careless",
        room=room,
        payload=MARK + b"-1",
        remote_address="10.1.2.3",
        invite="c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3J",
        count=3,
    )
    [line] = stream.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "careless"
    assert record["count"] == 3
    assert record["room"] == log_tag(room)
    assert room not in line
    assert {"payload", "remote_address", "invite"}.isdisjoint(record)
    assert not leaks(line)
    configure_logging("debug", server_logs)  # hand the stream back to the session check


def test_library_records_go_through_the_same_filter(server_logs: io.StringIO) -> None:
    import logging

    stream = io.StringIO()
    configure_logging("debug", stream)
    logging.getLogger("websockets.server").warning("something odd")
    logging.getLogger("websockets.server").info("connection open")  # below WARNING: dropped
    lines = stream.getvalue().splitlines()
    assert [json.loads(line)["event"] for line in lines] == ["something odd"]
    configure_logging("debug", server_logs)
