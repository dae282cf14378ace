"""Commits through the Delivery Service (protocol.md §12.3-§12.6): joins, Welcomes,
epochs, first commit wins, bad MLS bytes, application messages by epoch."""

from __future__ import annotations

import asyncio

from hearth_core.errors import ErrorCode
from hearth_core.frames import (
    Ack,
    CommitAccepted,
    CommitFrame,
    Error,
    GetGroupInfo,
    MessageKind,
    Send,
    WelcomeFrame,
)
from hearth_mls.group import Group
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Remove
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import ProtocolClient
from .conftest import Connect, invite
from .mls_fixtures import (
    Member,
    admit,
    create_mls_room,
    external_join,
    join_by_invite,
    key_package,
    kp_bytes,
)


async def _three(connect: Connect) -> tuple[Member, Member, Member]:
    """Creator + one external joiner + one admitted from the waiting room, all in epoch 2."""
    creator = await create_mls_room(await connect())
    open_secret = (await invite(creator.client, creator.room, waiting_room=False)).secret
    bob = await join_by_invite(await connect(), open_secret)
    assert isinstance(await external_join(bob), CommitAccepted)
    await bob.subscribe()
    await creator.catch_up(1)
    wait_secret = (await invite(creator.client, creator.room, waiting_room=True)).secret
    carol = await join_by_invite(await connect(), wait_secret)
    await carol.upload(2)
    assert isinstance(await admit(creator, carol), CommitAccepted)
    await creator.catch_up(1)  # its own commit, echoed in the room's sequence
    await bob.catch_up(1)
    await carol.subscribe()
    return creator, bob, carol


