"""Opt-in local history, sealed on disk (issue 6: "no plaintext written to disk unless
the user opts in to local history, which is then encrypted").

Off by default; ``local_history = true`` in the profile's ``client.toml`` turns it
on (:mod:`hearth_client.profile`). The keystore offers no generic sealed-blob API,
so this file has its own key, derived from the same passphrase with its own salt::

    key    = Argon2id(passphrase, salt, t, m, p) -> 32 bytes (RFC 9106)
    header = magic "HEARTHHH" | format u16 | t u32 | m_kib u32 | p u32 | salt 16
    record = length u32 | nonce 12 | ChaCha20-Poly1305(key, nonce, body, AAD = header || index u64)
    body   = JSON [room id, line text]

The record index in the AAD stops records from being reordered, dropped from the
middle or moved to another file. A torn last record (a crash while appending) is
ignored; any other damage raises :class:`HistoryError`.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from rich.text import Text

from hearth_client.keystore import KdfParams

HISTORY_FILE = "history.hhs"
FORMAT_VERSION = 1
_MAGIC = b"HEARTHHH"
_HEADER = struct.Struct(">8sHIII16s")
_LENGTH = struct.Struct(">I")
_INDEX = struct.Struct(">Q")
MAX_RECORD = 1 << 20


class HistoryError(Exception):
    """The history file is damaged, altered, or sealed under another passphrase."""


class LocalHistory:
    """The append-only sealed history of one profile (module doc)."""

    def __init__(self, path: Path, key: bytes, header: bytes, records: list[tuple[str, str]]):
        self.path = path
        self._aead = ChaCha20Poly1305(key)
        self._header = header
        self._records = records
        self._file: BinaryIO | None = path.open("ab")

    @classmethod
    def open(cls, home: Path, passphrase: str, kdf: KdfParams | None = None) -> LocalHistory:
        """Open (or create) ``home/history.hhs``; blocking (Argon2id), run it in a thread."""
        path = home / HISTORY_FILE
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            data = b""
        if not data:
            params = kdf or KdfParams()
            salt = os.urandom(16)
            header = _HEADER.pack(
                _MAGIC, FORMAT_VERSION, params.iterations, params.memory_kib, params.lanes, salt
            )
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(header)
            key = params.derive(passphrase.encode(), salt)
            return cls(path, key, header, [])
        if len(data) < _HEADER.size:
            raise HistoryError("the history file is truncated")
        magic, version, t, m, p, salt = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise HistoryError("not a Hearth history file")
        if version != FORMAT_VERSION:
            raise HistoryError(f"history file format {version} is not known here")
        try:
            params = KdfParams(iterations=t, memory_kib=m, lanes=p)
        except ValueError as exc:
            raise HistoryError(f"the history file's KDF settings are refused: {exc}") from exc
        key = params.derive(passphrase.encode(), salt)
        header = data[: _HEADER.size]
        records = list(_read(ChaCha20Poly1305(key), header, data[_HEADER.size :]))
        return cls(path, key, header, records)

    def lines(self) -> Iterator[tuple[str, Text]]:
        """``(room, line)`` for every stored line, oldest first (shown dimmed)."""
        for room, text in self._records:
            yield room, Text(text, style="dim")

    def append(self, room: str, line: Text) -> None:
        """Seal and append one timeline line."""
        if self._file is None:
            raise HistoryError("the history file is closed")
        body = json.dumps([room, line.plain]).encode()
        nonce = os.urandom(12)
        aad = self._header + _INDEX.pack(len(self._records))
        sealed = nonce + self._aead.encrypt(nonce, body, aad)
        self._file.write(_LENGTH.pack(len(sealed)) + sealed)
        self._file.flush()
        self._records.append((room, line.plain))

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


def _read(aead: ChaCha20Poly1305, header: bytes, data: bytes) -> Iterator[tuple[str, str]]:
    offset, index = 0, 0
    while offset + _LENGTH.size <= len(data):
        (length,) = _LENGTH.unpack_from(data, offset)
        if length > MAX_RECORD or length < 12 + 16:
            raise HistoryError(f"history record {index} has a bad length")
        end = offset + _LENGTH.size + length
        if end > len(data):
            return  # a torn last record
        record = data[offset + _LENGTH.size : end]
        try:
            body = aead.decrypt(record[:12], record[12:], header + _INDEX.pack(index))
        except InvalidTag:
            raise HistoryError(f"history record {index} fails authentication") from None
        room, text = json.loads(body)
        yield str(room), str(text)
        offset, index = end, index + 1


__all__ = ["HISTORY_FILE", "HistoryError", "LocalHistory"]
