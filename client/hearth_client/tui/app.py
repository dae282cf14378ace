"""The Hearth terminal client: a Textual app on the encrypted engine (issue 6).

Layout: rooms with unread counts (left), the room's timeline, typing line and
composer (middle), members with role and presence (right), the connection status
bar and key hints (bottom). Every line of the timeline comes from an engine event
(:mod:`hearth_client.events`): own messages too, once the server has stored them,
so what you see is what the room's MLS group delivered (RFC 9420 §6.3).

Safety (issue 6): F2 opens "I need help" (the server operator's resources from
``server_hello``, protocol.md §4.1, then client.toml's, see
:mod:`hearth_client.profile`); ctrl+q or F12 blanks the screen and exits at once;
peer text is shown only as literal text (:mod:`hearth_client.sanitize`); nothing is
written to disk in the clear (local history, when opted in, is sealed by
:mod:`hearth_client.tui.history`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Generator
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.suggester import SuggestFromList
from textual.widgets import Footer, Input, Label, OptionList, RichLog, Static
from textual.widgets.option_list import Option

from hearth_client import events as ev
from hearth_client.engine import Engine
from hearth_client.errors import HearthClientError
from hearth_client.keystore import KdfParams, KeystoreError, WrongPassphraseError
from hearth_client.profile import ClientConfig, Resource, profile_exists, stored_server
from hearth_client.sanitize import one_line
from hearth_client.server_resources import ServerResources
from hearth_client.tui.commands import HELP, CommandError, Commands
from hearth_client.tui.history import LocalHistory
from hearth_client.tui.render import (
    BADGES,
    connection_label,
    describe,
    error_line,
    message_line,
    system_line,
)
from hearth_client.tui.screens import BlankScreen, ResourcesScreen, UnlockScreen

#: Lines kept per room in memory (older ones scroll away).
MAX_LINES = 2000
#: Seconds between "typing" notices while the user keeps typing.
TYPING_EVERY = 3.0
#: What the composer offers to complete (right arrow accepts).
SUGGESTIONS = [
    "/help",
    "/join ",
    "/create ",
    "/rooms",
    "/go ",
    "/leave",
    "/nick ",
    "/me ",
    "/invite",
    "/invite waiting",
    "/members",
    "/whois ",
    "/safety ",
    "/remove ",
    "/ban ",
    "/admit ",
    "/topic ",
    "/resources",
    "/quit",
]
NO_ROOM = "no room yet: /join an invite (link or code) or /create a room, /help for more"


#: Status bar text before the first room, until the first contact with the server.
NO_ROOM_STATUS = "not connected: /join an invite or /create a room"


async def first_contact(engine: Engine) -> None:
    """Connect a profile that has no room yet (its status shows why if that fails)."""
    with contextlib.suppress(HearthClientError):
        await engine.wait_online()


class HearthApp(App[int]):
    """One profile's rooms in one terminal (module doc)."""

    CSS_PATH = "hearth.tcss"
    TITLE = "Hearth"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quick_exit", "Quick exit", priority=True),
        Binding("f12", "quick_exit", "Quick exit", show=False, priority=True),
        Binding("f2", "resources", "I need help", priority=True),
        Binding("f1", "help", "Help"),
        Binding("ctrl+n", "next_room", "Next room"),
    ]

    def __init__(
        self,
        home: Path,
        *,
        server: str | None = None,
        passphrase: str | None = None,
        config: ClientConfig | None = None,
        kdf: KdfParams | None = None,
        reconnect_delays: Callable[[], Generator[float]] | None = None,
    ) -> None:
        super().__init__()
        self.home = home
        self.server_override = server
        self.initial_passphrase = passphrase
        self.config = config or ClientConfig()
        self.kdf = kdf
        self.reconnect_delays = reconnect_delays
        self.engine: Engine | None = None
        self.commands: Commands | None = None
        self.history: LocalHistory | None = None
        self.current: str | None = None
        self.timelines: dict[str, list[Text]] = {}
        self.unread: dict[str, int] = {}
        self.names: dict[str, dict[str, str]] = {}
        self.notes: list[Text] = []  # lines shown when no room is selected
        self.status_text = "locked"
        self.members_text = ""
        self.room_labels: list[str] = []
        self.typing_text = ""
        self.quick_exited = False
        self._typing_at: dict[str, float] = {}
        self._command_lock = asyncio.Lock()
        self._unlock_screen: UnlockScreen | None = None

    # --- layout -------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            with Vertical(id="sidebar"):
                yield Label("Rooms", classes="panel-title")
                yield OptionList(id="rooms")
            with Vertical(id="center"):
                yield Static("", id="room-title")
                yield RichLog(id="timeline", wrap=True, markup=False, highlight=False)
                yield Static("", id="typing")
                yield Input(
                    placeholder="Type a message, or /help",
                    id="composer",
                    suggester=SuggestFromList(SUGGESTIONS, case_sensitive=False),
                )
            with Vertical(id="people"):
                yield Label("Members", classes="panel-title")
                yield Static("", id="members")
        yield Static(self.status_text, id="status")
        yield Footer()

    def on_mount(self) -> None:
        self.set_status("locked")
        if self.initial_passphrase is not None and (
            self.server_override or profile_exists(self.home)
        ):
            self.unlock(self.server_override or "", self.initial_passphrase)
        else:
            self._ask_passphrase()

    def _ask_passphrase(self, error: str = "") -> None:
        create = not profile_exists(self.home)
        server = self.server_override or stored_server(self.home) or ""
        self._unlock_screen = UnlockScreen(
            create=create, server=server, submit=self.unlock, error=error
        )
        self.push_screen(self._unlock_screen)

    # --- unlocking --------------------------------------------------------------------------

    @work(exclusive=True, group="unlock")
    async def unlock(self, server: str, passphrase: str) -> None:
        """Open (or on first run, create) the profile, then start the engine."""
        self.set_status("unlocking…")
        try:
            if profile_exists(self.home):
                engine = await Engine.open_profile(
                    self.home,
                    passphrase,
                    server=self.server_override,
                    reconnect_delays=self.reconnect_delays,
                )
            else:
                engine = await Engine.create_profile(
                    self.home,
                    passphrase,
                    server=server or self.server_override or "",
                    kdf=self.kdf,
                    reconnect_delays=self.reconnect_delays,
                )
            if self.config.local_history:
                self.history = await asyncio.to_thread(
                    LocalHistory.open, self.home, passphrase, self.kdf
                )
        except (HearthClientError, KeystoreError, OSError) as exc:
            message = (
                "wrong passphrase"
                if isinstance(exc, WrongPassphraseError)
                else one_line(str(exc)) or type(exc).__name__
            )
            self.set_status(f"locked: {message}")
            if self._unlock_screen is not None:
                self._unlock_screen.show_error(message)
            else:  # the passphrase came from HEARTH_PASSPHRASE: ask on screen instead
                self._ask_passphrase(error=message)
            return
        if self._unlock_screen is not None:
            self._unlock_screen.dismiss()
            self._unlock_screen = None
        self.engine = engine
        self.commands = Commands(engine)
        engine.add_listener(self._on_engine_event)
        if self.history is not None:
            for room, line in self.history.lines():
                self.timelines.setdefault(room, []).append(line)
        for info in engine.rooms():
            self.timelines.setdefault(info.room, [])
            self._remember_names(info.room)
        await engine.start()
        rooms = engine.rooms()
        if not rooms:
            # With no room the engine connects only when asked: ask now, so the status is
            # honest and the operator's resources (protocol.md §4.1) arrive before any room.
            self.set_status(NO_ROOM_STATUS, engine.connection_state)
            self.run_worker(first_contact(engine), exclusive=False)
        self.switch_room(rooms[0].room if rooms else None)
        self.query_one("#composer", Input).focus()

    # --- engine events --------------------------------------------------------------------

    def _on_engine_event(self, event: ev.Event) -> None:
        self.call_later(self.handle_engine_event, event)

    def handle_engine_event(self, event: ev.Event) -> None:
        if isinstance(event, ev.ConnectionChanged):
            self.set_status(connection_label(event.state, event.detail), event.state)
            return
        room = getattr(event, "room", None)
        if isinstance(event, ev.MessageReceived):
            line = message_line(event)
            self.add_line(event.room, line)
            if self.history is not None:
                self.history.append(event.room, line)
            if event.room != self.current and not event.own:
                self.unread[event.room] = self.unread.get(event.room, 0) + 1
                self.refresh_rooms()
        elif isinstance(event, ev.TypingChanged | ev.PresenceChanged):
            pass
        elif isinstance(event, ev.EngineErrorEvent) and room is None:
            self.add_line(self.current, error_line(describe(event, {}) or event.message))
        elif room is not None:
            text = describe(event, self.names.get(room, {}))
            if text is not None:
                self.add_line(room, system_line(text))
            if isinstance(event, ev.RoomJoined):
                self.timelines.setdefault(room, [])
            self.refresh_rooms()
        if room is not None:
            self._remember_names(room)
            if room == self.current:
                self.refresh_members()

    def _remember_names(self, room: str) -> None:
        if self.engine is None:
            return
        with contextlib.suppress(HearthClientError):
            names = self.names.setdefault(room, {})
            for member in self.engine.members(room):
                names[member.member] = member.pseudonym

    # --- drawing ----------------------------------------------------------------------------

    def set_status(self, text: str, state: ev.ConnectionState | None = None) -> None:
        self.status_text = text
        with contextlib.suppress(Exception):
            status = self.query_one("#status", Static)
            status.update(Text(text))
            status.set_class(
                state is not None and state is not ev.ConnectionState.ONLINE, "offline"
            )

    def add_line(self, room: str | None, line: Text) -> None:
        lines = self.notes if room is None else self.timelines.setdefault(room, [])
        lines.append(line)
        del lines[:-MAX_LINES]
        if room == self.current:
            self.query_one("#timeline", RichLog).write(line)

    def timeline_text(self, room: str | None = None) -> list[str]:
        """The plain text of a room's timeline (for tests and screen readers)."""
        room = self.current if room is None else room
        lines = self.notes if room is None else self.timelines.get(room, [])
        return [line.plain for line in lines]

    def switch_room(self, room: str | None) -> None:
        self.current = room
        if room is not None:
            self.unread[room] = 0
        log = self.query_one("#timeline", RichLog)
        log.clear()
        lines = self.notes if room is None else self.timelines.get(room, [])
        if room is None and not lines:
            self.notes.append(system_line(NO_ROOM))
        for line in lines:
            log.write(line)
        self.refresh_rooms()
        self.refresh_members()

    def refresh_rooms(self) -> None:
        if self.engine is None:
            return
        rooms = self.engine.rooms()
        options = self.query_one("#rooms", OptionList)
        options.clear_options()
        highlighted = None
        self.room_labels = []
        for index, info in enumerate(rooms):
            label = Text(one_line(info.name) or "(name arriving)")
            if info.status == "waiting":
                label.append(" (waiting)", style="dim")
            unread = self.unread.get(info.room, 0)
            if unread:
                label.append(f" ({unread})", style="bold yellow")
            options.add_option(Option(label, id=info.room))
            self.room_labels.append(label.plain)
            if info.room == self.current:
                highlighted = index
        options.highlighted = highlighted
        title = self.query_one("#room-title", Static)
        if self.current is None:
            title.update(Text("Hearth"))
        else:
            info = self.engine.room(self.current)
            heading = Text(one_line(info.name) or "(name arriving)", style="bold")
            if info.topic:
                heading.append(f"  {one_line(info.topic)}", style="dim")
            title.update(heading)

    def refresh_members(self) -> None:
        members = self.query_one("#members", Static)
        typing = self.query_one("#typing", Static)
        if self.engine is None or self.current is None:
            members.update(Text(""))
            typing.update(Text(""))
            self.members_text = self.typing_text = ""
            return
        text = Text()
        typists = []
        for view in self.engine.members(self.current):
            text.append("● " if view.online else "○ ", style="green" if view.online else "dim")
            text.append(one_line(view.pseudonym) or view.member[:8])
            badge = BADGES.get(view.role, "")
            if badge:
                text.append(f" {badge}", style="bold yellow")
            if view.me:
                text.append(" (you)", style="dim")
            text.append("\n")
            if view.typing and not view.me:
                typists.append(one_line(view.pseudonym) or view.member[:8])
        waiting = self.engine.waiting(self.current)
        if waiting:
            text.append("\nWaiting room\n", style="bold")
            for member in waiting:
                text.append(f"… {member[:8]}\n", style="dim")
        members.update(text)
        self.members_text = text.plain
        self.typing_text = ""
        if typists:
            verb = "is" if len(typists) == 1 else "are"
            self.typing_text = f"{', '.join(typists)} {verb} typing…"
        typing.update(Text(self.typing_text))

    # --- input ------------------------------------------------------------------------------

    @on(OptionList.OptionSelected, "#rooms")
    def room_chosen(self, event: OptionList.OptionSelected) -> None:
        if event.option.id is not None and event.option.id != self.current:
            self.switch_room(event.option.id)
            self.query_one("#composer", Input).focus()

    @on(Input.Submitted, "#composer")
    def composer_submitted(self, event: Input.Submitted) -> None:
        line = event.value
        event.input.value = ""
        if line.strip():
            self.run_line(line)

    @on(Input.Changed, "#composer")
    def composer_changed(self, event: Input.Changed) -> None:
        room = self.current
        if self.engine is None or room is None:
            return
        if not event.value:
            if self._typing_at.pop(room, None) is not None:
                self.send_typing(room, False)  # the draft was erased
            return
        if event.value[0] == "/":
            return
        now = asyncio.get_running_loop().time()
        if now - self._typing_at.get(room, -TYPING_EVERY) >= TYPING_EVERY:
            self._typing_at[room] = now
            self.send_typing(room, True)

    @work(group="typing")
    async def send_typing(self, room: str, active: bool) -> None:
        if self.engine is not None:
            with contextlib.suppress(HearthClientError):
                await self.engine.set_typing(room, active)

    @work(group="commands")
    async def run_line(self, line: str) -> None:
        """Run a composer line in order with the ones before it (module doc)."""
        async with self._command_lock:
            if self.commands is None:
                self.add_line(self.current, error_line("still unlocking; try again in a moment"))
                return
            room = self.current
            if room is not None and room in self._typing_at:
                self._typing_at.pop(room)
                self.send_typing(room, False)
            try:
                outcome = await self.commands.run(room, line)
            except CommandError as exc:
                self.add_line(room, error_line(str(exc)))
                return
            target = outcome.room or room
            if outcome.left is not None and outcome.left == self.current:
                rooms = [r.room for r in self.commands.engine.rooms() if r.room != outcome.left]
                self.switch_room(rooms[0] if rooms else None)
                target = self.current
            for note in outcome.notes:
                self.add_line(target, system_line(note))
            if outcome.left is not None:
                self.refresh_rooms()
            elif outcome.room is not None:
                self.switch_room(outcome.room)
            else:
                self.refresh_rooms()
                self.refresh_members()
            if outcome.panel == "resources":
                self.action_resources()
            if outcome.quit:
                self.exit(0)

    # --- actions ----------------------------------------------------------------------------

    def action_quick_exit(self) -> None:
        """Blank the screen at once, then leave (issue 6 "quick-exit key")."""
        self.quick_exited = True
        with contextlib.suppress(Exception):
            self.push_screen(BlankScreen())
        self.exit(0)

    def action_resources(self) -> None:
        if not isinstance(self.screen, ResourcesScreen):
            if self.engine is not None:
                server = self.engine.resources()
            else:  # still locked: the public copy kept in the profile (server_resources.py)
                url = self.server_override or stored_server(self.home) or ""
                server = ServerResources(self.home, url).current if url else ()
            self.push_screen(
                ResourcesScreen(
                    tuple(Resource.from_server(r) for r in server), self.config.resources
                )
            )

    def action_help(self) -> None:
        for note in HELP.splitlines():
            self.add_line(self.current, system_line(note))

    def action_next_room(self) -> None:
        if self.engine is None:
            return
        rooms = [info.room for info in self.engine.rooms()]
        if rooms:
            index = rooms.index(self.current) + 1 if self.current in rooms else 0
            self.switch_room(rooms[index % len(rooms)])

    async def on_unmount(self) -> None:
        if self.history is not None:
            self.history.close()
        if self.engine is not None:
            engine, self.engine = self.engine, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(engine.close(), 5)


__all__ = ["HearthApp"]
