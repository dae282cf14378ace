"""The Welcome message and the secrets it carries (RFC 9420 §12.4.3.1).

A :class:`Welcome` holds, per new member, an :class:`EncryptedGroupSecrets`
(the member's KeyPackageRef and an HPKE ciphertext of :class:`GroupSecrets`),
and the GroupInfo encrypted under a key derived from the joiner secret.
Decrypting and checking them is welcome processing, not done here.
"""

from __future__ import annotations

from dataclasses import dataclass

from hearth_mls.codec import Reader, Writer
from hearth_mls.commit import HPKECiphertext
from hearth_mls.proposals import PreSharedKeyID
from hearth_mls.wire import KeyPackageRef, WireStruct, put_struct


@dataclass(frozen=True, slots=True)
class PathSecret(WireStruct):
    """``struct { opaque path_secret<V>; } PathSecret`` (§12.4.3.1)."""

    path_secret: bytes

    def encode(self, w: Writer) -> None:
        w.opaque(self.path_secret)

    @classmethod
    def _decode_fields(cls, r: Reader) -> PathSecret:
        return cls(r.opaque())


@dataclass(frozen=True, slots=True)
class GroupSecrets(WireStruct):
    """What a new member needs to enter the epoch (§12.4.3.1)."""

    joiner_secret: bytes
    path_secret: PathSecret | None = None
    psks: tuple[PreSharedKeyID, ...] = ()

    def encode(self, w: Writer) -> None:
        w.opaque(self.joiner_secret)
        w.optional(self.path_secret, put_struct)
        w.vector(self.psks, put_struct)

    @classmethod
    def _decode_fields(cls, r: Reader) -> GroupSecrets:
        joiner_secret = r.opaque()
        path_secret = r.optional(PathSecret.decode)
        return cls(joiner_secret, path_secret, tuple(r.vector(PreSharedKeyID.decode)))


@dataclass(frozen=True, slots=True)
class EncryptedGroupSecrets(WireStruct):
    """GroupSecrets encrypted to one new member's KeyPackage init key (§12.4.3.1)."""

    new_member: KeyPackageRef
    encrypted_group_secrets: HPKECiphertext

    def encode(self, w: Writer) -> None:
        w.opaque(self.new_member)
        self.encrypted_group_secrets.encode(w)

    @classmethod
    def _decode_fields(cls, r: Reader) -> EncryptedGroupSecrets:
        return cls(r.opaque(), HPKECiphertext.decode(r))


@dataclass(frozen=True, slots=True)
class Welcome(WireStruct):
    """``struct { CipherSuite cipher_suite; EncryptedGroupSecrets secrets<V>;
    opaque encrypted_group_info<V>; } Welcome`` (§12.4.3.1)."""

    cipher_suite: int
    secrets: tuple[EncryptedGroupSecrets, ...]
    encrypted_group_info: bytes

    def encode(self, w: Writer) -> None:
        w.uint16(self.cipher_suite).vector(self.secrets, put_struct)
        w.opaque(self.encrypted_group_info)

    @classmethod
    def _decode_fields(cls, r: Reader) -> Welcome:
        suite = r.uint16()
        secrets = tuple(r.vector(EncryptedGroupSecrets.decode))
        return cls(suite, secrets, r.opaque())

    def secrets_for(self, ref: KeyPackageRef) -> EncryptedGroupSecrets | None:
        """The entry addressed to the KeyPackage with reference ``ref``, if any."""
        return next((s for s in self.secrets if s.new_member == ref), None)