async def test_join_both_ways_and_chat_decrypts(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    assert creator.group
    assert bob.group
    assert carol.group
    assert creator.group.epoch == bob.group.epoch == carol.group.epoch == 2
    assert creator.group.epoch_authenticator == carol.group.epoch_authenticator
    answer = await carol.say(b"hello from carol")
    assert isinstance(answer, Ack)
    for reader in (creator, bob):
        (message,) = await reader.client.messages(reader.room, 1)
        assert message.kind is MessageKind.APPLICATION
        assert message.epoch == 2
        received = reader.group.process(MLSMessage.from_bytes(message.payload))  # type: ignore[union-attr]
        assert received.plaintext == b"hello from carol"


async def test_welcome_goes_only_to_the_named_identity(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    secret = (await invite(creator.client, creator.room, waiting_room=True, max_uses=2)).secret
    dave = await join_by_invite(await connect(), secret)
    eve = await join_by_invite(await connect(), secret)
    await dave.upload(1)
    await eve.upload(1)
    assert isinstance(await admit(creator, dave), CommitAccepted)
    assert dave.group is not None
    assert dave.group.epoch == 1
    await creator.catch_up(1)
    await dave.subscribe()
    # the others see the commit, never the Welcome
    assert isinstance(await creator.say(b"sync"), Ack)
    for client in (creator.client, eve.client):
        assert not [f for f in client.frames if isinstance(f, WelcomeFrame)]
    # Eve is still waiting: she may not subscribe nor fetch the GroupInfo
    refused = await eve.client.request(GetGroupInfo(room=eve.room))
    assert isinstance(refused, Error)
    assert refused.code is ErrorCode.NOT_ADMITTED


async def test_welcome_for_an_identity_that_was_not_invited_is_refused(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    stranger = key_package(b"\x07" * 32)  # never uploaded, never claimed
    frame = creator.commit([Add(stranger.key_package)])
    answer = await creator.send_commit(frame)
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.WELCOME_INVALID
    # a waiting member's KeyPackage that the facilitator did not claim is refused too
    secret = (await invite(creator.client, creator.room, waiting_room=True)).secret
    joiner = await join_by_invite(await connect(), secret)
    await joiner.upload(1)
    unclaimed = MLSMessage.from_bytes(kp_bytes(joiner.pending[0])).body
    answer = await creator.send_commit(creator.commit([Add(unclaimed)]))  # type: ignore[arg-type]
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.WELCOME_INVALID
    assert not [f for f in joiner.client.frames if isinstance(f, WelcomeFrame)]
    # nothing was stored: the room is still at epoch 0 and an honest commit passes
    ok = await creator.send_commit(creator.commit([]))
    assert isinstance(ok, CommitAccepted)
    assert ok.epoch == 1


async def test_stale_epoch_error_carries_the_current_epoch(connect: Connect) -> None:
    creator, bob, _carol = await _three(connect)
    old = Group.from_bytes(bob.group.to_bytes())  # type: ignore[union-attr]
    assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
    stale = Member(bob.client, bob.identity, bob.room, old)
    answer = await stale.send_commit(stale.commit([]))
    assert isinstance(answer, Error)
    assert (answer.code, answer.epoch) == (ErrorCode.STALE_EPOCH, 3)


async def test_commit_for_another_group_is_refused(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    other = await create_mls_room(await connect())
    frame = other.commit([])
    answer = await creator.client.request(
        type(frame)(room=creator.room, id="c-x", commit=frame.commit, group_info=frame.group_info)
    )
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.WRONG_GROUP


async def test_two_commits_in_the_same_epoch_exactly_one_wins(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    frames = [m.commit([]) for m in (creator, bob, carol)]
    answers = await asyncio.gather(
        *(m.client.request(f) for m, f in zip((creator, bob, carol), frames, strict=True))
    )
    winners = [a for a in answers if isinstance(a, CommitAccepted)]
    losers = [a for a in answers if isinstance(a, Error)]
    assert len(winners) == 1
    assert winners[0].epoch == 3
    assert [(e.code, e.epoch) for e in losers] == [(ErrorCode.STALE_EPOCH, 3)] * 2
    for member, answer in zip((creator, bob, carol), answers, strict=True):
        assert member.group is not None
        if isinstance(answer, CommitAccepted):
            member.group.merge_pending_commit()
        else:
            member.group.discard_pending_commit()
            await member.catch_up(1)  # the winner, from the room's sequence
    auths = {m.group.epoch_authenticator for m in (creator, bob, carol)}  # type: ignore[union-attr]
    assert len(auths) == 1


async def test_garbage_mls_bytes_are_refused_and_change_nothing(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    good = creator.commit([])
    creator.group.discard_pending_commit()  # type: ignore[union-attr]
    for field, junk in (("commit", b"\x00\x01\x00\x01junk"), ("group_info", b"\xff" * 40)):
        frame = type(good)(
            room=good.room,
            id=f"g-{field}",
            commit=junk if field == "commit" else good.commit,
            group_info=junk if field == "group_info" else good.group_info,
        )
        answer = await creator.client.request(frame)
        assert isinstance(answer, Error), answer
        assert answer.code is ErrorCode.MLS_INVALID, answer
    send = await creator.client.request(Send(room=creator.room, id="junk", payload=b"\x00junk"))
    assert isinstance(send, Error)
    assert send.code is ErrorCode.MLS_INVALID
    # a proposal in the commit frame, a commit in send
    proposal = creator.group.propose_remove(0).to_bytes()  # type: ignore[union-attr]
    frame = type(good)(room=good.room, id="p", commit=proposal, group_info=good.group_info)
    answer = await creator.client.request(frame)
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.MLS_INVALID
    as_send = await creator.client.request(Send(room=creator.room, id="c", payload=good.commit))
    assert isinstance(as_send, Error)
    assert as_send.code is ErrorCode.MLS_INVALID
    ok = await creator.client.request(good)
    assert isinstance(ok, CommitAccepted)
    assert ok.epoch == 1


async def test_group_info_that_does_not_match_the_commit_is_refused(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    first = creator.commit([])
    creator.group.discard_pending_commit()  # type: ignore[union-attr]
    second = creator.commit([])
    mixed = type(second)(
        room=second.room, id="mix", commit=second.commit, group_info=first.group_info
    )
    answer = await creator.client.request(mixed)
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.GROUP_INFO_INVALID


async def test_resent_commit_is_answered_as_duplicate(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    frame = creator.commit([])
    first = await creator.client.request(frame)
    again = await creator.client.request(frame)
    assert isinstance(first, CommitAccepted)
    assert isinstance(again, CommitAccepted)
    assert (again.seq, again.epoch, again.duplicate) == (first.seq, 1, True)


async def test_non_facilitator_removal_commit_is_refused(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    bad = await bob.send_commit(bob.commit([Remove(carol.group.own_leaf)]))  # type: ignore[union-attr]
    assert isinstance(bad, Error)
    assert bad.code is ErrorCode.AUTHORITY_DENIED
    assert "remove" in bad.message.lower()
    good = await creator.send_commit(creator.commit([Remove(carol.group.own_leaf)]))  # type: ignore[union-attr]
    assert isinstance(good, CommitAccepted)


async def test_test_only_server_forwards_a_forbidden_commit(config: ServerConfig) -> None:
    """The in-process option (not a flag) lets a test show that clients refuse it."""
    async with HearthServer(config, _skip_room_rule_for_tests=True) as server:
        clients = [await ProtocolClient.connect(server.url) for _ in range(3)]
        for client in clients:
            await client.hello()
        try:

            async def connect() -> ProtocolClient:
                return clients.pop()

            creator, bob, carol = await _three(connect)  # type: ignore[arg-type]
            frame = bob.commit([Remove(carol.group.own_leaf)])  # type: ignore[union-attr]
            answer = await bob.client.request(frame)
            assert isinstance(answer, CommitAccepted)
            (message,) = await creator.client.messages(creator.room, 1)
            from hearth_core.room_errors import RemoveNotAllowedError
            from hearth_core.room_roles import check_before_processing

            incoming = MLSMessage.from_bytes(message.payload)
            try:
                check_before_processing(creator.group.state, incoming)  # type: ignore[union-attr]
            except RemoveNotAllowedError:
                pass
            else:
                raise AssertionError("the client rule let a member remove another")
            assert creator.group.epoch == 2  # type: ignore[union-attr]
        finally:
            for member_client in (creator.client, bob.client, carol.client):
                await member_client.close()


async def test_application_message_of_an_old_epoch(config: ServerConfig) -> None:
    from dataclasses import replace

    for grace, expected in ((10.0, Ack), (0.0, Error)):
        async with HearthServer(replace(config, epoch_grace=grace)) as server:
            client = await ProtocolClient.connect(server.url)
            await client.hello()
            creator = await create_mls_room(client)
            old = Group.from_bytes(creator.group.to_bytes())  # type: ignore[union-attr]
            assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
            late = old.protect(b"in flight").to_bytes()
            answer = await client.request(Send(room=creator.room, id=f"late-{grace}", payload=late))
            assert isinstance(answer, expected), answer
            if isinstance(answer, Error):
                assert (answer.code, answer.epoch) == (ErrorCode.STALE_EPOCH, 1)
            older = Group.from_bytes(creator.group.to_bytes())  # type: ignore[union-attr]
            assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
            assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
            too_old = await client.request(
                Send(room=creator.room, id=f"old-{grace}", payload=older.protect(b"x").to_bytes())
            )
            assert isinstance(too_old, Error)
            assert too_old.code is ErrorCode.STALE_EPOCH
            await client.close()


async def test_external_commit_must_come_from_its_own_identity(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    secret = (await invite(creator.client, creator.room, waiting_room=False, max_uses=2)).secret
    bob = await join_by_invite(await connect(), secret)
    info = await bob.client.ok(GetGroupInfo(room=bob.room))
    body = MLSMessage.from_bytes(info.group_info).body
    _group, message = Group.join_external(body, b"\x09" * 32, ratchet_tree=info.ratchet_tree)  # type: ignore[arg-type]
    answer = await bob.client.request(
        CommitFrame(
            room=bob.room,
            id="x-bad",
            commit=message.to_bytes(),
            group_info=MLSMessage(_group.group_info()).to_bytes(),
        )
    )
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.CREDENTIAL_MISMATCH
    # a member relaying another member's commit is refused the same way
    assert isinstance(await external_join(bob), CommitAccepted)
    await creator.catch_up(1)
    frame = creator.commit([])
    relayed = await bob.client.request(
        CommitFrame(room=bob.room, id="relay", commit=frame.commit, group_info=frame.group_info)
    )
    assert isinstance(relayed, Error)
    assert relayed.code is ErrorCode.CREDENTIAL_MISMATCH
    creator.group.discard_pending_commit()  # type: ignore[union-attr]


async def test_waiting_member_cannot_join_by_external_commit(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    secret = (await invite(creator.client, creator.room, waiting_room=True)).secret
    eve = await join_by_invite(await connect(), secret)
    refused = await eve.client.request(GetGroupInfo(room=eve.room))
    assert isinstance(refused, Error)
    assert refused.code is ErrorCode.NOT_ADMITTED
    other = await create_mls_room(await connect())
    frame = other.commit([])
    answer = await eve.client.request(
        CommitFrame(room=eve.room, id="w", commit=frame.commit, group_info=frame.group_info)
    )
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.NOT_ADMITTED


async def test_rejoin_replacing_own_leaf_after_losing_state(connect: Connect) -> None:
    creator = await create_mls_room(await connect())
    secret = (await invite(creator.client, creator.room, waiting_room=False)).secret
    bob = await join_by_invite(await connect(), secret)
    assert isinstance(await external_join(bob), CommitAccepted)
    await creator.catch_up(1)
    old_leaf = bob.group.own_leaf  # type: ignore[union-attr]
    info = await bob.client.ok(GetGroupInfo(room=bob.room))
    body = MLSMessage.from_bytes(info.group_info).body
    group, message = Group.join_external(
        body,  # type: ignore[arg-type]
        bob.identity,
        ratchet_tree=info.ratchet_tree,
        remove_old=old_leaf,
    )
    answer = await bob.client.request(
        CommitFrame(
            room=bob.room,
            id="rejoin",
            commit=message.to_bytes(),
            group_info=MLSMessage(group.group_info()).to_bytes(),
        )
    )
    assert isinstance(answer, CommitAccepted)
    assert answer.epoch == 2
    await creator.catch_up(1)
    assert creator.group.epoch_authenticator == group.epoch_authenticator  # type: ignore[union-attr]
    assert len(creator.group.members()) == 2  # type: ignore[union-attr]


async def test_commit_dropping_the_server_key_is_refused(connect: Connect) -> None:
    from hearth_core.room_roles import room_extensions
    from hearth_mls.proposals import GroupContextExtensions

    creator = await create_mls_room(await connect())
    without_ds = room_extensions(creator.identity)  # room_roles kept, external_senders gone
    answer = await creator.send_commit(creator.commit([GroupContextExtensions(without_ds)]))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.AUTHORITY_DENIED
    assert "ds_key" in answer.message
