"""What members say to each other inside the group: the application envelope.

Issue 5 ("Room metadata stays inside the room") and DESIGN.md principle 1: chat
text, ``/me`` actions and the room's name, topic and guidelines travel only as
the plaintext of MLS application messages (PrivateMessage, RFC 9420 §6.3), so
the server stores and forwards ciphertext it cannot read and knows rooms only
by random ids.

Wire format of one application message's plaintext::

    envelope = version (1 byte, ENVELOPE_VERSION) || MessagePack map

The map is one of the tagged structs below (tag field ``"t"``), encoded and
decoded by msgspec, strictly: unknown kinds and unknown fields are refused, every
field has a length limit, and text fields refuse control characters that could
drive a terminal (C0 except TAB and LF, DEL, C1) and bidirectional overrides
(U+202A..U+202E, U+2066..U+2069); names and topics are single lines. The whole
envelope is at most :data:`MAX_ENVELOPE_BYTES` (well under the server's
``max_payload``, protocol.md §7, after MLS framing and padding).

=============  ===============================  =========================================
kind (``t``)   fields                           meaning
=============  ===============================  =========================================
``chat``       ``text``                         a chat line (1..MAX_TEXT_CHARS, not blank)
``me``         ``text``                         an action ("/me waves")
``room_state`` ``revision, name, topic,         the room's metadata, a full snapshot;
               guidelines``                     accepted only from a facilitator
=============  ===============================  =========================================

A new version of the format gets a new version byte; a reader refuses versions
it does not know (:class:`~hearth_core.room_errors.EnvelopeVersionError`) rather
than guess. Room state is a full snapshot with a revision, applied by
:func:`apply_room_state`: a facilitator's client re-announces the current
snapshot (same revision) after adding members, since a joiner cannot read
messages of epochs before its own (RFC 9420 §12.4.3).
"""

from __future__ import annotations

import re
from typing import Annotated

import msgspec

from hearth_core.room_errors import (
    EnvelopeDecodeError,
    EnvelopeTooLargeError,
    EnvelopeVersionError,
    RoomStateRejectedError,
    RoomUsageError,
)
from hearth_core.room_roles import Role

#: The version byte of the envelope format described above.
ENVELOPE_VERSION = 1
#: Largest envelope in bytes (the server's max_payload is 64 KiB of MLS bytes).
MAX_ENVELOPE_BYTES = 32 * 1024
MAX_TEXT_CHARS = 4000
MAX_NAME_CHARS = 64
MAX_TOPIC_CHARS = 280
MAX_GUIDELINES_CHARS = 6000

# C0 controls but TAB and LF, DEL, C1 controls, bidi embeddings/overrides/isolates.
_MULTILINE_FORBIDDEN = "\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069"
_MULTILINE = f"^[^{_MULTILINE_FORBIDDEN}]*$"
_ONE_LINE = f"^[^\t\n{_MULTILINE_FORBIDDEN}]*$"

Text = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_TEXT_CHARS, pattern=_MULTILINE)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_NAME_CHARS, pattern=_ONE_LINE)]
Topic = Annotated[str, msgspec.Meta(max_length=MAX_TOPIC_CHARS, pattern=_ONE_LINE)]
Guidelines = Annotated[str, msgspec.Meta(max_length=MAX_GUIDELINES_CHARS, pattern=_MULTILINE)]
Revision = Annotated[int, msgspec.Meta(ge=1, le=2**53)]


class _Envelope(msgspec.Struct, tag_field="t", forbid_unknown_fields=True, frozen=True):
    """Base of every envelope kind (a frozen, self-validating wire type, STYLE.md habit 4).

    The repr names the kind only: message text must never reach a log (DESIGN.md).
    """

    def __repr__(self) -> str:
        return f"{type(self).__name__}(...)"


def _not_blank(value: str, what: str) -> None:
    # A ValueError: msgspec turns it into a ValidationError while decoding.
    if not value.strip():
        raise RoomUsageError(f"{what} is blank")


class Chat(_Envelope, tag="chat", frozen=True):
    """A chat line."""

    text: Text

    def __post_init__(self) -> None:
        _not_blank(self.text, "text")


