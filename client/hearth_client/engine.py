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

    # queries (no I/O, from local state)
    engine.rooms() -> list[RoomInfo]
    engine.room(room: str) -> RoomInfo                          # ClientUsageError if unknown
    engine.members(room: str) -> list[MemberView]
    engine.waiting(room: str) -> list[str]                      # member ids (facilitators)
    engine.history(room: str) -> list[events.MessageReceived]   # this session only, in memory
    engine.fingerprint(room: str, member: str | None = None) -> str   # None: my own
    engine.safety_number(room: str, member: str) -> str

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
