"""The server operator's crisis resources in the client (issue 6, protocol.md §4.1):
the engine exposes the last ``server_hello``'s and keeps them for offline use, the
"I need help" panel and ``/resources`` show them (before client.toml's, labelled),
and operator text is shown literally. Every entry is an example, not a real service."""

from __future__ import annotations

import io
import json
from dataclasses import replace
from pathlib import Path

from textual.widgets import Static

from hearth_client.engine import Engine
from hearth_client.plain import PlainClient
from hearth_client.profile import load_config
from hearth_client.server_resources import RESOURCES_FILE
from hearth_client.tui.screens import ResourcesScreen, UnlockScreen
from hearth_core.frames import Resource

from .test_terminal_support import (  # noqa: F401 (fixtures)
    FAST_KDF,
    PASSPHRASE,
    TIMEOUT,
    ServerHandle,
    config,
    hearth,
    quick_backoff,
    server,
    server_logs,
    server_options,
    until,
)
from .test_tui_safety import make_app

HELPLINE = Resource(
    name="Example Helpline (not a real service)",
    contact="call 555-0100",
    note="free and confidential",
    url="https://help.example.org/",
    hours="24/7",
)
MARKUP = Resource(
    name="[bold red]Example[/] [link=https://evil.example]line[/link]", contact="[b]x"
)
LOCAL = '[[resources]]\nname = "Example Local Warmline"\ncontact = "ask at the front desk"\n'


async def with_resources(server: ServerHandle, *resources: Resource) -> None:
    server.config = replace(server.config, resources=resources).validate()
    await server.restart()


async def open_engine(home: Path) -> Engine:
    return await Engine.open_profile(home, PASSPHRASE, reconnect_delays=quick_backoff)


async def test_the_engine_exposes_the_resources_and_keeps_them_offline(
    server: ServerHandle, tmp_path: Path
) -> None:
    await with_resources(server, HELPLINE, MARKUP)
    engine = await Engine.create_profile(
        tmp_path / "me", PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    assert engine.resources() == ()
    async with engine:
        await engine.create_room("circle", pseudonym="me")  # connects and says hello
        assert engine.resources() == (HELPLINE, MARKUP)
    stored = json.loads((tmp_path / "me" / RESOURCES_FILE).read_text())
    assert stored["server"] == server.url
    assert [r["name"] for r in stored["resources"]] == [HELPLINE.name, MARKUP.name]

    await server.stop()
    offline = await open_engine(tmp_path / "me")
    try:
        assert offline.resources() == (HELPLINE, MARKUP)  # no server: the profile's copy
    finally:
        await offline.close()

    await with_resources(server)  # the operator removes them: the next hello says so
    again = await open_engine(tmp_path / "me")
    async with again:
        await again.wait_online(TIMEOUT)
        assert again.resources() == ()
    assert json.loads((tmp_path / "me" / RESOURCES_FILE).read_text())["resources"] == []


async def test_a_damaged_or_foreign_copy_is_ignored(server: ServerHandle, tmp_path: Path) -> None:
    engine = await Engine.create_profile(
        tmp_path / "me", PASSPHRASE, server=server.url, kdf=FAST_KDF
    )
    await engine.close()
    path = tmp_path / "me" / RESOURCES_FILE
    entry = {"name": "Example Line", "contact": "call 555-0100"}
    path.write_text(json.dumps({"server": server.url, "resources": [entry]}))
    reopened = await open_engine(tmp_path / "me")
    assert reopened.resources() == (Resource(name="Example Line", contact="call 555-0100"),)
    await reopened.close()
    for damaged in (
        json.dumps({"server": "wss://other.example/ws", "resources": [entry]}),
        json.dumps({"server": server.url, "resources": [{**entry, "name": "x\u001b[2J"}]}),
        "{not json",
    ):
        path.write_text(damaged)
        reopened = await open_engine(tmp_path / "me")
        assert reopened.resources() == (), damaged
        await reopened.close()


async def test_the_panel_shows_the_operator_entries_then_client_toml_before_any_room(
    server: ServerHandle, tmp_path: Path
) -> None:
    await with_resources(server, HELPLINE, MARKUP)
    home = tmp_path / "me"
    home.mkdir()
    (home / "client.toml").write_text(LOCAL)
    app = make_app(home, server, config=load_config(home))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.status_text.startswith("online"))
        # no room yet: the server's hello alone brings the resources
        assert app.engine is not None
        assert not app.engine.rooms()
        await until(pilot, lambda: app.engine is not None and bool(app.engine.resources()))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ResourcesScreen))
        titles = [str(w.render()) for w in app.screen.query(".panel-title").results(Static)]
        assert titles[:2] == ["From your server's operator:", "From your own client.toml:"]
        server_shown = [w.render() for w in app.screen.query(".server-resources").results(Static)]
        local_shown = [
            str(w.render()) for w in app.screen.query(".local-resources").results(Static)
        ]
        assert [str(t).split("\n")[0] for t in server_shown] == [HELPLINE.name, MARKUP.name]
        assert str(server_shown[0]).split("\n")[1:] == [
            "call 555-0100",
            "24/7",
            "https://help.example.org/",
            "free and confidential",
        ]
        # markup in an operator's entry is shown as typed, never interpreted
        assert str(server_shown[1]) == f"{MARKUP.name}\n[b]x"
        assert not any(span.style and "red" in str(span.style) for span in server_shown[1].spans)
        assert local_shown == ["Example Local Warmline\nask at the front desk"]
        assert not app.screen.query("#no-resources")


