"""Crisis resources: configured by the operator, checked at start-up, sent in
``server_hello`` (protocol.md §4.1). Every entry here is an obvious example, not a
real service."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from hearth_core.frames import MAX_RESOURCES, Resource, ServerHello
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig, load_config
from hearth_server.errors import ConfigError

from .client import ProtocolClient

EXAMPLE = Resource(
    name="Example Helpline (not a real service)",
    contact="call 555-0100",
    note="free and confidential",
    url="https://help.example.org/",
    hours="24/7",
)


def load(tmp_path: Path, toml: str, environ: dict[str, str] | None = None) -> ServerConfig:
    path = tmp_path / "server.toml"
    path.write_text(toml)
    return load_config(["--config", str(path)], environ or {})


def test_server_table_resources_are_loaded(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        """
[server]
port = 0

[[server.resources]]
name = "Example Helpline (not a real service)"
contact = "call 555-0100"
note = "free and confidential"
url = "https://help.example.org/"
hours = "24/7"

[[server.resources]]
name = "Example Text Line"
contact = "text EXAMPLE to 00000"
""",
    )
    assert config.resources == (
        EXAMPLE,
        Resource(name="Example Text Line", contact="text EXAMPLE to 00000"),
    )


def test_top_level_resources_are_loaded_with_or_without_a_server_table(tmp_path: Path) -> None:
    entry = '[[resources]]\nname = "Example Line"\ncontact = "example.org/chat"\n'
    assert load(tmp_path, entry).resources == (
        Resource(name="Example Line", contact="example.org/chat"),
    )
    with_table = load(tmp_path, "[server]\nport = 0\n\n" + entry)
    assert with_table.port == 0
    assert with_table.resources == (Resource(name="Example Line", contact="example.org/chat"),)


def test_no_resources_by_default(tmp_path: Path) -> None:
    assert load(tmp_path, "port = 0\n").resources == ()


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ('resources = "call someone"', "resources must be an array of tables"),
        ("resources = [1]", r"resources\[0\] must be a table"),
        ('[[resources]]\ncontact = "x"', r"resources\[0\] needs a name"),
        ('[[resources]]\nname = "x"', r"resources\[0\] needs a contact"),
        ('[[resources]]\nname = "x"\ncontact = 5', r"resources\[0\].contact must be text"),
        ('[[resources]]\nname = "x"\ncontact = "y"\nphone = "z"', "unknown key 'phone'"),
        ('[[resources]]\nname = "   "\ncontact = "y"', r"resources\[0\].name must not be blank"),
        (
            f'[[resources]]\nname = "{"n" * 81}"\ncontact = "y"',
            r"name must be at most 80 characters",
        ),
        (f'[[resources]]\nname = "x"\ncontact = "{"c" * 201}"', r"contact must be at most 200"),
        ('[[resources]]\nname = "x\\u001b[31m"\ncontact = "y"', "without control characters"),
        (
            '[[resources]]\nname = "x"\ncontact = "y"\nnote = "two\\nlines"',
            r"\.note must be one line",
        ),
        ('[[resources]]\nname = "x\\u202eevil"\ncontact = "y"', "bidi controls"),
        (
            '[[resources]]\nname = "x"\ncontact = "y"\nurl = "javascript:alert(1)"',
            r"\.url must be an http",
        ),
        ('[[resources]]\nname = "x"\ncontact = "y"\nurl = "https://a b"', r"\.url must be an http"),
        ('[[resources]]\nname = "x"\ncontact = "y"\nhours = ""', r"\.hours must not be blank"),
        (
            '[server]\n[[server.resources]]\nname = "a"\ncontact = "b"\n'
            '[[resources]]\nname = "c"\ncontact = "d"\n',
            "both in",
        ),
        (
            "".join(
                f'[[resources]]\nname = "n{i}"\ncontact = "c"\n' for i in range(MAX_RESOURCES + 1)
            ),
            f"at most {MAX_RESOURCES} resources",
        ),
    ],
)
def test_bad_resources_are_refused_at_start_up(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load(tmp_path, toml)


def test_exactly_the_limit_is_accepted(tmp_path: Path) -> None:
    toml = "".join(f'[[resources]]\nname = "n{i}"\ncontact = "c"\n' for i in range(MAX_RESOURCES))
    assert len(load(tmp_path, toml).resources) == MAX_RESOURCES


def test_resources_cannot_come_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="only in the config file"):
        load(tmp_path, "port = 0\n", {"HEARTH_RESOURCES": "[]"})


def test_a_config_built_in_code_is_checked_too(tmp_path: Path) -> None:
    bad = ServerConfig(db=tmp_path / "h.db", resources=(Resource(name="ok", contact="a\x07b"),))
    with pytest.raises(ConfigError, match=r"resources\[0\].contact must be one line"):
        bad.validate()


async def test_server_hello_carries_the_resources(config: ServerConfig) -> None:
    second = Resource(name="Example Peer Line", contact="example.org/chat")
    async with HearthServer(replace(config, resources=(EXAMPLE, second)).validate()) as server:
        client = await ProtocolClient.connect(server.url)
        try:
            hello = await client.hello()
        finally:
            await client.close()
    assert isinstance(hello, ServerHello)
    assert hello.resources == (EXAMPLE, second)


async def test_server_hello_without_resources_has_none(config: ServerConfig) -> None:
    async with HearthServer(config) as server:
        client = await ProtocolClient.connect(server.url)
        try:
            hello = await client.hello()
        finally:
            await client.close()
    assert hello.resources == ()
