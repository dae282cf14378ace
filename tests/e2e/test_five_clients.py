"""Five real engines in one room through a real server (issue 5 "Must show").

create, invite, join (external commits), chat across more than five epochs with
adds, a facilitator's removal and a voluntary leave; every message arrives once,
in order, decrypted; the removed member cannot decrypt anything sent after its
removal; the server's database and logs hold no plaintext, room name, topic,
pseudonym or private key.
"""

from __future__ import annotations

import base64
import io
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from hearth_client import events as ev
from hearth_client.engine import Engine
from hearth_client.keystore import Keystore
from hearth_mls.errors import MLSError
from hearth_mls.mls_message import MLSMessage

from .conftest import PASSPHRASE, Recorder, ServerHandle, reopen

NAME = "Thursday night circle"
TOPIC = "sleep after the deployment"
GUIDELINES = "Speak from your own experience. What is said here stays here."


def _forms(secret: bytes) -> list[bytes]:
    """A secret as raw bytes, hex, and standard and URL-safe base64 (no padding)."""
    return [
        secret,
        secret.hex().encode(),
        base64.b64encode(secret).rstrip(b"="),
        base64.urlsafe_b64encode(secret).rstrip(b"="),
    ]


def _server_bytes(db: Path) -> bytes:
    data = b""
    for path in sorted(db.parent.glob(db.name + "*")):
        data += path.read_bytes()
    return data


def _profile_bytes(root: Path, db: Path) -> bytes:
    """Every file of every client profile under ``root`` (the server's files excluded)."""
    files = [p for p in sorted(root.rglob("*")) if p.is_file() and not p.name.startswith(db.name)]
    return b"".join(p.read_bytes() for p in files)


async def _all_have(recorders: list[Recorder], room: str, texts: list[str]) -> None:
    for recorder in recorders:
        await recorder.until(
            lambda r=recorder: [m.text for m in r.messages(room)][-len(texts) :] == texts
        )


async def test_five_clients_many_epochs_no_leaks(
    engines: Any, server: ServerHandle, server_logs: io.StringIO, tmp_path: Path
) -> None:
    alice, ra = await engines("alice")
    bob, rb = await engines("bob")
    carol, rc = await engines("carol")
    dave, rd = await engines("dave")
    erin, re_ = await engines("erin")
    info = await alice.create_room(
        NAME, pseudonym="river-runs-deep", topic=TOPIC, guidelines=GUIDELINES
    )
    room = info.room
    assert info.name == NAME
    assert info.role.value == "facilitator"
    invite = await alice.create_invite(room, max_uses=10)
    said: list[str] = []

    async def say(engine: Engine, text: str) -> None:
        said.append(text)
        await engine.send(room, text)

    await say(alice, "welcome, everyone (epoch 0)")
    pseudonyms = {
        "bob": "willow-by-the-brook",
        "carol": "fern-in-the-shade",
        "dave": "ash-after-rain",
        "erin": "birch-at-dawn",
    }
    joined: list[tuple[Engine, Recorder]] = [(alice, ra)]
    for name, (engine, recorder) in zip(
        pseudonyms, [(bob, rb), (carol, rc), (dave, rd), (erin, re_)], strict=True
    ):
        joined_info = await engine.join(invite.link, pseudonym=pseudonyms[name])
        assert joined_info.room == room
        joined.append((engine, recorder))
        await recorder.wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
        await say(engine, f"hello from {pseudonyms[name]}")
        await _all_have([r for _, r in joined], room, [said[-1]])
    assert alice.room(room).epoch == 4
    # Everyone learns the room's name and the others' pseudonyms, all encrypted.
    for engine, recorder in joined:
        await recorder.until(lambda e=engine: e.room(room).name == NAME)
        await recorder.until(
            lambda e=engine: (
                sorted(m.pseudonym for m in e.members(room))
                == sorted(["river-runs-deep", *pseudonyms.values()])
            )
        )
    epochs = {engine.room(room).epoch for engine, _ in joined}
    assert epochs == {4}
    tree_hashes = {engine.tree_hash(room) for engine, _ in joined}
    assert len(tree_hashes) == 1

    # A facilitator removes dave (epoch 5).
    dave_id = dave.room(room).me
    await alice.remove(room, dave_id)
    await rd.wait_for(lambda e: isinstance(e, ev.RoomLeft) and e.reason is ev.LeaveReason.REMOVED)
    for recorder in (ra, rb, rc, re_):
        await recorder.wait_for(
            lambda e: (
                isinstance(e, ev.MemberLeft)
                and e.member == dave_id
                and e.reason is ev.LeaveReason.REMOVED
            )
        )
    await say(bob, "dave is gone (epoch 5)")
    stayed = [(alice, ra), (bob, rb), (carol, rc), (erin, re_)]
    await _all_have([r for _, r in stayed], room, [said[-1]])

    # erin leaves by herself (epoch 6): a self-Remove proposal a member commits.
    erin_id = erin.room(room).me
    said_before_erin_left = len(said)
    await erin.leave(room)
    for recorder in (ra, rb, rc):
        await recorder.wait_for(lambda e: isinstance(e, ev.MemberLeft) and e.member == erin_id)
    after_leave = "after erin left (epoch 6)"
    await say(carol, after_leave)
    await say(alice, "one more in epoch 6")
    remaining = [(alice, ra), (bob, rb), (carol, rc)]
    await _all_have([r for _, r in remaining], room, said[-2:])
    assert {engine.room(room).epoch for engine, _ in remaining} == {6}
    assert len({engine.tree_hash(room) for engine, _ in remaining}) == 1

    # Every member saw every message of its membership once, in order, decrypted.
    for _engine, recorder in remaining:
        seqs = [m.seq for m in recorder.messages(room)]
        assert seqs == sorted(set(seqs))
    assert [m.text for m in ra.messages(room)] == said
    bob_texts = [m.text for m in rb.messages(room)]
    assert bob_texts == said[said.index("hello from willow-by-the-brook") :]
    carol_texts = [m.text for m in rc.messages(room)]
    assert carol_texts == said[said.index("hello from fern-in-the-shade") :]
    dave_start = said.index("hello from ash-after-rain")
    assert [m.text for m in rd.messages(room)] == said[
        dave_start : said.index("dave is gone (epoch 5)")
    ]
    erin_start = said.index("hello from birch-at-dawn")
    assert [m.text for m in re_.messages(room)] == said[erin_start:said_before_erin_left]
    # dave saw nothing sent after his removal, and cannot decrypt it by hand.
    dave_texts = [m.text for m in rd.messages(room)]
    assert "dave is gone (epoch 5)" not in dave_texts
    assert after_leave not in dave_texts
    dave_group = dave.group_state(room)
    assert dave_group is not None
    db = server.config.db
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("select name from sqlite_master where type='table'")]
        table = "messages" if "messages" in tables else tables[0]
        cols = [r[1] for r in conn.execute(f"pragma table_info({table})")]
        payload_col = "payload" if "payload" in cols else cols[-1]
        rows = conn.execute(f"select {payload_col} from {table}").fetchall()
    opened_after = 0
    for (payload,) in rows:
        if not isinstance(payload, bytes):
            continue
        try:
            message = MLSMessage.from_bytes(payload)
        except MLSError:
            continue
        try:
            dave_group.process(message)
        except MLSError:
            continue
        opened_after += 1
    assert opened_after == 0  # nothing at all opens twice or after removal

    # The server's files and logs hold none of the secrets.
    await server.stop()
    stored = _server_bytes(db)
    logs = server_logs.getvalue().encode()
    secrets_: list[bytes] = [NAME.encode(), TOPIC.encode(), GUIDELINES.encode()]
    secrets_ += [text.encode() for text in said]
    secrets_ += [p.encode() for p in ["river-runs-deep", *pseudonyms.values()]]
    for name, engine in zip(
        ["alice", "bob", "carol", "dave", "erin"], [alice, bob, carol, dave, erin], strict=True
    ):
        await engine.close()  # releases the profile (closing again at teardown is a no-op)
        with Keystore.open(tmp_path / name, PASSPHRASE) as keystore:  # as a user would
            for membership in keystore.memberships():
                secrets_ += _forms(membership.auth_key) + _forms(membership.signature_key)
    for secret in secrets_:
        assert secret not in stored, "the server's database holds a secret"
        assert secret not in logs, "the server's logs hold a secret"
    assert len(stored) > 0
    # Nor do the clients' profile directories: everything there is sealed.
    profiles = _profile_bytes(tmp_path, db)
    assert len(profiles) > 0
    for secret in [NAME.encode(), TOPIC.encode(), *(text.encode() for text in said)]:
        assert secret not in profiles, "a profile holds plaintext"
    await server.start()  # the fixture stops it again


