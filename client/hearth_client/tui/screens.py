"""Modal screens of the terminal client (issue 6): unlock or first-run onboarding,
the "I need help" resources panel, and the blank screen shown by the quick exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from hearth_client.profile import Resource
from hearth_client.sanitize import one_line, plain_text

NO_RESOURCES = (
    "Your server's operator has not configured crisis resources for this deployment. "
    "If you are in danger right now, contact your local emergency services."
)
SERVER_TITLE = "From your server's operator:"
LOCAL_TITLE = "From your own client.toml:"


def resource_text(resource: Resource) -> Text:
    """One resource as literal text (peer/operator text is never markup, sanitize.py)."""
    line = plain_text(one_line(resource.name), "bold")
    line.append("\n" + one_line(resource.contact))
    for extra in (resource.hours, resource.url, resource.note):
        if extra:
            line.append("\n" + one_line(extra), style="dim")
    return line


class UnlockScreen(ModalScreen[None]):
    """First run: choose a server and a passphrase. Later: type the passphrase.

    Calls ``submit(server, passphrase)``; the app reports a failure through
    :meth:`show_error` and dismisses this screen once the profile is open.
    """

    def __init__(
        self,
        *,
        create: bool,
        server: str,
        submit: Callable[[str, str], object],
        error: str = "",
    ) -> None:
        super().__init__()
        self.submit = submit
        self.create = create
        self.server = server
        self.error_text = error

    def compose(self) -> ComposeResult:
        with Vertical(id="unlock-box"):
            if self.create:
                yield Label("Welcome to Hearth. Nothing here asks for your name, email or phone.")
                yield Label("Server address (from your invite):")
                yield Input(value=self.server, placeholder="wss://host/ws", id="server")
                yield Label("Choose a passphrase. It protects your keys on this device:")
                yield Input(password=True, id="passphrase")
                yield Label("Type it again:")
                yield Input(password=True, id="confirm")
            else:
                yield Label("Hearth is locked. Passphrase:")
                yield Input(password=True, id="passphrase")
            yield Static(plain_text(self.error_text), id="unlock-error")

    def on_mount(self) -> None:
        target = "#server" if self.create and not self.server else "#passphrase"
        self.query_one(target, Input).focus()

    def show_error(self, text: str) -> None:
        self.error_text = text
        self.query_one("#unlock-error", Static).update(plain_text(text))
        self.query_one("#passphrase", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        passphrase = self.query_one("#passphrase", Input).value
        if not self.create:
            if passphrase:
                self.submit("", passphrase)
            return
        server = self.query_one("#server", Input).value.strip()
        confirm = self.query_one("#confirm", Input).value
        if event.input.id == "passphrase" and not confirm:
            self.query_one("#confirm", Input).focus()
            return
        if not server.startswith(("ws://", "wss://")):
            self.show_error("the server address starts with ws:// or wss://")
        elif len(passphrase) < 8:
            self.show_error("choose a passphrase of at least 8 characters")
        elif passphrase != confirm:
            self.show_error("the two passphrases differ")
        else:
            self.submit(server, passphrase)


class ResourcesScreen(ModalScreen[None]):
    """ "I need help": the server operator's crisis resources (protocol.md §4.1), then the
    user's own from client.toml (profile doc); all of it shown as plain text."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, server: tuple[Resource, ...], local: tuple[Resource, ...] = ()) -> None:
        super().__init__()
        self.server = server
        self.local = local

    def compose(self) -> ComposeResult:
        with Vertical(id="resources-box"):
            yield Label("I need help")
            if not self.server and not self.local:
                yield Static(NO_RESOURCES, id="no-resources")
            for title, resources, group in (
                (SERVER_TITLE, self.server, "server-resources"),
                (LOCAL_TITLE, self.local, "local-resources"),
            ):
                if resources:
                    yield Static(title, classes="panel-title")
                for resource in resources:
                    yield Static(resource_text(resource), classes=f"resource {group}")
            yield Static(
                "You can also tell a facilitator in your room. Quick exit: ctrl+q or F12.",
                classes="panel-title",
            )
            yield Button("Close (esc)", id="close-resources")

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class BlankScreen(Screen[None]):
    """Nothing at all: what the terminal shows between a quick exit and the program's end."""

    def compose(self) -> ComposeResult:
        return iter(())


__all__ = ["NO_RESOURCES", "BlankScreen", "ResourcesScreen", "UnlockScreen"]
