"""Removals, leaving, bans, MLS room creation checks, restart and the no-plaintext scan
(protocol.md §12.2, §12.7, §12.9)."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path

from hearth_core.errors import ErrorCode
from hearth_core.frames import (
    Ack,
    Admit,
    CommitAccepted,
    CreateRoom,
    Error,
    GetGroupInfo,
    GroupInfoFrame,
    Join,
    KeyPackageStock,
    Leave,
    MessageKind,
    Ok,
    RequestRemoval,
    UploadKeyPackages,
    WelcomeFrame,
)
from hearth_core.room_roles import room_extensions
from hearth_mls.group import Group
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Remove
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import ProtocolClient
from .conftest import Connect, invite
from .mls_fixtures import admit, create_mls_room, ds_sender, join_by_invite
from .test_ds_commits import _three


async def test_mls_room_creation_checks(connect: Connect) -> None:
    client = await connect()
    me = await client.new_identity()
    good = Group.create(me, extensions=room_extensions(me, [ds_sender(client)]))
    info = MLSMessage(good.group_info()).to_bytes()
    cases = [
        (dict(group_info=info, metadata=b"Room name"), ErrorCode.INVALID_FIELD),
        (dict(group_info=b"\x00\x01\x00\x04junk"), ErrorCode.MLS_INVALID),
        (
            dict(
                group_info=MLSMessage(
                    Group.create(me, extensions=room_extensions(me)).group_info()
                ).to_bytes()
            ),
            ErrorCode.MLS_INVALID,  # the server's key is not an external sender
        ),
        (
            dict(
                group_info=MLSMessage(
                    Group.create(
                        b"\x05" * 32, extensions=room_extensions(b"\x05" * 32, [ds_sender(client)])
                    ).group_info()
                ).to_bytes()
            ),
            ErrorCode.CREDENTIAL_MISMATCH,
        ),
        (
            dict(
                group_info=MLSMessage(
                    Group.create(
                        me, extensions=room_extensions(b"\x05" * 32, [ds_sender(client)])
                    ).group_info()
                ).to_bytes()
            ),
            ErrorCode.AUTHORITY_DENIED,  # room_roles must name the creator
        ),
    ]
    for fields, code in cases:
        answer = await client.request(CreateRoom(identity=me, pseudonym="river", **fields))  # type: ignore[arg-type]
        assert isinstance(answer, Error), (fields.keys(), answer)
        assert answer.code is code, answer
    created = await client.ok(CreateRoom(identity=me, pseudonym="river", group_info=info))
    assert created.epoch == 0
    other = await connect()
    other_me = await other.new_identity()
    again = await other.request(CreateRoom(identity=other_me, pseudonym="x", group_info=info))
    assert isinstance(again, Error)
    assert again.code in (ErrorCode.WRONG_GROUP, ErrorCode.CREDENTIAL_MISMATCH)


async def test_admit_is_not_used_in_mls_rooms(connect: Connect) -> None:
    creator = await create_mls_room(await connect(), waiting_room=True)
    secret = (await invite(creator.client, creator.room)).secret
    joiner = await join_by_invite(await connect(), secret)
    answer = await creator.client.request(Admit(room=creator.room, member=joiner.identity))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.NOT_MLS_ROOM


async def test_server_proposed_removal_and_ban(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    refused = await bob.client.request(RequestRemoval(room=bob.room, member=carol.identity))
    assert isinstance(refused, Error)
    assert refused.code is ErrorCode.FORBIDDEN
    ds_key = creator.client.server_hello.ds_key  # type: ignore[union-attr]
    answer = await creator.client.request(
        RequestRemoval(room=creator.room, member=bob.identity, ban=True)
    )
    assert isinstance(answer, Ok)
    for member in (creator, carol):
        (proposal,) = await member.catch_up(1)
        assert proposal.kind is MessageKind.PROPOSAL
        assert proposal.sender == ds_key
    # a non-facilitator may not commit the server's proposal
    bad = await carol.send_commit(carol.commit([]))
    assert isinstance(bad, Error)
    assert bad.code is ErrorCode.AUTHORITY_DENIED
    done = await creator.send_commit(creator.commit([]))
    assert isinstance(done, CommitAccepted)
    await carol.catch_up(1)
    assert carol.group.members() == creator.group.members()  # type: ignore[union-attr]
    assert bob.identity not in [who for _, who in creator.group.members()]  # type: ignore[union-attr]
    # bob got the commit that removed him, then nothing more; he is banned
    again = await bob.client.request(GetGroupInfo(room=bob.room))
    assert isinstance(again, Error)
    assert again.code is ErrorCode.NOT_MEMBER
    secret = (await invite(creator.client, creator.room)).secret
    back = await bob.client.request(Join(identity=bob.identity, invite=secret, pseudonym="again"))
    assert isinstance(back, Error)
    assert back.code is ErrorCode.BANNED


async def test_leaving_while_nobody_else_is_online(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    assert isinstance(await carol.client.request(Leave(room=carol.room)), Ok)
    # bob, a non-facilitator, commits something else: the server proposes again
    (first,) = await bob.client.messages(bob.room, 1)  # not processed: bob leaves it alone
    assert first.kind is MessageKind.PROPOSAL
    assert isinstance(await bob.send_commit(bob.commit([])), CommitAccepted)
    own, second = await bob.client.messages(bob.room, 2)
    assert own.kind is MessageKind.COMMIT
    assert second.kind is MessageKind.PROPOSAL
    assert second.epoch == 3
    bob.group.process(MLSMessage.from_bytes(second.payload))  # type: ignore[union-attr]
    # the facilitator comes back later, reads the sequence and commits the removal
    await creator.catch_up(3)
    assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
    await bob.catch_up(1)
    assert len(creator.group.members()) == len(bob.group.members()) == 2  # type: ignore[union-attr]


async def test_self_remove_proposal_is_committed_by_any_member(connect: Connect) -> None:
    _creator, bob, carol = await _three(connect)
    proposal = carol.group.propose_remove(carol.group.own_leaf).to_bytes()  # type: ignore[union-attr]
    from hearth_core.frames import Send

    assert isinstance(
        await carol.client.request(Send(room=carol.room, id="bye", payload=proposal)), Ack
    )
    assert isinstance(await carol.client.request(Leave(room=carol.room)), Ok)
    (seen,) = await bob.catch_up(1)  # no second proposal from the server
    assert seen.sender == carol.identity
    assert isinstance(await bob.send_commit(bob.commit([])), CommitAccepted)
    assert len(bob.group.members()) == 2  # type: ignore[union-attr]
    # a member may not propose removing someone else
    evil = bob.group.propose_remove(0).to_bytes()  # type: ignore[union-attr]
    refused = await bob.client.request(Send(room=bob.room, id="evil", payload=evil))
    assert isinstance(refused, Error)
    assert refused.code is ErrorCode.AUTHORITY_DENIED


async def test_restart_keeps_groups_keypackages_proposals_and_welcomes(
    config: ServerConfig,
) -> None:
    async with HearthServer(config) as server:
        url = server.url
        port = server.port
        c1 = await ProtocolClient.connect(url)
        await c1.hello()
        ds_key = c1.server_hello.ds_key  # type: ignore[union-attr]
        creator = await create_mls_room(c1)
        secret = (await invite(c1, creator.room, waiting_room=True, max_uses=3)).secret
        c2 = await ProtocolClient.connect(url)
        await c2.hello()
        joiner = await join_by_invite(c2, secret)
        await joiner.upload(3)
        assert isinstance(await admit(creator, joiner), CommitAccepted)
        await creator.catch_up(1)
        keys = dict(c2.keys)
        creator_key = c1.keys[creator.identity]
        # a pending server proposal at the moment of the restart
        await c1.ok(RequestRemoval(room=creator.room, member=joiner.identity))
        await creator.catch_up(1)
        for client in (c1, c2):
            await client.close()
    async with HearthServer(replace(config, port=port)) as again:
        c1 = await ProtocolClient.connect(again.url)
        await c1.hello()
        assert c1.server_hello.ds_key == ds_key  # type: ignore[union-attr]
        creator.client = c1
        await c1.auth_existing(creator_key)
        await creator.subscribe()
        info = await c1.ok(GetGroupInfo(room=creator.room))
        assert isinstance(info, GroupInfoFrame)
        assert info.epoch == 1
        # the Welcome released before the restart is still delivered on subscribe
        c2 = await ProtocolClient.connect(again.url)
        await c2.hello()
        (key,) = keys.values()
        await c2.auth_existing(key)
        joiner.client = c2
        await joiner.subscribe(0)
        welcome = await c2.next_of(WelcomeFrame)
        assert (welcome.seq, welcome.epoch) == (1, 1)
        # KeyPackage stock survived
        stock = await c2.request(UploadKeyPackages(identity=joiner.identity, key_packages=[]))
        assert isinstance(stock, KeyPackageStock)
        assert stock.stock == 2
        # the proposal from before the restart is committed by reference
        assert isinstance(await creator.send_commit(creator.commit([])), CommitAccepted)
        assert len(creator.group.members()) == 1  # type: ignore[union-attr]
        await c1.close()
        await c2.close()


async def test_db_and_logs_hold_no_plaintext_names_or_private_keys(
    config: ServerConfig, server_logs: io.StringIO
) -> None:
    texts = [b"I have been struggling since the deployment", b"Room: Tuesday veterans circle"]
    secrets_: list[bytes] = []
    async with HearthServer(config) as server:
        clients = []
        for _ in range(3):
            client = await ProtocolClient.connect(server.url)
            await client.hello()
            clients.append(client)
        pool = list(clients)

        async def connect() -> ProtocolClient:
            return pool.pop()

        creator, bob, carol = await _three(connect)  # type: ignore[arg-type]
        for index, text in enumerate(texts):
            speaker = (creator, bob, carol)[index % 3]
            assert isinstance(await speaker.say(text), Ack)
        assert isinstance(
            await creator.send_commit(creator.commit([Remove(carol.group.own_leaf)])),  # type: ignore[union-attr]
            CommitAccepted,
        )
        for member in (creator, bob, carol):
            state = member.group.state  # type: ignore[union-attr]
            secrets_.append(state.signature_priv)
            secrets_.extend(key for _, key in state.private_keys)
            secrets_.extend((state.secrets.encryption_secret, state.secrets.exporter_secret))
            secrets_.extend(k.init_priv for k in member.pending)
            secrets_.extend(
                k.private_bytes_raw()
                for k in member.client.keys.values()  # type: ignore[attr-defined]
            )
        for client in clients:
            await client.close()
    blobs = b"".join(
        p.read_bytes() for p in Path(config.db).parent.iterdir() if p.name.startswith("hearth.db")
    )
    logs = server_logs.getvalue().encode()
    for needle in [*texts, *[s for s in secrets_ if s]]:
        assert needle not in blobs, needle[:12]
        assert needle not in logs, needle[:12]
    assert b"river" in blobs  # the scan reads real data: pseudonyms are stored by design
