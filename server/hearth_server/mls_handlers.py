"""The server as MLS Delivery Service (protocol.md §12).

Handlers for the MLS frames and the MLS parts of ``create_room``, ``send`` and
``leave``. The server keeps each MLS room's public state
(:class:`hearth_core.public_group.PublicGroup`), verifies every PublicMessage
against it, runs THE room rule (:mod:`hearth_core.room_roles`) and stores each
accepted handshake with its effects in one transaction. A room's handshakes
are handled one at a time under ``Room.handshake_lock``, so the first commit
stored for an epoch wins and every later one gets ``stale_epoch``.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from hearth_core.codec import encode_frame
from hearth_core.ds import (
    CheckedKeyPackage,
    application_epoch,
    check_group_info,
    check_key_package,
    commit_effects,
    decode_mls,
    external_sender_index,
    leaf_of,
    public_handshake,
    welcome_refs,
)
from hearth_core.errors import ErrorCode, FrameError
from hearth_core.frames import (
    Ack,
    ClaimKeyPackage,
    CommitAccepted,
    CommitFrame,
    CreateRoom,
    GetGroupInfo,
    GroupInfoFrame,
    KeyPackageFrame,
    KeyPackageStock,
    MemberChange,
    MemberInfo,
    MemberUpdate,
    Message,
    MessageKind,
    Ok,
    RequestRemoval,
    RoomCreated,
    Send,
    UploadKeyPackages,
    WelcomeFrame,
)
from hearth_core.public_group import PublicGroup
from hearth_core.room_errors import RoomError, RoomPeerError
from hearth_core.room_roles import check_commit_message, check_proposal_message, check_room_creation
from hearth_core.rules import MemberStatus, Role
from hearth_mls.commit import Commit
from hearth_mls.errors import MLSError
from hearth_mls.extensions import CIPHERSUITE_1
from hearth_mls.framing import PublicMessage
from hearth_mls.group import external_proposal
from hearth_mls.group_info import GroupInfo
from hearth_mls.proposals import Remove
from hearth_server.errors import RequestError, StoreError
from hearth_server.hub import Hub
from hearth_server.rooms import Room
from hearth_server.session import Session
from hearth_server.storage import (
    AppendResult,
    CheckedUpload,
    GroupRecord,
    HandshakeWrite,
    MemberRecord,
    NewMessage,
    RoomRecord,
)

#: protocol.md §12.1: most unclaimed KeyPackages per identity, and the "low" mark.
MAX_STOCK = 100
LOW_STOCK = 5


def _info(member: MemberRecord, room: Room) -> MemberInfo:
    return MemberInfo(
        identity=member.identity,
        pseudonym=member.pseudonym,
        role=member.role,
        status=member.status,
        online=room.online.get(member.identity, 0) > 0,
    )


def _room_error(exc: FrameError, room: str) -> RequestError:
    return RequestError(exc.code, exc.message, room=room, field=exc.field)


def _group(room: Room) -> PublicGroup:
    if room.group is None:
        raise RequestError(ErrorCode.NOT_MLS_ROOM, "this room has no MLS group", room=room.id)
    return room.group


def _facilitator(room: Room, member: MemberRecord) -> None:
    if not _group(room).view().roles.is_facilitator(member.identity):
        raise RequestError(ErrorCode.FORBIDDEN, "only a facilitator may do this", room=room.id)


# ---------------------------------------------------------------- §12.2 creation


async def create_mls_room(hub: Hub, session: Session, frame: CreateRoom, room_id: str) -> None:
    """protocol.md §12.2: an MLS room from its creator's GroupInfo."""
    assert frame.group_info is not None
    if frame.metadata:
        raise RequestError(
            ErrorCode.INVALID_FIELD,
            "an MLS room keeps its name and topic inside the group",
            field="$.metadata",
        )
    message = decode_mls(frame.group_info, "group_info", "$.group_info")
    info = message.body
    if not isinstance(info, GroupInfo):
        raise FrameError(ErrorCode.MLS_INVALID, "not a GroupInfo", "$.group_info")
    if info.group_context.cipher_suite != CIPHERSUITE_1:
        raise FrameError(ErrorCode.UNSUPPORTED_SUITE, "only cipher suite 1", "$.group_info")
    try:
        group = PublicGroup.from_group_info(info, frame.ratchet_tree)
        roster = group.view().roster
    except (MLSError, RoomError) as exc:
        raise FrameError(
            ErrorCode.MLS_INVALID, f"GroupInfo refused: {exc}", "$.group_info"
        ) from exc
    if list(roster.values()) != [frame.identity]:
        raise RequestError(
            ErrorCode.CREDENTIAL_MISMATCH, "the group's only member must be the creating identity"
        )
    try:
        check_room_creation(group.context.extensions, frame.identity)
    except RoomError as exc:
        raise RequestError(ErrorCode.AUTHORITY_DENIED, f"{exc.code}: {exc}") from exc
    if external_sender_index(group, hub.ds_public) is None:
        raise RequestError(
            ErrorCode.MLS_INVALID, "external_senders must list the server's ds_key (§12)"
        )
    now = hub.clock_ms()
    config = hub.config
    retention = frame.retention if frame.retention is not None else config.retention_default
    if config.retention_max is not None:
        retention = min(retention or config.retention_max, config.retention_max)
    record = RoomRecord(room_id, now, b"", frame.waiting_room, retention)
    creator = MemberRecord(
        room_id, frame.identity, frame.pseudonym, Role.FACILITATOR, MemberStatus.MEMBER, now
    )
    group_record = GroupRecord(
        room_id, group.group_id, group.epoch, 0, now, frame.group_info, group.ratchet_tree()
    )
    await hub.store.create_mls_room(record, creator, group_record)
    room = Room(record, [creator])
    room.set_group(group, group_record)
    hub.rooms.add(room)
    session.bind(room, frame.identity)
    hub.log.debug("mls_room_created", conn=session.conn_id, room=room_id)
    session.send(
        RoomCreated(
            ref=frame.ref,
            room=room_id,
            role=Role.FACILITATOR,
            retention=retention,
            epoch=group.epoch,
        )
    )


