"""Real Hearth rooms for rule tests: real MLS groups, the server's external sender key,
and a Delivery Service view built only from what a server holds (GroupInfo + tree)."""

from __future__ import annotations

from dataclasses import dataclass, field

from hearth_core.room_roles import (
    RoomView,
    cached_proposal,
    room_capabilities,
    room_extensions,
)
from hearth_mls import suite
from hearth_mls.credential import Credential
from hearth_mls.extension_payloads import ExternalSender
from hearth_mls.extensions import RATCHET_TREE
from hearth_mls.group import Group
from hearth_mls.group_state import CachedProposal, Phase
from hearth_mls.join import create_key_package
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add, Proposal
from hearth_mls.tree_nodes import ratchet_tree_from_bytes
from hearth_mls.welcome_structs import Welcome

SERVER_IDENTITY = b"hearth-server"


def wire(message: MLSMessage) -> bytes:
    """The bytes a Delivery Service carries."""
    return message.to_bytes()


@dataclass
class Room:
    """Members' groups by identity, the server's signing key and its proposal cache."""

    groups: dict[bytes, Group]
    server_priv: bytes
    pending: list[CachedProposal] = field(default_factory=list)

    @property
    def any_group(self) -> Group:
        return next(g for g in self.groups.values() if g.phase is Phase.ACTIVE)

    def server_view(self) -> RoomView:
        """The view a server builds from a GroupInfo and its ratchet_tree extension only."""
        info = self.any_group.group_info(external_pub=False, include_tree=True)
        from hearth_mls.group_info import GroupInfo

        info = GroupInfo.from_bytes(info.to_bytes())
        tree_data = next(
            e.extension_data for e in info.extensions if e.extension_type == RATCHET_TREE
        )
        return RoomView.from_public(info.group_context, ratchet_tree_from_bytes(tree_data))

    def leaf_of(self, identity: bytes) -> int:
        return self.groups[identity].own_leaf

    def broadcast_proposal(self, message: MLSMessage, sender: bytes | None) -> None:
        """Deliver a proposal to every member but its sender; the server caches it."""
        data = wire(message)
        self.pending.append(cached_proposal(data))
        for identity, group in self.groups.items():
            if identity != sender and group.phase is not Phase.REMOVED:
                group.process(MLSMessage.from_bytes(data))

    def commit(self, committer: bytes, inline: tuple[Proposal, ...] = ()) -> bytes:
        """A pending commit by ``committer`` (not yet merged); returns its wire bytes."""
        message, _, _ = self.groups[committer].commit(inline)
        return wire(message)

    def accept(self, committer: bytes, commit: bytes) -> None:
        """The server accepted it: the committer merges, everyone else processes."""
        self.groups[committer].merge_pending_commit()
        self.pending.clear()
        for identity, group in list(self.groups.items()):
            if identity == committer or group.phase is Phase.REMOVED:
                continue
            group.process(MLSMessage.from_bytes(commit))
        for identity in [i for i, g in self.groups.items() if g.phase is Phase.REMOVED]:
            del self.groups[identity]

    def add(self, adder: bytes, identity: bytes) -> None:
        kp = create_key_package(identity, capabilities=room_capabilities())
        message, welcome, _ = self.groups[adder].commit((Add(kp.key_package),))
        assert welcome is not None
        assert isinstance(welcome.body, Welcome)
        self.accept(adder, wire(message))
        self.groups[identity] = Group.join(welcome.body, kp)


def make_room(*others: bytes, creator: bytes = b"alice") -> Room:
    """``creator`` made the room (first facilitator, server in external_senders), then added
    ``others`` one commit at a time."""
    server_priv, server_pub = suite.generate_signature_key_pair()
    sender = ExternalSender(server_pub, Credential.basic(SERVER_IDENTITY))
    group = Group.create(creator, extensions=room_extensions(creator, [sender]))
    room = Room({creator: group}, server_priv)
    for identity in others:
        room.add(creator, identity)
    return room
