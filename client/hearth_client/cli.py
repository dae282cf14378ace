"""``hearth``: the terminal client's command line (issue 6).

Usage::

    hearth [--home DIR] [--server URL]              the Textual client
    hearth --plain                                  line mode (screen readers, slow links)
    hearth init                                     create a profile (needs --server)
    hearth room create NAME [--as PSEUDONYM]        prints the room id
    hearth room list                                one line per room: id, status, name
    hearth invite create ROOM [--waiting] [--uses N] [--expires SECONDS]   prints the link
    hearth join INVITE [--as PSEUDONYM]             a link or a code; prints the room id
    hearth send ROOM TEXT
    hearth listen ROOM [--json] [--count N] [--timeout SECONDS]
    hearth keys fingerprint [ROOM]                  this profile's key fingerprint per room
    hearth resources [--json]                       "I need help": crisis resources

ROOM is a room id or a room's unique name (a server mints no id or invite code
beginning with ``-``; an older one that does goes after ``--``). The profile
directory is ``--home DIR``, else ``$HEARTH_HOME`` (:mod:`hearth_client.profile`);
the server is ``--server URL``, else the profile's. The passphrase comes from
``$HEARTH_PASSPHRASE``, else it is asked for on the terminal. The first command run
with ``--server`` (or ``join`` with an invite link) on an empty directory creates
the profile.

``listen`` prints each message of ROOM (including any that arrived since this
profile last read the room), as a JSON object per line with ``--json``: ``room,
seq, sender, pseudonym, role, kind, text, ts, epoch, own``. It stops after
``--count`` messages, or after ``--timeout`` seconds.

``resources`` needs no passphrase: it prints the server operator's crisis resources
as the profile kept them from the last ``server_hello`` (protocol.md §4.1,
:mod:`hearth_client.server_resources`), then the user's own from ``client.toml``,
one per line as ``source<TAB>name<TAB>contact<TAB>hours<TAB>url<TAB>note`` (source
``server`` or ``local``; text made one line, control characters removed), or as a
JSON object per line with ``--json`` (``source, name, contact, note, url, hours``).
With none configured it says so on stderr and exits 0.

Exit codes (every error is one line on stderr, ``hearth: error: ...``)::

    0  done
    1  an unexpected failure (a bug: please report it)
    2  bad command line
    3  profile: none here, wrong passphrase, damaged, in use, or a bad client.toml
    4  unknown room or member, or not allowed (for example not a facilitator)
    5  the invite is malformed, or the server refused it (unknown, expired, used up)
    6  the server cannot be reached
    7  the server refused the request, or the room's encrypted state cannot advance
    8  listen: --timeout passed before --count messages arrived
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import getpass
import json
import sys
from collections.abc import AsyncIterator
from pathlib import Path
from typing import NoReturn

from hearth_client import events as ev
from hearth_client.engine import Engine, parse_invite
from hearth_client.errors import (
    ClientUsageError,
    HearthClientError,
    InvalidInviteError,
    InviteRefusedError,
    NotConnectedError,
    RoomProtocolError,
    ServerRefusedError,
)
from hearth_client.keystore import KeystoreError, WrongPassphraseError
from hearth_client.plain import NO_RESOURCES
from hearth_client.profile import (
    ProfileConfigError,
    Resource,
    load_config,
    passphrase_from_env,
    profile_exists,
    resolve_home,
    stored_server,
)
from hearth_client.sanitize import one_line
from hearth_client.server_resources import ServerResources
from hearth_client.tui.commands import DEFAULT_PSEUDONYM, CommandError, resolve_room
from hearth_core.errors import HearthCoreError

EXIT_OK = 0
EXIT_BUG = 1
EXIT_USAGE = 2
EXIT_PROFILE = 3
EXIT_NOT_FOUND = 4
EXIT_INVITE = 5
EXIT_UNREACHABLE = 6
EXIT_REFUSED = 7
EXIT_TIMEOUT = 8


class CliError(Exception):
    """A failure with its exit code (module doc); ``str()`` is the one line shown."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code


