"""Extensions (RFC 9420 §13.3) and the GroupContext that carries them (§8.1)."""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer

# Extension types, RFC 9420 §17.3.
APPLICATION_ID = 0x0001
RATCHET_TREE = 0x0002
REQUIRED_CAPABILITIES = 0x0003
EXTERNAL_PUB = 0x0004
EXTERNAL_SENDERS = 0x0005

#: Protocol version mls10 (§6).
MLS10 = 1
#: MLS_128_DHKEMX25519_AES128GCM_SHA256_Ed25519 (§17.1).
CIPHERSUITE_1 = 1


@dataclass(frozen=True, slots=True)
class Extension:
    """``struct { ExtensionType extension_type; opaque extension_data<V>; }`` (§13.3)."""

    extension_type: int
    extension_data: bytes

    def encode(self, w: Writer) -> None:
        w.uint16(self.extension_type).opaque(self.extension_data)

    @staticmethod
    def decode(r: Reader) -> Extension:
        return Extension(r.uint16(), r.opaque())


def encode_extensions(w: Writer, extensions: tuple[Extension, ...]) -> None:
    w.vector(extensions, lambda w2, e: e.encode(w2))


def decode_extensions(r: Reader) -> tuple[Extension, ...]:
    """``Extension extensions<V>``; a type may appear at most once (RFC 9420 §13)."""
    extensions = tuple(r.vector(Extension.decode))
    seen: set[int] = set()
    for extension in extensions:
        if extension.extension_type in seen:
            raise r.error(f"extension type {extension.extension_type} appears twice (§13)")
        seen.add(extension.extension_type)
    return extensions


@dataclass(frozen=True, slots=True)
class GroupContext:
    """The group's shared state summary (RFC 9420 §8.1)."""

    group_id: bytes
    epoch: int
    tree_hash: bytes
    confirmed_transcript_hash: bytes
    extensions: tuple[Extension, ...] = ()
    cipher_suite: int = CIPHERSUITE_1
    version: int = MLS10

    def encode(self, w: Writer) -> None:
        w.uint16(self.version).uint16(self.cipher_suite).opaque(self.group_id)
        w.uint64(self.epoch).opaque(self.tree_hash).opaque(self.confirmed_transcript_hash)
        encode_extensions(w, self.extensions)

    def to_bytes(self) -> bytes:
        w = Writer()
        self.encode(w)
        return w.getvalue()

    @staticmethod
    def decode(r: Reader) -> GroupContext:
        version = r.uint16()
        cipher_suite = r.uint16()
        return GroupContext(
            group_id=r.opaque(),
            epoch=r.uint64(),
            tree_hash=r.opaque(),
            confirmed_transcript_hash=r.opaque(),
            extensions=decode_extensions(r),
            cipher_suite=cipher_suite,
            version=version,
        )
