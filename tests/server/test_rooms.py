"""Rooms, invites, the waiting room, members, presence and typing (protocol.md §3.3, §4.3-§4.8)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace

import pytest

from hearth_core.errors import ErrorCode
from hearth_core.frames import (
    Admit,
    CreateInvite,
    CreateRoom,
    Error,
    Join,
    Joined,
    Leave,
    MemberChange,
    MemberList,
    Members,
    MemberTyping,
    MemberUpdate,
    Message,
    Ok,
    Presence,
    RevokeInvite,
    RoomCreated,
    Send,
    Subscribe,
    Subscribed,
    Synced,
    Typing,
)
from hearth_core.rules import MemberStatus, Role
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import ProtocolClient
from .conftest import Connect, invite, join_room, make_room, payload, subscribe


async def error_of(client: ProtocolClient, frame: object) -> ErrorCode:
    answer = await client.request(frame)
    assert isinstance(answer, Error), answer
    return answer.code


async def test_non_member_can_neither_send_nor_read(connect: Connect) -> None:
    alice, mallory = await connect(), await connect()
    room, alice_id = await make_room(alice)
    await alice.ok(Send(room=room, id="m1", payload=payload(1)))
    me = await mallory.new_identity()
    assert await error_of(mallory, Send(room=room, id="x", payload=b"x")) is ErrorCode.NOT_MEMBER
    assert await error_of(mallory, Subscribe(room=room, identity=me)) is ErrorCode.NOT_MEMBER
    assert await error_of(mallory, Members(room=room)) is ErrorCode.NOT_MEMBER
    await mallory.send_frame(Typing(room=room, active=True))
    typing_error = await mallory.next_of(Error)
    assert (typing_error.code, typing_error.room) == (ErrorCode.NOT_MEMBER, room)
    # Naming a member's identity without its key does not help.
    assert (
        await error_of(mallory, Subscribe(room=room, identity=alice_id))
        is ErrorCode.NOT_AUTHENTICATED
    )
    assert not [f for f in mallory.frames if isinstance(f, Message)]


async def test_revoked_and_expired_invites_are_refused(config: ServerConfig) -> None:
    now = [1_800_000_000_000]
    async with HearthServer(config, clock_ms=lambda: now[0]) as running:
        alice = await ProtocolClient.connect(running.url)
        bob = await ProtocolClient.connect(running.url)
        for client in (alice, bob):
            await client.hello()
        room, _ = await make_room(alice)
        revoked = await invite(alice, room)
        expiring = await invite(alice, room, expires_in=60)
        used = await invite(alice, room, max_uses=1)
        assert isinstance(await alice.ok(RevokeInvite(room=room, invite=revoked.invite)), Ok)
        bob_id = await bob.new_identity()
        join = Join(identity=bob_id, invite=revoked.secret, pseudonym="willow")
        assert await error_of(bob, join) is ErrorCode.INVITE_REVOKED
        now[0] += 60_000
        join = Join(identity=bob_id, invite=expiring.secret, pseudonym="willow")
        assert await error_of(bob, join) is ErrorCode.INVITE_EXPIRED
        join = Join(identity=bob_id, invite="A" * 43, pseudonym="willow")
        assert await error_of(bob, join) is ErrorCode.INVITE_INVALID
        await bob.ok(Join(identity=bob_id, invite=used.secret, pseudonym="willow"))
        carol_client = await ProtocolClient.connect(running.url)
        await carol_client.hello()
        carol = await carol_client.new_identity()
        join = Join(identity=carol, invite=used.secret, pseudonym="oak")
        assert await error_of(carol_client, join) is ErrorCode.INVITE_EXHAUSTED
        code = await error_of(carol_client, Subscribe(room=room, identity=carol))
        assert code is ErrorCode.NOT_MEMBER
        await carol_client.close()
        assert (
            await error_of(alice, RevokeInvite(room=room, invite="B" * 22))
            is ErrorCode.NO_SUCH_INVITE
        )
        await alice.close()
        await bob.close()


async def test_waiting_room_and_admission(connect: Connect) -> None:
    alice, bob, carol = await connect(), await connect(), await connect()
    room, alice_id = await make_room(alice, waiting_room=True)
    await subscribe(alice, room, alice_id)
    ticket = await invite(alice, room, max_uses=5)
    _, carol_id = await join_room(carol, (await invite(alice, room, waiting_room=False)).secret)
    await subscribe(carol, room, carol_id)
    await carol.next_of(Synced)
    bob_id = await bob.new_identity()
    joined = await bob.ok(Join(identity=bob_id, invite=ticket.secret, pseudonym="willow"))
    assert isinstance(joined, Joined)
    assert joined.status is MemberStatus.WAITING
    # The facilitator sees the waiting member; an ordinary member does not.
    update = await alice.wait_for(
        lambda f: isinstance(f, MemberUpdate) and f.change is MemberChange.WAITING
    )
    assert isinstance(update, MemberUpdate)
    assert update.member.identity == bob_id
    members = await carol.ok(Members(room=room))
    assert bob_id not in [m.identity for m in members.members]
    staff_view = await alice.ok(Members(room=room))
    assert bob_id in [m.identity for m in staff_view.members]
    # Waiting: cannot read or send.
    assert await error_of(bob, Subscribe(room=room, identity=bob_id)) is ErrorCode.NOT_ADMITTED
    assert await error_of(bob, Send(room=room, id="x", payload=b"x")) is ErrorCode.NOT_ADMITTED
    # Only a facilitator admits, and only waiting members.
    assert await error_of(carol, Admit(room=room, member=bob_id)) is ErrorCode.FORBIDDEN
    assert await error_of(alice, Admit(room=room, member=carol_id)) is ErrorCode.NO_SUCH_MEMBER
    assert isinstance(await alice.ok(Admit(room=room, member=bob_id)), Ok)
    admitted = await bob.next_of(MemberUpdate)
    assert admitted.change is MemberChange.ADMITTED
    seen = await carol.next_of(MemberUpdate)
    assert (seen.change, seen.member.identity) == (MemberChange.ADMITTED, bob_id)
    assert not [f for f in carol.frames if isinstance(f, MemberUpdate)]  # never saw "waiting"
    await subscribe(bob, room, bob_id)
    await bob.ok(Send(room=room, id="hi", payload=payload("hi")))
    [got] = await alice.messages(room, 1)
    assert got.sender == bob_id


async def test_only_facilitators_invite(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    room, _ = await make_room(alice)
    await join_room(bob, (await invite(alice, room)).secret)
    assert await error_of(bob, CreateInvite(room=room)) is ErrorCode.FORBIDDEN
    ticket = await invite(alice, room)
    assert await error_of(bob, RevokeInvite(room=room, invite=ticket.invite)) is ErrorCode.FORBIDDEN


async def test_members_presence_typing_and_leave(connect: Connect) -> None:
    alice, bob = await connect(), await connect()
    room, alice_id = await make_room(alice)
    await subscribe(alice, room, alice_id)
    _, bob_id = await join_room(bob, (await invite(alice, room)).secret)
    joined = await alice.next_of(MemberUpdate)
    assert (joined.change, joined.member.pseudonym) == (MemberChange.JOINED, "willow")
    await subscribe(bob, room, bob_id)
    online = await alice.wait_for(lambda f: isinstance(f, Presence) and f.identity == bob_id)
    assert isinstance(online, Presence)
    assert online.online
    listing = await bob.ok(Members(room=room))
    assert isinstance(listing, MemberList)
    assert [(m.pseudonym, m.role, m.online) for m in listing.members] == [
        ("river", Role.FACILITATOR, True),
        ("willow", Role.MEMBER, True),
    ]
    await bob.send_frame(Typing(room=room, active=True))
    typing = await alice.next_of(MemberTyping)
    assert (typing.identity, typing.active) == (bob_id, True)
    assert not [f for f in bob.frames if isinstance(f, MemberTyping)]
    assert isinstance(await bob.ok(Leave(room=room)), Ok)
    left = await alice.next_of(MemberUpdate)
    assert (left.change, left.member.identity) == (MemberChange.LEFT, bob_id)
    offline = await alice.wait_for(lambda f: isinstance(f, Presence) and f.identity == bob_id)
    assert isinstance(offline, Presence)
    assert not offline.online
    assert await error_of(bob, Send(room=room, id="x", payload=b"x")) is ErrorCode.NOT_MEMBER
    assert await error_of(bob, Subscribe(room=room, identity=bob_id)) is ErrorCode.NOT_MEMBER
    await alice.ok(Send(room=room, id="after", payload=payload("after")))
    assert not [f for f in bob.frames if isinstance(f, Message)]


async def test_one_identity_per_room_per_connection(connect: Connect) -> None:
    alice = await connect()
    room, _ = await make_room(alice)
    ticket = await invite(alice, room)
    second = await alice.new_identity()
    join = Join(identity=second, invite=ticket.secret, pseudonym="twin")
    assert await error_of(alice, join) is ErrorCode.ROOM_BOUND
    # The refused join used nothing: another connection can still use the invite.
    other_room, other_id = await make_room(alice)
    assert other_room != room
    assert other_id != second


async def test_several_identities_on_one_connection_stay_separate(connect: Connect) -> None:
    client, peer = await connect(), await connect()
    room_a, id_a = await make_room(client)
    room_b, id_b = await make_room(client)
    assert id_a != id_b
    _, peer_id = await join_room(peer, (await invite(client, room_a)).secret)
    await subscribe(peer, room_a, peer_id)
    listing = await peer.ok(Members(room=room_a))
    assert id_b not in [m.identity for m in listing.members]
    assert isinstance(await client.ok(Send(room=room_b, id="b", payload=b"x")), object)


@pytest.fixture
async def tight_server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(replace(config, max_identities=2, max_rooms=1)) as running:
        yield running


async def test_identity_and_room_limits(tight_server: HearthServer) -> None:
    client = await ProtocolClient.connect(tight_server.url)
    await client.hello()
    first = await client.new_identity()
    await client.new_identity()
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from hearth_core.auth import sign_challenge
    from hearth_core.frames import Auth

    identity, signature = sign_challenge(Ed25519PrivateKey.generate(), client.server_hello.nonce)  # type: ignore[union-attr]
    code = await error_of(client, Auth(identity=identity, signature=signature))
    assert code is ErrorCode.LIMIT_EXCEEDED
    created = await client.ok(CreateRoom(identity=first, pseudonym="river"))
    assert isinstance(created, RoomCreated)
    code = await error_of(client, CreateRoom(identity=first, pseudonym="river"))
    assert code is ErrorCode.LIMIT_EXCEEDED
    answer = await client.ok(Subscribe(room=created.room, identity=first))
    assert isinstance(answer, Subscribed)
    await client.close()


async def test_invite_secrets_are_stored_only_as_hashes(
    connect: Connect, server: HearthServer
) -> None:
    import hashlib

    alice = await connect()
    room, _ = await make_room(alice)
    ticket = await invite(alice, room)
    db = server.config.db
    stored = b"".join(p.read_bytes() for p in db.parent.glob(db.name + "*"))
    assert hashlib.sha256(ticket.secret.encode()).digest() in stored
    assert ticket.secret.encode() not in stored