def exit_code_for(exc: BaseException) -> int:
    """The documented exit code of an engine, keystore or command error."""
    if isinstance(exc, CliError):
        return exc.code
    if isinstance(exc, InvalidInviteError | InviteRefusedError):
        return EXIT_INVITE
    if isinstance(exc, KeystoreError | ProfileConfigError):
        return EXIT_PROFILE
    if isinstance(exc, ClientUsageError | CommandError | HearthCoreError):
        return EXIT_NOT_FOUND
    if isinstance(exc, NotConnectedError | OSError):
        return EXIT_UNREACHABLE
    if isinstance(exc, ServerRefusedError | RoomProtocolError | HearthClientError):
        return EXIT_REFUSED
    return EXIT_BUG


def error_text(exc: BaseException) -> str:
    if isinstance(exc, WrongPassphraseError):
        return "wrong passphrase for this profile"
    if isinstance(exc, TimeoutError) and not str(exc):
        return "the server did not answer in time"
    if isinstance(exc, NotConnectedError):
        return f"cannot reach the server ({one_line(str(exc)) or 'no connection'})"
    return one_line(str(exc)) or type(exc).__name__


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"hearth: error: {message} (hearth --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="hearth", description="Hearth: end-to-end encrypted peer support.")
    parser.add_argument("--home", help="profile directory (default: $HEARTH_HOME)")
    parser.add_argument("--server", help="server URL, ws://host:port/ws (default: the profile's)")
    parser.add_argument("--plain", action="store_true", help="line mode: no redraws")
    parser.add_argument(
        "--connect-timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="how long a command waits for the server (default 15)",
    )
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)
    sub.add_parser("init", help="create a profile")
    room = sub.add_parser("room", help="rooms").add_subparsers(dest="action", required=True)
    create = room.add_parser("create", help="create a room")
    create.add_argument("name")
    create.add_argument("--as", dest="pseudonym", default=DEFAULT_PSEUDONYM)
    room.add_parser("list", help="list rooms")
    invite = sub.add_parser("invite", help="invites").add_subparsers(dest="action", required=True)
    make = invite.add_parser("create", help="create an invite to ROOM")
    make.add_argument("room")
    make.add_argument("--waiting", action="store_true", help="through the waiting room")
    make.add_argument("--uses", type=int, default=1)
    make.add_argument("--expires", type=int, default=86400, metavar="SECONDS")
    join = sub.add_parser("join", help="join with an invite link or code")
    join.add_argument("invite")
    join.add_argument("--as", dest="pseudonym", default=DEFAULT_PSEUDONYM)
    send = sub.add_parser("send", help="send a message")
    send.add_argument("room")
    send.add_argument("text")
    listen = sub.add_parser("listen", help="print a room's messages")
    listen.add_argument("room")
    listen.add_argument("--json", action="store_true", help="one JSON object per line")
    listen.add_argument("--count", type=int, default=None)
    listen.add_argument("--timeout", type=float, default=None, metavar="SECONDS")
    keys = sub.add_parser("keys", help="keys").add_subparsers(dest="action", required=True)
    fingerprint = keys.add_parser("fingerprint", help="key fingerprints")
    fingerprint.add_argument("room", nargs="?")
    resources = sub.add_parser("resources", help='"I need help": crisis resources')
    resources.add_argument("--json", action="store_true", help="one JSON object per line")
    return parser


