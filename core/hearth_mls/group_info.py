"""GroupInfo: the signed description of a group's current epoch (RFC 9420 §12.4.3).

A joiner reads it from a Welcome (encrypted) or, for an external join, in the
clear (§12.4.3.2). The signer signs the ``GroupInfoTBS`` encoding of
:meth:`GroupInfo.to_be_signed` with ``SignWithLabel(., "GroupInfoTBS", ...)``;
verification needs the cipher suite and lives in ``suite``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer
from hearth_mls.extensions import Extension, GroupContext, decode_extensions, encode_extensions
from hearth_mls.wire import MAC, SignedStruct


@dataclass(frozen=True, slots=True)
class GroupInfo(SignedStruct):
    """``GroupInfo`` (§12.4.3): context, extensions, confirmation tag, signer and signature."""

    SIGN_LABEL = "GroupInfoTBS"

    group_context: GroupContext
    confirmation_tag: MAC
    signer: int
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""

    def _encode_content(self, w: Writer) -> None:
        self.group_context.encode(w)
        encode_extensions(w, self.extensions)
        w.opaque(self.confirmation_tag).uint32(self.signer)

    @classmethod
    def _decode_fields(cls, r: Reader) -> GroupInfo:
        outer = r.struct
        r.struct = "GroupContext"
        try:
            context = GroupContext.decode(r)
        finally:
            r.struct = outer
        extensions = decode_extensions(r)
        tag = r.opaque()
        signer = r.uint32()
        return cls(context, tag, signer, extensions, r.opaque())
