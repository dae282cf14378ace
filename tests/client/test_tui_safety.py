"""Safety features of the terminal client (issue 6): the "I need help" resources panel
(the server operator's, then client.toml's; nothing invented), the quick exit, no
plaintext on disk unless local history is opted in, and then only sealed. Also writes
the README's screenshots (Textual's SVG export) to docs/screenshots when
HEARTH_SCREENSHOTS=1."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import Input, Static

from hearth_client.profile import ClientConfig, ProfileConfigError, load_config
from hearth_client.tui.app import HearthApp
from hearth_client.tui.history import HISTORY_FILE, HistoryError, LocalHistory
from hearth_client.tui.screens import BlankScreen, ResourcesScreen, UnlockScreen
from hearth_core.frames import Resource

from .test_cli import one_error_line
from .test_terminal_support import (  # noqa: F401 (fixtures)
    FAST_KDF,
    PASSPHRASE,
    ROOT,
    ServerHandle,
    config,
    engines,
    hearth,
    quick_backoff,
    ready,
    server,
    server_logs,
    server_options,
    until,
)

RESOURCES = """
[[resources]]
name = "Example Warmline (placeholder, not a real service)"
contact = "a contact you added yourself goes here"
note = "listed in your own client.toml"

[[resources]]
name = "Your facilitator"
contact = "say so in the room, or message them"
"""

OPERATOR = Resource(
    name="Example Helpline (placeholder, not a real service)",
    contact="the number your server's operator publishes goes here",
    hours="24/7",
    url="https://help.example.org/",
)


def shots(tmp_path: Path) -> Path:
    if os.environ.get("HEARTH_SCREENSHOTS"):
        target = ROOT / "docs" / "screenshots"
        target.mkdir(parents=True, exist_ok=True)
        return target
    return tmp_path


def make_app(home: Path, server: ServerHandle, **options: Any) -> HearthApp:
    options.setdefault("passphrase", PASSPHRASE)
    return HearthApp(
        home, server=server.url, kdf=FAST_KDF, reconnect_delays=quick_backoff, **options
    )


def files_contain(root: Path, needle: bytes) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and needle in p.read_bytes()]


async def test_resources_panel_shows_operator_entries_or_says_none(
    server: ServerHandle, tmp_path: Path
) -> None:
    server.config = replace(server.config, resources=(OPERATOR,)).validate()
    await server.restart()
    home = tmp_path / "me"
    home.mkdir()
    (home / "client.toml").write_text(RESOURCES)
    app = make_app(home, server, config=load_config(home))
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.status_text.startswith("online"))  # server's entries
        await pilot.press("f2")
        await until(pilot, lambda: isinstance(app.screen, ResourcesScreen))
        shown = [str(w.render()) for w in app.screen.query(".resource").results(Static)]
        assert len(shown) == 3
        assert shown[0].startswith(OPERATOR.name + "\n" + OPERATOR.contact)
        assert "Example Warmline" in shown[1]
        assert "a contact you added yourself" in shown[1]
        app.save_screenshot("resources.svg", str(shots(tmp_path)))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ResourcesScreen))
    server.config = replace(server.config, resources=()).validate()
    await server.restart()
    bare = make_app(tmp_path / "other", server)
    async with bare.run_test(size=(120, 36)) as pilot:
        await ready(pilot, bare)
        bare.query_one("#composer", Input).value = "/resources"
        await pilot.press("enter")
        await until(pilot, lambda: isinstance(bare.screen, ResourcesScreen))
        assert bare.screen.query("#no-resources")
        assert not bare.screen.query(".resource")


def test_a_malformed_client_toml_is_a_clear_error(tmp_path: Path) -> None:
    (tmp_path / "client.toml").write_text("[[resources]]\nname = 'x'\n")
    with pytest.raises(ProfileConfigError, match=r"resources\[0\] needs a contact"):
        load_config(tmp_path)
    (tmp_path / "client.toml").write_text("local_history = 'yes'\n")
    with pytest.raises(ProfileConfigError, match="true or false"):
        load_config(tmp_path)
    assert load_config(tmp_path / "absent") == ClientConfig()


async def test_cli_reports_a_bad_client_toml_in_one_line(tmp_path: Path) -> None:
    home = tmp_path / "me"
    home.mkdir()
    (home / "client.toml").write_text("this is not toml")
    result = await hearth(home, "--plain")
    assert result.code == 3
    assert "not valid TOML" in one_error_line(result.err)


async def test_quick_exit_blanks_the_screen_and_leaves(
    server: ServerHandle, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "me", server)
    async with app.run_test(size=(120, 36)) as pilot:
        await ready(pilot, app)
        app.save_screenshot("welcome.svg", str(shots(tmp_path)))
        await pilot.press("ctrl+q")
        assert app.quick_exited
        assert isinstance(app.screen, BlankScreen)
    assert app.return_code == 0


async def test_onboarding_screenshot(server: ServerHandle, tmp_path: Path) -> None:
    app = make_app(tmp_path / "me", server, passphrase=None)
    async with app.run_test(size=(120, 36)) as pilot:
        await until(
            pilot,
            lambda: isinstance(app.screen, UnlockScreen) and bool(app.screen.query("#confirm")),
        )
        path = Path(app.save_screenshot("onboarding.svg", str(shots(tmp_path))))
        assert "passphrase" in path.read_text()  # noqa: ASYNC240


async def test_no_plaintext_on_disk_unless_history_is_opted_in_then_sealed(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    peer, _ = await engines("peer")
    for opted_in in (False, True):
        home = tmp_path / f"me-{opted_in}"
        app = make_app(home, server, config=ClientConfig(local_history=opted_in))
        secret = f"a secret said aloud {opted_in}"
        async with app.run_test(size=(120, 36)) as pilot:
            await until(pilot, lambda a=app: a.engine is not None and a.commands is not None)
            assert app.engine is not None
            info = await app.engine.create_room("circle", pseudonym="host")
            app.switch_room(info.room)
            invite = await app.engine.create_invite(info.room)
            peer_room = (await peer.join(invite.code, pseudonym="peer")).room
            await until(pilot, lambda a=app: "peer" in a.members_text)
            await peer.send(peer_room, secret)
            await until(pilot, lambda a=app, s=secret: any(s in x for x in a.timeline_text()))
            if opted_in:
                app.save_screenshot("conversation.svg", str(shots(tmp_path)))
        assert files_contain(home, secret.encode()) == []
        assert (home / HISTORY_FILE).exists() == opted_in
    home = tmp_path / "me-True"
    # The sealed history comes back on the next start (dimmed), and only with the passphrase.
    again = make_app(home, server, config=ClientConfig(local_history=True))
    async with again.run_test(size=(120, 36)) as pilot:
        await until(pilot, lambda: again.current is not None)
        assert any("a secret said aloud True" in line for line in again.timeline_text())
    with pytest.raises(HistoryError, match="fails authentication"):
        LocalHistory.open(home, "not the passphrase", FAST_KDF)
    data = bytearray((home / HISTORY_FILE).read_bytes())
    data[-1] ^= 1
    (home / HISTORY_FILE).write_bytes(bytes(data))
    with pytest.raises(HistoryError, match="fails authentication"):
        LocalHistory.open(home, PASSPHRASE, FAST_KDF)
