"""Room roles, membership states and who may do what (protocol.md §4.3).

Shared by the server (which enforces them) and the client (which shows them).
Later issues move role authority into the MLS group (DESIGN.md "Moderation"); the
table here stays the server's view of it.
"""

from __future__ import annotations

import enum


class Role(enum.StrEnum):
    """A member's role in one room (DESIGN.md "Moderation")."""

    FACILITATOR = "facilitator"
    PEER_LEADER = "peer_leader"
    MEMBER = "member"


class MemberStatus(enum.StrEnum):
    """Whether a member is admitted or still in the waiting room (protocol.md §4.3)."""

    MEMBER = "member"
    WAITING = "waiting"


class RoomAction(enum.StrEnum):
    """Actions in a room that not every role may take."""

    CREATE_INVITE = "create_invite"
    REVOKE_INVITE = "revoke_invite"
    ADMIT = "admit"
    SEE_WAITING = "see_waiting"


#: protocol.md §4.3: the roles allowed to take each restricted action.
PERMISSIONS: dict[RoomAction, frozenset[Role]] = {
    RoomAction.CREATE_INVITE: frozenset({Role.FACILITATOR}),
    RoomAction.REVOKE_INVITE: frozenset({Role.FACILITATOR}),
    RoomAction.ADMIT: frozenset({Role.FACILITATOR}),
    RoomAction.SEE_WAITING: frozenset({Role.FACILITATOR}),
}


def may(role: Role, action: RoomAction) -> bool:
    """True when ``role`` may take ``action`` (protocol.md §4.3)."""
    return role in PERMISSIONS[action]
