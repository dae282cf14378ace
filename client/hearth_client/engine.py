"""The Hearth client engine: end-to-end encrypted rooms with no UI (issue 5; used by issue 6).

One :class:`Engine` is one profile (a passphrase-protected keystore, see
:mod:`hearth_client.keystore`) talking to one server over one websocket
(:mod:`hearth_client.connection`), with one MLS group per room
(:mod:`hearth_client.room_session`). Everything is asyncio; every method that
talks to the server is a coroutine and raises from :mod:`hearth_client.errors`.

API (the contract for the TUI and CLI)::

    from hearth_client.engine import Engine, RoomInfo, MemberView, Invite, SentMessage
    from hearth_client import events

    engine = await Engine.create_profile(home, passphrase, server="ws://host:port/ws")
    engine = await Engine.open_profile(home, passphrase, server=None)  # server from profile
    async with engine:                          # start(): connect, resume every room
        ...                                     # close(): OFFLINE, keystore closed

    # lifecycle
    await engine.start() -> None                # connects in the background; returns at once
    await engine.wait_online(timeout: float = 10.0) -> None   # NotConnectedError on timeout
    await engine.close() -> None
    engine.connection_state -> events.ConnectionState
    engine.server -> str

    # events (typed, see hearth_client.events)
    engine.events() -> AsyncIterator[events.Event]   # each call: a new unbounded subscriber
    engine.add_listener(callback: Callable[[events.Event], None]) -> Callable[[], None]
                                                 # returns a function that removes it

    # rooms
    await engine.create_room(name: str, *, pseudonym: str, topic: str = "",
                             guidelines: str = "", waiting_room: bool = False) -> RoomInfo
    await engine.create_invite(room: str, *, max_uses: int = 1, expires_in: int = 86400,
                               waiting_room: bool | None = None) -> Invite
    await engine.join(invite: str, *, pseudonym: str) -> RoomInfo
        # invite: Invite.code (43 chars) or Invite.link ("<server url>#<code>");
        # InvalidInviteError (format), InviteRefusedError (invalid/expired/revoked/used up).
        # Open room: external commit (RFC 9420 §12.4.3.2), RoomInfo.status == "member".
        # Waiting room: RoomInfo.status == "waiting" until a facilitator admits; then
        # RoomJoined is emitted.
    await engine.send(room: str, text: str) -> SentMessage      # a Chat envelope
    await engine.send_me(room: str, text: str) -> SentMessage   # a /me action
    await engine.set_typing(room: str, active: bool) -> None
    await engine.set_pseudonym(room: str, pseudonym: str) -> None   # /nick, announced encrypted
    await engine.set_room_state(room: str, *, name: str | None = None, topic: str | None = None,
                                guidelines: str | None = None) -> None   # facilitator only
    await engine.leave(room: str) -> None
    # facilitator actions (ClientUsageError if this member is not a facilitator)
    await engine.remove(room: str, member: str) -> None         # MLS Remove commit
    await engine.admit(room: str, member: str) -> None          # waiting -> member (Welcome)
    await engine.ban(room: str, member: str) -> None            # server proposes the Remove
                                                                # and bans; a facilitator commits
    await engine.update_keys(room: str) -> None                 # fresh leaf keys (any member)

    # queries (no I/O, from local state)
    engine.rooms() -> list[RoomInfo]
    engine.room(room: str) -> RoomInfo                          # ClientUsageError if unknown
    engine.members(room: str) -> list[MemberView]
    engine.waiting(room: str) -> list[str]                      # member ids (facilitators)
    engine.history(room: str) -> list[events.MessageReceived]   # this session only, in memory
    engine.fingerprint(room: str, member: str | None = None) -> str   # None: my own
    engine.safety_number(room: str, member: str) -> str
    engine.tree_hash(room: str) -> bytes                        # equal on converged members
    engine.stats -> dict[str, int]                              # commit_races_lost, rejoins

Data types (frozen dataclasses):

- ``RoomInfo(room, name, topic, guidelines, epoch, role, status, pseudonym, me,
  last_seq, unread)``: ``status`` is ``"member"`` or ``"waiting"``; ``me`` is my member id;
  ``name`` is ``""`` until the room state arrives (it travels encrypted).
- ``MemberView(member, pseudonym, role, online, typing, fingerprint, me)``.
- ``Invite(room, invite_id, code, link, expires_at, max_uses, waiting_room)``.
- ``SentMessage(room, seq, ts, id)``.

Fingerprints: ``fingerprint`` is SHA-256 of the member's MLS leaf signature key
(RFC 9420 §7.2), the first 20 bytes rendered as 12 groups of 5 decimal digits
(like Signal's safety numbers); ``safety_number`` combines my fingerprint and
theirs in sorted order, so both sides see the same 24 groups.

Events (:mod:`hearth_client.events`): ConnectionChanged, MessageReceived,
MemberJoined, MemberLeft, MemberWaiting, PseudonymChanged, RoomJoined, RoomLeft,
RoomStateChanged, EpochChanged, TypingChanged, PresenceChanged, Synced,
EngineErrorEvent.

Guarantees: every message is delivered to listeners once, in room sequence
order, decrypted and its sender verified by MLS (RFC 9420 §6.3); the group state
is saved (sealed, atomically) after every epoch change before anything is sent
(RFC 9420 §12.4.1 "pending commit" included), so a crash between sending a
commit and its acknowledgement converges on restart; no plaintext is ever
written to disk.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from hearth_client import events as ev
from hearth_client.connection import Connection
from hearth_client.errors import (
    ClientUsageError,
    InvalidInviteError,
    NotConnectedError,
    RoomProtocolError,
    ServerRefusedError,
)
from hearth_client.keystore import KdfParams, Keystore, Membership, atomic_write
from hearth_client.profile_envelope import encode_profile
from hearth_client.room_session import (
    Intent,
    RoomSession,
    SessionBlob,
    add_proposal,
    fingerprint_of,
)
from hearth_core.frames import (
    Ack,
    ClaimKeyPackage,
    CommitAccepted,
    CommitFrame,
    CreateInvite,
    CreateRoom,
    GetGroupInfo,
    GroupInfoFrame,
    InviteCreated,
    Join,
    Joined,
    KeyPackageFrame,
    KeyPackageStock,
    Leave,
    MemberChange,
    MemberList,
    Members,
    MemberTyping,
    MemberUpdate,
    Message,
    Presence,
    RequestRemoval,
    RoomCreated,
    Send,
    ServerFrame,
    Subscribe,
    Subscribed,
    Synced,
    Typing,
    UploadKeyPackages,
    WelcomeFrame,
)
from hearth_core.frames import Error as ErrorFrame
from hearth_core.room_roles import Role, room_capabilities, room_extensions
from hearth_core.room_state import Chat, Envelope, Me, RoomState, encode_envelope
from hearth_mls.credential import Credential
from hearth_mls.extension_payloads import ExternalSender
from hearth_mls.framing import PublicMessage, SenderType
from hearth_mls.group import Group
from hearth_mls.group_info import GroupInfo
from hearth_mls.group_state import Phase
from hearth_mls.join import create_key_package, external_join
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import members as tree_members
from hearth_mls.proposals import Proposal, Remove
from hearth_mls.tree_nodes import ratchet_tree_from_bytes
from hearth_mls.welcome_structs import Welcome

log = logging.getLogger("hearth_client.engine")

PROFILE_FILE = "profile.json"
#: The pseudonym the server is told: it never learns the real one (protocol.md §12).
SERVER_PSEUDONYM = "member"
#: How many times a commit is redone after losing its epoch (protocol.md §12.4).
MAX_COMMIT_ATTEMPTS = 8
KEY_PACKAGE_BATCH = 5
REQUEST_TIMEOUT = 20.0
_INVITE_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


@dataclass(frozen=True, slots=True)
class RoomInfo:
    room: str
    name: str
    topic: str
    guidelines: str
    epoch: int
    role: Role
    status: str
    pseudonym: str
    me: str
    last_seq: int
    unread: int = 0


@dataclass(frozen=True, slots=True)
class MemberView:
    member: str
    pseudonym: str
    role: Role
    online: bool
    typing: bool
    fingerprint: str
    me: bool


@dataclass(frozen=True, slots=True)
class Invite:
    room: str
    invite_id: str
    code: str
    link: str
    expires_at: int
    max_uses: int
    waiting_room: bool


@dataclass(frozen=True, slots=True)
class SentMessage:
    room: str
    seq: int
    ts: int
    id: str


def parse_invite(text: str) -> tuple[str | None, str]:
    """``(server or None, code)`` from an invite code or link (module doc)."""
    text = text.strip()
    server: str | None = None
    if "#" in text:
        server, _, text = text.rpartition("#")
        if not server.startswith(("ws://", "wss://")):
            raise InvalidInviteError("an invite link starts with ws:// or wss:// and ends in #code")
    if len(text) != 43 or not set(text) <= _INVITE_CHARS:
        raise InvalidInviteError("an invite code is 43 characters of A-Z, a-z, 0-9, '_' and '-'")
    return server, text


def safety_number(a: str, b: str) -> str:
    """Both sides' fingerprints in sorted order: the same 24 groups on both screens."""
    return " ".join(sorted([a, b]))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


