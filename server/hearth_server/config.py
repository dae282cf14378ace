"""Server configuration: defaults < TOML file < ``HEARTH_*`` variables < flags.

Parsed once at the entry point (``hearth-server``) into a frozen ``ServerConfig``
that is passed down; nothing reads the environment anywhere else.

Every field can be set in the TOML file (top-level keys, or a ``[server]`` table), as
an environment variable ``HEARTH_<FIELD>`` (upper case) and, for the common ones, as
a flag. The config file itself is named by ``--config`` or ``HEARTH_CONFIG``.
"""

from __future__ import annotations

import argparse
import dataclasses
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import platformdirs

from hearth_server.errors import ConfigError

DAY = 86400


def default_db_path() -> Path:
    """The embedded default database: ``hearth.db`` in the platform's user data directory."""
    return platformdirs.user_data_path("hearth", appauthor=False) / "hearth.db"


@dataclass(frozen=True, slots=True)
class ServerConfig:
    """Everything the server can be told (protocol.md §7 for the limits)."""

    host: str = "127.0.0.1"
    port: int = 8765
    db: Path = field(default_factory=default_db_path)
    cert: Path | None = None
    key: Path | None = None
    loop: str = "asyncio"
    log_level: str = "info"
    compression: bool = False
    # limits (protocol.md §7)
    max_payload: int = 64 * 1024
    send_rate: float = 20.0
    send_burst: int = 50
    frame_rate: float = 200.0
    frame_burst: int = 400
    page_size: int = 256
    max_identities: int = 32
    max_rooms: int = 64
    outbox_frames: int = 1024
    outbox_bytes: int = 8 * 1024 * 1024
    # timing (seconds)
    hello_timeout: float = 10.0
    close_timeout: float = 10.0
    ping_interval: float = 20.0
    ping_timeout: float = 20.0
    shutdown_grace: float = 5.0
    # storage and retention (protocol.md §8, §10)
    sqlite_synchronous: str = "FULL"
    commit_batch: int = 1024
    retention_default: int | None = 30 * DAY
    retention_max: int | None = 365 * DAY
    purge_interval: float = 60.0
    # MLS Delivery Service (protocol.md §12.6)
    epoch_grace: float = 10.0

    @property
    def max_frame(self) -> int:
        """Largest accepted websocket message: a full payload in base64 plus room for fields."""
        return self.max_payload * 4 // 3 + 16 * 1024

    def validate(self) -> ServerConfig:
        """Raise ``ConfigError`` for values the server cannot run with."""
        positive = [
            "max_payload",
            "send_rate",
            "send_burst",
            "frame_rate",
            "frame_burst",
            "page_size",
            "max_identities",
            "max_rooms",
            "outbox_frames",
            "outbox_bytes",
            "hello_timeout",
            "close_timeout",
            "commit_batch",
            "purge_interval",
        ]
        for name in positive:
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be greater than 0")
        if not 0 <= self.port <= 65535:
            raise ConfigError("port must be between 0 and 65535")
        if self.max_payload > 1024 * 1024:
            raise ConfigError("max_payload must be at most 1 MiB (protocol.md §7)")
        if (self.cert is None) != (self.key is None):
            raise ConfigError("cert and key must be given together")
        if self.loop not in ("asyncio", "uvloop"):
            raise ConfigError("loop must be 'asyncio' or 'uvloop'")
        if self.sqlite_synchronous not in ("FULL", "NORMAL"):
            raise ConfigError("sqlite_synchronous must be FULL or NORMAL")
        if self.log_level not in ("debug", "info", "warning", "error"):
            raise ConfigError("log_level must be debug, info, warning or error")
        if not 0 <= self.epoch_grace <= 3600:
            raise ConfigError("epoch_grace must be between 0 and 3600 seconds")
        if self.page_size * 2 > self.outbox_frames:
            raise ConfigError("outbox_frames must be at least twice page_size")
        return self


_FIELDS = {f.name: f for f in dataclasses.fields(ServerConfig)}
_FLAGS = ("host", "port", "db", "cert", "key", "loop", "log_level")


def _coerce(name: str, value: Any) -> Any:
    """Convert a TOML or environment value to the field's type, or raise ``ConfigError``."""
    hints = typing.get_type_hints(ServerConfig)
    kind = hints[name]
    optional = False
    if isinstance(kind, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        optional, kind = True, args[0]
    if optional and (value is None or (isinstance(value, str) and value.lower() in ("", "none"))):
        return None
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            text = str(value).lower()
            if text in ("1", "true", "yes", "on"):
                return True
            if text in ("0", "false", "no", "off"):
                return False
            raise ValueError(value)
        if kind is int:
            if isinstance(value, bool):
                raise ValueError(value)
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError(value)
            return float(value)
        if kind is Path:
            return Path(str(value)).expanduser()
        return str(value)
    except ValueError:
        raise ConfigError(f"{name}: cannot use {value!r} as {kind.__name__}") from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hearth-server",
        description="Run the Hearth chat server (protocol.md). With no options it serves "
        "ws://127.0.0.1:8765/ws on an SQLite file in the user data directory.",
    )
    parser.add_argument("--config", type=Path, help="TOML config file (or HEARTH_CONFIG)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default 8765; 0 picks a free one)")
    parser.add_argument("--db", type=Path, help="SQLite database file")
    parser.add_argument("--cert", type=Path, help="TLS certificate chain (PEM): serve wss://")
    parser.add_argument("--key", type=Path, help="TLS private key (PEM)")
    parser.add_argument("--loop", choices=["asyncio", "uvloop"], help="event loop")
    parser.add_argument("--log-level", choices=["debug", "info", "warning", "error"])
    return parser


def load_config(argv: Sequence[str] | None, environ: Mapping[str, str]) -> ServerConfig:
    """Build the configuration: defaults < config file < environment < flags."""
    args = _parser().parse_args(argv)
    values: dict[str, Any] = {}
    config_path: Path | None = args.config or (
        Path(environ["HEARTH_CONFIG"]) if environ.get("HEARTH_CONFIG") else None
    )
    if config_path is not None:
        try:
            with config_path.open("rb") as handle:
                document = tomllib.load(handle)
        except OSError as exc:
            raise ConfigError(f"cannot read config file: {exc.strerror}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file is not valid TOML: {exc}") from None
        table = document.get("server", document)
        if not isinstance(table, dict):
            raise ConfigError("[server] must be a table")
        for name, value in table.items():
            if name not in _FIELDS:
                raise ConfigError(f"unknown config key {name!r}")
            values[name] = _coerce(name, value)
    for name in _FIELDS:
        env = environ.get(f"HEARTH_{name.upper()}")
        if env is not None:
            values[name] = _coerce(name, env)
    for name in _FLAGS:
        flag = getattr(args, name)
        if flag is not None:
            values[name] = flag
    return ServerConfig(**values).validate()
