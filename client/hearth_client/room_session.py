"""One room membership's MLS group, driven by the server's ordered messages (issue 5).

A :class:`RoomSession` holds the :class:`hearth_mls.group.Group` of one room and
what the engine knows about it (the room state, members' pseudonyms, the last
sequence processed, the commit in flight). It does no I/O: the engine feeds it
``message`` frames in room sequence order (protocol.md §4.6, §4.7) and sends
what it asks for. Before a handshake reaches ``Group.process``, the room rule
(:func:`hearth_core.room_roles.check_before_processing`) judges it, so a
commit the server should have refused is refused here too and the member stays
in its epoch (DESIGN.md principle 3).

Persistence: everything is one sealed blob per membership
(:meth:`hearth_client.keystore.Keystore.save_group`), rewritten atomically by the
group's ``on_change`` hook (so after every epoch change and every pending
commit, RFC 9420 §12.4.1) and after every processed message, together with the
last sequence, so a restart resumes exactly after the last processed message
and never decrypts one twice.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import msgspec

from hearth_client import events as ev
from hearth_client.keystore import Keystore, Membership
from hearth_core.frames import Message
from hearth_core.room_errors import RoomError
from hearth_core.room_roles import (
    Role,
    RoomRoles,
    check_before_processing,
    roles_of,
    room_capabilities,
    room_extensions,
)
from hearth_core.room_state import Chat, Me, Nick, RoomState, apply_room_state, decode_envelope
from hearth_mls.credential import Credential
from hearth_mls.errors import MLSError
from hearth_mls.extension_payloads import ExternalSender
from hearth_mls.framing import PublicMessage, SenderType
from hearth_mls.group import Group
from hearth_mls.group_state import CachedProposal, Phase
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposal_rules import members as tree_members
from hearth_mls.proposals import Add, Proposal, Remove
from hearth_mls.welcome_structs import Welcome

Status = Literal["member", "waiting", "joining", "left"]
IntentKind = Literal["remove", "add", "commit_proposals", "update", "role"]
#: How many past epochs' rosters are kept to name senders of late messages.
ROSTER_EPOCHS = 5


class Intent(msgspec.Struct, frozen=True):
    """What our in-flight commit is for, so it can be redone after losing a race."""

    kind: IntentKind
    member: bytes = b""
    key_package: bytes = b""
    role: str = ""


class PendingFrame(msgspec.Struct, frozen=True):
    """Our commit in flight, kept to resend it with the same id (protocol.md §12.4, §8.3)."""

    id: str
    commit: bytes
    group_info: bytes
    welcome: bytes | None = None


class SessionBlob(msgspec.Struct, frozen=True):
    """The sealed per-membership state (module doc)."""

    group: bytes = b""
    last_seq: int = 0
    status: Status = "member"
    room_state: RoomState | None = None
    pseudonyms: dict[str, str] = {}
    intent: Intent | None = None
    pending: PendingFrame | None = None
    invite: str | None = None


@dataclass(frozen=True, slots=True)
class Roster:
    identities: dict[int, bytes]
    signature_keys: dict[int, bytes]
    roles: RoomRoles


def fingerprint_of(signature_key: bytes) -> str:
    """A member's fingerprint: 12 groups of 5 digits from its leaf signature key.

    SHA-256("hearth-fingerprint-v1" || 0x00 || key), RFC 9420 §7.2 key; its first
    24 bytes as 12 big-endian 16-bit numbers, each written as 5 decimal digits.
    """
    digest = hashlib.sha256(b"hearth-fingerprint-v1\x00" + signature_key).digest()
    return " ".join(f"{int.from_bytes(digest[i : i + 2], 'big'):05d}" for i in range(0, 24, 2))


class RoomSession:
    """One membership's view of one room (module doc)."""

    def __init__(self, keystore: Keystore, membership: Membership, blob: SessionBlob) -> None:
        self.keystore = keystore
        self.membership = membership
        assert membership.room_id is not None
        self.room: str = membership.room_id
        self.last_seq = blob.last_seq
        self.status: Status = blob.status
        self.room_state = blob.room_state
        self.pseudonyms: dict[str, str] = dict(blob.pseudonyms)
        # Our own, even when the group state was lost (the keystore keeps it).
        self.pseudonyms.setdefault(membership.auth_identity.hex(), membership.pseudonym)
        self.intent = blob.intent
        self.pending = blob.pending
        self.invite = blob.invite
        self.group: Group | None = None
        self._written = b""
        self.rosters: dict[int, Roster] = {}
        self.online: set[bytes] = set()
        # The latest presence frame per identity, numbered, so a member-list snapshot
        # answered while presence frames arrive is not applied over newer ones.
        self.presence_serial = 0
        self.presence_latest: dict[bytes, tuple[int, bool]] = {}
        self.typing: set[bytes] = set()
        self.waiting: set[bytes] = set()
        self.own_sent: dict[bytes, tuple[ev.MessageKind, str]] = {}
        self.synced = False
        self.needs_rejoin = False
        self.followups: set[str] = set()
        if blob.group:
            self.group = Group.from_bytes(blob.group, on_change=self._group_changed)
            self._remember_roster()

    # --- persistence -------------------------------------------------------------------

    @classmethod
    def load(cls, keystore: Keystore, membership: Membership) -> RoomSession:
        raw = keystore.load_group(membership.membership_id)
        blob = (
            msgspec.msgpack.decode(raw, type=SessionBlob) if raw else SessionBlob(status="joining")
        )
        return cls(keystore, membership, blob)

    def _blob(self, group_bytes: bytes | None = None) -> SessionBlob:
        if group_bytes is None:
            group_bytes = self.group.to_bytes() if self.group is not None else b""
        return SessionBlob(
            group=group_bytes,
            last_seq=self.last_seq,
            status=self.status,
            room_state=self.room_state,
            pseudonyms=self.pseudonyms,
            intent=self.intent,
            pending=self.pending,
            invite=self.invite if self.group is None else None,
        )

    def _write(self, blob: SessionBlob) -> None:
        data = msgspec.msgpack.encode(blob)
        if data != self._written:  # one sealed write per change, none when nothing changed
            self.keystore.save_group(self.membership.membership_id, data)
            self._written = data

    def _group_changed(self, group_bytes: bytes) -> None:
        self._write(self._blob(group_bytes))

    def save(self) -> None:
        self._write(self._blob())

    def attach(self, group: Group) -> None:
        """Adopt a group just created or joined; from now on it is saved on every change."""
        self.group = group
        group.set_on_change(self._group_changed)
        self.status = "member"
        self.needs_rejoin = False
        self.rosters.clear()
        self._remember_roster()
        self.save()

    # --- views -------------------------------------------------------------------------

    def includable(self, cached: CachedProposal) -> bool:
        """Whether our commit may carry this proposal: a member leaves out the server's
        (only a facilitator may commit them, protocol.md §12.7, §12.8)."""
        return self.is_facilitator or cached.sender.sender_type is not SenderType.EXTERNAL

    def is_synced(self) -> bool:
        """Whether the room's history up to the server's head is processed (§4.6)."""
        return self.synced

    @property
    def me(self) -> bytes:
        return self.membership.auth_identity

    @property
    def epoch(self) -> int:
        return self.group.epoch if self.group is not None else -1

    @property
    def roles(self) -> RoomRoles | None:
        if self.group is None:
            return None
        return roles_of(self.group.state.context.extensions)

    def role_of(self, identity: bytes) -> Role:
        roles = self.roles
        return roles.role_of(identity) if roles is not None else Role.MEMBER

    @property
    def is_facilitator(self) -> bool:
        return self.role_of(self.me) is Role.FACILITATOR

    def roster(self) -> Roster:
        assert self.group is not None
        state = self.group.state
        identities: dict[int, bytes] = {}
        keys: dict[int, bytes] = {}
        for index, leaf in tree_members(state.tree):
            identities[index] = leaf.credential.identity or b""
            keys[index] = leaf.signature_key
        return Roster(identities, keys, roles_of(state.context.extensions))

    def _remember_roster(self) -> None:
        if self.group is None:
            return
        self.rosters[self.group.epoch] = self.roster()
        for old in sorted(self.rosters)[:-ROSTER_EPOCHS]:
            del self.rosters[old]

    def pseudonym(self, identity: bytes) -> str:
        return self.pseudonyms.get(identity.hex(), "")

    def leaf_of(self, identity: bytes) -> int | None:
        if self.group is None:
            return None
        for index, member in self.roster().identities.items():
            if member == identity:
                return index
        return None

    def tree_hash(self) -> bytes:
        assert self.group is not None
        return self.group.state.context.tree_hash

    def presence(self, identity: bytes, online: bool) -> ev.PresenceChanged:
        """protocol.md §4.8 ``presence``: ephemeral, never stored."""
        (self.online.add if online else self.online.discard)(identity)
        self.presence_serial += 1
        self.presence_latest[identity] = (self.presence_serial, online)
        return ev.PresenceChanged(self.room, ev.member_id(identity), online)

    def apply_member_snapshot(self, online: set[bytes], since: int) -> None:
        """Take ``online`` from a ``member_list`` asked for when the serial was ``since``.

        The server queues every frame to a connection in order, so a presence frame
        that arrived before the answer is already reflected in it; one that arrived
        after it (before this runs) is newer and wins.
        """
        for identity, (serial, is_online) in self.presence_latest.items():
            if serial > since:
                (online.add if is_online else online.discard)(identity)
        self.online = online

    def typing_changed(self, identity: bytes, active: bool) -> ev.TypingChanged:
        """protocol.md §4.8 ``member_typing``: ephemeral, never stored."""
        (self.typing.add if active else self.typing.discard)(identity)
        return ev.TypingChanged(self.room, ev.member_id(identity), active)

    def next_room_state(
        self, name: str | None, topic: str | None, guidelines: str | None
    ) -> RoomState:
        """The room state with the given fields changed and the next revision."""
        old = self.room_state
        return RoomState(
            revision=(old.revision + 1) if old else 1,
            name=name if name is not None else (old.name if old else "room"),
            topic=topic if topic is not None else (old.topic if old else ""),
            guidelines=guidelines if guidelines is not None else (old.guidelines if old else ""),
        )

    # --- joining by Welcome (waiting room, protocol.md §12.3) ----------------------------

    def new_key_packages(self, count: int) -> list[bytes]:
        """Fresh one-time KeyPackages (RFC 9420 §10), private keys kept in the keystore."""
        membership = self.membership
        packages = []
        for _ in range(count):
            kp = create_key_package(
                membership.auth_identity,
                signature_priv=membership.signature_key,
                capabilities=room_capabilities(),
            )
            self.keystore.add_key_package(membership.membership_id, kp)
            packages.append(MLSMessage(kp.key_package).to_bytes())
        return packages

    def join_by_welcome(self, data: bytes, seq: int) -> bool:
        """Join from a Welcome naming one of our KeyPackages (RFC 9420 §12.4.3.1).

        False if it is not a Welcome or names none of ours; the KeyPackages are
        discarded once one is used (one-time use, §10).
        """
        try:
            welcome = MLSMessage.from_bytes(data).body
        except MLSError:
            return False
        if not isinstance(welcome, Welcome):
            return False
        mine = set(self.keystore.key_package_refs(self.membership.membership_id))
        for secret in welcome.secrets:
            if secret.new_member in mine:
                _, key_package = self.keystore.key_package(secret.new_member)
                try:
                    group = Group.join(welcome, key_package)
                except MLSError:
                    return False
                self.last_seq = seq
                self.attach(group)
                for ref in mine:
                    self.keystore.discard_key_package(ref)
                return True
        return False

    # --- outgoing ----------------------------------------------------------------------

    def protect(
        self, plaintext: bytes, kind: ev.MessageKind | None = None, text: str = ""
    ) -> bytes:
        assert self.group is not None
        payload = self.group.protect(plaintext).to_bytes()
        if kind is not None:
            self.own_sent[hashlib.sha256(payload).digest()] = (kind, text)
        return payload

    def start_commit(self, proposals: Sequence[Proposal], intent: Intent | None) -> PendingFrame:
        """Create a pending commit, sealed to disk with its frame before it is sent."""
        assert self.group is not None
        self.intent = intent
        self.pending = None
        force_path = intent is not None and intent.kind == "update"
        commit, welcome, created = self.group.commit(
            list(proposals),
            force_path=force_path,
            include=None if self.is_facilitator else self.includable,
        )
        self.pending = PendingFrame(
            id="c-" + secrets.token_hex(8),
            commit=commit.to_bytes(),
            group_info=MLSMessage(created.group_info).to_bytes(),
            welcome=welcome.to_bytes() if welcome is not None else None,
        )
        self.save()
        return self.pending

    def abandon_commit(self) -> None:
        """The server refused our commit for good: forget it and its intent."""
        self.intent = None
        self.pending = None
        if self.group is not None and self.group.phase is Phase.PENDING_COMMIT:
            self.group.discard_pending_commit()
        else:
            self.save()

    # --- incoming ----------------------------------------------------------------------

    def handle(self, frame: Message) -> list[ev.Event]:
        """Process one stored message, in order, once (protocol.md §4.7, RFC 9420 §6)."""
        if frame.seq <= self.last_seq:
            return []  # already processed (a resumed stream overlaps): never twice
        if self.group is None:
            return []  # not in the group yet: the Welcome or external join sets last_seq
        self.last_seq = frame.seq
        out: list[ev.Event] = []
        try:
            message = MLSMessage.from_bytes(frame.payload)
        except MLSError as exc:
            out.append(ev.EngineErrorEvent("mls_invalid", str(exc), self.room, frame.seq))
            self.save()
            return out
        body = message.body
        if isinstance(body, PublicMessage):
            out.extend(self._handshake(frame, message))
        else:
            out.extend(self._application(frame, message))
        self.save()
        return out

    def _application(self, frame: Message, message: MLSMessage) -> list[ev.Event]:
        assert self.group is not None
        if frame.sender == self.me:
            own = self.own_sent.pop(hashlib.sha256(frame.payload).digest(), None)
            if own is None:
                return []  # sent before a restart: its text is gone (never on disk)
            kind, text = own
            return [
                ev.MessageReceived(
                    self.room,
                    frame.seq,
                    ev.member_id(self.me),
                    self.pseudonym(self.me),
                    self.role_of(self.me),
                    kind,
                    text,
                    frame.ts,
                    self.group.epoch,
                    own=True,
                )
            ]
        late = frame.epoch is not None and frame.epoch > self.group.epoch
        if self.group.phase is Phase.REMOVED and late:
            return []  # sent after our removal: we hold no keys for it, by design
        try:
            received = self.group.process(message)
        except MLSError as exc:
            return [ev.EngineErrorEvent("decrypt_failed", type(exc).__name__, self.room, frame.seq)]
        roster = self.rosters.get(received.epoch) or self.roster()
        assert received.sender.index is not None
        identity = roster.identities.get(received.sender.index, b"")
        role = roster.roles.role_of(identity)
        if identity != frame.sender:
            return [
                ev.EngineErrorEvent(
                    "sender_mismatch", "MLS sender is not the server's sender", self.room, frame.seq
                )
            ]
        plaintext = received.plaintext
        sender = ev.member_id(identity)
        try:
            envelope = decode_envelope(plaintext)
            if isinstance(envelope, Nick):  # the sender's own pseudonym, nobody else's
                previous = self.pseudonyms.get(identity.hex())
                self.pseudonyms[identity.hex()] = envelope.pseudonym
                if previous == envelope.pseudonym:
                    return []
                return [ev.PseudonymChanged(self.room, sender, envelope.pseudonym)]
            if isinstance(envelope, RoomState):
                before = self.room_state
                self.room_state = apply_room_state(before, envelope, role)
                if self.room_state == before:
                    return []
                return [
                    ev.RoomStateChanged(
                        self.room, envelope.name, envelope.topic, envelope.guidelines
                    )
                ]
            kind = ev.MessageKind.CHAT if isinstance(envelope, Chat) else ev.MessageKind.ME
            assert isinstance(envelope, Chat | Me)
        except RoomError as exc:
            return [ev.EngineErrorEvent("envelope_refused", str(exc), self.room, frame.seq)]
        return [
            ev.MessageReceived(
                self.room,
                frame.seq,
                sender,
                self.pseudonym(identity),
                role,
                kind,
                envelope.text,
                frame.ts,
                received.epoch,
            )
        ]

    def _handshake(self, frame: Message, message: MLSMessage) -> list[ev.Event]:
        group = self.group
        assert group is not None
        if group.phase is Phase.REMOVED:
            return []
        body = message.body
        assert isinstance(body, PublicMessage)
        if body.content.group_id != group.group_id:
            return [ev.EngineErrorEvent("wrong_group", "a handshake of another group", self.room)]
        if body.content.epoch != group.epoch:
            if body.content.epoch > group.epoch:
                self.needs_rejoin = True  # we missed a commit: too far behind
                return [
                    ev.EngineErrorEvent(
                        "behind", "missed a commit; rejoining", self.room, frame.seq
                    )
                ]
            return []  # an old epoch's handshake (e.g. our own external commit)
        before = self.roster()
        was_pending = group.phase is Phase.PENDING_COMMIT
        try:
            check_before_processing(group.state, message)
            received = group.process(message)
        except (RoomError, MLSError) as exc:
            if frame.sender == self.me and not was_pending:
                # Our own commit, whose pending state we no longer hold: rejoin.
                self.needs_rejoin = True
            elif frame.sender == self.me and group.phase is Phase.PENDING_COMMIT:
                self.abandon_commit()  # our own commit breaks the rule: never apply it
            return [
                ev.EngineErrorEvent(
                    "commit_refused", f"{type(exc).__name__}: {exc}", self.room, frame.seq
                )
            ]
        if received.kind == "proposal":
            self.followups.add("commit_proposals")
            return []
        # a commit
        ours = frame.sender == self.me and was_pending and self.pending is not None
        self.pending = None  # merged, or it lost the race to this commit
        if ours:
            self.intent = None
        elif self.intent is not None:
            self.followups.add("retry_intent")
        out: list[ev.Event] = []
        committer = before.identities.get(body.content.sender.index or -1, frame.sender)
        if received.removed:
            self.status = "left"
            out.append(
                ev.MemberLeft(
                    self.room,
                    ev.member_id(self.me),
                    self.pseudonym(self.me),
                    ev.LeaveReason.REMOVED,
                    group.epoch,
                    ev.member_id(committer),
                )
            )
            out.append(ev.RoomLeft(self.room, ev.LeaveReason.REMOVED))
            return out
        self._remember_roster()
        after = self.roster()
        old_ids = set(before.identities.values())
        new_ids = set(after.identities.values())
        external = body.content.sender.sender_type is SenderType.NEW_MEMBER_COMMIT
        for identity in sorted(new_ids - old_ids):
            out.append(
                ev.MemberJoined(
                    self.room,
                    ev.member_id(identity),
                    self.pseudonym(identity),
                    after.roles.role_of(identity),
                    group.epoch,
                )
            )
        for identity in sorted(old_ids - new_ids):
            voluntary = identity == committer
            out.append(
                ev.MemberLeft(
                    self.room,
                    ev.member_id(identity),
                    self.pseudonym(identity),
                    ev.LeaveReason.LEFT if voluntary else ev.LeaveReason.REMOVED,
                    group.epoch,
                    None if voluntary else ev.member_id(committer),
                )
            )
            self.pseudonyms.pop(identity.hex(), None)
        for identity in sorted(old_ids & new_ids):
            role = after.roles.role_of(identity)
            if role is not before.roles.role_of(identity):
                out.append(ev.RoleChanged(self.room, ev.member_id(identity), role, group.epoch))
        if new_ids - old_ids or external:
            self.followups.add("announce")
        out.append(ev.EpochChanged(self.room, group.epoch, after_tree_hash(group)))
        return out


def after_tree_hash(group: Group) -> bytes:
    return group.state.context.tree_hash


def new_room_group(membership: Membership, ds_key: bytes) -> Group:
    """A one-member group for a new room (protocol.md §12.2): the creator is its first
    facilitator, and the server's key is its external sender (RFC 9420 §12.1.8.1)."""
    identity = membership.auth_identity
    senders = [ExternalSender(ds_key, Credential.basic(b"hearth-ds"))]
    return Group.create(
        identity,
        extensions=room_extensions(identity, senders),
        signature_priv=membership.signature_key,
    )


def remove_proposal(session: RoomSession, member: bytes) -> Remove:
    leaf = session.leaf_of(member)
    if leaf is None:
        raise ValueError("not a member of the group")
    return Remove(leaf)


def add_proposal(key_package: bytes) -> Add:
    from hearth_mls.key_package import KeyPackage

    message = MLSMessage.from_bytes(key_package)
    body = message.body
    if isinstance(body, KeyPackage):
        return Add(body)
    return Add(KeyPackage.from_bytes(key_package))


__all__ = [
    "Intent",
    "PendingFrame",
    "RoomSession",
    "SessionBlob",
    "add_proposal",
    "fingerprint_of",
    "new_room_group",
    "remove_proposal",
]
