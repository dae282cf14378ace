"""Pre-shared keys: the psk_secret that feeds the key schedule (RFC 9420 §8.4).

::

    psk_extracted_[i] = KDF.Extract(0, psk_[i])
    psk_input_[i]     = ExpandWithLabel(psk_extracted_[i], "derived psk", PSKLabel, Nh)
    psk_secret_[0]    = 0
    psk_secret_[i]    = KDF.Extract(salt=psk_input_[i-1], ikm=psk_secret_[i-1])
    psk_secret        = psk_secret_[n]
"""

from __future__ import annotations

from collections.abc import Sequence

from hearth_mls import suite
from hearth_mls.codec import Writer
from hearth_mls.errors import UsageError
from hearth_mls.proposals import PreSharedKeyID

_ZERO = bytes(suite.NH)


def psk_label(psk_id: PreSharedKeyID, index: int, count: int) -> bytes:
    """``struct { PreSharedKeyID id; uint16 index; uint16 count; } PSKLabel`` (§8.4)."""
    w = Writer()
    psk_id.encode(w)
    return w.uint16(index).uint16(count).getvalue()


def psk_secret(psks: Sequence[tuple[PreSharedKeyID, bytes]]) -> bytes:
    """Chain ``(id, psk)`` pairs, in proposal order, into psk_secret (§8.4).

    No PSKs give the all-zero secret.
    """
    count = len(psks)
    if count > 0xFFFF:
        raise UsageError(f"{count} PSKs do not fit PSKLabel's uint16 count")
    secret = _ZERO
    for index, (psk_id, psk) in enumerate(psks):
        extracted = suite.extract(_ZERO, psk)
        psk_input = suite.expand_with_label(
            extracted, "derived psk", psk_label(psk_id, index, count), suite.NH
        )
        secret = suite.extract(psk_input, secret)
    return secret
