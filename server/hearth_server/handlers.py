"""One handler per client frame type (protocol.md §4). Handlers check state only:
the frame's shape was checked by the decoder (``hearth_core.codec``)."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from hearth_core.auth import NONCE_BYTES, verify_challenge
from hearth_core.codec import encode_frame
from hearth_core.errors import AuthError, CloseCode, ErrorCode
from hearth_core.frames import (
    SUPPORTED_VERSIONS,
    Ack,
    Admit,
    Auth,
    Authed,
    ClaimKeyPackage,
    CommitFrame,
    CreateInvite,
    CreateRoom,
    GetGroupInfo,
    InviteCreated,
    Join,
    Joined,
    Leave,
    MemberChange,
    MemberInfo,
    MemberList,
    Members,
    MemberTyping,
    MemberUpdate,
    Message,
    Ok,
    RequestRemoval,
    RevokeInvite,
    RoomCreated,
    Send,
    ServerHello,
    Subscribe,
    Subscribed,
    Typing,
    UploadKeyPackages,
)
from hearth_core.frames import Hello as HelloFrame
from hearth_core.ids import invite_secret_hash, new_invite_id, new_invite_secret, new_room_id
from hearth_core.rules import MemberStatus, Role, RoomAction, may
from hearth_server import mls_handlers as mls
from hearth_server.errors import RequestError, StoreError
from hearth_server.hooks import Decision, JoinEvent, SendEvent
from hearth_server.hub import Hub
from hearth_server.rooms import Room
from hearth_server.session import Session
from hearth_server.storage import (
    AppendResult,
    InviteRecord,
    MemberRecord,
    NewMessage,
    RoomRecord,
)

Handler = Callable[[Hub, Session, Any], Awaitable[None]]


def _info(member: MemberRecord, room: Room) -> MemberInfo:
    return MemberInfo(
        identity=member.identity,
        pseudonym=member.pseudonym,
        role=member.role,
        status=member.status,
        online=room.online.get(member.identity, 0) > 0,
    )


def _bound(hub: Hub, session: Session, room_id: str) -> tuple[Room, MemberRecord]:
    """The room and the member acting in it through this connection's binding (§3.3)."""
    if not session.identities:
        raise RequestError(ErrorCode.NOT_AUTHENTICATED, "authenticate an identity first")
    identity = session.bindings.get(room_id)
    room = hub.rooms.cached(room_id) if identity is not None else None
    member = room.members.get(identity) if room is not None and identity is not None else None
    if room is None or member is None:
        raise RequestError(ErrorCode.NOT_MEMBER, "not a member of this room", room=room_id)
    return room, member


def _admitted(hub: Hub, session: Session, room_id: str) -> tuple[Room, MemberRecord]:
    room, member = _bound(hub, session, room_id)
    if member.status is not MemberStatus.MEMBER:
        raise RequestError(ErrorCode.NOT_ADMITTED, "still in the waiting room", room=room_id)
    return room, member


def _allowed(member: MemberRecord, action: RoomAction, room_id: str) -> None:
    if not may(member.role, action):
        raise RequestError(
            ErrorCode.FORBIDDEN, f"{member.role.value} may not {action.value}", room=room_id
        )


def _decide(decision: Decision, room_id: str) -> None:
    """Turn a hook's denial into the error the client receives."""
    if not decision.allowed:
        code = decision.code or ErrorCode.FORBIDDEN
        raise RequestError(code, decision.message or "refused by a server hook", room=room_id)


# ---------------------------------------------------------------- session (§3)


async def hello(hub: Hub, session: Session, frame: HelloFrame) -> None:
    """protocol.md §3.1: pick the highest common version, send the challenge nonce."""
    if session.version is not None:
        raise RequestError(ErrorCode.ALREADY_HELLO, "hello was already said")
    common = set(frame.versions) & set(SUPPORTED_VERSIONS)
    if not common:
        session.send_error(
            ErrorCode.UNSUPPORTED_VERSION,
            f"this server speaks versions {list(SUPPORTED_VERSIONS)}",
        )
        session.close_soon(CloseCode.UNSUPPORTED_VERSION, "no common protocol version")
        return
    session.version = max(common)
    session.nonce = secrets.token_bytes(NONCE_BYTES)
    session.send(
        ServerHello(
            version=session.version,
            nonce=session.nonce,
            limits=hub.limits,
            ds_key=hub.ds_public or None,
        )
    )


