"""Leaf nodes: a member's keys, credential and capabilities (RFC 9420 §7.2).

:class:`LeafNode` is the member's entry in the ratchet tree. Its content depends
on :class:`LeafNodeSource` (a KeyPackage carries a :class:`Lifetime`, a commit
carries a parent hash, an update carries nothing extra), and it is signed over
the ``LeafNodeTBS`` encoding of :meth:`LeafNode.to_be_signed`, which binds the
group and leaf index for the ``update`` and ``commit`` sources.

:class:`Capabilities` lists are kept as plain integers: unknown and GREASE code
points (§13.5) are accepted and carried unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from hearth_mls import suite
from hearth_mls.codec import Reader, Writer
from hearth_mls.credential import Credential
from hearth_mls.errors import UsageError
from hearth_mls.extensions import Extension, decode_extensions, encode_extensions
from hearth_mls.wire import (
    HPKEPublicKey,
    SignaturePublicKey,
    SignedStruct,
    WireStruct,
    decode_enum,
    get_uint16,
    put_uint16,
)


class LeafNodeSource(IntEnum):
    """Where a leaf node came from (§7.2)."""

    KEY_PACKAGE = 1
    UPDATE = 2
    COMMIT = 3


@dataclass(frozen=True, slots=True)
class Capabilities(WireStruct):
    """What a client supports (§7.2); every list may hold GREASE values (§13.5)."""

    versions: tuple[int, ...] = ()
    cipher_suites: tuple[int, ...] = ()
    extensions: tuple[int, ...] = ()
    proposals: tuple[int, ...] = ()
    credentials: tuple[int, ...] = ()

    def encode(self, w: Writer) -> None:
        for values in (
            self.versions,
            self.cipher_suites,
            self.extensions,
            self.proposals,
            self.credentials,
        ):
            w.vector(values, put_uint16)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Capabilities:
        return cls(*(tuple(r.vector(get_uint16)) for _ in range(5)))


@dataclass(frozen=True, slots=True)
class Lifetime(WireStruct):
    """``struct { uint64 not_before; uint64 not_after; } Lifetime`` (§7.2), in seconds."""

    not_before: int
    not_after: int

    def encode(self, w: Writer) -> None:
        w.uint64(self.not_before).uint64(self.not_after)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Lifetime:
        return cls(r.uint64(), r.uint64())


@dataclass(frozen=True, slots=True)
class LeafNode(SignedStruct):
    """A member's leaf in the ratchet tree (§7.2).

    ``lifetime`` is set exactly when the source is ``key_package`` and
    ``parent_hash`` exactly when it is ``commit``.
    """

    SIGN_LABEL = "LeafNodeTBS"

    encryption_key: HPKEPublicKey
    signature_key: SignaturePublicKey
    credential: Credential
    capabilities: Capabilities
    leaf_node_source: LeafNodeSource
    extensions: tuple[Extension, ...] = ()
    signature: bytes = b""
    lifetime: Lifetime | None = None
    parent_hash: bytes | None = None

    def __post_init__(self) -> None:
        source = self.leaf_node_source
        if (self.lifetime is not None) != (source is LeafNodeSource.KEY_PACKAGE):
            raise UsageError("a leaf node has a lifetime exactly when its source is key_package")
        if (self.parent_hash is not None) != (source is LeafNodeSource.COMMIT):
            raise UsageError("a leaf node has a parent hash exactly when its source is commit")

    def _encode_content(self, w: Writer) -> None:
        w.opaque(self.encryption_key).opaque(self.signature_key)
        self.credential.encode(w)
        self.capabilities.encode(w)
        w.uint8(self.leaf_node_source)
        if self.lifetime is not None:
            self.lifetime.encode(w)
        elif self.parent_hash is not None:
            w.opaque(self.parent_hash)
        encode_extensions(w, self.extensions)

    def to_be_signed(self, group_id: bytes | None = None, leaf_index: int | None = None) -> bytes:
        """The ``LeafNodeTBS`` encoding (§7.2).

        ``group_id`` and ``leaf_index`` are required for the ``update`` and
        ``commit`` sources and must be omitted for ``key_package``.
        """
        w = Writer()
        self._encode_content(w)
        if self.leaf_node_source is LeafNodeSource.KEY_PACKAGE:
            if group_id is not None or leaf_index is not None:
                raise UsageError("a key_package leaf node is signed without group context")
        else:
            if group_id is None or leaf_index is None:
                raise UsageError(
                    f"a {self.leaf_node_source.name.lower()} leaf node is signed with "
                    "its group_id and leaf_index"
                )
            w.opaque(group_id).uint32(leaf_index)
        return w.getvalue()

    def signed(
        self,
        signature_priv: suite.SignaturePrivateKey,
        group_id: bytes | None = None,
        leaf_index: int | None = None,
    ) -> LeafNode:
        """A copy signed over ``LeafNodeTBS`` (§7.2); see :meth:`to_be_signed`."""
        tbs = self.to_be_signed(group_id, leaf_index)
        return self.with_signature(suite.sign_with_label(signature_priv, self.SIGN_LABEL, tbs))

    @classmethod
    def _decode_fields(cls, r: Reader) -> LeafNode:
        encryption_key = r.opaque()
        signature_key = r.opaque()
        credential = Credential.decode(r)
        capabilities = Capabilities.decode(r)
        source = decode_enum(r, LeafNodeSource, r.uint8())
        lifetime = Lifetime.decode(r) if source is LeafNodeSource.KEY_PACKAGE else None
        parent_hash = r.opaque() if source is LeafNodeSource.COMMIT else None
        extensions = decode_extensions(r)
        signature = r.opaque()
        return cls(
            encryption_key=encryption_key,
            signature_key=signature_key,
            credential=credential,
            capabilities=capabilities,
            leaf_node_source=source,
            extensions=extensions,
            signature=signature,
            lifetime=lifetime,
            parent_hash=parent_hash,
        )
