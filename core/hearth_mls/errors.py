"""The exception tree of ``hearth_mls``.

Blame is in the type: a :class:`PeerError` means bytes that came from someone
else are wrong (reject the message, keep the state); a :class:`UsageError` means
the caller asked for something impossible (a bug or a wrong argument).

::

    MLSError
     +-- PeerError                  the input is invalid; state is unchanged
     |    +-- DecodeError           bytes do not parse (RFC 9420 §2.1)
     +-- UsageError                 the caller's mistake
          +-- TreeIndexError        a node index outside the tree (RFC 9420 Appendix C)
"""

from __future__ import annotations


class MLSError(Exception):
    """Base of every error raised by ``hearth_mls``."""


class PeerError(MLSError):
    """Input from a peer (or the Delivery Service) is invalid and was rejected."""


class DecodeError(PeerError):
    """Bytes do not decode as the named struct (RFC 9420 §2.1 presentation language).

    ``struct`` names what was being decoded, so a caller can report it.
    """

    def __init__(self, struct: str, reason: str) -> None:
        super().__init__(f"{struct}: {reason}")
        self.struct = struct
        self.reason = reason


class UsageError(MLSError):
    """The caller asked for something impossible (wrong argument or state)."""


class TreeIndexError(UsageError):
    """A node index outside the tree, or the children of a leaf (RFC 9420 Appendix C)."""