async def auth(hub: Hub, session: Session, frame: Auth) -> None:
    """protocol.md §3.2: verify the signature over the domain-separated challenge."""
    if frame.identity not in session.identities:
        if len(session.identities) >= hub.config.max_identities:
            raise RequestError(ErrorCode.LIMIT_EXCEEDED, "too many identities on this connection")
        try:
            verify_challenge(frame.identity, session.nonce, frame.signature)
        except AuthError:
            raise RequestError(ErrorCode.BAD_SIGNATURE, "the signature does not verify") from None
        session.identities.add(frame.identity)
    session.send(Authed(ref=frame.ref, identity=frame.identity))


# ---------------------------------------------------------------- rooms (§4.3-§4.5)


async def create_room(hub: Hub, session: Session, frame: CreateRoom) -> None:
    """protocol.md §4.3: a new room whose creator is its first facilitator."""
    session.require_identity(frame.identity)
    room_id = new_room_id()
    session.check_bind(room_id, frame.identity)
    if frame.group_info is not None:
        await mls.create_mls_room(hub, session, frame, room_id)
        return
    config = hub.config
    retention = frame.retention if frame.retention is not None else config.retention_default
    if config.retention_max is not None:
        retention = min(retention or config.retention_max, config.retention_max)
    now = hub.clock_ms()
    record = RoomRecord(room_id, now, frame.metadata, frame.waiting_room, retention)
    creator = MemberRecord(
        room_id, frame.identity, frame.pseudonym, Role.FACILITATOR, MemberStatus.MEMBER, now
    )
    await hub.store.create_room(record, creator)
    room = Room(record, [creator])
    hub.rooms.add(room)
    session.bind(room, frame.identity)
    hub.log.debug("room_created", conn=session.conn_id, room=room_id)
    session.send(
        RoomCreated(ref=frame.ref, room=room_id, role=Role.FACILITATOR, retention=retention)
    )


async def create_invite(hub: Hub, session: Session, frame: CreateInvite) -> None:
    """protocol.md §4.4: a facilitator makes an invite; only its hash is stored."""
    room, member = _admitted(hub, session, frame.room)
    _allowed(member, RoomAction.CREATE_INVITE, room.id)
    secret, invite_id, now = new_invite_secret(), new_invite_id(), hub.clock_ms()
    waiting = frame.waiting_room if frame.waiting_room is not None else room.record.waiting_room
    invite = InviteRecord(
        id=invite_id,
        room=room.id,
        secret_hash=invite_secret_hash(secret),
        created_ms=now,
        expires_ms=now + frame.expires_in * 1000,
        max_uses=frame.max_uses,
        waiting_room=waiting,
    )
    await hub.store.create_invite(invite)
    session.send(
        InviteCreated(
            ref=frame.ref,
            room=room.id,
            invite=invite_id,
            secret=secret,
            expires_at=invite.expires_ms,
            max_uses=invite.max_uses,
            waiting_room=waiting,
        )
    )


async def revoke_invite(hub: Hub, session: Session, frame: RevokeInvite) -> None:
    """protocol.md §4.4: a facilitator revokes an invite of the room."""
    room, member = _admitted(hub, session, frame.room)
    _allowed(member, RoomAction.REVOKE_INVITE, room.id)
    if not await hub.store.revoke_invite(room.id, frame.invite):
        raise RequestError(ErrorCode.NO_SUCH_INVITE, "no such invite in this room", room=room.id)
    session.send(Ok(ref=frame.ref))


