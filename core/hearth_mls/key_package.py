"""KeyPackages: a client's pre-published offer to be added to groups (RFC 9420 §10).

A :class:`KeyPackage` carries an HPKE ``init_key`` (used once, to encrypt the
Welcome's group secrets), the client's :class:`~hearth_mls.leaf_node.LeafNode`
with source ``key_package``, and a signature over the ``KeyPackageTBS``
encoding given by :meth:`KeyPackage.to_be_signed`. Signature checks and the
KeyPackageRef (§5.2) need the cipher suite and live in ``suite``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer
from hearth_mls.extensions import MLS10, Extension, decode_extensions, encode_extensions
from hearth_mls.leaf_node import LeafNode
from hearth_mls.wire import HPKEPublicKey, SignedStruct


@dataclass(frozen=True, slots=True)
class KeyPackage(SignedStruct):
    """``KeyPackage`` (§10); ``version`` and ``cipher_suite`` are raw code points."""

    SIGN_LABEL = "KeyPackageTBS"

    cipher_suite: int
    init_key: HPKEPublicKey
    leaf_node: LeafNode
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    version: int = MLS10

    def _encode_content(self, w: Writer) -> None:
        w.uint16(self.version).uint16(self.cipher_suite).opaque(self.init_key)
        self.leaf_node.encode(w)
        encode_extensions(w, self.extensions)

    @classmethod
    def _decode_fields(cls, r: Reader) -> KeyPackage:
        version = r.uint16()
        cipher_suite = r.uint16()
        init_key = r.opaque()
        leaf_node = LeafNode.decode(r)
        extensions = decode_extensions(r)
        signature = r.opaque()
        return cls(cipher_suite, init_key, leaf_node, extensions, signature, version)
