"""Real MLS members (hearth_mls directly, not the client engine) talking to a real server
over loopback websockets (protocol.md §12)."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hearth_core.frames import (
    ClaimKeyPackage,
    CommitAccepted,
    CommitFrame,
    CreateRoom,
    Error,
    GetGroupInfo,
    GroupInfoFrame,
    Join,
    KeyPackageFrame,
    KeyPackageStock,
    Message,
    MessageKind,
    RoomCreated,
    Send,
    Subscribe,
    UploadKeyPackages,
    WelcomeFrame,
)
from hearth_core.room_roles import room_capabilities, room_extensions
from hearth_mls.credential import Credential, CredentialType
from hearth_mls.extension_payloads import ExternalSender
from hearth_mls.group import Group
from hearth_mls.join import KeyPackageSecrets, create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Proposal
from hearth_mls.welcome_structs import Welcome

from .client import ProtocolClient

_ids = itertools.count(1)


def key_package(identity: bytes, **kwargs: object) -> KeyPackageSecrets:
    """A KeyPackage a Hearth member would upload: basic credential, room_roles capable."""
    return create_key_package(identity, capabilities=room_capabilities(), **kwargs)  # type: ignore[arg-type]


def kp_bytes(secrets: KeyPackageSecrets) -> bytes:
    return MLSMessage(secrets.key_package).to_bytes()


@dataclass
class Member:
    """One room membership: a connection, its identity and its MLS group."""

    client: ProtocolClient
    identity: bytes
    room: str = ""
    group: Group | None = None
    pending: list[KeyPackageSecrets] = field(default_factory=list)
    seen: int = 0

    async def request(self, frame: object) -> object:
        return await self.client.request(frame)

    async def upload(self, count: int = 1) -> KeyPackageStock:
        made = [key_package(self.identity) for _ in range(count)]
        self.pending.extend(made)
        answer = await self.client.request(
            UploadKeyPackages(identity=self.identity, key_packages=[kp_bytes(k) for k in made])
        )
        assert isinstance(answer, KeyPackageStock), answer
        return answer

    async def subscribe(self, after: int | None = None) -> None:
        await self.client.ok(
            Subscribe(
                room=self.room, identity=self.identity, after=self.seen if after is None else after
            )
        )

    def commit(
        self, proposals: list[Proposal] | tuple[Proposal, ...] = (), **kwargs: object
    ) -> CommitFrame:
        """A commit frame for ``proposals`` (pending in the group until accepted)."""
        assert self.group is not None
        message, welcome, created = self.group.commit(list(proposals), **kwargs)  # type: ignore[arg-type]
        return CommitFrame(
            room=self.room,
            id=f"c-{next(_ids)}",
            commit=message.to_bytes(),
            group_info=MLSMessage(created.group_info).to_bytes(),
            welcome=welcome.to_bytes() if welcome is not None else None,
        )

    async def send_commit(self, frame: CommitFrame) -> CommitAccepted | Error:
        answer = await self.client.request(frame)
        assert isinstance(answer, (CommitAccepted, Error)), answer
        assert self.group is not None
        if isinstance(answer, CommitAccepted):
            self.group.merge_pending_commit()
            self.seen = max(self.seen, answer.seq)
        else:
            self.group.discard_pending_commit()
        return answer

    async def say(self, text: bytes) -> object:
        assert self.group is not None
        data = self.group.protect(text).to_bytes()
        return await self.client.request(Send(room=self.room, id=f"m-{next(_ids)}", payload=data))

    async def catch_up(self, count: int) -> list[Message]:
        """Process the next ``count`` messages of the room with the group."""
        assert self.group is not None
        got = await self.client.messages(self.room, count)
        for message in got:
            self.seen = message.seq
            if message.sender == self.identity and message.kind is MessageKind.COMMIT:
                continue  # our own accepted commit, already merged
            self.group.process(MLSMessage.from_bytes(message.payload))
        return got


def ds_sender(client: ProtocolClient) -> ExternalSender:
    assert client.server_hello is not None
    assert client.server_hello.ds_key is not None
    return ExternalSender(
        client.server_hello.ds_key, Credential(CredentialType.BASIC, identity=b"hearth-ds")
    )


async def create_mls_room(client: ProtocolClient, *, waiting_room: bool = False) -> Member:
    """A creator with a one-member group listing the server's key (protocol.md §12.2)."""
    me = await client.new_identity()
    group = Group.create(me, extensions=room_extensions(me, [ds_sender(client)]))
    info = MLSMessage(group.group_info()).to_bytes()
    created = await client.ok(
        CreateRoom(identity=me, pseudonym="river", waiting_room=waiting_room, group_info=info)
    )
    assert isinstance(created, RoomCreated)
    assert created.epoch == 0
    member = Member(client, me, created.room, group)
    await member.subscribe(0)
    return member


async def join_by_invite(client: ProtocolClient, secret: str) -> Member:
    """Redeem an invite with a fresh identity (protocol.md §12.3)."""
    me = await client.new_identity()
    joined = await client.ok(Join(identity=me, invite=secret, pseudonym="willow"))
    return Member(client, me, joined.room)


async def external_join(member: Member) -> CommitAccepted | Error:
    """Fetch the GroupInfo and join by external commit (protocol.md §12.3, §12.5)."""
    info = await member.client.ok(GetGroupInfo(room=member.room))
    assert isinstance(info, GroupInfoFrame)
    body = MLSMessage.from_bytes(info.group_info).body
    group, message = Group.join_external(body, member.identity, ratchet_tree=info.ratchet_tree)  # type: ignore[arg-type]
    answer = await member.client.request(
        CommitFrame(
            room=member.room,
            id=f"x-{next(_ids)}",
            commit=message.to_bytes(),
            group_info=MLSMessage(group.group_info()).to_bytes(),
        )
    )
    if isinstance(answer, CommitAccepted):
        member.group = group
        member.seen = answer.seq
    return answer


async def admit(facilitator: Member, joiner: Member) -> CommitAccepted | Error:
    """Claim the joiner's KeyPackage, commit its Add, join from the released Welcome."""
    from hearth_mls.proposals import Add

    claimed = await facilitator.client.ok(
        ClaimKeyPackage(room=facilitator.room, member=joiner.identity)
    )
    assert isinstance(claimed, KeyPackageFrame)
    kp = MLSMessage.from_bytes(claimed.key_package).body
    answer = await facilitator.send_commit(facilitator.commit([Add(kp)]))  # type: ignore[arg-type]
    if isinstance(answer, CommitAccepted):
        welcome = await joiner.client.next_of(WelcomeFrame)
        body = MLSMessage.from_bytes(welcome.welcome).body
        assert isinstance(body, Welcome)
        secrets = next(k for k in joiner.pending if body.secrets_for(k.ref) is not None)
        joiner.group = Group.join(body, secrets)
        joiner.seen = welcome.seq
    return answer
