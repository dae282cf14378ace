"""``pseudonym`` is required for rooms without a group and never for MLS rooms.

protocol.md §4.3, §4.5, §4.8 and §12.2-§12.3: an MLS room's pseudonyms travel
encrypted inside the group, so its members tell the server none.
"""

from __future__ import annotations

from hearth_core.frames import CreateRoom, Error, Join, MemberList, Members, RoomCreated
from hearth_core.room_roles import room_extensions
from hearth_mls.group import Group
from hearth_mls.mls_message import MLSMessage

from .conftest import Connect, invite, make_room
from .mls_fixtures import ds_sender


async def test_a_plain_room_needs_a_pseudonym(connect: Connect) -> None:
    client = await connect()
    me = await client.new_identity()
    refused = await client.request(CreateRoom(identity=me))
    assert isinstance(refused, Error)
    assert (refused.code, "pseudonym" in refused.message) == ("invalid_field", True)
    room, _ = await make_room(client)
    secret = (await invite(client, room)).secret
    joiner = await connect()
    who = await joiner.new_identity()
    refused = await joiner.request(Join(identity=who, invite=secret))
    assert isinstance(refused, Error)
    assert (refused.code, "pseudonym" in refused.message) == ("invalid_field", True)
    # The refusal used nothing of the single-use invite.
    await joiner.ok(Join(identity=who, invite=secret, pseudonym="willow"))


async def test_an_mls_room_needs_no_pseudonym_and_shows_none(connect: Connect) -> None:
    client = await connect()
    me = await client.new_identity()
    group = Group.create(me, extensions=room_extensions(me, [ds_sender(client)]))
    created = await client.ok(
        CreateRoom(identity=me, group_info=MLSMessage(group.group_info()).to_bytes())
    )
    assert isinstance(created, RoomCreated)
    secret = (await invite(client, created.room)).secret
    joiner = await connect()
    who = await joiner.new_identity()
    await joiner.ok(Join(identity=who, invite=secret))
    listed = await client.ok(Members(room=created.room))
    assert isinstance(listed, MemberList)
    assert {m.identity: m.pseudonym for m in listed.members} == {me: None, who: None}
