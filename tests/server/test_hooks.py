"""Server hook points return one Decision type (DESIGN.md "Moderation")."""

from __future__ import annotations

from hearth_core.errors import ErrorCode
from hearth_core.frames import Error, Join, Send
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig
from hearth_server.hooks import Decision, Hooks, JoinEvent, SendEvent

from .client import ProtocolClient
from .conftest import invite, make_room, payload


class Strict(Hooks):
    def __init__(self) -> None:
        self.sends: list[SendEvent] = []
        self.blocked: set[bytes] = set()

    def before_join(self, event: JoinEvent) -> Decision:
        if event.identity in self.blocked:
            return Decision.deny(ErrorCode.FORBIDDEN, "banned here")
        return Decision.ALLOW

    def before_send(self, event: SendEvent) -> Decision:
        self.sends.append(event)
        if (event.meta or {}).get("kind") == "link":
            return Decision.deny(ErrorCode.FORBIDDEN, "no links")
        return Decision.ALLOW


async def test_hooks_allow_and_deny(config: ServerConfig) -> None:
    hooks = Strict()
    async with HearthServer(config, hooks=hooks) as running:
        alice = await ProtocolClient.connect(running.url)
        bob = await ProtocolClient.connect(running.url)
        await alice.hello()
        await bob.hello()
        room, alice_id = await make_room(alice)
        ok = await alice.ok(Send(room=room, id="a", payload=payload("a"), meta={"kind": "chat"}))
        assert ok.seq == 1
        refused = await alice.request(Send(room=room, id="b", payload=b"x", meta={"kind": "link"}))
        assert isinstance(refused, Error)
        assert (refused.code, refused.message) == (ErrorCode.FORBIDDEN, "no links")
        assert [(e.identity, e.size) for e in hooks.sends] == [
            (alice_id, len(payload("a"))),
            (alice_id, 1),
        ]
        bob_id = await bob.new_identity()
        hooks.blocked.add(bob_id)
        ticket = await invite(alice, room)
        denied = await bob.request(Join(identity=bob_id, invite=ticket.secret, pseudonym="b"))
        assert isinstance(denied, Error)
        assert denied.code is ErrorCode.FORBIDDEN
        hooks.blocked.clear()
        await bob.ok(Join(identity=bob_id, invite=ticket.secret, pseudonym="b"))  # not used up
        await alice.close()
        await bob.close()
