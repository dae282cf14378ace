"""Server configuration: defaults < TOML file < ``HEARTH_*`` variables < flags.

Parsed once at the entry point (``hearth-server``) into a frozen ``ServerConfig``
that is passed down; nothing reads the environment anywhere else.

Every field can be set in the TOML file (top-level keys, or a ``[server]`` table), as
an environment variable ``HEARTH_<FIELD>`` (upper case) and, for the common ones, as
a flag. The config file itself is named by ``--config`` or ``HEARTH_CONFIG``.

``resources`` (the crisis resources sent in ``server_hello``, protocol.md §4.1) is
set only in the TOML file, as ``[[server.resources]]`` or top-level ``[[resources]]``
entries with ``name`` and ``contact`` and optionally ``note``, ``url`` and ``hours``.
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

import msgspec
import platformdirs

from hearth_core.frames import MAX_RESOURCES, RESOURCE_FIELD_LIMITS, Resource
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
    max_connections: int = 10_000
    outbox_frames: int = 1024
    outbox_bytes: int = 8 * 1024 * 1024
    # timing (seconds)
    hello_timeout: float = 10.0
    auth_timeout: float = 30.0
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
    # rooms in memory: idle ones are dropped and reloaded on use (rooms.py)
    room_idle: float = 300.0
    rooms_cached: int = 10_000
    # MLS Delivery Service (protocol.md §12.6)
    epoch_grace: float = 10.0
    # "I need help": public crisis resources for this deployment (protocol.md §4.1)
    resources: tuple[Resource, ...] = ()

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
            "max_connections",
            "outbox_frames",
            "outbox_bytes",
            "hello_timeout",
            "auth_timeout",
            "close_timeout",
            "commit_batch",
            "purge_interval",
            "rooms_cached",
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
        if self.room_idle < 0:
            raise ConfigError("room_idle must be at least 0 seconds")
        if not 0 <= self.epoch_grace <= 3600:
            raise ConfigError("epoch_grace must be between 0 and 3600 seconds")
        if self.page_size * 2 > self.outbox_frames:
            raise ConfigError("outbox_frames must be at least twice page_size")
        if len(self.resources) > MAX_RESOURCES:
            raise ConfigError(f"at most {MAX_RESOURCES} resources (protocol.md §4.1)")
        for index, resource in enumerate(self.resources):
            _check_resource(index, resource)
        return self


def _check_resource(index: int, resource: Resource) -> None:
    """Raise ``ConfigError`` unless ``resource`` fits ``hearth_core.frames.Resource``'s limits."""
    for name, limit in RESOURCE_FIELD_LIMITS.items():
        value = getattr(resource, name)
        if value is None:
            continue
        where = f"resources[{index}].{name}"
        if not isinstance(value, str):
            raise ConfigError(f"{where} must be text")
        if not value.strip():
            raise ConfigError(f"{where} must not be blank")
        if len(value) > limit:
            raise ConfigError(f"{where} must be at most {limit} characters")
        try:
            msgspec.convert(value, _FIELD_TYPES[name])
        except msgspec.ValidationError:
            if name == "url":
                raise ConfigError(
                    f"{where} must be an http:// or https:// address without spaces "
                    "or control characters"
                ) from None
            raise ConfigError(
                f"{where} must be one line without control characters "
                "(no newlines, tabs, escape sequences or bidi controls)"
            ) from None


_FIELD_TYPES = {
    name: typing.get_type_hints(Resource, include_extras=True)[name]
    for name in RESOURCE_FIELD_LIMITS
}


def _load_resources(value: Any) -> tuple[Resource, ...]:
    """``[[resources]]`` entries from the TOML file as ``Resource`` values (checked later)."""
    if not isinstance(value, list):
        raise ConfigError("resources must be an array of tables ([[server.resources]])")
    resources = []
    for index, entry in enumerate(value):
        if not isinstance(entry, dict):
            raise ConfigError(f"resources[{index}] must be a table")
        unknown = sorted(set(entry) - set(RESOURCE_FIELD_LIMITS))
        if unknown:
            raise ConfigError(f"resources[{index}]: unknown key {unknown[0]!r}")
        for required in ("name", "contact"):
            if required not in entry:
                raise ConfigError(f"resources[{index}] needs a {required}")
        for name, text in entry.items():
            if not isinstance(text, str):
                raise ConfigError(f"resources[{index}].{name} must be text")
        resources.append(Resource(**entry))
    return tuple(resources)


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
        if table is not document and "resources" in document:
            if "resources" in table:
                raise ConfigError("resources given both in [server] and at the top level")
            table = {**table, "resources": document["resources"]}
        for name, value in table.items():
            if name not in _FIELDS:
                raise ConfigError(f"unknown config key {name!r}")
            if name == "resources":
                values[name] = _load_resources(value)
            else:
                values[name] = _coerce(name, value)
    for name in _FIELDS:
        env = environ.get(f"HEARTH_{name.upper()}")
        if env is not None:
            if name == "resources":
                raise ConfigError("resources can be set only in the config file ([[resources]])")
            values[name] = _coerce(name, env)
    for name in _FLAGS:
        flag = getattr(args, name)
        if flag is not None:
            values[name] = flag
    return ServerConfig(**values).validate()
