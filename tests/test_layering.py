"""Dependencies point one way (DESIGN.md "Layout").

``hearth_mls`` imports only the standard library (no asyncio, no sockets) and
``cryptography``; ``hearth_core`` adds ``hearth_mls`` and ``msgspec``; the server
never imports the client and the client never imports the server.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = {
    "hearth_mls": ROOT / "core" / "hearth_mls",
    "hearth_core": ROOT / "core" / "hearth_core",
    "hearth_server": ROOT / "server" / "hearth_server",
    "hearth_client": ROOT / "client" / "hearth_client",
}
IO_MODULES = {
    "asyncio",
    "socket",
    "selectors",
    "ssl",
    "websockets",
    "aiosqlite",
    "asyncpg",
    "redis",
    "uvloop",
    "threading",
    "subprocess",
    "textual",
}
STDLIB = set(sys.stdlib_module_names)


def imported_roots(package: Path) -> dict[str, set[str]]:
    """Map each top-level module imported anywhere in ``package`` to the files importing it."""
    found: dict[str, set[str]] = {}
    for path in package.rglob("*.py"):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            for name in names:
                found.setdefault(name.split(".")[0], set()).add(str(path.relative_to(ROOT)))
    return found


def allowed(package: str) -> set[str]:
    if package == "hearth_mls":
        return (STDLIB - IO_MODULES) | {"cryptography", "hearth_mls"}
    if package == "hearth_core":
        return (STDLIB - IO_MODULES) | {"cryptography", "msgspec", "hearth_mls", "hearth_core"}
    if package == "hearth_server":
        return {"hearth_client"}  # deny-list below
    return {"hearth_server"}


@pytest.mark.parametrize("package", ["hearth_mls", "hearth_core"])
def test_core_imports_only_allowed(package: str) -> None:
    bad = {
        mod: files
        for mod, files in imported_roots(PACKAGES[package]).items()
        if mod not in allowed(package)
    }
    assert not bad, f"{package} must not import {bad}"


def test_server_never_imports_client() -> None:
    roots = imported_roots(PACKAGES["hearth_server"])
    assert "hearth_client" not in roots, roots.get("hearth_client")


def test_client_never_imports_server() -> None:
    roots = imported_roots(PACKAGES["hearth_client"])
    assert "hearth_server" not in roots, roots.get("hearth_server")


def test_checker_sees_a_forbidden_import(tmp_path: Path) -> None:
    """The scan itself works: a planted ``import asyncio`` is found."""
    (tmp_path / "mod.py").write_text("import asyncio\nfrom websockets.asyncio import client\n")
    global ROOT
    saved = ROOT
    ROOT = tmp_path
    try:
        roots = imported_roots(tmp_path)
    finally:
        ROOT = saved
    assert {"asyncio", "websockets"} <= set(roots)
    assert not ({"asyncio", "websockets"} & allowed("hearth_mls"))