def print_resources(args: argparse.Namespace) -> int:
    """``hearth resources`` (module doc): the kept server copy, then client.toml's."""
    home = resolve_home(args.home)
    url = args.server or stored_server(home)
    server = ServerResources(home, url).current if url else ()
    rows = [("server", Resource.from_server(r)) for r in server]
    rows += [("local", r) for r in load_config(home).resources]
    if not rows:
        print(f"hearth: {NO_RESOURCES}", file=sys.stderr)
    for source, r in rows:
        fields = {"name": r.name, "contact": r.contact, "hours": r.hours, "url": r.url}
        fields["note"] = r.note
        if args.json:
            print(json.dumps({"source": source, **fields}))
        else:
            print("\t".join([source, *(one_line(v).replace("\t", " ") for v in fields.values())]))
    return EXIT_OK


def ask_passphrase(home: Path, *, create: bool) -> str:
    """``$HEARTH_PASSPHRASE``, else asked on the terminal (twice for a new profile)."""
    value = passphrase_from_env()
    if value is not None:
        return value
    if not sys.stdin.isatty():
        raise CliError(EXIT_PROFILE, "no passphrase: set HEARTH_PASSPHRASE or run in a terminal")
    value = getpass.getpass(f"Passphrase for {home}: ")
    if create and getpass.getpass("Type it again: ") != value:
        raise CliError(EXIT_PROFILE, "the two passphrases differ")
    if not value:
        raise CliError(EXIT_PROFILE, "an empty passphrase is not allowed")
    return value


async def open_engine(args: argparse.Namespace, *, server_hint: str | None = None) -> Engine:
    """Open the profile, or create it when there is none and a server is known."""
    home = resolve_home(args.home)
    if profile_exists(home):
        return await Engine.open_profile(
            home, ask_passphrase(home, create=False), server=args.server
        )
    server = args.server or server_hint
    if server is None:
        raise CliError(
            EXIT_PROFILE, f"no profile in {home}: give --server URL to create one, or --home"
        )
    passphrase = ask_passphrase(home, create=True)
    engine = await Engine.create_profile(home, passphrase, server=server)
    print(f"hearth: created a new profile in {home}", file=sys.stderr)
    return engine


@contextlib.asynccontextmanager
async def online(args: argparse.Namespace, engine: Engine) -> AsyncIterator[Engine]:
    """The engine online, with every room it had caught up (``Synced``, protocol.md §4.6).

    Acting on a room before its backlog is processed would encrypt for an epoch the
    room has left (a member who joined meanwhile could not read it).
    """
    pending = {info.room for info in engine.rooms() if info.status == "member"}
    caught_up = asyncio.Event()

    def on_event(event: ev.Event) -> None:
        if isinstance(event, ev.Synced):
            pending.discard(event.room)
            if not pending:
                caught_up.set()

    remove = engine.add_listener(on_event)
    if not pending:
        caught_up.set()
    try:
        async with engine:
            await engine.wait_online(args.connect_timeout)
            try:
                async with asyncio.timeout(args.connect_timeout):
                    await caught_up.wait()
            except TimeoutError:
                raise CliError(
                    EXIT_UNREACHABLE, "the server did not send the rooms' backlog in time"
                ) from None
            yield engine
    finally:
        remove()


def message_json(event: ev.MessageReceived) -> str:
    return json.dumps(
        {
            "room": event.room,
            "seq": event.seq,
            "sender": event.sender,
            "pseudonym": event.pseudonym,
            "role": str(event.role),
            "kind": str(event.kind),
            "text": event.text,
            "ts": event.ts,
            "epoch": event.epoch,
            "own": event.own,
        }
    )


