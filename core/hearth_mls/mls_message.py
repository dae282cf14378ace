"""``MLSMessage``: the envelope of everything MLS sends (RFC 9420 §6).

A protocol version (only ``mls10`` is accepted) and a wire format select the
body: :class:`~hearth_mls.framing.PublicMessage`,
:class:`~hearth_mls.framing.PrivateMessage`,
:class:`~hearth_mls.welcome_structs.Welcome`,
:class:`~hearth_mls.group_info.GroupInfo` or
:class:`~hearth_mls.key_package.KeyPackage`.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer
from hearth_mls.extensions import MLS10
from hearth_mls.framing import PrivateMessage, PublicMessage, WireFormat
from hearth_mls.group_info import GroupInfo
from hearth_mls.key_package import KeyPackage
from hearth_mls.welcome_structs import Welcome
from hearth_mls.wire import WireStruct, decode_enum

MessageBody = PublicMessage | PrivateMessage | Welcome | GroupInfo | KeyPackage

_FORMAT_OF: dict[type[WireStruct], WireFormat] = {
    PublicMessage: WireFormat.PUBLIC_MESSAGE,
    PrivateMessage: WireFormat.PRIVATE_MESSAGE,
    Welcome: WireFormat.WELCOME,
    GroupInfo: WireFormat.GROUP_INFO,
    KeyPackage: WireFormat.KEY_PACKAGE,
}
_BODY_OF: dict[WireFormat, type[MessageBody]] = {v: k for k, v in _FORMAT_OF.items()}  # type: ignore[misc]


@dataclass(frozen=True, slots=True)
class MLSMessage(WireStruct):
    """``struct { ProtocolVersion version; WireFormat wire_format; select ... }`` (§6)."""

    body: MessageBody
    version: int = MLS10

    @property
    def wire_format(self) -> WireFormat:
        return _FORMAT_OF[type(self.body)]

    def encode(self, w: Writer) -> None:
        w.uint16(self.version).uint16(self.wire_format)
        self.body.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> MLSMessage:
        version = r.uint16()
        if version != MLS10:
            raise r.error(f"unsupported protocol version {version}")
        wire_format = decode_enum(r, WireFormat, r.uint16())
        return cls(_BODY_OF[wire_format].decode(r), version)
