"""A member's self-announcement inside the group: its pseudonym, encrypted (issue 5).

DESIGN.md principle 2: the pseudonym of a membership is shown only to the room's
members. It travels as the plaintext of an MLS application message
(PrivateMessage, RFC 9420 §6.3), never in a credential or leaf node (those are
public to the Delivery Service). :mod:`hearth_core.room_state` has no kind for
it yet, so this client layer uses its own version byte, distinct from
``ENVELOPE_VERSION``::

    announcement = PROFILE_VERSION (0x81) || MessagePack {"pseudonym": str}

Each member announces itself after it enters the group and again after every
epoch that adds members (a joiner cannot read earlier epochs, RFC 9420 §12.4.3).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, TypeVar

import msgspec

from hearth_client.errors import ClientUsageError
from hearth_core.room_errors import EnvelopeDecodeError, RoomUsageError
from hearth_core.room_state import Envelope, encode_envelope

PROFILE_VERSION = 0x81
Pseudonym = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=64, pattern="^[^\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]+$"
    ),
]


class Profile(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    pseudonym: Pseudonym

    def __repr__(self) -> str:
        return "Profile(...)"


_DECODER = msgspec.msgpack.Decoder(Profile)


T = TypeVar("T")


def checked(make: Callable[[], T]) -> T:
    """``make()``, with the core's RoomUsageError (bad local input) as ClientUsageError."""
    try:
        return make()
    except RoomUsageError as exc:
        raise ClientUsageError(str(exc)) from exc


def plaintext(envelope: Envelope) -> bytes:
    """A room_state envelope's plaintext (hearth_core.room_state); ClientUsageError if invalid."""
    return checked(lambda: encode_envelope(envelope))


def is_profile(plaintext: bytes) -> bool:
    return bool(plaintext) and plaintext[0] == PROFILE_VERSION


def encode_profile(pseudonym: str) -> bytes:
    """The announcement of ``pseudonym``; an invalid one raises ClientUsageError."""
    data = bytes([PROFILE_VERSION]) + msgspec.msgpack.encode(Profile(pseudonym))
    try:
        decode_profile(data)  # what this writes, every reader accepts
    except EnvelopeDecodeError as exc:
        raise ClientUsageError(f"pseudonym: {exc}") from exc
    return data


def decode_profile(plaintext: bytes) -> Profile:
    """Decode an announcement strictly; EnvelopeDecodeError names the problem."""
    if not is_profile(plaintext):
        raise EnvelopeDecodeError("not a profile announcement")
    try:
        profile = _DECODER.decode(plaintext[1:])
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise EnvelopeDecodeError(f"invalid profile announcement: {exc}") from exc
    if not profile.pseudonym.strip():
        raise EnvelopeDecodeError("blank pseudonym")
    return profile
