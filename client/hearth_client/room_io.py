"""Sending into a room: application messages and commits, with their retries (issue 5).

:class:`RoomIO` owns, per room, the lock that serializes our commits and the
event that wakes waiters when the room's state moves (the engine calls
:meth:`RoomIO.notify` after each processed message). Its rules:

- An application message is protected for the current epoch and sent with a
  client id (protocol.md §4.7, §8.3); a lost connection resends the same id (the
  server answers a duplicate with the original ack); ``stale_epoch`` (outside the
  epoch grace, §12.6) waits for the new epoch and protects it again.
- A commit is created and sealed to disk as *pending* before it is sent
  (RFC 9420 §12.4.1). ``commit_accepted`` is followed by waiting for our own
  commit in the room's order (where :meth:`hearth_mls.group.Group.process`
  merges it); ``stale_epoch`` means another commit won the epoch (protocol.md
  §12.4): we wait for it to arrive (it replaces our pending commit) and redo
  what the intent still needs. Any other refusal discards the pending commit.
"""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from typing import TypeVar

from hearth_client import events as ev
from hearth_client.connection import Connection
from hearth_client.errors import (
    ClientUsageError,
    NotConnectedError,
    RoomProtocolError,
    ServerRefusedError,
)
from hearth_client.room_session import Intent, PendingFrame, RoomSession, add_proposal
from hearth_client.views import SentMessage
from hearth_core.frames import (
    Ack,
    CommitAccepted,
    CommitFrame,
    GetGroupInfo,
    GroupInfoFrame,
    MemberList,
    Members,
    Send,
    ServerFrame,
    UploadKeyPackages,
)
from hearth_core.room_errors import RoomUsageError
from hearth_core.room_roles import Role, replace_roles
from hearth_core.room_state import Envelope, Nick, encode_envelope
from hearth_mls.group import Group
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import Phase
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import members as tree_members
from hearth_mls.proposals import GroupContextExtensions, Proposal, Remove
from hearth_mls.tree_nodes import ratchet_tree_from_bytes

#: How many times a commit or message is redone after losing its epoch (protocol.md §12.4).
T = TypeVar("T")


def checked(make: Callable[[], T]) -> T:
    """``make()``, with the core's RoomUsageError (bad local input) as ClientUsageError."""
    try:
        return make()
    except RoomUsageError as exc:
        raise ClientUsageError(str(exc)) from exc


def plaintext(envelope: Envelope) -> bytes:
    """An envelope's plaintext (hearth_core.room_state); ClientUsageError if invalid."""
    return checked(lambda: encode_envelope(envelope))


def nick_plaintext(pseudonym: str) -> bytes:
    """The ``nick`` envelope announcing ``pseudonym``; ClientUsageError if invalid."""
    return plaintext(checked(lambda: Nick(pseudonym=pseudonym)))


MAX_COMMIT_ATTEMPTS = 8
REQUEST_TIMEOUT = 20.0
#: KeyPackages uploaded at a time for a waiting membership (protocol.md §12.1).
KEY_PACKAGE_BATCH = 5


