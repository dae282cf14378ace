"""Errors of the room rules (:mod:`hearth_core.room_roles`) and room envelopes
(:mod:`hearth_core.room_state`).

Blame is in the type (STYLE.md habit 3): a :class:`RoomPeerError` means bytes or a
handshake that came from someone else break a rule (refuse it, keep the state);
a :class:`RoomUsageError` means the local caller asked for something invalid.
Every class has a stable ``code`` a server can put in an error frame and a
client can log (never with the message text).

::

    RoomError
     +-- RoomPeerError                      someone else's input is refused
     |    +-- RolesDecodeError              room_roles bytes are malformed (room_roles.py)
     |    +-- MissingRolesError             the GroupContext has no room_roles extension
     |    +-- AuthorityError                a handshake breaks the facilitator rule
     |    |    +-- NotFacilitatorError      an act reserved to facilitators
     |    |    |    +-- RemoveNotAllowedError          removing someone else
     |    |    |    +-- RoleChangeNotAllowedError      changing room_roles
     |    |    |    +-- ContextChangeNotAllowedError   other GroupContext changes, ReInit
     |    |    |    +-- ExternalCommitNotAllowedError  committing external proposals
     |    |    |    +-- RoleGrantNotAllowedError       adding a member who holds a role
     |    |    +-- ExternalSenderProposalError  an external sender proposed something but Remove
     |    |    +-- LastFacilitatorError     the commit leaves no facilitator in the room
     |    |    +-- DuplicateIdentityError   two leaves would share one credential identity
     |    |    +-- IdentityChangeError      a leaf's credential identity would change
     |    |    +-- UnknownParticipantError  a sender, proposal reference or leaf is unknown
     |    |    +-- NotAHandshakeError       not a PublicMessage proposal or commit
     |    +-- EnvelopeError                 an application envelope is refused (room_state.py)
     |         +-- EnvelopeDecodeError      not a valid envelope (syntax, field limits)
     |         +-- EnvelopeVersionError     an envelope version this client does not know
     |         +-- EnvelopeTooLargeError    larger than MAX_ENVELOPE_BYTES
     |         +-- RoomStateRejectedError   a room_state update from a non-facilitator or stale
     +-- RoomUsageError                     the local caller's mistake (e.g. invalid roles)

This tree hangs under :class:`hearth_core.errors.HearthCoreError`.
"""

from __future__ import annotations

from typing import ClassVar

from hearth_core.errors import HearthCoreError


class RoomError(HearthCoreError):
    """Root of the room-rule and room-envelope errors."""

    code: ClassVar[str] = "room_error"


class RoomPeerError(RoomError):
    """Input from someone else breaks a room rule; refuse it and keep the state."""

    code = "room_rejected"


class RoomUsageError(RoomError, ValueError):
    """The local caller asked for something invalid (a bug or a bad argument)."""

    code = "room_usage"


# --- room_roles ----------------------------------------------------------------------


class RolesDecodeError(RoomPeerError):
    """The room_roles extension data does not decode or breaks its invariants."""

    code = "roles_malformed"


class MissingRolesError(RoomPeerError):
    """The GroupContext (current or proposed) has no room_roles extension."""

    code = "roles_missing"


class AuthorityError(RoomPeerError):
    """A proposal or commit breaks the room's facilitator authority rule."""

    code = "forbidden"


class NotFacilitatorError(AuthorityError):
    """The sender (committer or proposer) must be a facilitator for this act."""

    code = "not_facilitator"


class RemoveNotAllowedError(NotFacilitatorError):
    """Only a facilitator may remove someone other than themselves."""

    code = "remove_not_allowed"


class RoleChangeNotAllowedError(NotFacilitatorError):
    """Only a facilitator may change room_roles."""

    code = "role_change_not_allowed"


class ContextChangeNotAllowedError(NotFacilitatorError):
    """Only a facilitator may change other GroupContext extensions or re-initialize the group."""

    code = "context_change_not_allowed"


class ExternalCommitNotAllowedError(NotFacilitatorError):
    """Only a facilitator may commit proposals sent by external senders or new members."""

    code = "external_proposal_not_allowed"


class RoleGrantNotAllowedError(NotFacilitatorError):
    """Only a facilitator may add a member whose identity holds a role."""

    code = "role_grant_not_allowed"


class ExternalSenderProposalError(AuthorityError):
    """An external sender (the server's key) may only propose Remove."""

    code = "external_sender_forbidden"


class LastFacilitatorError(AuthorityError):
    """The commit would leave the room without a facilitator among its members."""

    code = "last_facilitator"


class DuplicateIdentityError(AuthorityError):
    """Two leaves would hold the same credential identity."""

    code = "duplicate_identity"


class IdentityChangeError(AuthorityError):
    """A leaf's credential identity would change (only its keys may change)."""

    code = "identity_change"


class UnknownParticipantError(AuthorityError):
    """A sender, a proposal reference or a removed leaf is not known in this epoch."""

    code = "unknown_participant"


class NotAHandshakeError(AuthorityError):
    """The message is not a PublicMessage proposal or commit the rule can read."""

    code = "not_public_handshake"


# --- room_state ----------------------------------------------------------------------


class EnvelopeError(RoomPeerError):
    """An application envelope is refused."""

    code = "envelope_rejected"


class EnvelopeDecodeError(EnvelopeError):
    """The bytes are not a valid envelope (syntax, unknown kind or field, limit)."""

    code = "envelope_malformed"


class EnvelopeVersionError(EnvelopeError):
    """The envelope's version byte is not one this client knows."""

    code = "envelope_version"


class EnvelopeTooLargeError(EnvelopeError):
    """The envelope is larger than ``MAX_ENVELOPE_BYTES``."""

    code = "envelope_too_large"


class RoomStateRejectedError(EnvelopeError):
    """A room_state update is not from a facilitator, or is stale or conflicting."""

    code = "room_state_rejected"


__all__ = [
    "AuthorityError",
    "ContextChangeNotAllowedError",
    "DuplicateIdentityError",
    "EnvelopeDecodeError",
    "EnvelopeError",
    "EnvelopeTooLargeError",
    "EnvelopeVersionError",
    "ExternalCommitNotAllowedError",
    "ExternalSenderProposalError",
    "IdentityChangeError",
    "LastFacilitatorError",
    "MissingRolesError",
    "NotAHandshakeError",
    "NotFacilitatorError",
    "RemoveNotAllowedError",
    "RoleChangeNotAllowedError",
    "RoleGrantNotAllowedError",
    "RolesDecodeError",
    "RoomError",
    "RoomPeerError",
    "RoomStateRejectedError",
    "RoomUsageError",
    "UnknownParticipantError",
]
