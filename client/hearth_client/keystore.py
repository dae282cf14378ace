"""The client's identity and key store, sealed under a passphrase (issue 5, DESIGN.md principle 2).

What it keeps, per room membership (never shared between rooms, so members
cannot link one person across rooms): the Ed25519 key that authenticates the
connection for that room (protocol.md §3.2), the MLS signature key and the
credential identity (RFC 9420 §5.3), the pseudonym, the pending KeyPackages'
private keys (RFC 9420 §10) until a Welcome uses them, and the room's MLS group
state (:meth:`hearth_mls.group.Group.to_bytes`), rewritten after every change.

Profile directory layout::

    <profile>/                 mode 0700
      keystore.hks             memberships, keys and pending KeyPackages (sealed), 0600
      groups/                  mode 0700
        <membership id>.hgs    one sealed MLS group state per membership, 0600
      .lock                    flock(2)ed while a process has the profile open
      .*.tmp                   a write interrupted by a crash; ignored, removed on open

Keys (nothing is ever written in the clear)::

    KEK  = Argon2id(passphrase, salt, t, m, p) -> 32 bytes (RFC 9106; cryptography)
    DEK  = 32 random bytes, made once, stored wrapped by the KEK, so a passphrase
           change rewrites only keystore.hks
    file key = HKDF-SHA256(DEK, salt = file_salt, info = "hearth-keystore-v1 " kind name)
           with a fresh 16-byte file_salt and 12-byte nonce on every write
    AEAD = ChaCha20-Poly1305 (RFC 8439); the AAD is the file's whole header

``keystore.hks`` (integers big-endian)::

    magic "HEARTHKS" | format u16 | kdf u8 (1 = Argon2id) | t u32 | m_kib u32 | p u32
    | salt 16 | verifier 16 | aead u8 (1 = ChaCha20-Poly1305) | wrap_nonce 12
    | wrapped_dek 48 | file_salt 16 | nonce 12 || AEAD(body)

``verifier`` = HKDF(KEK, info "hearth-keystore-v1 verifier")[:16]: a wrong
passphrase (or altered KDF fields) fails it, giving :class:`WrongPassphraseError`;
with the right passphrase any other alteration fails an AEAD tag, giving
:class:`KeystoreTamperedError`. The body is a MessagePack map (msgspec) whose
schema is ``format``; :data:`MIGRATIONS` upgrades older bodies step by step on
open (as python-doubleratchet's migrations do), then the store is rewritten.

``<id>.hgs``::

    magic "HEARTHGS" | format u16 | aead u8 | dek_id 16 | file_salt 16 | nonce 12
    || AEAD(group state), AAD = header || membership id

``dek_id`` names the DEK (a file from another store is refused), and the
membership id in the AAD stops one room's state from being swapped for another's.

Every write is atomic: write a temporary file in the same directory, fsync it,
rename it over the old one, fsync the directory; a crash leaves the old or the
new file, never a torn one. One process at a time may hold a profile open.

Exception tree (blame in the type)::

    KeystoreError
     +-- WrongPassphraseError      the passphrase does not open this store (the user)
     +-- KeystoreCorruptError      the files are damaged or altered (storage, attacker)
     |    +-- KeystoreFormatError     not a Hearth keystore file, or a malformed header
     |    +-- KeystoreTamperedError   authentication failed although the passphrase is right
     +-- KeystoreVersionError      written by a newer Hearth (format unknown here)
     +-- KeystoreUsageError        the caller's mistake (no such membership, store exists...)
"""

from __future__ import annotations

import fcntl
import os
import secrets
import struct
import time
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import msgspec
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.argon2 import Argon2id
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from hearth_core.room_state import has_forbidden_characters
from hearth_mls import suite
from hearth_mls.join import KeyPackageSecrets
from hearth_mls.key_package import KeyPackage

KEYSTORE_FILE = "keystore.hks"
LOCK_FILE = ".lock"
GROUPS_DIR = "groups"
GROUP_SUFFIX = ".hgs"

#: Schema version of the keystore body; bump it and add a migration when it changes.
FORMAT_VERSION = 1
#: Version of the group file layout.
GROUP_FORMAT_VERSION = 1

