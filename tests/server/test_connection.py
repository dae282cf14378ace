"""Connection admission (protocol.md §2.2, §3.2, §6, §7): the auth timeout (close 4003)
and the server-wide connection cap (HTTP 503), on real loopback sockets."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.exceptions import InvalidStatus

from hearth_core.errors import CloseCode, ErrorCode
from hearth_core.frames import Auth, CreateRoom, Error, RoomCreated
from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig

from .client import UNIT, ProtocolClient
from .conftest import replace
from .test_http import get, http


def sample(server: HearthServer, name: str, labels: dict[str, str] | None = None) -> float:
    value = server.metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if value is None else value


@pytest.fixture
async def quick_auth_server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(replace(config, auth_timeout=0.3 * UNIT)) as running:
        yield running


async def test_no_auth_after_hello_closes_4003(quick_auth_server: HearthServer) -> None:
    # Authenticated first, so its deadline passes before the lazy clients' deadlines.
    polite = await ProtocolClient.connect(quick_auth_server.url)
    await polite.hello()
    me = await polite.new_identity()
    lazy = await ProtocolClient.connect(quick_auth_server.url)
    await lazy.hello()
    failing = await ProtocolClient.connect(quick_auth_server.url)
    await failing.hello()
    key = Ed25519PrivateKey.generate()
    identity, _ = failing.sign(key)
    answer = await failing.request(Auth(identity=identity, signature=bytes(64)))
    assert isinstance(answer, Error)
    assert answer.code is ErrorCode.BAD_SIGNATURE
    assert await lazy.wait_closed() == CloseCode.AUTH_TIMEOUT
    assert lazy.ws.close_reason == "no auth in time"
    # A failed auth does not count: that connection is closed the same way.
    assert await failing.wait_closed() == CloseCode.AUTH_TIMEOUT
    # The authenticated connection outlived both deadlines and keeps being served.
    created = await polite.ok(CreateRoom(identity=me, pseudonym="river"))
    assert isinstance(created, RoomCreated)
    await polite.close()
    assert sample(quick_auth_server, "hearth_handshake_timeouts_total", {"awaited": "auth"}) == 2


async def test_hello_timeout_still_closes_4001_and_is_counted(config: ServerConfig) -> None:
    async with HearthServer(replace(config, hello_timeout=0.3 * UNIT)) as running:
        silent = await ProtocolClient.connect(running.url)
        assert await silent.wait_closed() == CloseCode.HELLO_TIMEOUT
        assert sample(running, "hearth_handshake_timeouts_total", {"awaited": "hello"}) == 1
        assert sample(running, "hearth_handshake_timeouts_total", {"awaited": "auth"}) == 0


@pytest.fixture
async def full_server(config: ServerConfig) -> AsyncIterator[HearthServer]:
    async with HearthServer(replace(config, max_connections=2)) as running:
        yield running


async def test_handshakes_beyond_max_connections_get_503(full_server: HearthServer) -> None:
    first = await ProtocolClient.connect(full_server.url)
    second = await ProtocolClient.connect(full_server.url)
    with pytest.raises(InvalidStatus) as refused:
        await ProtocolClient.connect(full_server.url)
    assert refused.value.response.status_code == 503
    assert refused.value.response.headers["Retry-After"] == "5"
    assert sample(full_server, "hearth_connections_refused_total") == 1
    # Plain HTTP is not a websocket and is still answered while full.
    assert await http(full_server.port, get("/healthz")) == (200, b"ok\n")
    # The open connections keep being served.
    await first.hello()
    await first.new_identity()
    # Once one leaves, a new connection is admitted.
    await second.close()
    third = await ProtocolClient.connect(full_server.url)
    await third.hello()
    await third.new_identity()
    assert sample(full_server, "hearth_connections_refused_total") == 1
    await first.close()
    await third.close()


def test_config_refuses_non_positive_limits() -> None:
    from hearth_server.errors import ConfigError

    for name in ("max_connections", "auth_timeout"):
        with pytest.raises(ConfigError, match=f"{name} must be greater than 0"):
            ServerConfig(**{name: 0}).validate()  # type: ignore[arg-type]