async def join(hub: Hub, session: Session, frame: Join) -> None:
    """protocol.md §4.5: redeem an invite (atomically with adding the member)."""
    session.require_identity(frame.identity)
    secret_hash = invite_secret_hash(frame.invite)
    room_id = await hub.store.invite_room(secret_hash)
    if room_id is not None:
        session.check_bind(room_id, frame.identity)
        if await hub.store.is_banned(room_id, frame.identity):
            raise RequestError(ErrorCode.BANNED, "banned from this room", room=room_id)
        _decide(hub.hooks.before_join(JoinEvent(room_id, frame.identity)), room_id)
    result = await hub.store.join(secret_hash, frame.identity, frame.pseudonym, hub.clock_ms())
    room = await hub.rooms.load(result.room.id)
    if room is None:
        raise StoreError("joined room vanished")
    member = result.member
    room.members[member.identity] = member
    session.bind(room, member.identity)
    session.send(Joined(ref=frame.ref, room=room.id, role=member.role, status=member.status))
    if result.new:
        waiting = member.status is MemberStatus.WAITING
        update = MemberUpdate(
            room=room.id,
            change=MemberChange.WAITING if waiting else MemberChange.JOINED,
            member=_info(member, room),
        )
        room.broadcast(encode_frame(update), skip=member.identity, staff_only=waiting)


async def admit(hub: Hub, session: Session, frame: Admit) -> None:
    """protocol.md §4.5: a facilitator admits a waiting member."""
    room, member = _admitted(hub, session, frame.room)
    _allowed(member, RoomAction.ADMIT, room.id)
    if room.group is not None:
        raise RequestError(
            ErrorCode.NOT_MLS_ROOM, "in an MLS room, admission is the Add commit", room=room.id
        )
    target = room.members.get(frame.member)
    if target is None or target.status is not MemberStatus.WAITING:
        raise RequestError(ErrorCode.NO_SUCH_MEMBER, "no such waiting member", room=room.id)
    admitted = await hub.store.admit(room.id, frame.member)
    if admitted is None:
        raise RequestError(ErrorCode.NO_SUCH_MEMBER, "no such waiting member", room=room.id)
    room.members[admitted.identity] = admitted
    data = encode_frame(
        MemberUpdate(room=room.id, change=MemberChange.ADMITTED, member=_info(admitted, room))
    )
    room.broadcast(data)
    for other in room.bound.get(admitted.identity, set()):
        if room.id not in other.subscriptions:
            other.outbox.push(data)
    session.send(Ok(ref=frame.ref))


async def leave(hub: Hub, session: Session, frame: Leave) -> None:
    """protocol.md §4.5: leave the room for good."""
    room, member = _bound(hub, session, frame.room)
    await hub.store.remove_member(room.id, member.identity)
    if room.group is not None:
        await mls.leave_mls(hub, room, member.identity)
    room.members.pop(member.identity, None)
    for other in list(room.bound.get(member.identity, set())):
        other.unbind(room)
    room.broadcast(
        encode_frame(
            MemberUpdate(room=room.id, change=MemberChange.LEFT, member=_info(member, room))
        )
    )
    session.send(Ok(ref=frame.ref))


# ---------------------------------------------------------------- messages (§4.6, §4.7)


async def subscribe(hub: Hub, session: Session, frame: Subscribe) -> None:
    """protocol.md §4.6 and §9: history after ``after``, then live, no gap, no duplicate."""
    session.require_identity(frame.identity)
    session.check_bind(frame.room, frame.identity)
    room = await hub.rooms.load(frame.room)
    member = room.members.get(frame.identity) if room is not None else None
    if room is None or member is None:
        raise RequestError(ErrorCode.NOT_MEMBER, "not a member of this room", room=frame.room)
    if member.status is not MemberStatus.MEMBER:
        raise RequestError(ErrorCode.NOT_ADMITTED, "still in the waiting room", room=room.id)
    if frame.after > room.head:
        raise RequestError(ErrorCode.CURSOR_AHEAD, f"the room's head is {room.head}", room=room.id)
    record = await hub.store.get_room(room.id)
    purged = record.purged_through if record is not None else 0
    session.bind(room, frame.identity)
    session.send(
        Subscribed(
            ref=frame.ref,
            room=room.id,
            role=member.role,
            head=room.head,
            purged_through=purged,
            metadata=room.record.metadata,
            epoch=room.group.epoch if room.group is not None else None,
        )
    )
    if room.group is not None:
        await mls.send_welcomes(hub, session, room, frame.identity)
    session.start_subscription(room, frame.identity, frame.after)