_MAGIC = b"HEARTHKS"
_GROUP_MAGIC = b"HEARTHGS"
_KDF_ARGON2ID = 1
_AEAD_CHACHA20 = 1
_LABEL = b"hearth-keystore-v1 "
# magic, format, kdf, t, m, p, salt, verifier, aead, wrap_nonce, wrapped_dek, file_salt, nonce
_HEADER = struct.Struct(">8sHBIII16s16sB12s48s16s12s")
# magic, format, aead, dek_id, file_salt, nonce
_GROUP_HEADER = struct.Struct(">8sHB16s16s12s")
_KDF_END = 8 + 2 + 1 + 12 + 16  # magic .. salt: the AAD of the DEK wrap
_PREFIX_END = _KDF_END + 16 + 1 + 12 + 48  # .. wrapped_dek: the part a passphrase sets

#: Upper bounds on KDF parameters read from a file (a hostile file must not exhaust memory).
MAX_ITERATIONS = 16
MAX_MEMORY_KIB = 1 << 20
MAX_LANES = 16


class KeystoreError(Exception):
    """Root of the keystore's exception tree."""


class WrongPassphraseError(KeystoreError):
    """The passphrase does not open this keystore (or its KDF fields were altered)."""


class KeystoreCorruptError(KeystoreError):
    """The keystore's files are damaged or were altered."""


class KeystoreFormatError(KeystoreCorruptError):
    """Not a Hearth keystore file, or its header is malformed."""


class KeystoreTamperedError(KeystoreCorruptError):
    """A sealed part fails authentication although the passphrase is right."""


class KeystoreVersionError(KeystoreError):
    """The file was written by a newer Hearth: its format version is unknown here."""


class KeystoreUsageError(KeystoreError, ValueError):
    """The caller asked for something invalid (unknown membership, existing store...)."""


@dataclass(frozen=True, slots=True)
class KdfParams:
    """Argon2id cost (RFC 9106): ``t`` passes, ``memory_kib`` KiB, ``lanes`` lanes."""

    iterations: int = 3
    memory_kib: int = 64 * 1024
    lanes: int = 4

    def __post_init__(self) -> None:
        if not 1 <= self.lanes <= MAX_LANES:
            raise KeystoreUsageError(f"lanes must be 1..{MAX_LANES}")
        if not 1 <= self.iterations <= MAX_ITERATIONS:
            raise KeystoreUsageError(f"iterations must be 1..{MAX_ITERATIONS}")
        if not 8 * self.lanes <= self.memory_kib <= MAX_MEMORY_KIB:
            raise KeystoreUsageError(f"memory_kib must be {8 * self.lanes}..{MAX_MEMORY_KIB}")

    def derive(self, passphrase: bytes, salt: bytes) -> bytes:
        return Argon2id(
            salt=salt,
            length=32,
            iterations=self.iterations,
            lanes=self.lanes,
            memory_cost=self.memory_kib,
        ).derive(passphrase)


# --- the sealed body ---------------------------------------------------------------------

Key32 = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
MembershipId = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{32}$")]