# ---------------------------------------------------------------- §12.1 KeyPackages


async def upload_key_packages(hub: Hub, session: Session, frame: UploadKeyPackages) -> None:
    """protocol.md §12.1: validate every KeyPackage, store all or none, report the stock."""
    session.require_identity(frame.identity)
    now_ms = hub.clock_ms()
    checked: list[CheckedKeyPackage] = [
        check_key_package(data, frame.identity, now_ms // 1000, f"$.key_packages[{i}]")
        for i, data in enumerate(frame.key_packages)
    ]
    if len({kp.ref for kp in checked}) != len(checked):
        raise RequestError(ErrorCode.KEY_PACKAGE_REUSED, "the same KeyPackage twice in one upload")
    upload = [CheckedUpload(kp.ref, kp.data, kp.not_after_s * 1000) for kp in checked]
    stock = await hub.store.store_key_packages(frame.identity, upload, now_ms, MAX_STOCK)
    session.send(
        KeyPackageStock(ref=frame.ref, identity=frame.identity, stock=stock, low=stock < LOW_STOCK)
    )


async def claim_key_package(hub: Hub, session: Session, frame: ClaimKeyPackage) -> None:
    """protocol.md §12.3: a facilitator takes one KeyPackage of a member to add it."""
    from hearth_server.handlers import _admitted

    room, member = _admitted(hub, session, frame.room)
    group = _group(room)
    _facilitator(room, member)
    if frame.member not in room.members or leaf_of(group, frame.member) is not None:
        raise RequestError(
            ErrorCode.NO_SUCH_MEMBER, "no member outside the group with this identity", room=room.id
        )
    claimed = await hub.store.claim_key_package(room.id, frame.member, hub.clock_ms())
    if claimed is None:
        raise RequestError(
            ErrorCode.NO_KEY_PACKAGE, "the member has no KeyPackage left", room=room.id
        )
    key_package, stock = claimed
    session.send(
        KeyPackageFrame(ref=frame.ref, room=room.id, member=frame.member, key_package=key_package)
    )
    if stock < LOW_STOCK:
        low = KeyPackageStock(identity=frame.member, stock=stock, low=True)
        for other in room.bound.get(frame.member, set()):
            other.send(low)


# ---------------------------------------------------------------- §12.5 GroupInfo


async def get_group_info(hub: Hub, session: Session, frame: GetGroupInfo) -> None:
    """protocol.md §12.5: members and invitees that redeemed an invite may fetch it."""
    from hearth_server.handlers import _admitted

    room, _member = _admitted(hub, session, frame.room)
    group = _group(room)
    record = room.group_record
    assert record is not None
    session.send(
        GroupInfoFrame(
            ref=frame.ref,
            room=room.id,
            epoch=group.epoch,
            seq=record.epoch_seq,
            group_info=record.group_info,
            ratchet_tree=group.ratchet_tree(),
        )
    )


# ---------------------------------------------------------------- §12.4 commits


async def commit(hub: Hub, session: Session, frame: CommitFrame) -> None:
    """protocol.md §12.4: verify, run the rule, store with Welcome and GroupInfo, fan out."""
    from hearth_server.handlers import _admitted

    room, member = _admitted(hub, session, frame.room)
    _group(room)
    async with room.handshake_lock:
        earlier = await hub.store.find_message(room.id, member.identity, frame.id)
        if earlier is not None:
            stored = await hub.store.read_messages(room.id, earlier.seq - 1, 1)
            epoch = (stored[0].epoch or 0) + 1 if stored else _group(room).epoch
            session.send(_accepted(frame, earlier, epoch))
            return
        try:
            write, after = await _check_commit(hub, room, member, frame)
        except FrameError as exc:
            raise _room_error(exc, room.id) from None
        result = await hub.store.append_handshake(
            write, lambda r: _committed(hub, session, room, frame, write, after, r)
        )
    if not result.duplicate:
        await propose_pending_removals(hub, room)


async def _check_commit(
    hub: Hub, room: Room, member: MemberRecord, frame: CommitFrame
) -> tuple[HandshakeWrite, PublicGroup]:
    group = _group(room)
    message = decode_mls(frame.commit, "commit", "$.commit")
    body = public_handshake(message)
    if not isinstance(body.content.content, Commit):
        raise FrameError(ErrorCode.MLS_INVALID, "a proposal, not a commit: use send", "$.commit")
    if body.content.group_id != group.group_id:
        raise FrameError(ErrorCode.WRONG_GROUP, "the commit is for another group", "$.commit")
    if body.content.epoch != group.epoch:
        raise RequestError(
            ErrorCode.STALE_EPOCH,
            f"the room is at epoch {group.epoch}",
            room=room.id,
            epoch=group.epoch,
        )
    try:
        after = group.apply_commit(body)
        effects = commit_effects(group, body)
    except (MLSError, RoomError) as exc:
        raise FrameError(ErrorCode.MLS_INVALID, f"commit refused: {exc}", "$.commit") from exc
    if effects.committer != member.identity:
        raise FrameError(
            ErrorCode.CREDENTIAL_MISMATCH, "the committer is not the sending identity", "$.commit"
        )
    if effects.external and effects.added:
        raise FrameError(ErrorCode.MLS_INVALID, "an external commit adds only its sender")
    if not hub.skip_room_rule:
        try:
            check_commit_message(group.view(), message, group.proposals)
        except RoomPeerError as exc:
            raise FrameError(ErrorCode.AUTHORITY_DENIED, f"{exc.code}: {exc}") from exc
    if external_sender_index(after, hub.ds_public) is None:
        raise FrameError(
            ErrorCode.AUTHORITY_DENIED, "external_senders must keep the server's ds_key (§12)"
        )
    welcome_to = await _check_welcome(hub, room, frame, effects.added)
    group_info = check_group_info(after, frame.group_info)
    admitted = tuple(
        i
        for i in effects.added.values()
        if (m := room.members.get(i)) is not None and m.status is MemberStatus.WAITING
    )
    removed = tuple(i for i in effects.removed if i != effects.committer)
    return HandshakeWrite(
        NewMessage(
            room.id, member.identity, frame.id, frame.commit, kind="commit", epoch=group.epoch
        ),
        group=GroupRecord(
            room.id, after.group_id, after.epoch, 0, 0, group_info, after.ratchet_tree()
        ),
        welcome=frame.welcome,
        welcome_epoch=after.epoch,
        welcome_to=welcome_to,
        admitted=admitted,
        removed=removed,
    ), after


async def _check_welcome(
    hub: Hub, room: Room, frame: CommitFrame, added: dict[bytes, bytes]
) -> tuple[bytes, ...]:
    if not added:
        if frame.welcome is not None:
            raise FrameError(ErrorCode.WELCOME_INVALID, "the commit adds nobody", "$.welcome")
        return ()
    if frame.welcome is None:
        raise FrameError(ErrorCode.WELCOME_INVALID, "the commit adds members: Welcome required")
    refs = welcome_refs(frame.welcome)
    if refs != frozenset(added):
        raise FrameError(
            ErrorCode.WELCOME_INVALID,
            "the Welcome does not name exactly the added KeyPackages",
            "$.welcome",
        )
    claimed = await hub.store.claimed_for(room.id, refs)
    if claimed.keys() != refs or any(added[ref] != who for ref, who in claimed.items()):
        raise FrameError(
            ErrorCode.WELCOME_INVALID,
            "the Welcome names a KeyPackage not claimed for this room",
            "$.welcome",
        )
    return tuple(claimed.values())


def _accepted(frame: CommitFrame, result: AppendResult, epoch: int) -> CommitAccepted:
    return CommitAccepted(
        ref=frame.ref,
        room=frame.room,
        id=frame.id,
        seq=result.seq,
        epoch=epoch,
        ts=result.ts,
        duplicate=result.duplicate,
    )


def _publish(hub: Hub, room: Room, result: AppendResult, msg: NewMessage) -> None:
    data = encode_frame(
        Message(
            room=room.id,
            seq=result.seq,
            sender=msg.sender,
            ts=result.ts,
            payload=msg.payload,
            kind=MessageKind(msg.kind),
            epoch=msg.epoch,
        )
    )
    hub.metrics.stored.inc()
    hub.metrics.deliveries.inc(room.publish(result.seq, data))


def _committed(
    hub: Hub,
    session: Session,
    room: Room,
    frame: CommitFrame,
    write: HandshakeWrite,
    after: PublicGroup,
    result: Any,
) -> None:
    """After the commit's transaction (in sequence order): state, answer, fan-out."""
    if not isinstance(result, AppendResult):
        return  # a failure: the awaiting handler raises it and the client gets the error
    if result.duplicate:
        session.send(_accepted(frame, result, after.epoch))
        return
    assert write.group is not None
    room.set_group(after, replace(write.group, epoch_seq=result.seq, epoch_ms=result.ts))
    session.send(_accepted(frame, result, after.epoch))
    _publish(hub, room, result, write.message)
    if write.welcome is not None:
        welcome = WelcomeFrame(
            room=room.id, seq=result.seq, epoch=after.epoch, welcome=write.welcome
        )
        for identity in write.welcome_to:
            for other in room.bound.get(identity, set()):
                other.send(welcome)
    for identity in write.admitted:
        member = room.members.get(identity)
        if member is None:
            continue
        member = replace(member, status=MemberStatus.MEMBER)
        room.members[identity] = member
        data = encode_frame(
            MemberUpdate(room=room.id, change=MemberChange.ADMITTED, member=_info(member, room))
        )
        room.broadcast(data)
        for other in room.bound.get(identity, set()):
            if room.id not in other.subscriptions:
                other.outbox.push(data)
    for identity in write.removed:
        _drop_member(room, identity)
    room.set_group(after, room.group_record or write.group)  # roles of admitted members


def _drop_member(room: Room, identity: bytes) -> None:
    """The identity is no longer a member: unbind it and tell the others."""
    member = room.members.pop(identity, None)
    if member is None:
        return
    for other in list(room.bound.get(identity, set())):
        other.unbind(room)
    room.broadcast(
        encode_frame(
            MemberUpdate(room=room.id, change=MemberChange.LEFT, member=_info(member, room))
        )
    )


# ---------------------------------------------------------------- §12.6 send


async def send_mls(hub: Hub, session: Session, frame: Send, room: Room, sender: bytes) -> None:
    """protocol.md §12.6: application PrivateMessages by epoch, proposals verified."""
    group = _group(room)
    try:
        message = decode_mls(frame.payload, "payload", "$.payload")
        if isinstance(message.body, PublicMessage):
            await _send_proposal(hub, session, frame, room, sender)
            return
        group_id, epoch = application_epoch(message)
        if group_id != group.group_id:
            raise FrameError(ErrorCode.WRONG_GROUP, "the message is for another group", "$.payload")
    except FrameError as exc:
        raise _room_error(exc, room.id) from None
    current = group.epoch
    record = room.group_record
    in_grace = (
        epoch == current - 1
        and record is not None
        and hub.clock_ms() - record.epoch_ms <= hub.config.epoch_grace * 1000
    )
    if epoch != current and not in_grace:
        raise RequestError(
            ErrorCode.STALE_EPOCH,
            f"the room is at epoch {current}",
            room=room.id,
            epoch=current,
        )
    msg = NewMessage(room.id, sender, frame.id, frame.payload, frame.meta, epoch=epoch)
    ref = frame.ref

    def committed(result: AppendResult | StoreError) -> None:
        if isinstance(result, StoreError):
            session.send_error(ErrorCode.INTERNAL, "the message was not stored", ref=ref)
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
            hub.metrics.duplicates.inc()
            return
        data = encode_frame(
            Message(
                room=room.id,
                seq=result.seq,
                sender=sender,
                ts=result.ts,
                payload=frame.payload,
                meta=frame.meta,
                epoch=epoch,
            )
        )
        hub.metrics.stored.inc()
        hub.metrics.deliveries.inc(room.publish(result.seq, data))

    try:
        hub.store.append_nowait(msg, committed)
    except StoreError:
        raise RequestError(ErrorCode.SHUTTING_DOWN, "the server is shutting down") from None


async def _send_proposal(
    hub: Hub, session: Session, frame: Send, room: Room, sender: bytes
) -> None:
    async with room.handshake_lock:
        group = _group(room)
        body = public_handshake(decode_mls(frame.payload, "payload", "$.payload"))
        if isinstance(body.content.content, Commit):
            raise FrameError(ErrorCode.MLS_INVALID, "commits use the commit frame", "$.payload")
        if body.content.group_id != group.group_id:
            raise FrameError(ErrorCode.WRONG_GROUP, "the proposal is for another group")
        if body.content.epoch != group.epoch:
            raise RequestError(
                ErrorCode.STALE_EPOCH,
                f"the room is at epoch {group.epoch}",
                room=room.id,
                epoch=group.epoch,
            )
        try:
            after = group.add_proposal(body)
        except (MLSError, RoomError) as exc:
            raise FrameError(
                ErrorCode.MLS_INVALID, f"proposal refused: {exc}", "$.payload"
            ) from exc
        index = body.content.sender.index
        if index is None or group.view().roster.get(index) != sender:
            raise FrameError(ErrorCode.CREDENTIAL_MISMATCH, "the proposer is not the sender")
        if not hub.skip_room_rule:
            try:
                check_proposal_message(group.view(), frame.payload)
            except RoomPeerError as exc:
                raise FrameError(ErrorCode.AUTHORITY_DENIED, f"{exc.code}: {exc}") from exc
        msg = NewMessage(
            room.id, sender, frame.id, frame.payload, kind="proposal", epoch=group.epoch
        )
        ref = frame.ref

        def committed(result: Any) -> None:
            if not isinstance(result, AppendResult):
                return  # the awaiting handler reports the failure
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
            if not result.duplicate and room.group is group and room.group_record is not None:
                room.set_group(after, room.group_record)
                _publish(hub, room, result, msg)

        await hub.store.append_handshake(HandshakeWrite(msg), committed)


# ---------------------------------------------------------------- §12.7 removals


async def propose_removal(hub: Hub, room: Room, identity: bytes) -> bool:
    """Send the server's Remove proposal for ``identity``'s leaf (protocol.md §12.7).

    False when the identity has no leaf (the pending removal is then dropped).
    Skipped when a Remove of that leaf is already proposed in this epoch.
    """
    async with room.handshake_lock:
        group = _group(room)
        leaf = leaf_of(group, identity)
        if leaf is None:
            await hub.store.drop_removal(room.id, identity)
            return False
        if any(
            isinstance(p.proposal, Remove) and p.proposal.removed == leaf for p in group.proposals
        ):
            return True
        index = external_sender_index(group, hub.ds_public)
        if index is None:
            hub.log.warning("ds_key_not_external_sender", room=room.id)
            return True
        proposal = external_proposal(
            group.group_id, group.epoch, index, hub.ds_private, Remove(leaf)
        ).to_bytes()
        after = group.add_proposal(proposal)
        msg = NewMessage(
            room.id,
            hub.ds_public,
            f"ds-remove:{group.epoch}:{leaf}",
            proposal,
            kind="proposal",
            epoch=group.epoch,
        )

        def committed(result: Any) -> None:
            if (
                isinstance(result, AppendResult)
                and not result.duplicate
                and room.group is group
                and room.group_record is not None
            ):
                room.set_group(after, room.group_record)
                _publish(hub, room, result, msg)

        await hub.store.append_handshake(HandshakeWrite(msg), committed)
        hub.log.info("ds_remove_proposed", room=room.id, epoch=group.epoch)
        return True


async def propose_pending_removals(hub: Hub, room: Room) -> None:
    """After an epoch change: propose every pending removal again (protocol.md §12.7)."""
    for identity in await hub.store.pending_removals(room.id):
        await propose_removal(hub, room, identity)


async def request_removal(hub: Hub, session: Session, frame: RequestRemoval) -> None:
    """protocol.md §12.7: a facilitator has the server propose a member's Remove (or ban)."""
    from hearth_server.handlers import _admitted

    room, member = _admitted(hub, session, frame.room)
    group = _group(room)
    _facilitator(room, member)
    if leaf_of(group, frame.member) is None:
        raise RequestError(ErrorCode.NO_SUCH_MEMBER, "no such member in the group", room=room.id)
    await hub.store.add_removal(room.id, frame.member, ban=frame.ban)
    if frame.ban:
        _drop_member(room, frame.member)
    await propose_removal(hub, room, frame.member)
    session.send(Ok(ref=frame.ref))


async def leave_mls(hub: Hub, room: Room, identity: bytes) -> None:
    """protocol.md §12.7: a member left; get its leaf removed even if nobody is online."""
    if room.group is None or leaf_of(room.group, identity) is None:
        return
    await hub.store.add_removal(room.id, identity, ban=False)
    await propose_removal(hub, room, identity)


async def send_welcomes(hub: Hub, session: Session, room: Room, identity: bytes) -> None:
    """protocol.md §12.4: Welcomes released to ``identity``, on subscribe."""
    for seq, epoch, data in await hub.store.welcomes_for(room.id, identity):
        session.send(WelcomeFrame(room=room.id, seq=seq, epoch=epoch, welcome=data))
