"""A seeded soak: concurrent commits and messages among four engines (issue 5).

Rounds of operations started together (key updates by anyone, a facilitator's
removal and a new member's external join, messages) race for the same epochs;
after each round every member converges on one epoch and tree, and every
message sent arrives at every member of its time, once, in order.
"""

from __future__ import annotations

import asyncio
import random
from typing import Any

from hearth_client import events as ev
from hearth_client.engine import Engine

from .conftest import Recorder
from .test_recovery import _converged, _room_with

SEED = 20261128
ROUNDS = 6


async def test_seeded_concurrent_commits_and_messages_converge(engines: Any) -> None:
    rng = random.Random(SEED)
    room, made = await _room_with(engines, ["alice", "bob", "carol", "dave"])
    members: list[tuple[Engine, Recorder]] = list(made)
    alice = members[0][0]
    invite = await alice.create_invite(room, max_uses=ROUNDS + 1)
    sent: list[str] = []
    for round_ in range(ROUNDS):
        ops: list[Any] = []
        if round_ % 2 == 1 and len(members) > 2:
            # The member removed this round takes no part in it.
            victim = members.pop(rng.randrange(1, len(members)))
            ops.append(alice.remove(room, victim[0].room(room).me))
        for engine, _ in members:
            if rng.random() < 0.5:
                ops.append(engine.update_keys(room))
            text = f"round {round_} from {engine.room(room).me[:6]}"
            sent.append(text)
            ops.append(engine.send(room, text))
        newcomer = await engines(f"new{round_}")
        ops.append(newcomer[0].join(invite.code, pseudonym=f"new-{round_}"))
        rng.shuffle(ops)
        await asyncio.gather(*ops)
        members.append(newcomer)
        await newcomer[1].wait_for(lambda e: isinstance(e, ev.Synced) and e.room == room)
        await _converged(room, members)
    # Every member received each message once, in order of the room's sequence.
    for _, recorder in members:
        seqs = [m.seq for m in recorder.messages(room)]
        assert seqs == sorted(set(seqs))
    alice_texts = [m.text for m in members[0][1].messages(room)]
    assert sorted(alice_texts) == sorted(sent)
    assert len({engine.tree_hash(room) for engine, _ in members}) == 1
    assert len(alice.members(room)) == len(members)
