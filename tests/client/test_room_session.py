"""RoomSession: ordered MLS processing, the room rule gate, races, persistence (no I/O).

The Delivery Service's ordering is played by the test: it numbers the messages
(protocol.md §4.7) and hands the same frames to every member, in order.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from hearth_client import events as ev
from hearth_client.keystore import KdfParams, Keystore
from hearth_client.room_io import nick_plaintext
from hearth_client.room_session import RoomSession, SessionBlob, fingerprint_of
from hearth_core.frames import Message, MessageKind
from hearth_core.room_roles import Role, room_extensions
from hearth_core.room_state import Chat, RoomState, encode_envelope
from hearth_mls.framing import PublicMessage
from hearth_mls.group import Group
from hearth_mls.join import external_join
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Remove

FAST = KdfParams(iterations=1, memory_kib=8, lanes=1)
ROOM = "Qm9vdGgxMjM0NTY3ODkwYW"


class Log:
    """The room's sequence as the server would number it."""

    def __init__(self) -> None:
        self.frames: list[Message] = []

    def add(self, sender: bytes, payload: bytes, kind: MessageKind, epoch: int) -> Message:
        frame = Message(
            room=ROOM,
            seq=len(self.frames) + 1,
            sender=sender,
            ts=1_795_000_000_000 + len(self.frames),
            payload=payload,
            kind=kind,
            epoch=epoch,
        )
        self.frames.append(frame)
        return frame


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[list[Keystore]]:
    opened = [Keystore.create(tmp_path / f"p{i}", "pass phrase", kdf=FAST) for i in range(4)]
    yield opened
    for store in opened:
        store.close()


def member(store: Keystore, pseudonym: str) -> RoomSession:
    membership = store.new_membership("ws://127.0.0.1:1/ws", pseudonym)
    membership = store.bind_room(membership.membership_id, ROOM)
    session = RoomSession(store, membership, SessionBlob(status="joining"))
    session.pseudonyms[membership.auth_identity.hex()] = pseudonym
    return session


def create(store: Keystore) -> RoomSession:
    session = member(store, "river")
    me = session.me
    group = Group.create(
        me, extensions=room_extensions(me), signature_priv=session.membership.signature_key
    )
    session.attach(Group.from_bytes(group.to_bytes(), on_change=session._group_changed))
    return session


def join(session: RoomSession, by: RoomSession, log: Log, everyone: list[RoomSession]) -> None:
    """``session`` joins by external commit on ``by``'s GroupInfo; all process it."""
    assert by.group is not None
    created = external_join(
        by.group.group_info(), session.me, signature_priv=session.membership.signature_key
    )
    commit = MLSMessage(PublicMessage(created.authenticated.content, created.authenticated.auth))
    frame = log.add(session.me, commit.to_bytes(), MessageKind.COMMIT, by.epoch)
    session.last_seq = frame.seq
    state = Group(created.state).to_bytes()
    session.attach(Group.from_bytes(state, on_change=session._group_changed))
    for other in everyone:
        other.handle(frame)


def say(session: RoomSession, text: str, log: Log) -> Message:
    payload = session.protect(encode_envelope(Chat(text=text)), ev.MessageKind.CHAT, text)
    return log.add(session.me, payload, MessageKind.APPLICATION, session.epoch)