class Me(_Envelope, tag="me", frozen=True):
    """An action, shown as "* pseudonym text"."""

    text: Text

    def __post_init__(self) -> None:
        _not_blank(self.text, "text")


class RoomState(_Envelope, tag="room_state", frozen=True):
    """The room's metadata: a full snapshot, newer when ``revision`` is higher."""

    revision: Revision
    name: Name
    topic: Topic = ""
    guidelines: Guidelines = ""

    def __post_init__(self) -> None:
        _not_blank(self.name, "name")


Envelope = Chat | Me | RoomState

_DECODER: msgspec.msgpack.Decoder[Chat | Me | RoomState] = msgspec.msgpack.Decoder(Envelope)
_ENCODER = msgspec.msgpack.Encoder()
_FORBIDDEN = re.compile(f"[{_MULTILINE_FORBIDDEN}]")


def decode_envelope(data: bytes) -> Envelope:
    """Decode one application message's plaintext, strictly (module doc).

    Raises EnvelopeTooLargeError, EnvelopeVersionError or EnvelopeDecodeError
    (the message names the field, never its content).
    """
    if len(data) > MAX_ENVELOPE_BYTES:
        raise EnvelopeTooLargeError(f"{len(data)} bytes, at most {MAX_ENVELOPE_BYTES}")
    if not data:
        raise EnvelopeDecodeError("empty envelope")
    if data[0] != ENVELOPE_VERSION:
        raise EnvelopeVersionError(
            f"envelope version {data[0]}, this client reads {ENVELOPE_VERSION}"
        )
    try:
        return _DECODER.decode(data[1:])
    except msgspec.ValidationError as exc:
        raise EnvelopeDecodeError(f"invalid envelope: {exc}") from exc
    except msgspec.DecodeError as exc:
        raise EnvelopeDecodeError(f"not MessagePack: {exc}") from exc


def encode_envelope(envelope: Envelope) -> bytes:
    """The plaintext to protect for ``envelope``; invalid values raise RoomUsageError.

    msgspec does not check constraints when a struct is built in code, so the
    encoding is decoded again: what this writes, every reader accepts.
    """
    data = bytes([ENVELOPE_VERSION]) + _ENCODER.encode(envelope)
    try:
        decode_envelope(data)
    except (EnvelopeDecodeError, EnvelopeTooLargeError) as exc:
        raise RoomUsageError(str(exc)) from exc
    return data


def apply_room_state(current: RoomState | None, update: RoomState, sender_role: Role) -> RoomState:
    """The room state after ``update`` from a sender with ``sender_role``.

    Only a facilitator sets room state (DESIGN.md "Moderation"; the sender's role
    comes from :meth:`hearth_core.room_roles.RoomView.role_of_leaf` for the
    epoch of the message). A higher revision replaces the snapshot; the same
    revision with the same content is a re-announce and changes nothing; anything
    else is stale or conflicting and refused with RoomStateRejectedError.
    """
    if sender_role is not Role.FACILITATOR:
        raise RoomStateRejectedError(f"room state from a {sender_role.value}, not a facilitator")
    if current is None or update.revision > current.revision:
        return update
    if update == current:
        return current
    if update.revision == current.revision:
        raise RoomStateRejectedError(
            f"a different room state with the same revision {update.revision}"
        )
    raise RoomStateRejectedError(
        f"stale room state revision {update.revision} < {current.revision}"
    )


def has_forbidden_characters(text: str) -> bool:
    """Whether ``text`` holds a character an envelope refuses (for input fields)."""
    return _FORBIDDEN.search(text) is not None


__all__ = [
    "ENVELOPE_VERSION",
    "MAX_ENVELOPE_BYTES",
    "MAX_GUIDELINES_CHARS",
    "MAX_NAME_CHARS",
    "MAX_TEXT_CHARS",
    "MAX_TOPIC_CHARS",
    "Chat",
    "Envelope",
    "Me",
    "RoomState",
    "apply_room_state",
    "decode_envelope",
    "encode_envelope",
    "has_forbidden_characters",
]
