"""The ``Store`` contract (protocol.md §8, §9, §10): every implementation passes it.

Add an implementation by adding a factory to ``FACTORIES``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from hearth_core.errors import ErrorCode
from hearth_core.ids import invite_secret_hash, new_invite_id, new_invite_secret, new_room_id
from hearth_core.rules import MemberStatus, Role
from hearth_server.errors import RequestError, StoreError
from hearth_server.storage import (
    AppendResult,
    InviteRecord,
    MemberRecord,
    NewMessage,
    RoomRecord,
    Store,
)
from hearth_server.storage.sqlite import SqliteStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000_000

    def __call__(self) -> int:
        return self.now


StoreFactory = Callable[[Path, Clock], Store]
FACTORIES: dict[str, StoreFactory] = {
    "sqlite": lambda tmp, clock: SqliteStore(tmp / "store.db", clock_ms=clock),
}
ALICE, BOB, CAROL = b"A" * 32, b"B" * 32, b"C" * 32


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture(params=sorted(FACTORIES))
def factory(request: pytest.FixtureRequest) -> StoreFactory:
    return FACTORIES[request.param]


@pytest.fixture
async def store(factory: StoreFactory, tmp_path: Path, clock: Clock) -> AsyncIterator[Store]:
    s = factory(tmp_path, clock)
    await s.open()
    try:
        yield s
    finally:
        await s.close()


async def make_room(store: Store, clock: Clock, retention_s: int | None = None) -> str:
    room = new_room_id()
    await store.create_room(
        RoomRecord(room, clock.now, b"\x00meta", waiting_room=False, retention_s=retention_s),
        MemberRecord(room, ALICE, "river", Role.FACILITATOR, MemberStatus.MEMBER, clock.now),
    )
    return room


async def make_invite(
    store: Store, clock: Clock, room: str, **overrides: object
) -> tuple[str, str]:
    secret, invite_id = new_invite_secret(), new_invite_id()
    fields: dict[str, object] = {
        "id": invite_id,
        "room": room,
        "secret_hash": invite_secret_hash(secret),
        "created_ms": clock.now,
        "expires_ms": clock.now + 60_000,
        "max_uses": 2,
        "waiting_room": False,
    }
    fields.update(overrides)
    await store.create_invite(InviteRecord(**fields))  # type: ignore[arg-type]
    return secret, invite_id


def msg(room: str, client_id: str, sender: bytes = ALICE, payload: bytes = b"x") -> NewMessage:
    return NewMessage(room=room, sender=sender, client_id=client_id, payload=payload)


async def test_room_and_creator_round_trip(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock, retention_s=3600)
    record = await store.get_room(room)
    assert record is not None
    assert (record.metadata, record.retention_s, record.head_seq) == (b"\x00meta", 3600, 0)
    [creator] = await store.list_members(room)
    assert (creator.identity, creator.role, creator.status) == (
        ALICE,
        Role.FACILITATOR,
        MemberStatus.MEMBER,
    )
    assert await store.get_room(new_room_id()) is None


async def test_appends_get_gap_free_sequences_in_order(store: Store, clock: Clock) -> None:
    room, other = await make_room(store, clock), await make_room(store, clock)
    results = await asyncio.gather(
        *(
            store.append(msg(room if i % 3 else other, f"m{i}", payload=bytes([i])))
            for i in range(30)
        )
    )
    in_room = [r.seq for r in results if r.room == room]
    assert in_room == list(range(1, 21))
    assert [r.seq for r in results if r.room == other] == list(range(1, 11))
    stored = await store.read_messages(room, 0, 100)
    assert [m.seq for m in stored] == list(range(1, 21))
    assert [m.payload for m in stored] == [bytes([i]) for i in range(30) if i % 3]
    record = await store.get_room(room)
    assert record is not None
    assert record.head_seq == 20


async def test_read_messages_pages(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    for i in range(7):
        await store.append(msg(room, f"m{i}"))
    pages, after = [], 0
    while page := await store.read_messages(room, after, 3):
        pages.append([m.seq for m in page])
        after = page[-1].seq
    assert pages == [[1, 2, 3], [4, 5, 6], [7]]


async def test_callbacks_run_in_submission_order(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    seen: list[int] = []
    done = asyncio.Event()

    def record(result: AppendResult | StoreError) -> None:
        assert isinstance(result, AppendResult)
        seen.append(result.seq)
        if len(seen) == 50:
            done.set()

    for i in range(50):
        store.append_nowait(msg(room, f"m{i}"), record)
    await asyncio.wait_for(done.wait(), 10)
    assert seen == list(range(1, 51))


async def test_repeated_client_id_is_stored_once(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    first = await store.append(msg(room, "same", payload=b"one"))
    clock.now += 5
    again = await store.append(msg(room, "same", payload=b"one"))
    assert (again.seq, again.ts, again.duplicate) == (first.seq, first.ts, True)
    # In one batch, with a fresh message between the repeats.
    batch = await asyncio.gather(
        store.append(msg(room, "twin")),
        store.append(msg(room, "fresh")),
        store.append(msg(room, "twin")),
        store.append(msg(room, "same")),
    )
    assert [(r.seq, r.duplicate) for r in batch] == [(2, False), (3, False), (2, True), (1, True)]
    # Another sender may use the same id.
    other = await store.append(msg(room, "same", sender=BOB))
    assert (other.seq, other.duplicate) == (4, False)
    stored = await store.read_messages(room, 0, 100)
    assert [(m.seq, m.client_id) for m in stored] == [
        (1, "same"),
        (2, "twin"),
        (3, "fresh"),
        (4, "same"),
    ]


async def test_meta_round_trips(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    await store.append(NewMessage(room, ALICE, "a", b"p", meta={"kind": "chat"}))
    [stored] = await store.read_messages(room, 0, 10)
    assert stored.meta == {"kind": "chat"}
    assert stored.sender == ALICE


async def test_data_survives_reopen(factory: StoreFactory, tmp_path: Path, clock: Clock) -> None:
    first = factory(tmp_path, clock)
    await first.open()
    room = await make_room(first, clock)
    for i in range(5):
        await first.append(msg(room, f"m{i}"))
    await first.close()
    second = factory(tmp_path, clock)
    await second.open()
    try:
        assert [m.seq for m in await second.read_messages(room, 0, 10)] == [1, 2, 3, 4, 5]
        repeat = await second.append(msg(room, "m3"))
        assert (repeat.seq, repeat.duplicate) == (4, True)
        assert (await second.append(msg(room, "m5"))).seq == 6
    finally:
        await second.close()


async def test_close_flushes_queued_writes(
    factory: StoreFactory, tmp_path: Path, clock: Clock
) -> None:
    first = factory(tmp_path, clock)
    await first.open()
    room = await make_room(first, clock)
    results: list[AppendResult | StoreError] = []
    for i in range(20):
        first.append_nowait(msg(room, f"m{i}"), results.append)
    await first.close()
    assert [r.seq for r in results if isinstance(r, AppendResult)] == list(range(1, 21))
    with pytest.raises(StoreError):
        first.append_nowait(msg(room, "late"), results.append)
    second = factory(tmp_path, clock)
    await second.open()
    try:
        assert len(await second.read_messages(room, 0, 100)) == 20
    finally:
        await second.close()


async def test_failed_batch_stores_nothing_and_leaves_no_gap(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    results = await asyncio.gather(
        store.append(msg(room, "ok")),
        store.append(msg(new_room_id(), "nowhere")),
        return_exceptions=True,
    )
    assert all(isinstance(r, StoreError) for r in results)
    assert await store.read_messages(room, 0, 10) == []
    assert (await store.append(msg(room, "ok"))).seq == 1


async def test_join_with_invite(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    secret, _ = await make_invite(store, clock, room, max_uses=1)
    joined = await store.join(invite_secret_hash(secret), BOB, "willow", clock.now)
    assert joined.new
    assert joined.room.id == room
    assert (joined.member.role, joined.member.status) == (Role.MEMBER, MemberStatus.MEMBER)
    # The same identity again uses nothing; a new one finds the invite used up.
    again = await store.join(invite_secret_hash(secret), BOB, "willow", clock.now)
    assert not again.new
    with pytest.raises(RequestError) as info:
        await store.join(invite_secret_hash(secret), CAROL, "oak", clock.now)
    assert info.value.code is ErrorCode.INVITE_EXHAUSTED
    assert [m.identity for m in await store.list_members(room)] == [ALICE, BOB]


@pytest.mark.parametrize(
    ("setup", "code"),
    [
        ("unknown", ErrorCode.INVITE_INVALID),
        ("expired", ErrorCode.INVITE_EXPIRED),
        ("revoked", ErrorCode.INVITE_REVOKED),
    ],
)
async def test_refused_invites(store: Store, clock: Clock, setup: str, code: ErrorCode) -> None:
    room = await make_room(store, clock)
    secret, invite_id = await make_invite(store, clock, room)
    if setup == "unknown":
        secret = new_invite_secret()
    elif setup == "expired":
        clock.now += 60_000
    else:
        assert await store.revoke_invite(room, invite_id)
    with pytest.raises(RequestError) as info:
        await store.join(invite_secret_hash(secret), BOB, "willow", clock.now)
    assert info.value.code is code
    assert [m.identity for m in await store.list_members(room)] == [ALICE]


async def test_revoke_only_the_rooms_own_invite(store: Store, clock: Clock) -> None:
    room, other = await make_room(store, clock), await make_room(store, clock)
    _, invite_id = await make_invite(store, clock, room)
    assert not await store.revoke_invite(other, invite_id)
    assert not await store.revoke_invite(room, new_invite_id())
    assert await store.revoke_invite(room, invite_id)


async def test_waiting_room_admit_and_leave(store: Store, clock: Clock) -> None:
    room = await make_room(store, clock)
    secret, _ = await make_invite(store, clock, room, waiting_room=True)
    joined = await store.join(invite_secret_hash(secret), BOB, "willow", clock.now)
    assert joined.member.status is MemberStatus.WAITING
    assert await store.admit(room, CAROL) is None
    admitted = await store.admit(room, BOB)
    assert admitted is not None
    assert admitted.status is MemberStatus.MEMBER
    assert await store.admit(room, BOB) is None
    assert await store.remove_member(room, BOB)
    assert not await store.remove_member(room, BOB)
    assert [m.identity for m in await store.list_members(room)] == [ALICE]


async def test_purge_removes_expired_messages_only(store: Store, clock: Clock) -> None:
    kept_forever = await make_room(store, clock)
    room = await make_room(store, clock, retention_s=60)
    for i in range(3):
        await store.append(msg(room, f"old{i}"))
        await store.append(msg(kept_forever, f"old{i}"))
    clock.now += 30_000
    await store.append(msg(room, "young"))
    clock.now += 40_000  # the first three are now 70 s old, "young" 40 s
    assert await store.purge_expired(clock.now) == 3
    assert [m.client_id for m in await store.read_messages(room, 0, 10)] == ["young"]
    assert len(await store.read_messages(kept_forever, 0, 10)) == 3
    record = await store.get_room(room)
    assert record is not None
    assert record.purged_through == 3
    clock.now += 60_000
    assert await store.purge_expired(clock.now) == 1
    # Sequence numbers are never reused after everything was purged.
    assert (await store.append(msg(room, "after"))).seq == 5
    assert await store.purge_expired(clock.now) == 0
