"""The server operator's crisis resources, kept in the profile for offline use (issue 6).

The server sends them in ``server_hello.resources`` (protocol.md §4.1). They are
public, operator-authored text (not secret, not personal), so the engine keeps the
last ones received in a small plain JSON file next to the sealed keystore::

    <profile>/server_resources.json
    {"server": "wss://host/ws", "resources": [{"name": ..., "contact": ..., ...}]}

written atomically. Entries recorded for another server URL are ignored. A missing
or damaged file means "none known yet" (the next ``server_hello`` replaces it); it is
decoded with the same constraints as the frame, so nothing unchecked reaches a UI.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import msgspec

from hearth_client.keystore import atomic_write
from hearth_core.frames import MAX_RESOURCES, Resource, ServerHello

RESOURCES_FILE = "server_resources.json"

log = logging.getLogger("hearth_client.server_resources")


class _Stored(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    server: str
    resources: Annotated[tuple[Resource, ...], msgspec.Meta(max_length=MAX_RESOURCES)]


class ServerResources:
    """The last resources one server sent, in memory and in ``server_resources.json``."""

    def __init__(self, profile: Path, server: str) -> None:
        self.path = Path(profile) / RESOURCES_FILE
        self.server = server
        self.current: tuple[Resource, ...] = self._load()

    def _load(self) -> tuple[Resource, ...]:
        try:
            stored = msgspec.json.decode(self.path.read_bytes(), type=_Stored)
        except FileNotFoundError:
            return ()
        except (OSError, msgspec.DecodeError) as exc:
            log.warning("ignoring %s: %s", RESOURCES_FILE, type(exc).__name__)
            return ()
        return stored.resources if stored.server == self.server else ()

    def __call__(self) -> tuple[Resource, ...]:
        """The current resources: what ``Engine.resources()`` returns (engine API doc)."""
        return self.current

    def update(self, hello: ServerHello | None) -> bool:
        """Record what the latest ``server_hello`` carried; True if it changed."""
        if hello is None:
            return False
        resources = hello.resources
        if resources == self.current and self.path.exists():
            return False
        atomic_write(self.path, msgspec.json.encode(_Stored(self.server, resources)))
        changed = resources != self.current
        self.current = resources
        return changed


__all__ = ["RESOURCES_FILE", "Resource", "ServerResources"]
