"""Modal screens of the terminal client (issue 6): unlock or first-run onboarding,
the "I need help" resources panel, and the blank screen shown by the quick exit."""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import ModalScreen, Screen
from textual.widgets import Button, Input, Label, Static

from hearth_client.profile import Resource
from hearth_client.sanitize import clean, plain_text

NO_RESOURCES = (
    "Your server's operator has not configured crisis resources for this deployment. "
    "If you are in danger right now, contact your local emergency services."
)


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
    """ "I need help": the crisis resources the server's operator configured (profile doc)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "close", "Close")]

    def __init__(self, resources: tuple[Resource, ...]) -> None:
        super().__init__()
        self.resources = resources

    def compose(self) -> ComposeResult:
        with Vertical(id="resources-box"):
            yield Label("I need help")
            if not self.resources:
                yield Static(NO_RESOURCES, id="no-resources")
            else:
                yield Static(
                    "Configured by your server's operator (client.toml in your profile):",
                    classes="panel-title",
                )
                for resource in self.resources:
                    line = plain_text(resource.name, "bold")
                    line.append("\n" + clean(resource.contact))
                    if resource.note:
                        line.append("\n" + clean(resource.note), style="dim")
                    yield Static(line, classes="resource")
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