def test_join_chat_once_in_order_and_own_echo(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    assert alice.epoch == bob.epoch == 1
    assert alice.tree_hash() == bob.tree_hash()
    frames = [say(alice, "hello", log), say(bob, "hi there", log), say(alice, "welcome", log)]
    got_bob = [e for f in frames for e in bob.handle(f)]
    got_alice = [e for f in frames for e in alice.handle(f)]
    texts = [(e.text, e.own) for e in got_bob if isinstance(e, ev.MessageReceived)]
    assert texts == [("hello", False), ("hi there", True), ("welcome", False)]
    texts = [(e.text, e.own) for e in got_alice if isinstance(e, ev.MessageReceived)]
    assert texts == [("hello", True), ("hi there", False), ("welcome", True)]
    assert [e.seq for e in got_bob if isinstance(e, ev.MessageReceived)] == [2, 3, 4]
    first = next(e for e in got_bob if isinstance(e, ev.MessageReceived))
    assert first.role is Role.FACILITATOR
    assert first.sender == ev.member_id(alice.me)
    # A resumed stream that overlaps delivers nothing twice.
    assert [e for f in frames for e in bob.handle(f)] == []


def test_pseudonyms_and_room_state_travel_encrypted(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    state = RoomState(revision=1, name="Thursday circle", topic="sleep")
    f1 = log.add(alice.me, alice.protect(encode_envelope(state)), MessageKind.APPLICATION, 1)
    f2 = log.add(alice.me, alice.protect(nick_plaintext("river")), MessageKind.APPLICATION, 1)
    events = bob.handle(f1) + bob.handle(f2)
    assert ev.RoomStateChanged(ROOM, "Thursday circle", "sleep", "") in events
    assert bob.pseudonym(alice.me) == "river"
    # Room state from a non-facilitator is refused and changes nothing.
    rogue = RoomState(revision=9, name="taken over")
    f3 = log.add(bob.me, bob.protect(encode_envelope(rogue)), MessageKind.APPLICATION, 1)
    refused = alice.handle(f3)
    assert [type(e) for e in refused] == [ev.EngineErrorEvent]
    assert alice.room_state is None or alice.room_state.name != "taken over"


def test_rogue_removal_is_refused_and_member_stays_in_epoch(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob, carol = member(stores[1], "willow"), member(stores[2], "fern")
    join(bob, alice, log, [alice])
    join(carol, alice, log, [alice, bob])
    assert alice.epoch == bob.epoch == carol.epoch == 2
    assert bob.group is not None
    leaf = carol.group.own_leaf if carol.group else -1
    commit, _, _ = bob.group.commit([Remove(leaf)])
    frame = log.add(bob.me, commit.to_bytes(), MessageKind.COMMIT, 2)
    for victim in (alice, carol):
        before = victim.epoch
        events = victim.handle(frame)
        assert [e.code for e in events if isinstance(e, ev.EngineErrorEvent)] == ["commit_refused"]
        assert victim.epoch == before
        assert victim.leaf_of(carol.me) is not None


def test_commit_race_one_wins_both_converge(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    assert alice.group is not None
    assert bob.group is not None
    a_commit, _, _ = alice.group.commit([], force_path=True)
    b_commit, _, _ = bob.group.commit([], force_path=True)
    winner = log.add(alice.me, a_commit.to_bytes(), MessageKind.COMMIT, 1)
    # bob's commit is refused by the server (stale epoch); the winner reaches both.
    alice.handle(winner)
    bob.handle(winner)
    assert alice.epoch == bob.epoch == 2
    assert alice.tree_hash() == bob.tree_hash()
    # Nothing lost: a message in the new epoch decrypts.
    frame = say(bob, "still here", log)
    assert any(isinstance(e, ev.MessageReceived) for e in alice.handle(frame))
    assert b_commit.to_bytes() != a_commit.to_bytes()


def test_state_survives_reload_with_last_seq(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    frame = say(alice, "one", log)
    bob.handle(frame)
    again = RoomSession.load(stores[1], bob.membership)
    assert again.last_seq == frame.seq
    assert again.epoch == bob.epoch
    assert again.handle(frame) == []  # never decrypted twice
    assert again.pseudonym(bob.me) == "willow"
    nxt = say(alice, "two", log)
    got = again.handle(nxt)
    assert [e.text for e in got if isinstance(e, ev.MessageReceived)] == ["two"]


def test_removed_member_cannot_read_later_messages(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob, carol = member(stores[1], "willow"), member(stores[2], "fern")
    join(bob, alice, log, [alice])
    join(carol, alice, log, [alice, bob])
    assert alice.group is not None
    assert carol.group is not None
    commit, _, _ = alice.group.commit([Remove(carol.group.own_leaf)])
    frame = log.add(alice.me, commit.to_bytes(), MessageKind.COMMIT, alice.epoch)
    for session in (alice, bob, carol):
        session.handle(frame)
    assert carol.status == "left"
    after = say(alice, "after removal " + secrets.token_hex(4), log)
    assert bob.handle(after)[0].text.startswith("after removal")  # type: ignore[union-attr]
    assert not any(isinstance(e, ev.MessageReceived) for e in carol.handle(after))
    # Even fed to the removed member's group by hand, the ciphertext does not open.
    with pytest.raises(Exception):  # noqa: B017
        carol.group.process(MLSMessage.from_bytes(after.payload))


def test_fingerprint_is_twelve_groups_of_five_digits() -> None:
    fp = fingerprint_of(b"\x01" * 32)
    groups = fp.split(" ")
    assert len(groups) == 12
    assert all(len(g) == 5 and g.isdigit() for g in groups)
    assert fingerprint_of(b"\x02" * 32) != fp


def test_bad_input_from_the_stream_is_reported_and_loses_nothing(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    epoch = bob.epoch
    garbage = log.add(alice.me, b"\x00\x01garbage", MessageKind.APPLICATION, epoch)
    events = bob.handle(garbage)
    assert [e.code for e in events if isinstance(e, ev.EngineErrorEvent)] == ["mls_invalid"]
    # A message claiming to be from someone else than its MLS sender is refused.
    stranger = secrets.token_bytes(32)
    payload = alice.protect(encode_envelope(Chat(text="hi")))
    forged = log.add(stranger, payload, MessageKind.APPLICATION, epoch)
    codes = [e.code for e in bob.handle(forged) if isinstance(e, ev.EngineErrorEvent)]
    assert codes == ["sender_mismatch"]
    # A commit for the wrong group is refused and the member stays in its epoch.
    other = create(stores[2])
    assert other.group is not None
    foreign, _, _ = other.group.commit([], force_path=True)
    refused = bob.handle(log.add(other.me, foreign.to_bytes(), MessageKind.COMMIT, 0))
    assert any(isinstance(e, ev.EngineErrorEvent) for e in refused)
    assert bob.epoch == epoch
    # Nothing was lost: the next real message still decrypts, in order.
    fine = say(alice, "still fine", log)
    assert [e.text for e in bob.handle(fine) if isinstance(e, ev.MessageReceived)] == ["still fine"]
    assert bob.last_seq == fine.seq


def test_a_welcome_for_someone_else_is_refused(stores: list[Keystore]) -> None:
    alice = create(stores[0])
    waiting = member(stores[1], "willow")
    stranger = member(stores[2], "fern")
    packages = stranger.new_key_packages(1)
    waiting.new_key_packages(2)
    assert alice.group is not None
    from hearth_client.room_session import add_proposal

    _, welcome, _ = alice.group.commit([add_proposal(packages[0])])
    assert welcome is not None
    assert not waiting.join_by_welcome(welcome.to_bytes(), 2)
    assert waiting.group is None
    assert not waiting.join_by_welcome(b"not a welcome", 2)
    assert stranger.join_by_welcome(welcome.to_bytes(), 2)
    assert stranger.epoch == 1
    assert stores[2].key_package_refs(stranger.membership.membership_id) == ()


def test_a_commit_from_a_later_epoch_marks_the_member_behind(stores: list[Keystore]) -> None:
    log = Log()
    alice = create(stores[0])
    bob = member(stores[1], "willow")
    join(bob, alice, log, [alice])
    assert alice.group is not None
    first, _, _ = alice.group.commit([], force_path=True)
    alice.group.merge_pending_commit()
    log.add(alice.me, first.to_bytes(), MessageKind.COMMIT, 1)  # bob never gets this one
    second, _, _ = alice.group.commit([], force_path=True)
    frame = log.add(alice.me, second.to_bytes(), MessageKind.COMMIT, 2)
    events = bob.handle(frame)
    assert [e.code for e in events if isinstance(e, ev.EngineErrorEvent)] == ["behind"]
    assert bob.needs_rejoin
    assert bob.epoch == 1


def test_a_member_leaves_the_servers_proposals_out_of_its_commit(stores: list[Keystore]) -> None:
    from hearth_client.room_session import Intent, new_room_group
    from hearth_mls import suite
    from hearth_mls.group import external_proposal

    log = Log()
    ds_priv, ds_pub = suite.generate_signature_key_pair()
    alice = member(stores[0], "river")
    alice.attach(new_room_group(alice.membership, ds_pub))
    bob, carol = member(stores[1], "willow"), member(stores[2], "fern")
    join(bob, alice, log, [alice])
    join(carol, alice, log, [alice, bob])
    assert alice.group is not None
    leaf = alice.leaf_of(carol.me)
    assert leaf is not None
    proposal = external_proposal(alice.group.group_id, alice.epoch, 0, ds_priv, Remove(leaf))
    frame = log.add(b"\x00" * 32, proposal.to_bytes(), MessageKind.PROPOSAL, alice.epoch)
    for session in (alice, bob, carol):
        assert session.handle(frame) == []
    assert "commit_proposals" in alice.followups
    # bob (a member) refreshes his keys: the server's Remove stays out of his commit.
    pending = bob.start_commit([], Intent("update"))
    commit = log.add(bob.me, pending.commit, MessageKind.COMMIT, bob.epoch)
    for session in (alice, bob, carol):
        events = session.handle(commit)
        assert not [e for e in events if isinstance(e, ev.EngineErrorEvent)]
    assert alice.epoch == bob.epoch == carol.epoch
    assert alice.leaf_of(carol.me) is not None  # carol is still in: only a facilitator removes


def test_a_member_list_answer_does_not_undo_newer_presence(stores: list[Keystore]) -> None:
    # The snapshot was asked for at serial ``since``; presence frames that arrived after
    # the answer (before the awaiting code ran) are newer than it and must win.
    session = member(stores[0], "river")
    peer, other, gone = b"p" * 32, b"o" * 32, b"g" * 32
    session.presence(gone, True)  # before the request: the snapshot already knows
    since = session.presence_serial
    session.presence(peer, True)  # after the answer: the peer came back
    session.presence(other, False)
    session.apply_member_snapshot({other, gone}, since)
    assert session.online == {peer, gone}