async def test_the_panel_shows_the_kept_copy_before_the_profile_is_unlocked(
    server: ServerHandle, tmp_path: Path
) -> None:
    await with_resources(server, HELPLINE)
    engine = await Engine.create_profile(
        tmp_path / "me", PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    async with engine:
        await engine.wait_online(TIMEOUT)
    await server.stop()
    app = make_app(tmp_path / "me", server, passphrase=None)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: isinstance(app.screen, UnlockScreen))
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ResourcesScreen))
        shown = [str(w.render()) for w in app.screen.query(".server-resources").results(Static)]
        assert len(shown) == 1
        assert shown[0].startswith(HELPLINE.name + "\ncall 555-0100")


async def test_line_mode_lists_both_groups(server: ServerHandle, tmp_path: Path) -> None:
    await with_resources(server, HELPLINE, MARKUP)
    home = tmp_path / "me"
    home.mkdir()
    (home / "client.toml").write_text(LOCAL)
    engine = await Engine.create_profile(
        home, PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    async with engine:
        await engine.wait_online(TIMEOUT)
        out = io.StringIO()
        PlainClient(engine, load_config(home), out).resources()
        lines = out.getvalue().splitlines()
    assert lines == [
        "-- I need help:",
        "-- from your server's operator:",
        f"--   {HELPLINE.name}: call 555-0100 (24/7; https://help.example.org/; "
        "free and confidential)",
        f"--   {MARKUP.name}: [b]x",
        "-- from your own client.toml:",
        "--   Example Local Warmline: ask at the front desk",
    ]


async def test_the_cli_prints_the_kept_copy_then_client_toml(
    server: ServerHandle, tmp_path: Path
) -> None:
    await with_resources(server, HELPLINE, MARKUP)
    home = tmp_path / "me"
    engine = await Engine.create_profile(
        home, PASSPHRASE, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff
    )
    async with engine:
        await engine.wait_online(TIMEOUT)
    (home / "client.toml").write_text(LOCAL)
    await server.stop()  # no server needed, and no passphrase
    result = await hearth(home, "resources", passphrase="")
    assert result.code == 0, result.err
    assert result.out.splitlines() == [
        f"server\t{HELPLINE.name}\tcall 555-0100\t24/7\thttps://help.example.org/\t"
        "free and confidential",
        f"server\t{MARKUP.name}\t[b]x\t\t\t",
        "local\tExample Local Warmline\task at the front desk\t\t\t",
    ]
    as_json = await hearth(home, "resources", "--json", passphrase="")
    rows = [json.loads(line) for line in as_json.out.splitlines()]
    assert [(r["source"], r["name"]) for r in rows] == [
        ("server", HELPLINE.name),
        ("server", MARKUP.name),
        ("local", "Example Local Warmline"),
    ]
    assert rows[0]["url"] == "https://help.example.org/"
    empty = await hearth(tmp_path / "nobody", "resources", passphrase="")
    assert empty.code == 0
    assert empty.out == ""
    assert "has not configured crisis resources" in empty.err
