"""Where the terminal client's profile lives and how it is unlocked (issue 6).

- Profile directory: ``--home DIR``, else ``$HEARTH_HOME``, else
  ``<user data dir>/hearth/profile`` (platformdirs). It holds the engine's sealed
  keystore (:mod:`hearth_client.keystore`), ``profile.json`` (the server URL, written
  by :meth:`hearth_client.engine.Engine.create_profile`) and, optionally,
  ``client.toml`` (below), which the client only reads.
- Server URL: ``--server URL``, else the one stored in the profile.
- Passphrase: ``$HEARTH_PASSPHRASE`` for non-interactive use, else asked for.

``client.toml`` (all keys optional)::

    local_history = true          # keep an encrypted copy of what you read (history.hhs)

    [[resources]]                 # "I need help": your own crisis resources, shown
    name = "..."                  # after the server operator's
    contact = "..."
    note = "..."

The "I need help" panel shows first the resources the server's operator sends in
``server_hello`` (protocol.md §4.1, kept offline by
:mod:`hearth_client.server_resources`), then these local entries, each group
labelled with where it came from. Hearth ships no numbers of its own.
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import platformdirs

from hearth_client.engine import PROFILE_FILE
from hearth_client.keystore import KEYSTORE_FILE
from hearth_core.frames import Resource as ServerResource

CONFIG_FILE = "client.toml"
HOME_ENV = "HEARTH_HOME"
PASSPHRASE_ENV = "HEARTH_PASSPHRASE"  # noqa: S105 (a variable name)


class ProfileConfigError(ValueError):
    """``client.toml`` is unreadable or malformed (the user's file)."""


@dataclass(frozen=True, slots=True)
class Resource:
    """One crisis resource for the panel, from the server or client.toml (module doc)."""

    name: str
    contact: str
    note: str = ""
    url: str = ""
    hours: str = ""

    @classmethod
    def from_server(cls, entry: ServerResource) -> Resource:
        """A ``server_hello`` resource (protocol.md §4.1) in the panel's shape."""
        return cls(entry.name, entry.contact, entry.note or "", entry.url or "", entry.hours or "")


@dataclass(frozen=True, slots=True)
class ClientConfig:
    local_history: bool = False
    resources: tuple[Resource, ...] = field(default_factory=tuple)


def resolve_home(home: str | os.PathLike[str] | None) -> Path:
    """The profile directory (module doc)."""
    if home:
        return Path(home).expanduser()
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser()
    return platformdirs.user_data_path("hearth", appauthor=False) / "profile"


def profile_exists(home: Path) -> bool:
    return (home / KEYSTORE_FILE).is_file()


def stored_server(home: Path) -> str | None:
    """The server URL recorded in the profile, if any."""
    import json

    try:
        value = json.loads((home / PROFILE_FILE).read_text())["server"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return value if isinstance(value, str) else None


def passphrase_from_env() -> str | None:
    value = os.environ.get(PASSPHRASE_ENV)
    return value if value else None


def load_config(home: Path) -> ClientConfig:
    """``client.toml`` from the profile (defaults if absent; ProfileConfigError if bad)."""
    path = home / CONFIG_FILE
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ClientConfig()
    except OSError as exc:
        raise ProfileConfigError(f"cannot read {path}: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode())
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ProfileConfigError(f"{path} is not valid TOML: {exc}") from exc
    history = data.get("local_history", False)
    if not isinstance(history, bool):
        raise ProfileConfigError(f"{path}: local_history must be true or false")
    entries = data.get("resources", [])
    if not isinstance(entries, list):
        raise ProfileConfigError(f"{path}: resources must be an array of tables")
    resources = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise ProfileConfigError(f"{path}: resources[{index}] must be a table")
        name, contact, note = entry.get("name"), entry.get("contact"), entry.get("note", "")
        if not isinstance(name, str) or not name.strip():
            raise ProfileConfigError(f"{path}: resources[{index}] needs a name")
        if not isinstance(contact, str) or not contact.strip():
            raise ProfileConfigError(f"{path}: resources[{index}] needs a contact")
        if not isinstance(note, str):
            raise ProfileConfigError(f"{path}: resources[{index}].note must be text")
        resources.append(Resource(name, contact, note))
    return ClientConfig(local_history=history, resources=tuple(resources))


__all__ = [
    "CONFIG_FILE",
    "HOME_ENV",
    "PASSPHRASE_ENV",
    "ClientConfig",
    "ProfileConfigError",
    "Resource",
    "load_config",
    "passphrase_from_env",
    "profile_exists",
    "resolve_home",
    "stored_server",
]
