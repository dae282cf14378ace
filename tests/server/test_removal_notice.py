"""A removed or banned member is told at once (protocol.md §4.8 ``member_update``, §12.7)."""

from __future__ import annotations

from collections.abc import Callable

from hearth_core.frames import (
    CommitAccepted,
    MemberChange,
    MemberUpdate,
    Message,
    MessageKind,
    Ok,
    RequestRemoval,
    ServerFrame,
)
from hearth_mls.proposals import Remove

from .conftest import Connect
from .test_ds_commits import _three


def _update(change: MemberChange, identity: bytes) -> Callable[[ServerFrame], bool]:
    def matches(frame: ServerFrame) -> bool:
        return (
            isinstance(frame, MemberUpdate)
            and frame.change is change
            and frame.member.identity == identity
        )

    return matches


async def test_a_banned_member_gets_member_update_banned(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    answer = await creator.client.request(
        RequestRemoval(room=creator.room, member=bob.identity, ban=True)
    )
    assert isinstance(answer, Ok)
    told = await bob.client.wait_for(_update(MemberChange.BANNED, bob.identity))
    assert isinstance(told, MemberUpdate)
    assert told.room == bob.room
    # The others see "left", never the reason.
    await carol.client.wait_for(_update(MemberChange.LEFT, bob.identity))
    assert not any(
        isinstance(f, MemberUpdate) and f.change is MemberChange.BANNED for f in carol.client.frames
    )


async def test_a_member_removed_by_commit_gets_the_commit_then_removed(connect: Connect) -> None:
    creator, bob, carol = await _three(connect)
    assert creator.group is not None
    (leaf,) = [index for index, who in creator.group.members() if who == carol.identity]
    done = await creator.send_commit(creator.commit([Remove(leaf)]))
    assert isinstance(done, CommitAccepted)
    await carol.client.wait_for(_update(MemberChange.REMOVED, carol.identity))
    # The commit that removed carol reached her too (before the notice, same fan-out).
    assert any(
        isinstance(f, Message) and f.seq == done.seq and f.kind is MessageKind.COMMIT
        for f in carol.client.frames
    )
    await bob.client.wait_for(_update(MemberChange.LEFT, carol.identity))
