"""hearth_core.ids and hearth_core.rules (protocol.md §2.3, §4.3)."""

from __future__ import annotations

import hashlib
import re

from hearth_core.ids import (
    invite_secret_hash,
    log_tag,
    new_invite_id,
    new_invite_secret,
    new_room_id,
)
from hearth_core.rules import Role, RoomAction, may


def test_ids_have_the_documented_shape_and_differ() -> None:
    rooms = {new_room_id() for _ in range(100)}
    assert len(rooms) == 100
    assert all(re.fullmatch(r"[A-Za-z0-9_-]{22}", r) for r in rooms)
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", new_invite_id())
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", new_invite_secret())


def test_no_id_or_secret_begins_with_a_dash() -> None:
    # One in 64 plain draws would; among 3 x 2,000 the chance that none does is ~1e-41,
    # so this fails if the redraw is lost. A leading dash reads as an option to a CLI.
    for make in (new_room_id, new_invite_id, new_invite_secret):
        firsts = {make()[0] for _ in range(2000)}
        assert "-" not in firsts
        assert "_" in firsts  # the rest of the alphabet is still used


def test_invite_hash_is_sha256_of_the_secret() -> None:
    secret = new_invite_secret()
    assert invite_secret_hash(secret) == hashlib.sha256(secret.encode()).digest()
    assert secret.encode() not in invite_secret_hash(secret)


def test_log_tag_hides_the_value() -> None:
    room = new_room_id()
    assert room not in log_tag(room)
    assert log_tag(room) == log_tag(room.encode())
    assert len(log_tag(room)) == 12


def test_only_facilitators_moderate() -> None:
    for action in RoomAction:
        assert may(Role.FACILITATOR, action)
        assert not may(Role.MEMBER, action)
        assert not may(Role.PEER_LEADER, action)
