"""The scriptable CLI through a real server (issue 6 "Must show": two profiles create,
invite, join, send and listen; bad input gives one line and a non-zero exit code and
loses nothing). Every command runs the real ``hearth`` program in a subprocess."""

from __future__ import annotations

import json
from pathlib import Path

from hearth_client.cli import (
    EXIT_INVITE,
    EXIT_NOT_FOUND,
    EXIT_PROFILE,
    EXIT_TIMEOUT,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
)

from .test_terminal_support import (  # noqa: F401 (fixtures)
    PASSPHRASE,
    UNIT,
    ServerHandle,
    config,
    hearth,
    server,
    server_logs,
    server_options,
)


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("hearth: error:")]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


async def _room_with_two(server: ServerHandle, tmp_path: Path) -> tuple[Path, Path, str]:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    made = await hearth(alice, "--server", server.url, "room", "create", "circle", "--as", "alice")
    assert made.code == 0, made.err
    room = made.out.strip()
    assert "created a new profile" in made.err
    invite = await hearth(alice, "invite", "create", "circle")
    assert invite.code == 0, invite.err
    link = invite.out.strip()
    assert link.startswith(server.url + "#")
    joined = await hearth(bob, "join", link, "--as", "bob")  # the link names the server
    assert joined.code == 0, joined.err
    assert joined.out.strip() == room
    return alice, bob, room


async def test_two_profiles_create_invite_join_send_listen(
    server: ServerHandle, tmp_path: Path
) -> None:
    alice, bob, room = await _room_with_two(server, tmp_path)
    for text in ["first line", "second [b]line[/b]"]:
        sent = await hearth(alice, "send", "circle", text)
        assert sent.code == 0, sent.err
        assert int(sent.out) > 0
    heard = await hearth(bob, "listen", room, "--json", "--count", "2", "--timeout", "30")
    assert heard.code == 0, heard.err
    messages = [json.loads(line) for line in heard.out.splitlines()]
    assert [m["text"] for m in messages] == ["first line", "second [b]line[/b]"]
    assert len({m["sender"] for m in messages}) == 1
    assert messages[-1]["pseudonym"] == "alice"
    assert {m["role"] for m in messages} == {"facilitator"}
    assert messages[0]["seq"] < messages[1]["seq"]
    # Bob answers; Alice hears it, and her own lines are not repeated to her.
    assert (await hearth(bob, "send", room, "thank you")).code == 0
    back = await hearth(alice, "listen", "circle", "--json", "--count", "1", "--timeout", "30")
    assert back.code == 0, back.err
    answer = json.loads(back.out)
    assert (answer["text"], answer["pseudonym"], answer["own"]) == ("thank you", "bob", False)
    # Key fingerprints: 12 groups of 5 digits, per room.
    keys = await hearth(alice, "keys", "fingerprint", "circle")
    assert keys.code == 0, keys.err
    room_id, fingerprint = keys.out.strip().split("\t")
    assert room_id == room
    assert [len(group) for group in fingerprint.split()] == [5] * 12


async def test_listen_times_out_with_exit_code_and_prints_what_came(
    server: ServerHandle, tmp_path: Path
) -> None:
    alice, bob, room = await _room_with_two(server, tmp_path)
    assert (await hearth(alice, "send", "circle", "only one")).code == 0
    heard = await hearth(bob, "listen", room, "--json", "--count", "2", "--timeout", str(3 * UNIT))
    assert heard.code == EXIT_TIMEOUT
    assert [json.loads(line)["text"] for line in heard.out.splitlines()] == ["only one"]
    assert "timed out after 1 of 2" in heard.err


async def test_bad_input_one_line_nonzero_exit_nothing_lost(
    server: ServerHandle, tmp_path: Path
) -> None:
    alice, bob, room = await _room_with_two(server, tmp_path)

    unknown = await hearth(alice, "send", "no-such-room", "hello")
    assert unknown.code == EXIT_NOT_FOUND
    assert "no room 'no-such-room'" in one_error_line(unknown.err)

    wrong = await hearth(alice, "send", "circle", "hello", passphrase="not the passphrase")
    assert wrong.code == EXIT_PROFILE
    assert "wrong passphrase" in one_error_line(wrong.err)

    malformed = await hearth(bob, "join", "not-an-invite")
    assert malformed.code == EXIT_INVITE
    assert "invite code is 43 characters" in one_error_line(malformed.err)

    link = (await hearth(alice, "invite", "create", "circle")).out.strip()
    carol = tmp_path / "carol"
    assert (await hearth(carol, "join", link, "--as", "carol")).code == 0
    used = await hearth(tmp_path / "dave", "join", link, "--as", "dave")  # one use only
    assert used.code == EXIT_INVITE
    one_error_line(used.err)

    no_profile = await hearth(tmp_path / "nobody", "send", "circle", "hi")
    assert no_profile.code == EXIT_PROFILE
    assert "no profile" in one_error_line(no_profile.err)

    usage = await hearth(alice, "listen")
    assert usage.code == EXIT_USAGE

    fresh = await hearth(tmp_path / "fresh", "--server", server.url, "init")
    assert fresh.code == 0, fresh.err
    assert (tmp_path / "fresh" / "keystore.hks").is_file()
    again = await hearth(alice, "--server", server.url, "init")
    assert again.code == EXIT_PROFILE
    assert "already exists" in one_error_line(again.err)
    rooms = await hearth(alice, "room", "list")
    assert rooms.code == 0
    assert rooms.out.splitlines() == [f"{room}\tmember\tcircle"]

    await server.stop()
    down = await hearth(alice, "--connect-timeout", str(2 * UNIT), "send", "circle", "while down")
    assert down.code == EXIT_UNREACHABLE
    assert "cannot reach the server" in one_error_line(down.err)
    await server.start()

    # Nothing was lost: the same profiles still work, and the room goes on.
    assert (await hearth(alice, "send", "circle", "after the outage")).code == 0
    heard = await hearth(bob, "listen", room, "--json", "--count", "1", "--timeout", "30")
    assert heard.code == 0, heard.err
    assert json.loads(heard.out)["text"] == "after the outage"
