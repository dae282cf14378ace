"""A waiting member's engine uploads KeyPackages when the server says its stock is low.

protocol.md §12.1 (``key_package_stock`` ``low``, sent to the identity's connections when
a claim leaves fewer than the low mark) and §12.3 (a facilitator claims a KeyPackage to
add a waiting member). The facilitator here is the protocol-level test client; the
waiting member is a real engine; the stock is read from the server's real store.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from hearth_client import events as ev
from hearth_core.frames import (
    ClaimKeyPackage,
    CommitAccepted,
    CreateInvite,
    InviteCreated,
    KeyPackageFrame,
)
from hearth_mls.mls_message import MLSMessage
from hearth_mls.proposals import Add
from hearth_server.mls_handlers import LOW_STOCK
from tests.server.client import ProtocolClient
from tests.server.mls_fixtures import create_mls_room

from .conftest import TIMEOUT, ServerHandle


async def test_low_stock_notice_makes_the_engine_upload_more(
    server: ServerHandle, engines: Any
) -> None:
    assert server.server is not None
    store = server.server.hub.store
    facilitator_client = await ProtocolClient.connect(server.url)
    try:
        await facilitator_client.hello()
        facilitator = await create_mls_room(facilitator_client, waiting_room=True)
        made = await facilitator_client.ok(CreateInvite(room=facilitator.room))
        assert isinstance(made, InviteCreated)
        bob, recorder = await engines("bob")
        info = await bob.join(made.secret, pseudonym="willow")
        assert info.status == "waiting"
        me = ev.member_identity(info.me)

        async def stock() -> int:
            return await store.key_package_stock(me, int(time.time() * 1000))

        async def stock_reaches(wanted: int) -> None:
            async with asyncio.timeout(TIMEOUT):
                # The store has no change notification to wait on; bounded by TIMEOUT.
                while await stock() < wanted:  # noqa: ASYNC110
                    await asyncio.sleep(0.01)

        first = await stock()
        assert first >= LOW_STOCK  # join uploaded a batch
        # Claim until the stock is under the low mark: the notice goes to bob's engine.
        for _ in range(first - LOW_STOCK + 1):
            claimed = await facilitator_client.ok(ClaimKeyPackage(room=info.room, member=me))
            assert isinstance(claimed, KeyPackageFrame)
        await stock_reaches(LOW_STOCK + 1)  # bob uploaded a fresh batch on his own
        # The uploaded KeyPackages are bob's real ones: adding one lets his engine in.
        claimed = await facilitator_client.ok(ClaimKeyPackage(room=info.room, member=me))
        package = MLSMessage.from_bytes(claimed.key_package).body
        accepted = await facilitator.send_commit(facilitator.commit([Add(package)]))  # type: ignore[list-item]
        assert isinstance(accepted, CommitAccepted), accepted
        joined = await recorder.wait_for(lambda e: isinstance(e, ev.RoomJoined))
        assert joined == ev.RoomJoined(info.room, facilitator.group.epoch)  # type: ignore[union-attr]
    finally:
        await facilitator_client.close()