async def run_command(args: argparse.Namespace) -> int:
    command = args.command
    if command == "resources":
        return print_resources(args)
    if command == "init":
        home = resolve_home(args.home)
        if profile_exists(home):
            raise CliError(EXIT_PROFILE, f"a profile already exists in {home}")
        engine = await open_engine(args)
        await engine.close()
        return EXIT_OK
    if command == "join":
        server_hint, _code = parse_invite(args.invite)
        engine = await open_engine(args, server_hint=server_hint)
        async with online(args, engine):
            info = await engine.join(args.invite, pseudonym=args.pseudonym)
            if info.status == "member":
                # Announce the pseudonym now: this process ends before the engine's
                # background announcement would go out (reported as an engine gap).
                await engine.set_pseudonym(info.room, args.pseudonym)
            print(info.room)
            if info.status == "waiting":
                print("hearth: in the waiting room until a facilitator admits you", file=sys.stderr)
        return EXIT_OK
    engine = await open_engine(args)
    if command == "room" and args.action == "list":
        try:
            for info in engine.rooms():
                print(f"{info.room}\t{info.status}\t{one_line(info.name)}")
        finally:
            await engine.close()
        return EXIT_OK
    if command == "keys":
        try:
            rooms = (
                [resolve_room(engine, args.room)] if args.room else [r.room for r in engine.rooms()]
            )
            if not rooms:
                print("hearth: no rooms yet; each room has its own key", file=sys.stderr)
            for room in rooms:
                print(f"{room}\t{engine.fingerprint(room)}")
        finally:
            await engine.close()
        return EXIT_OK
    async with online(args, engine):
        if command == "room":
            info = await engine.create_room(args.name, pseudonym=args.pseudonym)
            print(info.room)
        elif command == "invite":
            room = resolve_room(engine, args.room)
            invite = await engine.create_invite(
                room,
                max_uses=args.uses,
                expires_in=args.expires,
                waiting_room=True if args.waiting else None,
            )
            print(invite.link)
        elif command == "send":
            room = resolve_room(engine, args.room)
            sent = await engine.send(room, args.text)
            print(sent.seq)
        elif command == "listen":
            return await listen(args, engine)
    return EXIT_OK


async def listen(args: argparse.Namespace, engine: Engine) -> int:
    """Print the room's messages (module doc); the listener was added before start."""
    room = resolve_room(engine, args.room)
    if args.count is not None and args.count < 1:
        raise CliError(EXIT_USAGE, "--count must be at least 1")
    queue: asyncio.Queue[ev.MessageReceived] = asyncio.Queue()
    for event in engine.history(room):
        queue.put_nowait(event)
    remove = engine.add_listener(
        lambda event: (
            queue.put_nowait(event)
            if isinstance(event, ev.MessageReceived) and event.room == room
            else None
        )
    )
    printed = 0
    try:
        async with asyncio.timeout(args.timeout):
            while args.count is None or printed < args.count:
                event = await queue.get()
                if args.json:
                    print(message_json(event), flush=True)
                else:
                    from hearth_client.tui.render import message_line

                    print(message_line(event).plain, flush=True)
                printed += 1
    except TimeoutError:
        if args.count is not None:
            print(f"hearth: timed out after {printed} of {args.count} messages", file=sys.stderr)
            return EXIT_TIMEOUT
    finally:
        remove()
    return EXIT_OK


def run_interactive(args: argparse.Namespace) -> int:
    home = resolve_home(args.home)
    config = load_config(home)
    if args.plain:
        from hearth_client.plain import run_plain

        return asyncio.run(run_plain(home, args.server, config))
    from hearth_client.tui.app import HearthApp

    app = HearthApp(home, server=args.server, passphrase=passphrase_from_env(), config=config)
    code = app.run()
    if app.quick_exited and sys.stdout.isatty():
        sys.stdout.write("\x1b[2J\x1b[3J\x1b[H")  # erase the screen and the scrollback
        sys.stdout.flush()
    return code or 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command is None:
            return run_interactive(args)
        return asyncio.run(run_command(args))
    except KeyboardInterrupt:
        return 130
    except (
        CliError,
        HearthClientError,
        KeystoreError,
        HearthCoreError,
        ProfileConfigError,
        CommandError,
        OSError,
    ) as exc:
        print(f"hearth: error: {error_text(exc)}", file=sys.stderr)
        return exit_code_for(exc)


__all__ = ["CliError", "build_parser", "exit_code_for", "main"]
