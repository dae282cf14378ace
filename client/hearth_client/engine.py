"""The Hearth client engine: end-to-end encrypted rooms with no UI (issue 5; used by issue 6).

One :class:`Engine` is one profile (a passphrase-protected keystore, see
:mod:`hearth_client.keystore`) talking to one server over one websocket
(:mod:`hearth_client.connection`), with one MLS group per room
(:mod:`hearth_client.room_session`), messages and commits sent with their
retries by :mod:`hearth_client.room_io`, and the UI's data types in
:mod:`hearth_client.views`. Everything is asyncio; every method that talks to
the server is a coroutine and raises from :mod:`hearth_client.errors`
(keystore errors such as ``WrongPassphraseError`` come from the keystore).

API (the contract for the TUI and CLI)::

    from hearth_client.engine import Engine, RoomInfo, MemberView, Invite, SentMessage
    from hearth_client import events

    engine = await Engine.create_profile(home: Path, passphrase: str, *, server: str,
                                         kdf: KdfParams | None = None,
                                         reconnect_delays=None)  # KeystoreUsageError if exists
    engine = await Engine.open_profile(home: Path, passphrase: str, *, server: str | None = None,
                                       reconnect_delays=None)  # server None: the profile's
        # WrongPassphraseError, KeystoreCorruptError...; ClientUsageError if no server known
    async with engine:                          # start(): connect, resume every room
        ...                                     # close(): OFFLINE, keystore closed

    # lifecycle
    await engine.start() -> None                # connects in the background; returns at once
        # (no room: connects when wait_online/create_room/join need it. The server's
        # ds_key is pinned on first contact; another key later: OFFLINE, nothing signed,
        # EngineErrorEvent("server_key_changed"), ServerKeyChangedError, protocol.md §3.2)
    await engine.wait_online(timeout: float = 10.0) -> None   # NotConnectedError on timeout
        # (connects even with no room; after the server's 4003 it idles, OFFLINE)
    await engine.wait_synced(room: str | None = None, timeout: float = 20.0) -> None
                                                # history processed (all rooms if None)
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
        # Waiting room: RoomInfo.status == "waiting" until admitted, then RoomJoined.
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
                                                                # and bans; a facilitator commits;
                                                                # theirs: RoomLeft(BANNED) at once
    await engine.set_role(room: str, member: str, role: Role) -> None   # room_roles commit
    await engine.update_keys(room: str) -> None                 # fresh leaf keys (any member)

    # queries (no I/O, from local state)
    engine.rooms() -> list[RoomInfo]
    engine.room(room: str) -> RoomInfo                          # ClientUsageError if unknown
    engine.members(room: str) -> list[MemberView]
    engine.mark_read(room: str) -> None                         # RoomInfo.unread back to 0
    engine.waiting(room: str) -> list[str]                      # member ids (facilitators)
    engine.history(room: str) -> list[events.MessageReceived]   # this session only, in memory
    engine.fingerprint(room: str, member: str | None = None) -> str   # None: my own
    engine.safety_number(room: str, member: str) -> str
    engine.tree_hash(room: str) -> bytes                        # equal on converged members
    engine.stats -> dict[str, int]                              # commit_races_lost, rejoins
    engine.resources() -> tuple[Resource, ...]  # operator's, kept offline (protocol.md §4.1)
    engine.group_state(room: str) -> Group | None               # diagnostics/tests, read-only

Data types (frozen dataclasses):

- ``RoomInfo(room, name, topic, guidelines, epoch, role, status, pseudonym, me,
  last_seq, unread)``: ``status`` is ``"member"`` or ``"waiting"``; ``me`` is my member id;
  ``name`` is ``""`` until the room state arrives (it travels encrypted).
- ``MemberView(member, pseudonym, role, online, typing, fingerprint, me)``.
- ``Invite(room, invite_id, code, link, expires_at, max_uses, waiting_room)``.
- ``SentMessage(room, seq, ts, id)``.

Fingerprints: ``fingerprint`` is SHA-256("hearth-fingerprint-v1" 0x00 || the
member's MLS leaf signature key, RFC 9420 §7.2), its first 24 bytes as 12
big-endian 16-bit numbers written as 5 decimal digits each ("01234 56789 ...");
``safety_number`` is my fingerprint and theirs in sorted order, so both sides
see the same 24 groups. Keys are per membership, so fingerprints do not link
rooms.

Member ids (``member``, ``RoomInfo.me``) are the unpadded URL-safe base64 of
the 32-byte room identity (:func:`hearth_client.events.member_id`); pseudonyms,
the room's name, topic and guidelines travel only inside the group, encrypted
(the server is told no pseudonym, protocol.md §12.2, §12.3).

Events (:mod:`hearth_client.events`): ConnectionChanged, MessageReceived,
MemberJoined, MemberLeft, MemberWaiting, PseudonymChanged, RoleChanged, RoomJoined, RoomLeft,
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
import contextlib
import json
import logging
import secrets
from collections.abc import AsyncIterator, Callable, Coroutine, Generator
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
from hearth_client.room_io import REQUEST_TIMEOUT, RoomIO, checked, nick_plaintext, plaintext
from hearth_client.room_session import (
    Intent,
    RoomSession,
    SessionBlob,
    new_room_group,
)
from hearth_client.server_resources import ServerResources
from hearth_client.views import (
    Invite,
    MemberView,
    RoomInfo,
    SentMessage,
    member_fingerprint,
    member_views,
    parse_invite,
    room_info,
    safety_number,
)
from hearth_core.frames import (
    ClaimKeyPackage,
    CreateInvite,
    CreateRoom,
    InviteCreated,
    Join,
    Joined,
    KeyPackageFrame,
    KeyPackageStock,
    Leave,
    MemberChange,
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
    WelcomeFrame,
)
from hearth_core.frames import Error as ErrorFrame
from hearth_core.room_roles import Role
from hearth_core.room_state import Chat, Envelope, Me, RoomState
from hearth_mls.group import Group
from hearth_mls.group_state import Phase
from hearth_mls.mls_message import MLSMessage

log = logging.getLogger("hearth_client.engine")

PROFILE_FILE = "profile.json"


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
        self._history: dict[str, list[ev.MessageReceived]] = {}
        self._unread: dict[str, int] = {}
        self._listeners: list[Callable[[ev.Event], None]] = []
        self._queues: list[asyncio.Queue[ev.Event]] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._conn = Connection(
            server,
            identities=self._identity_keys,
            on_frame=self._on_frame,
            on_online=self._on_online,
            on_state=self._on_state,
            reconnect_delays=reconnect_delays,
            pin_key=lambda key: keystore.pin_server_key(server, key),
        )
        self._io = RoomIO(self._conn)
        self.resources = ServerResources(keystore.profile, server)  # callable: resources()
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
        if self._identity_keys():  # with nothing to authenticate, connect when needed
            self._conn.start()

    async def wait_online(self, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        self._conn.start()  # connects a profile with no room too (idle again after 4003)
        await self._conn.wait_online(timeout)

    async def wait_synced(self, room: str | None = None, timeout: float = 20.0) -> None:  # noqa: ASYNC109
        """Wait until ``room`` (or every room we are in) has processed its history.

        For short-lived programs (a CLI ``send``): act once the room is current.
        NotConnectedError when that does not happen within ``timeout`` seconds.
        """
        await self.wait_online(timeout)
        rooms = [room] if room is not None else list(self._sessions)
        for name in rooms:
            session = self._session(name)
            if session.status == "member" and session.group is not None:
                await self._io.wait(session, session.is_synced, timeout)

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
    def stats(self) -> dict[str, int]:
        """Diagnostic counters: ``commit_races_lost``, ``rejoins``."""
        return self._io.stats

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
            if not event.own:
                self._unread[event.room] = self._unread.get(event.room, 0) + 1
        for callback in list(self._listeners):
            try:
                callback(event)
            except Exception:
                log.exception("event listener failed")
        for queue in self._queues:
            queue.put_nowait(event)

    def _on_state(self, state: ev.ConnectionState, detail: str) -> None:
        if self._conn.fatal is not None and state is ev.ConnectionState.OFFLINE:  # §3.2
            self._emit(ev.EngineErrorEvent("server_key_changed", detail, None))
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
        self._io.register(session.room)

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

    def _facilitating(self, room: str, action: str) -> RoomSession:
        session = self._active(room)
        if not session.is_facilitator:
            raise ClientUsageError(f"only a facilitator can {action}")
        return session

    def _in_group(self, session: RoomSession, member: str) -> bytes:
        identity = ev.member_identity(member)
        if session.leaf_of(identity) is None:
            raise ClientUsageError("that member is not in the room's group")
        return identity

    def _identity_keys(self) -> list[Ed25519PrivateKey]:
        return [
            s.membership.auth_private_key for s in self._sessions.values() if s.status != "left"
        ]

    # --- incoming frames (in arrival order, in the reader loop: no awaiting) ----------------

    def _on_frame(self, frame: ServerFrame) -> None:
        room = getattr(frame, "room", None)
        session = self._sessions.get(room) if isinstance(room, str) else None
        if isinstance(frame, KeyPackageStock):  # names our identity, not a room (§12.1)
            session = next((s for s in self._sessions.values() if s.me == frame.identity), None)
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
                and not self._io.committing(session.room)
            ):
                # A commit sent before a crash whose fate we never learned: resend it
                # with its id (protocol.md §12.4) and follow what the server says.
                self._spawn(session.room, self._io.resend_pending, session)
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
            elif member == session.me and frame.change is MemberChange.BANNED:  # §12.7
                self._gone(session, ev.LeaveReason.BANNED)  # ("removed": the commit tells)
        elif isinstance(frame, Presence):
            self._emit(session.presence(frame.identity, frame.online))
        elif isinstance(frame, MemberTyping):
            self._emit(session.typing_changed(frame.identity, frame.active))
        elif isinstance(frame, KeyPackageStock) and frame.low:
            self._spawn(session.room, self._io.top_up, session)

    def _after_processing(self, session: RoomSession) -> None:
        self._io.notify(session.room)
        if session.needs_rejoin and not self._io.committing(session.room):
            session.needs_rejoin = False
            self._spawn(session.room, self._rejoin, session, True)
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
        if not session.join_by_welcome(frame.welcome, frame.seq):
            self._emit(ev.EngineErrorEvent("welcome_invalid", "not a Welcome for us", session.room))
            return
        self._emit(ev.RoomJoined(session.room, session.epoch))
        session.followups.add("announce")
        # History after the Welcome's commit (protocol.md §12.4).
        self._spawn(session.room, self._subscribe, session)

    async def _on_online(self) -> None:
        self.resources.update(self._conn.server_hello)
        for session in list(self._sessions.values()):
            try:
                await self._resume(session)
            except ServerRefusedError as exc:
                if exc.code in ("not_member", "banned") and session.status == "member":
                    # Removed (or banned) while we were away (protocol.md §12.7).
                    self._gone(session, ev.LeaveReason(exc.code.replace("not_member", "removed")))
                else:
                    self._emit(ev.EngineErrorEvent(exc.code, exc.message, session.room))

    def _gone(self, session: RoomSession, reason: ev.LeaveReason) -> None:
        if session.status != "left":  # once, whether told by the commit or the server
            session.status = "left"
            session.save()
            self._emit(ev.RoomLeft(session.room, reason))

    async def _resume(self, session: RoomSession) -> None:
        session.synced = False
        if session.status == "left":
            return
        if session.status == "waiting":
            # Bind the room again (protocol.md §3.3): an identity already in the room
            # gets its current status and uses nothing of the invite (§4.5).
            if session.invite is None:
                return
            joined = await self._conn.request(
                Join(identity=session.me, invite=session.invite),
                wait_online=False,
            )
            if isinstance(joined, Joined) and joined.status == "member":
                # Admitted while we were away: the Welcome comes first on subscribe (§12.4).
                await self._subscribe(session, wait_online=False)
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
            self._spawn(session.room, self._io.refresh_members, session, wait_online)

    # --- creating and joining rooms ----------------------------------------------------------

    async def _new_membership(self, pseudonym: str) -> Membership:
        nick_plaintext(pseudonym)  # ClientUsageError for a bad pseudonym, before anything
        await self.wait_online(REQUEST_TIMEOUT)  # a profile with no room connects now
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
        state = checked(
            lambda: RoomState(revision=1, name=name, topic=topic, guidelines=guidelines)
        )
        state_plain = plaintext(state)  # ClientUsageError before anything is created
        membership = await self._new_membership(pseudonym)
        hello = self._conn.server_hello
        assert hello is not None
        assert hello.ds_key is not None  # the Connection refuses a hello without it (§3.2)
        identity = membership.auth_identity
        group = new_room_group(membership, hello.ds_key)
        try:
            created = await self._conn.request(
                CreateRoom(
                    identity=identity,
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
        session.attach(group)
        self._add_session(session)
        self._emit(ev.RoomJoined(session.room, session.epoch))
        self._emit(ev.RoomStateChanged(session.room, name, topic, guidelines))
        await self._subscribe(session)
        await self._io.send_plain(session, state_plain)
        await self._io.send_plain(session, nick_plaintext(pseudonym))
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
        return Invite.from_frame(answer, self.server)

    async def join(self, invite: str, *, pseudonym: str) -> RoomInfo:
        """Redeem an invite with a fresh identity; join by external commit or wait (§12.3)."""
        server, code = parse_invite(invite)
        if server is not None and server != self.server:
            raise InvalidInviteError(f"the invite is for another server ({server})")
        membership = await self._new_membership(pseudonym)
        try:
            joined = await self._conn.request(Join(identity=membership.auth_identity, invite=code))
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
            await self._io.top_up(session)
            return self.room(session.room)
        await self._rejoin(session)
        return self.room(session.room)

    async def _rejoin(self, session: RoomSession, replace: bool = False) -> None:
        """Join or rejoin by external commit, then read the room from there (§12.3).

        ``replace``: our group exists but is behind; otherwise a join already done
        by another task (a reconnect during ``join``) is not done twice.
        """
        if not await self._io.external_join(session, replace=replace):
            return
        self._emit(ev.RoomJoined(session.room, session.epoch))
        session.followups.add("announce")
        await self._subscribe(session)

    # --- messages ---------------------------------------------------------------------------

    async def send(self, room: str, text: str) -> SentMessage:
        """Send a chat line (a Chat envelope in a PrivateMessage, RFC 9420 §6.3)."""
        return await self._send_envelope(room, lambda: Chat(text=text), ev.MessageKind.CHAT, text)

    async def send_me(self, room: str, text: str) -> SentMessage:
        return await self._send_envelope(room, lambda: Me(text=text), ev.MessageKind.ME, text)

    async def _send_envelope(
        self, room: str, make: Callable[[], Envelope], kind: ev.MessageKind, text: str
    ) -> SentMessage:
        data = plaintext(checked(make))  # ClientUsageError for bad text
        return await self._io.send_plain(self._active(room), data, kind, text)

    async def set_typing(self, room: str, active: bool) -> None:
        self._session(room)
        await self._conn.send(Typing(room=room, active=active))

    async def set_pseudonym(self, room: str, pseudonym: str) -> None:
        """Announce a new pseudonym to the room, encrypted (/nick)."""
        session = self._active(room)
        data = nick_plaintext(pseudonym)
        session.pseudonyms[session.me.hex()] = pseudonym
        session.save()
        await self._io.send_plain(session, data)

    async def set_room_state(
        self,
        room: str,
        *,
        name: str | None = None,
        topic: str | None = None,
        guidelines: str | None = None,
    ) -> None:
        """Change the room's name, topic or guidelines (facilitators, room_state envelope)."""
        session = self._facilitating(room, "set the room's name, topic and guidelines")
        state = checked(lambda: session.next_room_state(name, topic, guidelines))
        await self._io.send_plain(session, plaintext(state))

    async def _announce(self, session: RoomSession) -> None:
        """Tell (new) members our pseudonym, and the room state if we are a facilitator."""
        if session.group is None or session.status != "member":
            return
        await self._io.send_plain(
            session, nick_plaintext(session.pseudonym(session.me) or "member")
        )
        if session.is_facilitator and session.room_state is not None:
            await self._io.send_plain(session, plaintext(session.room_state))

    # --- commits ----------------------------------------------------------------------------

    async def _commit_followup(self, session: RoomSession) -> None:
        intent = session.intent
        if intent is not None:
            await self._io.commit(session, intent, retry=True)
            return
        group = session.group
        if group is None or not group.state.proposals or group.phase is not Phase.ACTIVE:
            return
        # Facilitators commit every pending proposal; anyone may commit a member's own
        # Remove (protocol.md §12.7), which the lowest remaining leaf does.
        if session.is_facilitator or self._io.lowest_committer(session):
            await self._io.commit(session, Intent("commit_proposals"))

    async def remove(self, room: str, member: str) -> None:
        """Remove a member by committing a Remove (facilitators, protocol.md §12.7)."""
        session = self._facilitating(room, "remove a member")
        identity = self._in_group(session, member)
        await self._io.commit(session, Intent("remove", identity))

    async def set_role(self, room: str, member: str, role: Role) -> None:
        """Make a member a facilitator, peer leader or plain member (room_roles commit)."""
        session = self._facilitating(room, "change roles")
        identity = self._in_group(session, member)
        await self._io.commit(session, Intent("role", identity, role=Role(role).value))

    async def update_keys(self, room: str) -> None:
        """Refresh our leaf's keys with an empty commit and a path (RFC 9420 §12.4)."""
        await self._io.commit(self._active(room), Intent("update"))

    async def ban(self, room: str, member: str) -> None:
        """Ask the server to propose the member's removal and ban it (protocol.md §12.7)."""
        self._facilitating(room, "ban a member")
        await self._conn.request(
            RequestRemoval(room=room, member=ev.member_identity(member), ban=True)
        )

    async def admit(self, room: str, member: str) -> None:
        """Admit a waiting member: claim its KeyPackage, commit its Add (protocol.md §12.3)."""
        session = self._facilitating(room, "admit a member")
        identity = ev.member_identity(member)
        answer = await self._conn.request(ClaimKeyPackage(room=room, member=identity))
        assert isinstance(answer, KeyPackageFrame)
        await self._io.commit(session, Intent("add", identity, answer.key_package))
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

    # --- queries (local state, no I/O) -----------------------------------------------------------

    def rooms(self) -> list[RoomInfo]:
        return [self.room(room) for room in self._sessions]

    def room(self, room: str) -> RoomInfo:
        return room_info(self._session(room), self._unread.get(room, 0))

    def members(self, room: str) -> list[MemberView]:
        return member_views(self._session(room))

    def mark_read(self, room: str) -> None:
        """Reset the room's unread count (RoomInfo.unread)."""
        self._session(room)
        self._unread[room] = 0

    def waiting(self, room: str) -> list[str]:
        return sorted(ev.member_id(i) for i in self._session(room).waiting)

    def history(self, room: str) -> list[ev.MessageReceived]:
        self._session(room)
        return list(self._history.get(room, []))

    def fingerprint(self, room: str, member: str | None = None) -> str:
        """SHA-256 of the member's MLS signature key as 12 groups of 5 digits (module doc)."""
        session = self._session(room)
        return member_fingerprint(session, None if member is None else ev.member_identity(member))

    def safety_number(self, room: str, member: str) -> str:
        return safety_number(self.fingerprint(room), self.fingerprint(room, member))

    def tree_hash(self, room: str) -> bytes:
        """The room's current tree hash (RFC 9420 §7.8): equal on members that converged."""
        return self._active(room).tree_hash()

    def group_state(self, room: str) -> Group | None:
        """The room's MLS group (for tests and diagnostics; do not mutate)."""
        return self._session(room).group


__all__ = ["Engine", "Invite", "MemberView", "RoomInfo", "SentMessage", "parse_invite"]
__all__ += ["safety_number"]