class Engine:
    """One profile, one server, many rooms (module doc)."""

    def __init__(
        self,
        keystore: Keystore,
        server: str,
        *,
        reconnect_delays: Callable[[], Generator[float]] | None = None,
    ) -> None:
        self._keystore = keystore
        self.server = server
        self._sessions: dict[str, RoomSession] = {}
        self._locks: dict[str, asyncio.Lock] = {}
        self._changed: dict[str, asyncio.Event] = {}
        self._history: dict[str, list[ev.MessageReceived]] = {}
        self._listeners: list[Callable[[ev.Event], None]] = []
        self._queues: list[asyncio.Queue[ev.Event]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        #: Counters for diagnostics: commits redone after losing their epoch.
        self.stats: dict[str, int] = {"commit_races_lost": 0, "rejoins": 0}
        self._conn = Connection(
            server,
            identities=self._identity_keys,
            on_frame=self._on_frame,
            on_online=self._on_online,
            on_state=self._on_state,
            reconnect_delays=reconnect_delays,
        )
        for membership in keystore.memberships():
            if membership.server == server and membership.room_id is not None:
                session = RoomSession.load(keystore, membership)
                self._add_session(session)

    # --- profiles -----------------------------------------------------------------------

    @classmethod
    async def create_profile(
        cls,
        home: Path,
        passphrase: str,
        *,
        server: str,
        kdf: KdfParams | None = None,
        reconnect_delays: Callable[[], Generator[float]] | None = None,
    ) -> Engine:
        """A new profile in ``home`` (KeystoreUsageError if one exists there)."""
        keystore = await asyncio.to_thread(Keystore.create, Path(home), passphrase, kdf=kdf)
        atomic_write(Path(home) / PROFILE_FILE, json.dumps({"server": server}).encode())
        return cls(keystore, server, reconnect_delays=reconnect_delays)

    @classmethod
    async def open_profile(
        cls,
        home: Path,
        passphrase: str,
        *,
        server: str | None = None,
        reconnect_delays: Callable[[], Generator[float]] | None = None,
    ) -> Engine:
        """Open ``home`` (WrongPassphraseError, KeystoreError as the keystore raises them)."""
        keystore = await asyncio.to_thread(Keystore.open, Path(home), passphrase)
        if server is None:
            try:
                server = str(json.loads((Path(home) / PROFILE_FILE).read_text())["server"])
            except (OSError, ValueError, KeyError) as exc:
                keystore.close()
                raise ClientUsageError("no server URL given and none in the profile") from exc
        return cls(keystore, server, reconnect_delays=reconnect_delays)

    # --- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        self._conn.start()

    async def wait_online(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        await self._conn.wait_online(timeout)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        await self._conn.close()
        self._keystore.close()

    async def __aenter__(self) -> Engine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connection_state(self) -> ev.ConnectionState:
        return self._conn.state

    # --- events ---------------------------------------------------------------------------

    def add_listener(self, callback: Callable[[ev.Event], None]) -> Callable[[], None]:
        self._listeners.append(callback)
        return lambda: self._listeners.remove(callback)

    async def events(self) -> AsyncIterator[ev.Event]:
        queue: asyncio.Queue[ev.Event] = asyncio.Queue()
        self._queues.append(queue)
        try:
            while True:
                yield await queue.get()
        finally:
            self._queues.remove(queue)

    def _emit(self, event: ev.Event) -> None:
        if isinstance(event, ev.MessageReceived):
            self._history.setdefault(event.room, []).append(event)
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:
                log.exception("event listener failed")
        for queue in self._queues:
            queue.put_nowait(event)

    def _on_state(self, state: ev.ConnectionState, detail: str) -> None:
        self._emit(ev.ConnectionChanged(state, detail))

    def _spawn(
        self, room: str | None, action: Callable[..., Coroutine[Any, Any, Any]], *args: Any
    ) -> None:
        """Run ``action(*args)`` in a task owned by the engine; report what it raises."""

        async def guarded() -> None:
            try:
                await action(*args)
            except (ServerRefusedError, RoomProtocolError, ClientUsageError) as exc:
                self._emit(ev.EngineErrorEvent("background_failed", str(exc), room))
            except NotConnectedError:
                pass  # resumed after the reconnect (_on_online)

        task = asyncio.create_task(guarded())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- sessions -----------------------------------------------------------------------

    def _add_session(self, session: RoomSession) -> None:
        self._sessions[session.room] = session
        self._locks.setdefault(session.room, asyncio.Lock())
        self._changed.setdefault(session.room, asyncio.Event())

    def _session(self, room: str) -> RoomSession:
        session = self._sessions.get(room)
        if session is None:
            raise ClientUsageError("no such room in this profile")
        return session

    def _active(self, room: str) -> RoomSession:
        session = self._session(room)
        if session.group is None or session.status != "member":
            raise ClientUsageError(f"not in the room's group yet (status {session.status})")
        if session.group.phase is Phase.REMOVED:
            raise ClientUsageError("removed from this room")
        return session

    def _identity_keys(self) -> list[Ed25519PrivateKey]:
        return [
            s.membership.auth_private_key for s in self._sessions.values() if s.status != "left"
        ]

    async def _wait(self, session: RoomSession, predicate: Callable[[], bool]) -> None:
        changed = self._changed[session.room]
        async with asyncio.timeout(REQUEST_TIMEOUT):
            while not predicate():
                changed.clear()
                await changed.wait()

    async def _wait_epoch_after(self, session: RoomSession, epoch: int) -> None:
        await self._wait(session, lambda: session.epoch != epoch)

    async def _wait_seq(self, session: RoomSession, seq: int) -> None:
        await self._wait(session, lambda: session.last_seq >= seq)

    def _notify(self, room: str) -> None:
        event = self._changed.get(room)
        if event is not None:
            event.set()

    # --- incoming frames (in arrival order, in the reader loop: no awaiting) ----------------

    def _on_frame(self, frame: ServerFrame) -> None:
        room = getattr(frame, "room", None)
        session = self._sessions.get(room) if isinstance(room, str) else None
        if isinstance(frame, ErrorFrame):
            self._emit(ev.EngineErrorEvent(str(frame.code), frame.message, frame.room))
            return
        if session is None:
            return
        if isinstance(frame, Message):
            for event in session.handle(frame):
                self._emit(event)
            self._after_processing(session)
        elif isinstance(frame, Synced):
            session.synced = True
            self._emit(ev.Synced(session.room, frame.seq))
            group = session.group
            if (
                group is not None
                and group.phase is Phase.PENDING_COMMIT
                and not self._locks[session.room].locked()
            ):
                # A commit sent before a crash never got stored (it is not in the
                # history): drop it and redo what it was for (protocol.md §12.4).
                group.discard_pending_commit()
                session.commit_id = None
                if session.intent is not None:
                    session.followups.add("retry_intent")
            self._after_processing(session)
        elif isinstance(frame, WelcomeFrame):
            self._on_welcome(session, frame)
        elif isinstance(frame, MemberUpdate):
            member = frame.member.identity
            if frame.change is MemberChange.WAITING:
                session.waiting.add(member)
                self._emit(ev.MemberWaiting(session.room, ev.member_id(member)))
            elif frame.change is MemberChange.ADMITTED:
                session.waiting.discard(member)
                if member == session.me and session.group is None:
                    self._spawn(session.room, self._subscribe, session)
        elif isinstance(frame, Presence):
            if frame.online:
                session.online.add(frame.identity)
            else:
                session.online.discard(frame.identity)
            self._emit(ev.PresenceChanged(session.room, ev.member_id(frame.identity), frame.online))
        elif isinstance(frame, MemberTyping):
            if frame.active:
                session.typing.add(frame.identity)
            else:
                session.typing.discard(frame.identity)
            self._emit(ev.TypingChanged(session.room, ev.member_id(frame.identity), frame.active))
        elif isinstance(frame, KeyPackageStock) and frame.low:
            self._spawn(session.room, self._top_up, session)

    def _after_processing(self, session: RoomSession) -> None:
        self._notify(session.room)
        if session.needs_rejoin and not self._locks[session.room].locked():
            session.needs_rejoin = False
            self._spawn(session.room, self._rejoin, session)
            return
        if not session.synced:
            return  # act on the room only once its history is processed
        followups, session.followups = session.followups, set()
        if "announce" in followups:
            self._spawn(session.room, self._announce, session)
        if "commit_proposals" in followups or "retry_intent" in followups:
            self._spawn(session.room, self._commit_followup, session)

    def _on_welcome(self, session: RoomSession, frame: WelcomeFrame) -> None:
        if session.group is not None:
            return
        message = MLSMessage.from_bytes(frame.welcome)
        welcome = message.body
        if not isinstance(welcome, Welcome):
            self._emit(ev.EngineErrorEvent("welcome_invalid", "not a Welcome", session.room))
            return
        refs = set(self._keystore.key_package_refs(session.membership.membership_id))
        for secret in welcome.secrets:
            if secret.new_member in refs:
                _, kp = self._keystore.key_package(secret.new_member)
                group = Group.join(welcome, kp)
                session.last_seq = frame.seq
                session.attach(Group.from_bytes(group.to_bytes(), on_change=session._group_changed))
                for ref in refs:
                    self._keystore.discard_key_package(ref)
                self._emit(ev.RoomJoined(session.room, group.epoch))
                session.followups.add("announce")
                # History after the Welcome's commit (protocol.md §12.4).
                self._spawn(session.room, self._subscribe, session)
                return
        self._emit(
            ev.EngineErrorEvent("welcome_invalid", "names none of our KeyPackages", session.room)
        )

    async def _on_online(self) -> None:
        for session in list(self._sessions.values()):
            try:
                await self._resume(session)
            except ServerRefusedError as exc:
                if exc.code in ("not_member", "banned") and session.status == "member":
                    # Removed (or banned) while we were away (protocol.md §12.7).
                    session.status = "left"
                    session.save()
                    self._emit(ev.RoomLeft(session.room, ev.LeaveReason.REMOVED))
                else:
                    self._emit(ev.EngineErrorEvent(exc.code, exc.message, session.room))

    async def _resume(self, session: RoomSession) -> None:
        session.synced = False
        if session.status == "left":
            return
        if session.status == "waiting":
            invite = session.invite
            if invite is not None:
                await self._conn.request(
                    Join(identity=session.me, invite=invite, pseudonym=SERVER_PSEUDONYM),
                    wait_online=False,
                )
            return
        await self._subscribe(session, wait_online=False)  # binds the room (§3.3)
        if session.group is None:
            # Our group state is lost: rejoin by external commit (RFC 9420 §12.4.3.2).
            self._spawn(session.room, self._rejoin, session)

    async def _subscribe(self, session: RoomSession, *, wait_online: bool = True) -> None:
        session.synced = False
        after = session.last_seq
        answer = await self._conn.request(
            Subscribe(room=session.room, identity=session.me, after=after),
            wait_online=wait_online,
        )
        assert isinstance(answer, Subscribed)
        if session.group is not None and answer.purged_through > after:
            # Retention removed commits we never saw: too far behind to catch up
            # message by message, so rejoin by external commit (protocol.md §10, §12.3).
            session.needs_rejoin = True
            self._after_processing(session)
        if session.is_facilitator or not session.online:
            self._spawn(session.room, self._refresh_members, session, wait_online)

    async def _refresh_members(self, session: RoomSession, wait_online: bool) -> None:
        answer = await self._conn.request(Members(room=session.room), wait_online=wait_online)
        assert isinstance(answer, MemberList)
        session.online = {m.identity for m in answer.members if m.online}
        session.waiting = {m.identity for m in answer.members if m.status == "waiting"}

    # --- creating and joining rooms ----------------------------------------------------------

    async def _new_membership(self, pseudonym: str) -> Membership:
        await self._conn.wait_online(REQUEST_TIMEOUT)
        membership = self._keystore.new_membership(self.server, pseudonym)
        await self._conn.authenticate(membership.auth_private_key)
        return membership

    async def create_room(
        self,
        name: str,
        *,
        pseudonym: str,
        topic: str = "",
        guidelines: str = "",
        waiting_room: bool = False,
    ) -> RoomInfo:
        """A new MLS room with this profile as its first facilitator (protocol.md §12.2)."""
        state = RoomState(revision=1, name=name, topic=topic, guidelines=guidelines)
        state_plain = encode_envelope(state)  # RoomUsageError before anything is created
        membership = await self._new_membership(pseudonym)
        hello = self._conn.server_hello
        assert hello is not None
        if hello.ds_key is None:
            raise RoomProtocolError("the server has no Delivery Service key (protocol.md §12)")
        identity = membership.auth_identity
        senders = [ExternalSender(hello.ds_key, Credential.basic(b"hearth-ds"))]
        group = Group.create(
            identity,
            extensions=room_extensions(identity, senders),
            signature_priv=membership.signature_key,
        )
        try:
            created = await self._conn.request(
                CreateRoom(
                    identity=identity,
                    pseudonym=SERVER_PSEUDONYM,
                    waiting_room=waiting_room,
                    group_info=MLSMessage(group.group_info()).to_bytes(),
                )
            )
        except Exception:
            self._keystore.forget_membership(membership.membership_id)
            raise
        assert isinstance(created, RoomCreated)
        membership = self._keystore.bind_room(membership.membership_id, created.room)
        session = RoomSession(self._keystore, membership, SessionBlob(room_state=state))
        session.pseudonyms[identity.hex()] = pseudonym
        session.attach(Group.from_bytes(group.to_bytes(), on_change=session._group_changed))
        self._add_session(session)
        self._emit(ev.RoomJoined(session.room, session.epoch))
        self._emit(ev.RoomStateChanged(session.room, name, topic, guidelines))
        await self._subscribe(session)
        await self._send_plain(session, state_plain)
        await self._send_plain(session, encode_profile(pseudonym))
        return self.room(session.room)

    async def create_invite(
        self,
        room: str,
        *,
        max_uses: int = 1,
        expires_in: int = 86400,
        waiting_room: bool | None = None,
    ) -> Invite:
        """An invite to ``room`` (facilitators only, protocol.md §4.4)."""
        self._session(room)
        answer = await self._conn.request(
            CreateInvite(
                room=room, max_uses=max_uses, expires_in=expires_in, waiting_room=waiting_room
            )
        )
        assert isinstance(answer, InviteCreated)
        return Invite(
            room,
            answer.invite,
            answer.secret,
            f"{self.server}#{answer.secret}",
            answer.expires_at,
            answer.max_uses,
            answer.waiting_room,
        )

    async def join(self, invite: str, *, pseudonym: str) -> RoomInfo:
        """Redeem an invite with a fresh identity; join by external commit or wait (§12.3)."""
        server, code = parse_invite(invite)
        if server is not None and server != self.server:
            raise InvalidInviteError(f"the invite is for another server ({server})")
        encode_profile(pseudonym)  # a bad pseudonym fails before anything is used
        membership = await self._new_membership(pseudonym)
        try:
            joined = await self._conn.request(
                Join(identity=membership.auth_identity, invite=code, pseudonym=SERVER_PSEUDONYM)
            )
        except Exception:
            self._keystore.forget_membership(membership.membership_id)
            raise
        assert isinstance(joined, Joined)
        if joined.room in self._sessions:
            self._keystore.forget_membership(membership.membership_id)
            raise ClientUsageError("this profile is already in that room")
        membership = self._keystore.bind_room(membership.membership_id, joined.room)
        waiting = joined.status == "waiting"
        blob = SessionBlob(status="waiting" if waiting else "joining", invite=code)
        session = RoomSession(self._keystore, membership, blob)
        session.pseudonyms[membership.auth_identity.hex()] = pseudonym
        session.save()
        self._add_session(session)
        if waiting:
            await self._top_up(session)
            return self.room(session.room)
        await self._rejoin(session)
        return self.room(session.room)

    async def _rejoin(self, session: RoomSession) -> None:
        """Join (or rejoin, replacing our old leaf) by external commit (RFC 9420 §12.4.3.2)."""
        if session.group is not None or session.status == "member":
            self.stats["rejoins"] += 1
        async with self._locks[session.room]:
            for _attempt in range(MAX_COMMIT_ATTEMPTS):
                answer = await self._conn.request(GetGroupInfo(room=session.room))
                assert isinstance(answer, GroupInfoFrame)
                body = MLSMessage.from_bytes(answer.group_info).body
                if not isinstance(body, GroupInfo):
                    raise RoomProtocolError("the server's group_info is not a GroupInfo")
                tree = ratchet_tree_from_bytes(answer.ratchet_tree)
                old = [
                    i for i, leaf in tree_members(tree) if leaf.credential.identity == session.me
                ]
                created = external_join(
                    body,
                    session.me,
                    ratchet_tree=answer.ratchet_tree,
                    signature_priv=session.membership.signature_key,
                    remove_old=old[0] if old else None,
                )
                commit = MLSMessage(
                    PublicMessage(created.authenticated.content, created.authenticated.auth)
                )
                try:
                    accepted = await self._conn.request(
                        CommitFrame(
                            room=session.room,
                            id="x-" + secrets.token_hex(8),
                            commit=commit.to_bytes(),
                            group_info=MLSMessage(created.group_info).to_bytes(),
                        )
                    )
                except ServerRefusedError as exc:
                    if exc.code == "stale_epoch":
                        continue
                    raise
                assert isinstance(accepted, CommitAccepted)
                session.last_seq = accepted.seq
                session.own_sent.clear()
                group = Group(created.state)
                session.attach(Group.from_bytes(group.to_bytes(), on_change=session._group_changed))
                break
            else:
                raise RoomProtocolError("could not join: every attempt lost its epoch")
        self._emit(ev.RoomJoined(session.room, session.epoch))
        session.followups.add("announce")
        await self._subscribe(session)

    # --- messages ---------------------------------------------------------------------------

    async def send(self, room: str, text: str) -> SentMessage:
        """Send a chat line (a Chat envelope in a PrivateMessage, RFC 9420 §6.3)."""
        return await self._send_envelope(room, Chat(text=text), ev.MessageKind.CHAT, text)

    async def send_me(self, room: str, text: str) -> SentMessage:
        return await self._send_envelope(room, Me(text=text), ev.MessageKind.ME, text)

    async def _send_envelope(
        self, room: str, envelope: Envelope, kind: ev.MessageKind, text: str
    ) -> SentMessage:
        plaintext = encode_envelope(envelope)  # RoomUsageError for bad text
        return await self._send_plain(self._active(room), plaintext, kind, text)

    async def _send_plain(
        self,
        session: RoomSession,
        plaintext: bytes,
        kind: ev.MessageKind | None = None,
        text: str = "",
    ) -> SentMessage:
        message_id = "m-" + secrets.token_hex(8)
        for _attempt in range(MAX_COMMIT_ATTEMPTS):
            if session.group is None or session.group.phase is Phase.REMOVED:
                raise ClientUsageError("not in the room's group")
            payload = session.protect(plaintext, kind, text)
            try:
                for _retry in range(3):
                    try:
                        ack = await self._conn.request(
                            Send(room=session.room, id=message_id, payload=payload)
                        )
                        break
                    except NotConnectedError:
                        await self._conn.wait_online(REQUEST_TIMEOUT)  # same id: idempotent
                else:
                    raise NotConnectedError("could not send")
            except ServerRefusedError as exc:
                session.own_sent.pop(hashlib.sha256(payload).digest(), None)
                if exc.code == "stale_epoch":
                    await self._wait_epoch_after(session, session.epoch)
                    message_id = "m-" + secrets.token_hex(8)
                    continue
                raise
            assert isinstance(ack, Ack)
            return SentMessage(session.room, ack.seq, ack.ts, message_id)
        raise RoomProtocolError("the room's epoch kept changing; message not sent")

    async def set_typing(self, room: str, active: bool) -> None:
        self._session(room)
        await self._conn.send(Typing(room=room, active=active))

    async def set_pseudonym(self, room: str, pseudonym: str) -> None:
        """Announce a new pseudonym to the room, encrypted (/nick)."""
        session = self._active(room)
        plaintext = encode_profile(pseudonym)
        session.pseudonyms[session.me.hex()] = pseudonym
        session.save()
        await self._send_plain(session, plaintext)

    async def set_room_state(
        self,
        room: str,
        *,
        name: str | None = None,
        topic: str | None = None,
        guidelines: str | None = None,
    ) -> None:
        """Change the room's name, topic or guidelines (facilitators, room_state envelope)."""
        session = self._active(room)
        if not session.is_facilitator:
            raise ClientUsageError("only a facilitator sets the room's name, topic and guidelines")
        old = session.room_state
        state = RoomState(
            revision=(old.revision + 1) if old else 1,
            name=name if name is not None else (old.name if old else "room"),
            topic=topic if topic is not None else (old.topic if old else ""),
            guidelines=guidelines if guidelines is not None else (old.guidelines if old else ""),
        )
        await self._send_plain(session, encode_envelope(state))

    async def _announce(self, session: RoomSession) -> None:
        """Tell (new) members our pseudonym, and the room state if we are a facilitator."""
        if session.group is None or session.status != "member":
            return
        await self._send_plain(session, encode_profile(session.pseudonym(session.me) or "member"))
        if session.is_facilitator and session.room_state is not None:
            await self._send_plain(session, encode_envelope(session.room_state))

    # --- commits ----------------------------------------------------------------------------

    def _proposals_for(self, session: RoomSession, intent: Intent) -> list[Proposal] | None:
        """What ``intent`` still needs in the current epoch (None: nothing any more)."""
        group = session.group
        if group is None or group.phase is not Phase.ACTIVE:
            return None
        if intent.kind == "remove":
            leaf = session.leaf_of(intent.member)
            return None if leaf is None else [Remove(leaf)]
        if intent.kind == "update":
            return []  # an empty commit with a path: fresh keys for our leaf (§12.4)
        if intent.kind == "add":
            if session.leaf_of(intent.member) is not None:
                return None
            return [add_proposal(intent.key_package)]
        return [] if group.state.proposals else None

    async def _commit(self, session: RoomSession, intent: Intent) -> int | None:
        """Commit for ``intent``, redoing it after a lost race; the seq of our commit."""
        async with self._locks[session.room]:
            for _attempt in range(MAX_COMMIT_ATTEMPTS):
                if not session.is_facilitator and self._server_proposal_pending(session):
                    # A member cannot commit the server's proposals and may not leave
                    # them out here (protocol.md §12.7): a facilitator commits first.
                    raise ClientUsageError("a removal by the server is pending; try again later")
                proposals = self._proposals_for(session, intent)
                if proposals is None:
                    session.intent = None
                    session.save()
                    return None
                epoch = session.epoch
                commit, welcome, group_info, commit_id = session.start_commit(proposals, intent)
                try:
                    accepted = await self._conn.request(
                        CommitFrame(
                            room=session.room,
                            id=commit_id,
                            commit=commit,
                            group_info=group_info,
                            welcome=welcome,
                        )
                    )
                except ServerRefusedError as exc:
                    if exc.code == "stale_epoch":
                        self.stats["commit_races_lost"] += 1
                        # Another commit won this epoch: it arrives in the room's order,
                        # replaces our pending commit, and we try again (§12.4).
                        await self._wait_epoch_after(session, epoch)
                        continue
                    session.abandon_commit()
                    raise
                assert isinstance(accepted, CommitAccepted)
                await self._wait_seq(session, accepted.seq)
                return accepted.seq
            raise RoomProtocolError("gave up after losing the epoch race repeatedly")

    async def _commit_followup(self, session: RoomSession) -> None:
        intent = session.intent
        if intent is not None:
            await self._commit(session, intent)
            return
        group = session.group
        if group is None or not group.state.proposals or group.phase is not Phase.ACTIVE:
            return
        # Facilitators commit every pending proposal; anyone may commit a member's own
        # Remove (protocol.md §12.7), which the lowest remaining leaf does.
        if session.is_facilitator or self._lowest_committer(session):
            await self._commit(session, Intent("commit_proposals"))

    @staticmethod
    def _server_proposal_pending(session: RoomSession) -> bool:
        group = session.group
        if group is None:
            return False
        return any(c.sender.sender_type is SenderType.EXTERNAL for c in group.state.proposals)

    def _lowest_committer(self, session: RoomSession) -> bool:
        assert session.group is not None
        state = session.group.state
        leaving = set()
        for cached in state.proposals:
            proposal = cached.proposal
            if not isinstance(proposal, Remove) or cached.sender.index != proposal.removed:
                return False  # not only self-removals: a facilitator's job
            leaving.add(proposal.removed)
        staying = [i for i in session.roster().identities if i not in leaving]
        return bool(staying) and min(staying) == session.group.own_leaf

    async def remove(self, room: str, member: str) -> None:
        """Remove a member by committing a Remove (facilitators, protocol.md §12.7)."""
        session = self._active(room)
        if not session.is_facilitator:
            raise ClientUsageError("only a facilitator can remove a member")
        identity = ev.member_identity(member)
        if session.leaf_of(identity) is None:
            raise ClientUsageError("that member is not in the room's group")
        await self._commit(session, Intent("remove", identity))

    async def update_keys(self, room: str) -> None:
        """Refresh our leaf's keys with an empty commit and a path (RFC 9420 §12.4)."""
        await self._commit(self._active(room), Intent("update"))

    async def ban(self, room: str, member: str) -> None:
        """Ask the server to propose the member's removal and ban it (protocol.md §12.7)."""
        session = self._active(room)
        if not session.is_facilitator:
            raise ClientUsageError("only a facilitator can ban a member")
        await self._conn.request(
            RequestRemoval(room=room, member=ev.member_identity(member), ban=True)
        )

    async def admit(self, room: str, member: str) -> None:
        """Admit a waiting member: claim its KeyPackage, commit its Add (protocol.md §12.3)."""
        session = self._active(room)
        if not session.is_facilitator:
            raise ClientUsageError("only a facilitator can admit a member")
        identity = ev.member_identity(member)
        answer = await self._conn.request(ClaimKeyPackage(room=room, member=identity))
        assert isinstance(answer, KeyPackageFrame)
        await self._commit(session, Intent("add", identity, answer.key_package))
        session.waiting.discard(identity)

    async def leave(self, room: str) -> None:
        """Propose our own Remove, then leave for good (protocol.md §12.7)."""
        session = self._session(room)
        group = session.group
        if group is not None and group.phase is Phase.ACTIVE and session.status == "member":
            proposal = group.propose_remove(group.own_leaf)
            with contextlib.suppress(ServerRefusedError):
                await self._conn.request(
                    Send(room=room, id="l-" + secrets.token_hex(8), payload=proposal.to_bytes())
                )
        await self._conn.request(Leave(room=room))
        session.status = "left"
        self._keystore.forget_membership(session.membership.membership_id)
        del self._sessions[room]
        self._emit(ev.RoomLeft(room, ev.LeaveReason.LEFT))

    async def _top_up(self, session: RoomSession) -> None:
        """Upload fresh KeyPackages for a waiting membership (protocol.md §12.1)."""
        if session.group is not None:
            return
        membership = session.membership
        packages = []
        for _ in range(KEY_PACKAGE_BATCH):
            kp = create_key_package(
                membership.auth_identity,
                signature_priv=membership.signature_key,
                capabilities=room_capabilities(),
            )
            self._keystore.add_key_package(membership.membership_id, kp)
            packages.append(MLSMessage(kp.key_package).to_bytes())
        await self._conn.request(
            UploadKeyPackages(identity=membership.auth_identity, key_packages=packages)
        )

    # --- queries (local state, no I/O) -----------------------------------------------------------

    def rooms(self) -> list[RoomInfo]:
        return [self.room(room) for room in self._sessions]

    def room(self, room: str) -> RoomInfo:
        session = self._session(room)
        state = session.room_state
        return RoomInfo(
            room=room,
            name=state.name if state else "",
            topic=state.topic if state else "",
            guidelines=state.guidelines if state else "",
            epoch=session.epoch,
            role=session.role_of(session.me),
            status="member" if session.status == "joining" else session.status,
            pseudonym=session.pseudonym(session.me),
            me=ev.member_id(session.me),
            last_seq=session.last_seq,
        )

    def members(self, room: str) -> list[MemberView]:
        session = self._session(room)
        if session.group is None:
            return []
        roster = session.roster()
        return [
            MemberView(
                member=ev.member_id(identity),
                pseudonym=session.pseudonym(identity),
                role=roster.roles.role_of(identity),
                online=identity in session.online or identity == session.me,
                typing=identity in session.typing,
                fingerprint=fingerprint_of(roster.signature_keys[index]),
                me=identity == session.me,
            )
            for index, identity in sorted(roster.identities.items())
        ]

    def waiting(self, room: str) -> list[str]:
        return sorted(ev.member_id(i) for i in self._session(room).waiting)

    def history(self, room: str) -> list[ev.MessageReceived]:
        self._session(room)
        return list(self._history.get(room, []))

    def fingerprint(self, room: str, member: str | None = None) -> str:
        """SHA-256 of the member's MLS signature key as 12 groups of 5 digits (module doc)."""
        session = self._session(room)
        identity = session.me if member is None else ev.member_identity(member)
        if session.group is None:
            if identity != session.me:
                raise ClientUsageError("not in the room's group yet")
            return fingerprint_of(session.membership.signature_public_key)
        roster = session.roster()
        for index, candidate in roster.identities.items():
            if candidate == identity:
                return fingerprint_of(roster.signature_keys[index])
        raise ClientUsageError("no such member in the room")

    def safety_number(self, room: str, member: str) -> str:
        return safety_number(self.fingerprint(room), self.fingerprint(room, member))

    def tree_hash(self, room: str) -> bytes:
        """The room's current tree hash (RFC 9420 §7.8): equal on members that converged."""
        session = self._active(room)
        return session.tree_hash()

    def group_state(self, room: str) -> Group | None:
        """The room's MLS group (for tests and diagnostics; do not mutate)."""
        return self._session(room).group


__all__ = [
    "Engine",
    "Invite",
    "MemberView",
    "RoomInfo",
    "SentMessage",
    "parse_invite",
    "safety_number",
]
