"""HTTP on the websocket port, TLS, and config precedence (protocol.md §2.2; README)."""

from __future__ import annotations

import asyncio
import datetime
import ssl
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hearth_server.app import HearthServer
from hearth_server.config import ServerConfig, load_config
from hearth_server.errors import ConfigError

from .client import TIMEOUT, ProtocolClient
from .conftest import Connect, make_room


async def http(port: int, request: bytes) -> tuple[int, bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(request)
    await writer.drain()
    async with asyncio.timeout(TIMEOUT):
        data = await reader.read()
    writer.close()
    await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def get(path: str, method: str = "GET") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()


async def test_healthz_metrics_and_method_checks(server: HearthServer, connect: Connect) -> None:
    client = await connect()
    await make_room(client)
    assert await http(server.port, get("/healthz")) == (200, b"ok\n")
    status, body = await http(server.port, get("/metrics"))
    assert status == 200
    assert b"hearth_connections 1.0" in body
    assert b'hearth_frames_received_total{type="create_room"} 1.0' in body
    assert (await http(server.port, get("/healthz", "POST")))[0] == 405
    assert (await http(server.port, get("/metrics", "DELETE")))[0] == 405
    assert (await http(server.port, get("/elsewhere")))[0] == 404


async def test_each_server_has_its_own_registry(config: ServerConfig, tmp_path: Path) -> None:
    async with (
        HearthServer(config) as one,
        HearthServer(replace(config, db=tmp_path / "two.db")) as two,
    ):
        client = await ProtocolClient.connect(one.url)
        await client.hello()
        _, body = await http(two.port, get("/metrics"))
        assert b"hearth_connections 0.0" in body
        await client.close()


def self_signed(tmp_path: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


async def test_tls(config: ServerConfig, tmp_path: Path) -> None:
    cert, key = self_signed(tmp_path)
    async with HearthServer(replace(config, cert=cert, key=key)) as running:
        assert running.url.startswith("wss://")
        context = ssl.create_default_context(cafile=str(cert))
        url = f"wss://localhost:{running.port}/ws"
        client = await ProtocolClient.connect(url, ssl_context=context)
        await client.hello()
        room, _ = await make_room(client)
        assert len(room) == 22
        await client.close()
        with pytest.raises(ssl.SSLCertVerificationError):
            await ProtocolClient.connect(url, ssl_context=ssl.create_default_context())


def test_config_precedence(tmp_path: Path) -> None:
    toml = tmp_path / "hearth.toml"
    toml.write_text('[server]\nport = 1111\nmax_payload = 2048\nsend_rate = 3.5\nhost = "::"\n')
    env = {"HEARTH_PORT": "2222", "HEARTH_MAX_PAYLOAD": "4096", "HEARTH_COMPRESSION": "yes"}
    config = load_config(["--config", str(toml), "--port", "3333"], env)
    assert config.port == 3333  # flag over environment over file
    assert config.max_payload == 4096  # environment over file
    assert config.send_rate == 3.5  # file over default
    assert config.host == "::"
    assert config.compression is True
    assert config.page_size == ServerConfig().page_size
    from_env_file = load_config([], {"HEARTH_CONFIG": str(toml)})
    assert from_env_file.port == 1111


def test_default_config_uses_the_user_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path))
    config = load_config([], {})
    assert config.db == tmp_path / "hearth" / "hearth.db"
    assert (config.host, config.port) == ("127.0.0.1", 8765)


@pytest.mark.parametrize(
    ("argv", "env", "text", "message"),
    [
        ([], {"HEARTH_PORT": "eighty"}, None, "cannot use"),
        ([], {"HEARTH_MAX_PAYLOAD": "0"}, None, "max_payload"),
        (["--cert", "c.pem"], {}, None, "together"),
        ([], {}, "nonsense = 1\n", "unknown config key"),
        ([], {}, "port = [\n", "not valid TOML"),
        ([], {"HEARTH_CONFIG": "/nonexistent/hearth.toml"}, None, "cannot read"),
    ],
)
def test_bad_config_is_refused(
    tmp_path: Path, argv: list[str], env: dict[str, str], text: str | None, message: str
) -> None:
    if text is not None:
        path = tmp_path / "bad.toml"
        path.write_text(text)
        argv = [*argv, "--config", str(path)]
    with pytest.raises(ConfigError, match=message):
        load_config(argv, env)


def test_entry_point_reports_config_errors(capsys: pytest.CaptureFixture[str]) -> None:
    from hearth_server.__main__ import main

    assert main(["--config", "/nonexistent/hearth.toml"]) == 2
    assert "cannot read config file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as info:
        main(["--port", "eighty"])
    assert info.value.code == 2