@pytest.mark.parametrize("waiting_room", [True])
async def test_waiting_room_admission_by_welcome(engines: Any, waiting_room: bool) -> None:
    alice, ra = await engines("alice")
    bob, rb = await engines("bob")
    room = (
        await alice.create_room("quiet room", pseudonym="river-runs-deep", waiting_room=True)
    ).room
    invite = await alice.create_invite(room)
    assert invite.waiting_room is waiting_room
    info = await bob.join(invite.code, pseudonym="willow")
    assert info.status == "waiting"
    bob_id = info.me
    await ra.wait_for(lambda e: isinstance(e, ev.MemberWaiting) and e.member == bob_id)
    assert alice.waiting(room) == [bob_id]
    await alice.admit(room, bob_id)
    await rb.wait_for(lambda e: isinstance(e, ev.RoomJoined) and e.room == room)
    await rb.wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
    await bob.send(room, "thank you for letting me in")
    assert await ra.texts(room, 1) == ["thank you for letting me in"]
    await rb.until(lambda: bob.room(room).name == "quiet room")
    assert alice.tree_hash(room) == bob.tree_hash(room)
    assert alice.safety_number(room, bob_id) == bob.safety_number(room, alice.room(room).me)


async def test_admitted_while_offline_gets_in_on_restart(
    engines: Any, server: ServerHandle, tmp_path: Path
) -> None:
    alice, ra = await engines("alice")
    bob, _ = await engines("bob")
    room = (
        await alice.create_room("quiet room", pseudonym="river-runs-deep", waiting_room=True)
    ).room
    invite = await alice.create_invite(room)
    bob_id = (await bob.join(invite.code, pseudonym="willow-by-the-brook")).me
    await ra.wait_for(lambda e: isinstance(e, ev.MemberWaiting) and e.member == bob_id)
    await bob.close()
    await alice.admit(room, bob_id)
    await alice.send(room, "welcome while you were away")
    revived, rr = await reopen(tmp_path / "bob", server)
    try:
        await rr.wait_for(lambda e: isinstance(e, ev.RoomJoined) and e.room == room)
        assert await rr.texts(room, 1) == ["welcome while you were away"]
        assert revived.room(room).status == "member"
        assert revived.tree_hash(room) == alice.tree_hash(room)
    finally:
        await revived.close()