class Membership(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One room membership's private identity (never shared with another room)."""

    membership_id: MembershipId
    server: str
    pseudonym: str
    #: Ed25519 private key authenticating the connection for this room (protocol.md §3.2).
    auth_key: Key32
    #: Ed25519 private key signing this member's MLS messages (RFC 9420 §5.1.2).
    signature_key: Key32
    #: The basic credential's identity (RFC 9420 §5.3): the auth public key.
    credential_identity: bytes
    created_at: int
    room_id: str | None = None

    def __repr__(self) -> str:  # never print private keys, pseudonyms or room ids into logs
        return f"Membership({self.membership_id})"

    @property
    def auth_private_key(self) -> Ed25519PrivateKey:
        return Ed25519PrivateKey.from_private_bytes(self.auth_key)

    @property
    def auth_identity(self) -> bytes:
        """The raw 32-byte public key the server knows this membership by."""
        return self.auth_private_key.public_key().public_bytes_raw()

    @property
    def signature_public_key(self) -> bytes:
        return suite.signature_public_key(self.signature_key)


class PendingKeyPackage(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A KeyPackage uploaded to the server whose private keys wait for a Welcome (§10)."""

    ref: bytes
    membership_id: MembershipId
    key_package: bytes
    init_priv: Key32
    encryption_priv: Key32
    created_at: int

    def __repr__(self) -> str:
        return f"PendingKeyPackage({self.ref.hex()[:16]})"


class KeystoreBody(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    memberships: tuple[Membership, ...] = ()
    key_packages: tuple[PendingKeyPackage, ...] = ()


Migration = Callable[[dict[str, Any]], dict[str, Any]]

#: ``MIGRATIONS[n]`` turns a body of format ``n`` (decoded to plain data) into format
#: ``n + 1``. Format 1 is the first, so the table is empty until the body changes.
MIGRATIONS: dict[int, Migration] = {}


def migrate(
    raw: dict[str, Any],
    version: int,
    *,
    target: int = FORMAT_VERSION,
    table: Mapping[int, Migration] = MIGRATIONS,
) -> dict[str, Any]:
    """Apply the migrations from ``version`` up to ``target``, one step at a time."""
    if version > target:
        raise KeystoreVersionError(f"format {version} is newer than this Hearth's {target}")
    while version < target:
        step = table.get(version)
        if step is None:
            raise KeystoreVersionError(f"no migration from format {version}")
        raw = step(raw)
        version += 1
    return raw


# --- files -------------------------------------------------------------------------------


def atomic_write(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` so a crash leaves the old or the new file.

    Temporary file in the same directory, fsync, rename over, fsync the directory.
    """
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _hkdf(key: bytes, salt: bytes | None, info: bytes, length: int = 32) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=salt, info=_LABEL + info).derive(key)


def _seal(key: bytes, nonce: bytes, plaintext: bytes, aad: bytes) -> bytes:
    return ChaCha20Poly1305(key).encrypt(nonce, plaintext, aad)


def _open(key: bytes, nonce: bytes, ciphertext: bytes, aad: bytes, what: str) -> bytes:
    try:
        return ChaCha20Poly1305(key).decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        raise KeystoreTamperedError(f"{what} fails authentication") from None


def _passphrase_bytes(passphrase: str) -> bytes:
    """UTF-8 of the NFC form, so one passphrase typed on different keyboards opens the store."""
    return unicodedata.normalize("NFC", passphrase).encode()


def _check_pseudonym(pseudonym: str) -> None:
    if not 1 <= len(pseudonym) <= 64 or not pseudonym.strip():
        raise KeystoreUsageError("a pseudonym has 1..64 characters and is not blank")
    if has_forbidden_characters(pseudonym) or "\n" in pseudonym or "\t" in pseudonym:
        raise KeystoreUsageError("a pseudonym is one line without control characters")


_BODY_ENCODER = msgspec.msgpack.Encoder()


def _lock_profile(profile: Path) -> int:
    fd = os.open(profile / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise KeystoreUsageError(f"{profile} is open in another Hearth process") from None
    return fd


class Keystore:
    """An open profile: the decrypted body in memory, every change sealed to disk first.

    Use as a context manager (or call :meth:`close`) to release the profile lock.
    """

    def __init__(
        self, profile: Path, dek: bytes, kdf: KdfParams, body: KeystoreBody, lock_fd: int
    ) -> None:
        self._lock_fd: int | None = lock_fd
        self._profile = profile
        self._dek = dek
        self._kdf = kdf
        self._body = body
        self._dek_id = _hkdf(dek, None, b"dek id", 16)
        self._prefix = b""

    # --- opening -----------------------------------------------------------------------

    @classmethod
    def create(cls, profile: Path, passphrase: str, *, kdf: KdfParams | None = None) -> Keystore:
        """A new, empty store in ``profile`` (KeystoreUsageError if one exists there)."""
        profile = Path(profile)
        profile.mkdir(mode=0o700, parents=True, exist_ok=True)
        (profile / GROUPS_DIR).mkdir(mode=0o700, exist_ok=True)
        lock = _lock_profile(profile)
        if (profile / KEYSTORE_FILE).exists():
            os.close(lock)
            raise KeystoreUsageError(f"a keystore already exists in {profile}")
        store = cls(profile, os.urandom(32), kdf or KdfParams(), KeystoreBody(), lock)
        try:
            store._write_body(store._body, store._wrap(passphrase, None, None, store._kdf))
        except BaseException:
            store.close()
            raise
        return store

    @classmethod
    def open(cls, profile: Path, passphrase: str) -> Keystore:
        """Unlock the store in ``profile`` (module doc for the errors)."""
        profile = Path(profile)
        if not (profile / KEYSTORE_FILE).exists():
            raise KeystoreUsageError(f"no keystore in {profile}")
        lock = _lock_profile(profile)
        try:
            return cls._open_locked(profile, passphrase, lock)
        except BaseException:
            os.close(lock)
            raise

    @classmethod
    def _open_locked(cls, profile: Path, passphrase: str, lock: int) -> Keystore:
        try:
            data = (profile / KEYSTORE_FILE).read_bytes()
        except FileNotFoundError:
            raise KeystoreUsageError(f"no keystore in {profile}") from None
        if len(data) < _HEADER.size + 16:
            raise KeystoreFormatError("the keystore file is truncated")
        fields = _HEADER.unpack_from(data)
        magic, version, kdf_id, t, m, p, salt, verifier, aead, wrap_nonce, wrapped = fields[:11]
        file_salt, nonce = fields[11:]
        if magic != _MAGIC:
            raise KeystoreFormatError("not a Hearth keystore file")
        if kdf_id != _KDF_ARGON2ID or aead != _AEAD_CHACHA20:
            raise KeystoreFormatError(f"unknown KDF {kdf_id} or AEAD {aead}")
        if version > FORMAT_VERSION:
            raise KeystoreVersionError(f"format {version} is newer than {FORMAT_VERSION}")
        try:
            kdf = KdfParams(t, m, p)
        except KeystoreUsageError as exc:
            raise KeystoreFormatError(f"KDF parameters out of range: {exc}") from None
        kek = kdf.derive(_passphrase_bytes(passphrase), salt)
        if not secrets.compare_digest(_hkdf(kek, None, b"verifier", 16), verifier):
            raise WrongPassphraseError("wrong passphrase")
        header = data[: _HEADER.size]
        dek = _open(kek, wrap_nonce, wrapped, header[:_KDF_END], "the wrapped data key")
        key = _hkdf(dek, file_salt, b"keystore")
        plain = _open(key, nonce, data[_HEADER.size :], header, "the keystore body")
        try:
            raw = msgspec.msgpack.decode(plain)
            if not isinstance(raw, dict):
                raise KeystoreFormatError("the keystore body is not a map")
            body = msgspec.convert(migrate(raw, version), KeystoreBody)
        except (msgspec.DecodeError, msgspec.ValidationError) as exc:
            raise KeystoreFormatError(f"the keystore body is malformed: {exc}") from None
        store = cls(profile, dek, kdf, body, lock)
        if version < FORMAT_VERSION:
            store._write_body(body, store._wrap(None, kek, salt, kdf))
        else:
            store._prefix = header[:_PREFIX_END]
        store._remove_leftovers()
        return store

    def close(self) -> None:
        """Release the profile (the keys stay in memory until the object is dropped)."""
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    def __enter__(self) -> Keystore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def change_passphrase(self, new_passphrase: str, *, kdf: KdfParams | None = None) -> None:
        """Re-wrap the data key under a new passphrase (rewrites keystore.hks only)."""
        kdf = kdf or self._kdf
        self._write_body(self._body, self._wrap(new_passphrase, None, None, kdf))
        self._kdf = kdf

    def _remove_leftovers(self) -> None:
        """Temporary files of interrupted writes, and group files of forgotten memberships."""
        for directory in (self._profile, self._profile / GROUPS_DIR):
            for leftover in directory.glob(".*.tmp"):
                leftover.unlink(missing_ok=True)
        known = {m.membership_id for m in self._body.memberships}
        for group_file in (self._profile / GROUPS_DIR).glob(f"*{GROUP_SUFFIX}"):
            if group_file.name.removesuffix(GROUP_SUFFIX) not in known:
                group_file.unlink(missing_ok=True)

    def _wrap(
        self, passphrase: str | None, kek: bytes | None, salt: bytes | None, kdf: KdfParams
    ) -> bytes:
        """Set the header's KDF part: Argon2id parameters, salt, verifier, wrapped DEK."""
        if passphrase is not None:
            salt = os.urandom(16)
            if not passphrase:
                raise KeystoreUsageError("the passphrase is empty")
            kek = kdf.derive(_passphrase_bytes(passphrase), salt)
        assert kek is not None
        assert salt is not None
        k = kdf
        kdf_part = struct.pack(
            ">8sHBIII16s", _MAGIC, FORMAT_VERSION, _KDF_ARGON2ID, k.iterations, k.memory_kib,
            k.lanes, salt,
        )  # fmt: skip
        verifier = _hkdf(kek, None, b"verifier", 16)
        wrap_nonce = os.urandom(12)
        wrapped = _seal(kek, wrap_nonce, self._dek, kdf_part)
        return kdf_part + verifier + bytes([_AEAD_CHACHA20]) + wrap_nonce + wrapped

    def _write_body(self, body: KeystoreBody, prefix: bytes | None = None) -> None:
        """Seal ``body`` under a fresh file salt and nonce, atomically; then adopt it.

        ``prefix`` is a new KDF part of the header (new passphrase), adopted with it.
        """
        self._check_open()
        prefix = self._prefix if prefix is None else prefix
        file_salt, nonce = os.urandom(16), os.urandom(12)
        header = prefix + file_salt + nonce
        assert len(header) == _HEADER.size
        key = _hkdf(self._dek, file_salt, b"keystore")
        sealed = _seal(key, nonce, _BODY_ENCODER.encode(body), header)
        atomic_write(self._profile / KEYSTORE_FILE, header + sealed)
        self._body = body
        self._prefix = prefix

    # --- memberships -------------------------------------------------------------------

    def memberships(self) -> tuple[Membership, ...]:
        return self._body.memberships

    def membership(self, membership_id: str) -> Membership:
        for membership in self._body.memberships:
            if membership.membership_id == membership_id:
                return membership
        raise KeystoreUsageError(f"no membership {membership_id}")

    def membership_for_room(self, server: str, room_id: str) -> Membership:
        for membership in self._body.memberships:
            if (membership.server, membership.room_id) == (server, room_id):
                return membership
        raise KeystoreUsageError("no membership for that room")

    def new_membership(self, server: str, pseudonym: str) -> Membership:
        """Fresh keys for a room about to be created or joined (never reused elsewhere)."""
        _check_pseudonym(pseudonym)
        auth = Ed25519PrivateKey.generate()
        membership = Membership(
            membership_id=secrets.token_hex(16),
            server=server,
            pseudonym=pseudonym,
            auth_key=auth.private_bytes_raw(),
            signature_key=suite.generate_signature_key_pair()[0],
            credential_identity=auth.public_key().public_bytes_raw(),
            created_at=int(time.time()),
        )
        memberships = (*self._body.memberships, membership)
        self._write_body(msgspec.structs.replace(self._body, memberships=memberships))
        return membership

    def bind_room(self, membership_id: str, room_id: str) -> Membership:
        """Record the server's room id once the room is created or joined."""
        old = self.membership(membership_id)
        if old.room_id is not None and old.room_id != room_id:
            raise KeystoreUsageError("this membership is already bound to another room")
        for other in self._body.memberships:
            if other is not old and (other.server, other.room_id) == (old.server, room_id):
                raise KeystoreUsageError("another membership is bound to that room")
        new = msgspec.structs.replace(old, room_id=room_id)
        memberships = tuple(new if m is old else m for m in self._body.memberships)
        self._write_body(msgspec.structs.replace(self._body, memberships=memberships))
        return new

    def forget_membership(self, membership_id: str) -> None:
        """Delete a membership, its pending KeyPackages and its group state (after leaving)."""
        old = self.membership(membership_id)
        group_file = self._group_path(membership_id)
        body = KeystoreBody(
            tuple(m for m in self._body.memberships if m is not old),
            tuple(k for k in self._body.key_packages if k.membership_id != membership_id),
        )
        self._write_body(body)
        group_file.unlink(missing_ok=True)
        _fsync_dir(self._profile / GROUPS_DIR)

    # --- pending KeyPackages -----------------------------------------------------------

    def add_key_package(self, membership_id: str, secrets_: KeyPackageSecrets) -> bytes:
        """Keep a KeyPackage's private keys until a Welcome uses them; returns its ref."""
        membership = self.membership(membership_id)
        if secrets_.signature_priv != membership.signature_key:
            raise KeystoreUsageError("the KeyPackage is not signed with this membership's key")
        identity = secrets_.key_package.leaf_node.credential.identity
        if identity != membership.credential_identity:
            raise KeystoreUsageError("the KeyPackage's credential is not this membership's")
        pending = PendingKeyPackage(
            ref=secrets_.ref,
            membership_id=membership_id,
            key_package=secrets_.key_package.to_bytes(),
            init_priv=secrets_.init_priv,
            encryption_priv=secrets_.encryption_priv,
            created_at=int(time.time()),
        )
        if any(k.ref == pending.ref for k in self._body.key_packages):
            raise KeystoreUsageError("that KeyPackage is already stored")
        key_packages = (*self._body.key_packages, pending)
        self._write_body(msgspec.structs.replace(self._body, key_packages=key_packages))
        return pending.ref

    def key_package_refs(self, membership_id: str) -> tuple[bytes, ...]:
        return tuple(k.ref for k in self._body.key_packages if k.membership_id == membership_id)

    def key_package(self, ref: bytes) -> tuple[str, KeyPackageSecrets]:
        """The membership id and private keys of a pending KeyPackage (still stored)."""
        for pending in self._body.key_packages:
            if pending.ref == ref:
                membership = self.membership(pending.membership_id)
                secrets_ = KeyPackageSecrets(
                    KeyPackage.from_bytes(pending.key_package),
                    pending.init_priv,
                    pending.encryption_priv,
                    membership.signature_key,
                )
                return pending.membership_id, secrets_
        raise KeystoreUsageError(f"no pending KeyPackage {ref.hex()[:16]}")

    def discard_key_package(self, ref: bytes) -> None:
        """Forget a KeyPackage once used (one-time use, RFC 9420 §10) or expired."""
        self.key_package(ref)
        key_packages = tuple(k for k in self._body.key_packages if k.ref != ref)
        self._write_body(msgspec.structs.replace(self._body, key_packages=key_packages))

    # --- MLS group state ---------------------------------------------------------------

    def _check_open(self) -> None:
        if self._lock_fd is None:
            raise KeystoreUsageError("the keystore is closed")

    def _group_path(self, membership_id: str) -> Path:
        self._check_open()
        self.membership(membership_id)
        return self._profile / GROUPS_DIR / f"{membership_id}{GROUP_SUFFIX}"

    def save_group(self, membership_id: str, state: bytes) -> None:
        """Seal and atomically replace the membership's group state.

        Pass it as ``on_change`` of :class:`hearth_mls.group.Group`, so every epoch
        change is on disk before the client acts on it.
        """
        path = self._group_path(membership_id)
        file_salt, nonce = os.urandom(16), os.urandom(12)
        header = _GROUP_HEADER.pack(
            _GROUP_MAGIC, GROUP_FORMAT_VERSION, _AEAD_CHACHA20, self._dek_id, file_salt, nonce
        )
        key = _hkdf(self._dek, file_salt, b"group " + membership_id.encode())
        aad = header + membership_id.encode()
        atomic_write(path, header + _seal(key, nonce, state, aad))

    def load_group(self, membership_id: str) -> bytes | None:
        """The membership's last saved group state, or None if none was saved."""
        path = self._group_path(membership_id)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        if len(data) < _GROUP_HEADER.size + 16:
            raise KeystoreFormatError("the group state file is truncated")
        magic, version, aead, dek_id, file_salt, nonce = _GROUP_HEADER.unpack_from(data)
        if magic != _GROUP_MAGIC or aead != _AEAD_CHACHA20:
            raise KeystoreFormatError("not a Hearth group state file")
        if version != GROUP_FORMAT_VERSION:
            raise KeystoreVersionError(f"group state file format {version}")
        if dek_id != self._dek_id:
            raise KeystoreTamperedError("the group state file belongs to another keystore")
        header = data[: _GROUP_HEADER.size]
        key = _hkdf(self._dek, file_salt, b"group " + membership_id.encode())
        aad = header + membership_id.encode()
        return _open(key, nonce, data[_GROUP_HEADER.size :], aad, "the group state")


__all__ = [
    "FORMAT_VERSION",
    "GROUP_FORMAT_VERSION",
    "MIGRATIONS",
    "KdfParams",
    "Keystore",
    "KeystoreBody",
    "KeystoreCorruptError",
    "KeystoreError",
    "KeystoreFormatError",
    "KeystoreTamperedError",
    "KeystoreUsageError",
    "KeystoreVersionError",
    "Membership",
    "PendingKeyPackage",
    "WrongPassphraseError",
    "atomic_write",
    "migrate",
]