async def send(hub: Hub, session: Session, frame: Send) -> None:
    """protocol.md §4.7: check, store durably, then ack and fan out (never awaits)."""
    room, member = _admitted(hub, session, frame.room)
    if len(frame.payload) > hub.config.max_payload:
        raise RequestError(
            ErrorCode.PAYLOAD_TOO_LARGE,
            f"payload exceeds {hub.config.max_payload} bytes",
            room=room.id,
        )
    _decide(
        hub.hooks.before_send(SendEvent(room.id, member.identity, len(frame.payload), frame.meta)),
        room.id,
    )
    wait = hub.send_wait(member.identity)
    if wait > 0.0:
        raise RequestError(
            ErrorCode.RATE_LIMITED, "send rate limit exceeded", room=room.id, retry_after=wait
        )
    if room.group is not None:
        await mls.send_mls(hub, session, frame, room, member.identity)
        return
    ref, sender, meta = frame.ref, member.identity, frame.meta
    metrics = hub.metrics

    def committed(result: AppendResult | StoreError) -> None:
        if isinstance(result, StoreError):
            session.send_error(
                ErrorCode.INTERNAL, "the message was not stored", ref=ref, room=room.id
            )
            return
        session.send(
            Ack(
                ref=ref,
                room=room.id,
                id=result.client_id,
                seq=result.seq,
                ts=result.ts,
                duplicate=result.duplicate,
            )
        )
        if result.duplicate:
            metrics.duplicates.inc()
            return
        metrics.stored.inc()
        data = encode_frame(
            Message(
                room=room.id,
                seq=result.seq,
                sender=sender,
                ts=result.ts,
                payload=frame.payload,
                meta=meta,
            )
        )
        metrics.deliveries.inc(room.publish(result.seq, data))

    try:
        hub.store.append_nowait(
            NewMessage(room.id, sender, frame.id, frame.payload, meta), committed
        )
    except StoreError:
        raise RequestError(ErrorCode.SHUTTING_DOWN, "the server is shutting down") from None


# ---------------------------------------------------------------- members (§4.8)


async def members(hub: Hub, session: Session, frame: Members) -> None:
    """protocol.md §4.8: the member list; waiting members only for facilitators."""
    room, member = _admitted(hub, session, frame.room)
    staff = may(member.role, RoomAction.SEE_WAITING)
    listed = [
        _info(m, room) for m in room.members.values() if staff or m.status is MemberStatus.MEMBER
    ]
    session.send(MemberList(ref=frame.ref, room=room.id, members=listed))


async def typing(hub: Hub, session: Session, frame: Typing) -> None:
    """protocol.md §4.8: forward an ephemeral typing indicator to the others."""
    room, member = _admitted(hub, session, frame.room)
    data = encode_frame(MemberTyping(room=room.id, identity=member.identity, active=frame.active))
    room.broadcast(data, skip=member.identity)


HANDLERS: dict[type, Handler] = {
    HelloFrame: hello,
    Auth: auth,
    CreateRoom: create_room,
    CreateInvite: create_invite,
    RevokeInvite: revoke_invite,
    Join: join,
    Admit: admit,
    Leave: leave,
    Subscribe: subscribe,
    Send: send,
    Members: members,
    Typing: typing,
    UploadKeyPackages: mls.upload_key_packages,
    ClaimKeyPackage: mls.claim_key_package,
    CommitFrame: mls.commit,
    GetGroupInfo: mls.get_group_info,
    RequestRemoval: mls.request_removal,
}
