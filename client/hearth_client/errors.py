"""The client engine's exception tree (blame in the type, STYLE.md habit 3).

::

    HearthClientError
     +-- ClientUsageError         the caller's mistake: unknown room, not a facilitator
     |    +-- InvalidInviteError     the invite text is not a Hearth invite (bad format)
     +-- ServerRefusedError       the server answered ``error`` (protocol.md §5); ``code``
     |    +-- InviteRefusedError     invite_invalid / expired / revoked / exhausted
     +-- NotConnectedError        no connection and the request cannot wait (or timed out)
     |    +-- ServerKeyChangedError  the server's ds_key is not the one pinned at first contact
     +-- RoomProtocolError        the room's MLS state cannot move forward (peer's or
                                  server's fault; a rejoin may repair it)

Keystore errors (:mod:`hearth_client.keystore`: ``WrongPassphraseError``,
``KeystoreCorruptError``...) are raised as they are by ``Engine.open_profile``.
"""

from __future__ import annotations


class HearthClientError(Exception):
    """Root of the client engine's exception tree."""


class ClientUsageError(HearthClientError, ValueError):
    """The caller asked for something impossible (unknown room, not allowed...)."""


class InvalidInviteError(ClientUsageError):
    """The text given as an invite is not a Hearth invite code or link."""


class ServerRefusedError(HearthClientError):
    """The server refused a request with an ``error`` frame (protocol.md §5)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class InviteRefusedError(ServerRefusedError):
    """The server refused the invite: unknown, expired, revoked or used up (protocol.md §4.5)."""


class NotConnectedError(HearthClientError):
    """The engine is not connected and the request could not be sent in time."""


class RoomProtocolError(HearthClientError):
    """The room's MLS state cannot advance (a refused or undecodable message)."""


class ServerKeyChangedError(NotConnectedError):
    """The server's ``ds_key`` differs from the one this profile pinned at first contact.

    protocol.md §3.2: the auth transcript names the server's key, so a different key
    is another server (or a replaced one). The engine never authenticates to it and
    stays OFFLINE until the user decides (trust on first use, like SSH host keys).
    """

    def __init__(self, server: str, pinned: bytes, offered: bytes) -> None:
        super().__init__(
            f"the server {server} presented a different key ({offered.hex()[:16]}...) "
            f"from the one pinned on first contact ({pinned.hex()[:16]}...); not connecting"
        )
        self.server = server
        self.pinned = pinned
        self.offered = offered
