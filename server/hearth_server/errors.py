"""The ``hearth_server`` exception tree (blame is in the type)::

HearthServerError          every error raised by hearth_server
├── ConfigError            the operator's fault: a bad flag, variable or config file
├── RequestError           the client's fault: carries the ErrorCode sent back in an
│                          ``error`` frame (protocol.md §5)
└── StoreError             storage failed (the server's fault); the request gets
                           ``internal`` and nothing was stored
"""

from __future__ import annotations

from hearth_core.errors import ErrorCode


class HearthServerError(Exception):
    """Root of the ``hearth_server`` exception tree."""


class ConfigError(HearthServerError):
    """A flag, environment variable or config file value is invalid (operator's fault)."""


class RequestError(HearthServerError):
    """A request cannot be served; ``code`` goes on the wire (protocol.md §5)."""

    def __init__(
        self,
        code: ErrorCode,
        message: str,
        *,
        room: str | None = None,
        retry_after: float | None = None,
        field: str | None = None,
        epoch: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.room = room
        self.retry_after = retry_after
        self.field = field
        self.epoch = epoch


class StoreError(HearthServerError):
    """The store could not complete an operation (server's fault; protocol.md §5.5)."""