class RoomIO:
    """Messages and commits for the engine's rooms (module doc)."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.locks: dict[str, asyncio.Lock] = {}
        self.changed: dict[str, asyncio.Event] = {}
        #: Counters for diagnostics: commits redone after losing their epoch, rejoins.
        self.stats: dict[str, int] = {"commit_races_lost": 0, "rejoins": 0}

    def register(self, room: str) -> None:
        self.locks.setdefault(room, asyncio.Lock())
        self.changed.setdefault(room, asyncio.Event())

    def committing(self, room: str) -> bool:
        lock = self.locks.get(room)
        return lock is not None and lock.locked()

    async def refresh_members(self, session: RoomSession, wait_online: bool = True) -> None:
        """Presence and the waiting room from ``member_list`` (protocol.md §4.8)."""
        since = session.presence_serial
        answer = await self.conn.request(Members(room=session.room), wait_online=wait_online)
        assert isinstance(answer, MemberList)
        session.apply_member_snapshot({m.identity for m in answer.members if m.online}, since)
        session.waiting = {m.identity for m in answer.members if m.status == "waiting"}

    async def top_up(self, session: RoomSession) -> None:
        """Upload fresh KeyPackages for a waiting membership (protocol.md §12.1)."""
        if session.group is None:
            packages = session.new_key_packages(KEY_PACKAGE_BATCH)
            await self.conn.request(UploadKeyPackages(identity=session.me, key_packages=packages))

    async def wait(
        self,
        session: RoomSession,
        predicate: Callable[[], bool],
        timeout: float = REQUEST_TIMEOUT,  # noqa: ASYNC109
    ) -> None:
        """Wait until the room's processed stream makes ``predicate`` true (bounded)."""
        changed = self.changed[session.room]
        try:
            async with asyncio.timeout(timeout):
                while not predicate():
                    changed.clear()
                    await changed.wait()
        except TimeoutError as exc:
            raise NotConnectedError(
                f"the room's messages did not arrive within {timeout} s"
            ) from exc

    async def wait_epoch_after(self, session: RoomSession, epoch: int) -> None:
        await self.wait(session, lambda: session.epoch != epoch)

    async def wait_seq(self, session: RoomSession, seq: int) -> None:
        await self.wait(session, lambda: session.last_seq >= seq)

    def notify(self, room: str) -> None:
        event = self.changed.get(room)
        if event is not None:
            event.set()

    async def _send_commit(self, session: RoomSession, frame: PendingFrame) -> ServerFrame:
        """Send a pending commit with its Welcome and GroupInfo (protocol.md §12.4)."""
        return await self.conn.request(
            CommitFrame(
                room=session.room,
                id=frame.id,
                commit=frame.commit,
                group_info=frame.group_info,
                welcome=frame.welcome,
            )
        )

    async def send_plain(
        self,
        session: RoomSession,
        plaintext: bytes,
        kind: ev.MessageKind | None = None,
        text: str = "",
    ) -> SentMessage:
        message_id = "m-" + secrets.token_hex(8)
        if not session.is_synced():
            # Encrypt for the room's current epoch, not one it left while we were away:
            # a member who joined since could not read it (RFC 9420 §8, §14).
            await self.conn.wait_online(REQUEST_TIMEOUT)
            await self.wait(session, session.is_synced)
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            if session.group is None or session.group.phase is Phase.REMOVED:
                raise ClientUsageError("not in the room's group")
            sent_epoch = session.epoch
            payload = session.protect(plaintext, kind, text)
            try:
                for _retry in range(3):
                    try:
                        ack = await self.conn.request(
                            Send(room=session.room, id=message_id, payload=payload)
                        )
                        break
                    except NotConnectedError:
                        await self.conn.wait_online(REQUEST_TIMEOUT)  # same id: idempotent
                else:
                    raise NotConnectedError("could not send")
            except ServerRefusedError as exc:
                session.own_sent.pop(hashlib.sha256(payload).digest(), None)
                if exc.code == "stale_epoch":
                    await self.wait_epoch_after(session, sent_epoch)
                    message_id = "m-" + secrets.token_hex(8)
                    continue
                raise
            assert isinstance(ack, Ack)
            return SentMessage(session.room, ack.seq, ack.ts, message_id)
        raise RoomProtocolError("the room's epoch kept changing; message not sent")

    def proposals_for(self, session: RoomSession, intent: Intent) -> list[Proposal] | None:
        """What ``intent`` still needs in the current epoch (None: nothing any more)."""
        group = session.group
        if group is None or group.phase is not Phase.ACTIVE:
            return None
        if intent.kind == "remove":
            leaf = session.leaf_of(intent.member)
            return None if leaf is None else [Remove(leaf)]
        if intent.kind == "role":
            roles = session.roles
            role = Role(intent.role)
            if roles is None or roles.role_of(intent.member) is role:
                return None
            extensions = replace_roles(
                group.state.context.extensions, roles.with_role(intent.member, role)
            )
            return [GroupContextExtensions(extensions)]
        if intent.kind == "update":
            return []  # an empty commit with a path: fresh keys for our leaf (§12.4)
        if intent.kind == "add":
            if session.leaf_of(intent.member) is not None:
                return None
            return [add_proposal(intent.key_package)]
        return [] if any(map(session.includable, group.state.proposals)) else None

    async def commit(
        self, session: RoomSession, intent: Intent, *, retry: bool = False
    ) -> int | None:
        """Commit for ``intent``, redoing it after a lost race; the seq of our commit.

        ``retry``: redo a saved intent only if it is still the one pending (another
        task may have finished it while this one waited for the lock).
        """
        async with self.locks[session.room]:
            if retry and session.intent != intent:
                return None
            for _attempt in range(MAX_COMMIT_ATTEMPTS):
                proposals = self.proposals_for(session, intent)
                if proposals is None:
                    session.intent = None
                    session.save()
                    return None
                epoch = session.epoch
                frame = session.start_commit(proposals, intent)
                try:
                    accepted = await self._send_commit(session, frame)
                except ServerRefusedError as exc:
                    if exc.code == "stale_epoch":
                        self.stats["commit_races_lost"] += 1
                        # Another commit won this epoch: it arrives in the room's order,
                        # replaces our pending commit, and we try again (§12.4).
                        await self.wait_epoch_after(session, epoch)
                        continue
                    session.abandon_commit()
                    raise
                assert isinstance(accepted, CommitAccepted)
                await self.wait_seq(session, accepted.seq)
                return accepted.seq
            raise RoomProtocolError("gave up after losing the epoch race repeatedly")

    def lowest_committer(self, session: RoomSession) -> bool:
        assert session.group is not None
        state = session.group.state
        leaving = set()
        for cached in filter(session.includable, state.proposals):
            proposal = cached.proposal
            if not isinstance(proposal, Remove) or cached.sender.index != proposal.removed:
                return False  # not only self-removals: a facilitator's job
            leaving.add(proposal.removed)
        staying = [i for i in session.roster().identities if i not in leaving]
        return bool(staying) and min(staying) == session.group.own_leaf

    async def resend_pending(self, session: RoomSession) -> None:
        """Resend a commit left pending by a crash, with its id (protocol.md §12.4, §8.3).

        The server answers a commit it already stored as a duplicate; one it never
        got is judged now. Either way our commit arrives in the room's order and is
        merged, or the commit that won replaces it and the intent is redone.
        """
        async with self.locks[session.room]:
            group, frame = session.group, session.pending
            if group is None or group.phase is not Phase.PENDING_COMMIT:
                return
            if frame is None:
                group.discard_pending_commit()
            else:
                epoch = session.epoch
                try:
                    accepted = await self._send_commit(session, frame)
                except ServerRefusedError as exc:
                    if exc.code != "stale_epoch":
                        session.abandon_commit()
                        raise
                    await self.wait_epoch_after(session, epoch)
                else:
                    assert isinstance(accepted, CommitAccepted)
                    await self.wait_seq(session, accepted.seq)
        if session.intent is not None:
            await self.commit(session, session.intent, retry=True)

    async def external_join(self, session: RoomSession, *, replace: bool = False) -> bool:
        """Join (or rejoin, replacing our old leaf) by external commit (RFC 9420 §12.4.3.2).

        Fetches the GroupInfo (protocol.md §12.5), commits, and on ``stale_epoch``
        fetches again; the group is adopted only once the server accepted the commit.
        False when there was nothing to do (joined meanwhile, and not ``replace``).
        """
        async with self.locks[session.room]:
            if session.group is not None and not replace:
                return False  # joined meanwhile (another task did it)
            for _attempt in range(MAX_COMMIT_ATTEMPTS):
                answer = await self.conn.request(GetGroupInfo(room=session.room))
                assert isinstance(answer, GroupInfoFrame)
                body = MLSMessage.from_bytes(answer.group_info).body
                if not isinstance(body, GroupInfo):
                    raise RoomProtocolError("the server's group_info is not a GroupInfo")
                tree = ratchet_tree_from_bytes(answer.ratchet_tree)
                old = [
                    i for i, leaf in tree_members(tree) if leaf.credential.identity == session.me
                ]
                group, commit = Group.join_external(
                    body,
                    session.me,
                    ratchet_tree=answer.ratchet_tree,
                    signature_priv=session.membership.signature_key,
                    remove_old=old[0] if old else None,
                )
                try:
                    accepted = await self.conn.request(
                        CommitFrame(
                            room=session.room,
                            id="x-" + secrets.token_hex(8),
                            commit=commit.to_bytes(),
                            group_info=MLSMessage(group.group_info()).to_bytes(),
                        )
                    )
                except ServerRefusedError as exc:
                    if exc.code == "stale_epoch":
                        continue
                    raise
                assert isinstance(accepted, CommitAccepted)
                session.last_seq = accepted.seq
                session.own_sent.clear()
                session.attach(group)
                if old:
                    self.stats["rejoins"] += 1  # we replaced our own old leaf
                return True
            raise RoomProtocolError("could not join: every attempt lost its epoch")


__all__ = ["MAX_COMMIT_ATTEMPTS", "RoomIO"]
