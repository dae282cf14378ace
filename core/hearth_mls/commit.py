"""Commits and UpdatePaths (RFC 9420 §12.4, §7.6).

A :class:`Commit` lists proposals (inline or by reference) and optionally an
:class:`UpdatePath`: the committer's fresh leaf and, for each node of its
filtered direct path, a new public key with the path secret encrypted to the
copath resolution as :class:`HPKECiphertext` values. :class:`HPKECiphertext` is
also what a Welcome uses to carry GroupSecrets (§12.4.3).
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer
from hearth_mls.leaf_node import LeafNode
from hearth_mls.proposals import ProposalOrRef
from hearth_mls.wire import HPKEPublicKey, WireStruct, put_struct


@dataclass(frozen=True, slots=True)
class HPKECiphertext(WireStruct):
    """``struct { opaque kem_output<V>; opaque ciphertext<V>; } HPKECiphertext`` (§7.6)."""

    kem_output: bytes
    ciphertext: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.kem_output).opaque(self.ciphertext)

    @classmethod
    def _decode_fields(cls, r: Reader) -> HPKECiphertext:
        return cls(r.opaque(), r.opaque())


@dataclass(frozen=True, slots=True)
class UpdatePathNode(WireStruct):
    """A new public key for one filtered-direct-path node and its encrypted path secret."""

    encryption_key: HPKEPublicKey
    encrypted_path_secret: tuple[HPKECiphertext, ...] = ()

    def encode(self, w: Writer) -> None:
        w.opaque(self.encryption_key).vector(self.encrypted_path_secret, put_struct)

    @classmethod
    def _decode_fields(cls, r: Reader) -> UpdatePathNode:
        return cls(r.opaque(), tuple(r.vector(HPKECiphertext.decode)))


@dataclass(frozen=True, slots=True)
class UpdatePath(WireStruct):
    """``struct { LeafNode leaf_node; UpdatePathNode nodes<V>; } UpdatePath`` (§7.6)."""

    leaf_node: LeafNode
    nodes: tuple[UpdatePathNode, ...] = ()

    def encode(self, w: Writer) -> None:
        self.leaf_node.encode(w)
        w.vector(self.nodes, put_struct)

    @classmethod
    def _decode_fields(cls, r: Reader) -> UpdatePath:
        return cls(LeafNode.decode(r), tuple(r.vector(UpdatePathNode.decode)))


@dataclass(frozen=True, slots=True)
class Commit(WireStruct):
    """``struct { ProposalOrRef proposals<V>; optional<UpdatePath> path; } Commit`` (§12.4)."""

    proposals: tuple[ProposalOrRef, ...] = ()
    path: UpdatePath | None = None

    def encode(self, w: Writer) -> None:
        w.vector(self.proposals, put_struct)
        w.optional(self.path, put_struct)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Commit:
        return cls(tuple(r.vector(ProposalOrRef.decode)), r.optional(UpdatePath.decode))
