"""The Textual client driven by Pilot against a real server and real engines (issue 6
"Must show": onboarding, joining, two TUI instances exchanging messages, slash
commands, recovery after a server restart)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.widgets import Input

from hearth_client import events as ev
from hearth_client.keystore import KEYSTORE_FILE
from hearth_client.tui.app import HearthApp
from hearth_client.tui.screens import UnlockScreen

from .test_terminal_support import (  # noqa: F401 (fixtures)
    FAST_KDF,
    PASSPHRASE,
    ServerHandle,
    config,
    engines,
    quick_backoff,
    ready,
    server,
    server_logs,
    server_options,
    until,
)
from .test_tui_safety import shots

SIZE = (130, 40)


def make_app(home: Path, server: ServerHandle, passphrase: str | None = PASSPHRASE) -> HearthApp:
    return HearthApp(
        home,
        server=server.url,
        passphrase=passphrase,
        kdf=FAST_KDF,
        reconnect_delays=quick_backoff,
    )


async def type_line(pilot: Any, app: HearthApp, line: str) -> None:
    composer = app.query_one("#composer", Input)
    composer.focus()
    composer.value = line
    await pilot.press("enter")


def shows(app: HearthApp, text: str, room: str | None = None) -> bool:
    return any(text in line for line in app.timeline_text(room))


async def unlock_screen(pilot: Any, app: HearthApp) -> UnlockScreen:
    """The unlock screen, once it is on screen and composed."""
    await until(
        pilot,
        lambda: isinstance(app.screen, UnlockScreen) and bool(app.screen.query("#passphrase")),
    )
    screen = app.screen
    assert isinstance(screen, UnlockScreen)
    return screen


async def test_onboarding_creates_a_passphrase_protected_identity(
    server: ServerHandle, tmp_path: Path
) -> None:
    home = tmp_path / "me"
    app = make_app(home, server, passphrase=None)
    async with app.run_test(size=SIZE) as pilot:
        screen = await unlock_screen(pilot, app)
        assert screen.create
        assert screen.query_one("#server", Input).value == server.url
        screen.query_one("#passphrase", Input).value = "short"
        confirm = screen.query_one("#confirm", Input)
        confirm.value = "short"
        confirm.focus()
        await pilot.press("enter")
        assert "at least 8 characters" in screen.error_text
        screen.query_one("#passphrase", Input).value = PASSPHRASE
        confirm.value = PASSPHRASE + "x"
        confirm.focus()
        await pilot.press("enter")
        assert "differ" in screen.error_text
        assert not (home / KEYSTORE_FILE).exists()
        confirm.value = PASSPHRASE
        confirm.focus()
        await pilot.press("enter")
        await ready(pilot, app)
        assert (home / KEYSTORE_FILE).is_file()
        assert shows(app, "/join an invite")
        await type_line(pilot, app, "/create circle alice")
        await until(pilot, lambda: app.current is not None and shows(app, "created room circle"))
        await until(pilot, lambda: app.room_labels == ["circle"])
    # The next start asks for the passphrase; a wrong one is refused and loses nothing.
    again = make_app(home, server, passphrase=None)
    async with again.run_test(size=SIZE) as pilot:
        screen = await unlock_screen(pilot, again)
        assert not screen.create
        field = screen.query_one("#passphrase", Input)
        field.value = "wrong passphrase"
        field.focus()
        await pilot.press("enter")
        await until(pilot, lambda: "wrong passphrase" in again.status_text)
        retry = await unlock_screen(pilot, again)
        await until(pilot, lambda: "wrong passphrase" in retry.error_text)
        field = retry.query_one("#passphrase", Input)
        field.value = PASSPHRASE
        field.focus()
        await pilot.press("enter")
        await ready(pilot, again)
        assert again.room_labels == ["circle"]


async def test_two_tuis_join_talk_type_and_use_slash_commands(
    server: ServerHandle, tmp_path: Path
) -> None:
    alice = make_app(tmp_path / "alice", server)
    bob = make_app(tmp_path / "bob", server)
    async with alice.run_test(size=SIZE) as pa, bob.run_test(size=SIZE) as pb:
        await ready(pa, alice)
        await ready(pb, bob)
        await type_line(pa, alice, "/create circle alice")
        await until(pa, lambda: alice.current is not None)
        room = alice.current
        await type_line(pa, alice, "/invite")
        await until(pa, lambda: shows(alice, "invite (one use"))
        link = next(line for line in alice.timeline_text() if "invite (one use" in line)
        link = link.rsplit(" ", 1)[-1]
        assert link.startswith(server.url + "#")

        # Joining by link.
        await type_line(pb, bob, f"/join {link} bob")
        await until(
            pb,
            lambda: bob.current == room and shows(bob, "joined as bob"),
            explain=bob.timeline_text,
        )
        await until(
            pa,
            lambda: shows(alice, " joined") and shows(alice, " is bob"),
            explain=alice.timeline_text,
        )
        await until(pa, lambda: "bob" in alice.members_text and "[F]" in alice.members_text)

        # Messages both ways, with the role badge.
        await type_line(pa, alice, "hello bob")
        await until(pb, lambda: shows(bob, "alice: hello bob"))
        assert any("[F] alice: hello bob" in line for line in bob.timeline_text())
        await type_line(pb, bob, "hi alice")
        await until(pa, lambda: shows(alice, "bob: hi alice"))

        # Typing indicator.
        bob.query_one("#composer", Input).value = "I am wri"
        await until(pa, lambda: alice.typing_text == "bob is typing…")
        bob.query_one("#composer", Input).value = ""
        await until(pa, lambda: alice.typing_text == "")

        # Slash commands.
        await type_line(pb, bob, "/nick bobby")
        await until(pa, lambda: shows(alice, "bob is now bobby"))
        await type_line(pb, bob, "/me waves")
        await until(pa, lambda: shows(alice, "* bobby waves"))
        await type_line(pa, alice, "/whois bobby")
        bob_key = bob.engine.fingerprint(room) if bob.engine else ""
        await until(pa, lambda: shows(alice, f"fingerprint: {bob_key}"))
        await type_line(pa, alice, "/safety bobby")
        await type_line(pb, bob, "/safety alice")
        number = alice.engine.safety_number(room, bob.engine.room(room).me)  # type: ignore[union-attr]
        await until(pa, lambda: shows(alice, number))
        await until(pb, lambda: shows(bob, number))
        await type_line(pa, alice, "/topic one day at a time")
        await until(pb, lambda: shows(bob, "topic: one day at a time"))
        await type_line(pb, bob, "/frobnicate")
        await until(pb, lambda: shows(bob, "unknown command /frobnicate"))
        await type_line(pb, bob, "/remove alice")
        await until(pb, lambda: shows(bob, "only a facilitator"))
        await type_line(pb, bob, "/help")
        await until(pb, lambda: shows(bob, "/safety WHO"))

        alice.save_screenshot("main.svg", str(shots(tmp_path)))
        bob.save_screenshot("member.svg", str(shots(tmp_path)))

        # Unread counts: a message in a room Alice is not looking at.
        await type_line(pa, alice, "/create second alice")
        await until(pa, lambda: alice.current not in (None, room))
        await type_line(pb, bob, "are you there?")
        await until(pa, lambda: "circle (1)" in alice.room_labels)
        await type_line(pa, alice, "/go circle")
        await until(pa, lambda: alice.current == room and "circle" in alice.room_labels)
        assert shows(alice, "bobby: are you there?")

        # A facilitator removes a member; both see it quietly.
        await type_line(pa, alice, "/remove bobby")
        await until(pa, lambda: shows(alice, "bobby was removed", room))
        await until(pb, lambda: shows(bob, "you were removed", room))


async def create_and_admit(pilot: Any, app: HearthApp, peer: Any, pseudonym: str) -> str:
    """Alice creates "circle" with /create and ``peer`` joins it with an invite."""
    await ready(pilot, app)
    await type_line(pilot, app, "/create circle alice")
    await until(pilot, lambda: app.current is not None)
    room = app.current
    assert room is not None
    assert app.engine is not None
    invite = await app.engine.create_invite(room)
    await peer.join(invite.code, pseudonym=pseudonym)
    return room


async def test_tui_recovers_after_a_server_restart(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "alice", server)
    peer, recorder = await engines("peer")
    async with app.run_test(size=SIZE) as pilot:
        room = await create_and_admit(pilot, app, peer, "peer")
        await until(pilot, lambda: shows(app, " joined") and shows(app, " is peer"))

        await server.stop()
        await until(pilot, lambda: "reconnecting" in app.status_text)
        await server.start()
        await until(pilot, lambda: app.status_text.startswith("online"))

        await type_line(pilot, app, "after the restart")
        await recorder.wait_for(
            lambda e: isinstance(e, ev.MessageReceived) and e.text == "after the restart"
        )
        await peer.send(room, "welcome back")
        await until(pilot, lambda: shows(app, "peer: welcome back"), explain=app.timeline_text)
        texts = [line for line in app.timeline_text() if "after the restart" in line]
        assert len(texts) == 1  # shown once, not duplicated by the resume

        # Presence: the peer goes away, and the member list says so.
        assert "● peer" in app.members_text
        await peer.close()
        await until(pilot, lambda: "○ peer" in app.members_text, explain=lambda: app.members_text)


async def test_facilitator_admits_from_the_waiting_room_and_a_member_leaves(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "alice", server)
    carol, recorder = await engines("carol")
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot, app)
        await type_line(pilot, app, "/create circle alice")
        await until(pilot, lambda: app.current is not None)
        room = app.current
        await type_line(pilot, app, "/invite waiting")
        await until(pilot, lambda: shows(app, "code: "))
        code = app.timeline_text()[-1].rsplit(" ", 1)[-1]
        info = await carol.join(code, pseudonym="carol")
        assert info.status == "waiting"
        await until(pilot, lambda: shows(app, "someone is waiting"), explain=app.timeline_text)
        assert "Waiting room" in app.members_text
        member = info.me
        await type_line(pilot, app, f"/admit {member[:6]}")
        await recorder.wait_for(lambda e: isinstance(e, ev.RoomJoined) and e.room == room)
        await until(pilot, lambda: shows(app, f"admitted {member[:8]}"))
        await until(pilot, lambda: "Waiting room" not in app.members_text)
        await carol.set_pseudonym(room, "carol")
        await until(pilot, lambda: "carol" in app.members_text)
        await carol.leave(room)
        # A member's own leave is a Remove proposal that the facilitator commits, and the
        # engine reports it as a removal by the committer (reported as an engine gap).
        await until(
            pilot,
            lambda: shows(app, "carol left") or shows(app, "carol was removed"),
            explain=app.timeline_text,
        )
        assert "carol" not in app.members_text
        await type_line(pilot, app, "/leave")
        await until(pilot, lambda: app.current is None and shows(app, "you left the room", None))


async def test_a_wrong_passphrase_from_the_environment_asks_on_screen(
    server: ServerHandle, tmp_path: Path
) -> None:
    home = tmp_path / "me"
    first = make_app(home, server)
    async with first.run_test(size=SIZE) as pilot:
        await ready(pilot, first)
    app = make_app(home, server, passphrase="not it")
    async with app.run_test(size=SIZE) as pilot:
        screen = await unlock_screen(pilot, app)
        assert screen.error_text == "wrong passphrase"
        field = screen.query_one("#passphrase", Input)
        field.value = PASSPHRASE
        field.focus()
        await pilot.press("enter")
        await ready(pilot, app)
        assert not isinstance(app.screen, UnlockScreen)


async def test_facilitator_bans_a_member(
    server: ServerHandle, engines: Any, tmp_path: Path
) -> None:
    app = make_app(tmp_path / "alice", server)
    dave, _recorder = await engines("dave")
    async with app.run_test(size=SIZE) as pilot:
        await create_and_admit(pilot, app, dave, "dave")
        await until(pilot, lambda: "dave" in app.members_text)
        await type_line(pilot, app, "/ban dave")
        await until(pilot, lambda: shows(app, "banned dave"), explain=app.timeline_text)
        await until(pilot, lambda: "dave" not in app.members_text, explain=app.timeline_text)
        await until(pilot, lambda: shows(app, "dave was removed"), explain=app.timeline_text)
        # (the banned member's own engine is not told: reported as an engine/server gap)
