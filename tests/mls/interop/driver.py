"""Drive an MLS interop member over Hearth's JSON-lines protocol.

The protocol is the one of ``python -m hearth_mls.interop`` (core/hearth_mls/README.md,
"Interop driver"), also spoken by ``tsmls_driver.mjs`` (ts-mls 1.6.4), so the tests can
pair any two implementations as members of one RFC 9420 group. One JSON object per
line; a request carries ``id`` and ``op``; the answer repeats ``id`` and is
``{"ok": true, ...results}`` or ``{"ok": false, "error": {"code", "message"}}``. Bytes
travel as lowercase hex.

:class:`LineDriver` is the transport (one subprocess, strict request/answer pairing,
bounded waits); :class:`Member` is the typed MLS view the tests use, and the only place
that knows the field names of each operation.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[2]
TSMLS_VERSION = "1.6.4"
TSMLS_DRIVER = HERE / "tsmls_driver.mjs"
#: Seconds one answer may take before the driver is declared hung (a bound, not an assertion).
ANSWER_TIMEOUT = 120.0
MAX_LINE = 16 * 1024 * 1024


class InteropError(Exception):
    """Base of this helper's errors."""


class DriverFailure(InteropError):
    """The driver process itself misbehaved: it died, hung or broke the protocol."""


class DriverError(InteropError):
    """The driver answered a request with an error object (the MLS operation failed)."""

    def __init__(self, name: str, op: str, code: str, message: str) -> None:
        super().__init__(f"{name}: {op} failed: [{code}] {message}")
        self.op = op
        self.code = code
        self.message = message


class LineDriver:
    """One JSON-lines driver subprocess: send a request, read exactly its answer."""

    def __init__(self, name: str, argv: list[str], cwd: Path = ROOT) -> None:
        self.name = name
        self.argv = argv
        self._next_id = 0
        self._buffer = b""
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 (closed in close())
        self._proc = subprocess.Popen(
            argv,
            cwd=cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
            bufsize=0,
        )
        self._selector = selectors.DefaultSelector()
        assert self._proc.stdout is not None
        self._selector.register(self._proc.stdout, selectors.EVENT_READ)

    def stderr_tail(self, limit: int = 4000) -> str:
        self._stderr.seek(0)
        text = self._stderr.read().decode("utf-8", "replace")
        return text[-limit:]

    def _fail(self, why: str, *, ended: bool = False) -> DriverFailure:
        if ended:  # its pipes closed: give the exit status a moment to be reapable
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._proc.wait(timeout=10)
        code = self._proc.poll()
        status = "running" if code is None else f"exited with {code}"
        return DriverFailure(
            f"{self.name} ({' '.join(self.argv)}): {why}; process {status}; "
            f"stderr:\n{self.stderr_tail()}"
        )

    def send_raw(self, line: bytes) -> None:
        """Write one line as is (the tests use this to send malformed requests)."""
        assert self._proc.stdin is not None
        try:
            self._proc.stdin.write(line + b"\n")
            self._proc.stdin.flush()
        except BrokenPipeError:
            raise self._fail("its stdin is closed", ended=True) from None

    def read_answer(self) -> dict[str, Any]:
        """Read the next answer line, waiting at most :data:`ANSWER_TIMEOUT` seconds."""
        assert self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buffer:
            if len(self._buffer) > MAX_LINE:
                raise self._fail(f"answer longer than {MAX_LINE} bytes")
            if not self._selector.select(ANSWER_TIMEOUT):
                raise self._fail(f"no answer within {ANSWER_TIMEOUT:.0f} s")
            chunk = os.read(fd, 1 << 16)
            if not chunk:
                raise self._fail("its stdout closed before answering", ended=True)
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        try:
            answer = json.loads(line)
        except ValueError:
            raise self._fail(f"answered with a line that is not JSON: {line[:200]!r}") from None
        if not isinstance(answer, dict):
            raise self._fail(f"answered with a non-object: {line[:200]!r}")
        return answer

    def call(self, op: str, **params: Any) -> dict[str, Any]:
        """Send ``op`` with ``params``; return the result fields or raise :class:`DriverError`."""
        self._next_id += 1
        request_id = self._next_id
        self.send_raw(json.dumps({"id": request_id, "op": op, **params}).encode())
        answer = self.read_answer()
        if answer.get("id") != request_id:
            raise self._fail(f"answered id {answer.get('id')!r} to request {request_id}")
        check_answer_shape(answer, op, self._fail)
        if answer["ok"] is False:
            error = answer["error"]
            raise DriverError(self.name, op, error["code"], error["message"])
        return {k: v for k, v in answer.items() if k not in {"id", "ok"}}

    def close(self) -> None:
        """Close stdin (the driver exits on end of input) and reap the process."""
        self._selector.close()
        if self._proc.stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                self._proc.stdin.close()
        try:
            self._proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait(timeout=20)
        if self._proc.stdout is not None:
            self._proc.stdout.close()
        self._stderr.close()

    def __enter__(self) -> LineDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def check_answer_shape(
    answer: dict[str, Any], op: str, fail: Callable[[str], DriverFailure]
) -> None:
    """An answer is ``{"id", "ok": true, ...}`` or ``{"id", "ok": false, "error": {...}}``."""
    ok = answer.get("ok")
    if ok is True:
        return
    error = answer.get("error")
    if not (
        ok is False
        and isinstance(error, dict)
        and isinstance(error.get("code"), str)
        and error["code"]
        and isinstance(error.get("message"), str)
        and error["message"]
    ):
        raise fail(f"{op}: answer is neither ok nor an error with a code and a message: {answer!r}")


def _hex(result: dict[str, Any], key: str, op: str) -> bytes:
    value = result.get(key)
    if not isinstance(value, str):
        raise DriverFailure(f"{op}: answer has no hex field {key!r}: {result!r}")
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise DriverFailure(f"{op}: field {key!r} is not hex: {value[:80]!r}") from None


def _int(result: dict[str, Any], key: str, op: str) -> int:
    value = result.get(key)
    if not isinstance(value, int) or isinstance(value, bool):
        raise DriverFailure(f"{op}: answer has no integer field {key!r}: {result!r}")
    return value


@dataclass(frozen=True)
class AddResult:
    """What ``add_members`` returns (RFC 9420 §12.4.3): the commit, the Welcome, the tree."""

    commit: bytes
    welcome: bytes
    ratchet_tree: bytes
    epoch: int


@dataclass(frozen=True)
class Received:
    """A decrypted application message (RFC 9420 §6.3.2): plaintext, sender leaf, AAD."""

    plaintext: bytes
    sender: int
    authenticated_data: bytes


class Member:
    """One member of one group behind a driver (the driver's ``group`` handle)."""

    def __init__(self, implementation: str, name: str, driver: LineDriver) -> None:
        self.implementation = implementation
        self.name = name
        self.driver = driver
        self.handle = ""
        self.group_id = b""
        self.leaf_index = -1

    def __repr__(self) -> str:
        return f"Member({self.name!r} on {self.implementation})"

    def _group(self) -> str:
        if not self.handle:
            raise InteropError(f"{self} is in no group yet")
        return self.handle

    def _joined(self, result: dict[str, Any], op: str) -> int:
        handle = result.get("group")
        if not isinstance(handle, str) or not handle:
            raise DriverFailure(f"{op}: answer has no group handle: {result!r}")
        self.handle = handle
        if "group_id" in result:
            self.group_id = _hex(result, "group_id", op)
        # The creator of a group sits at leaf 0 (RFC 9420 §11); joiners are told their leaf.
        self.leaf_index = 0 if op == "create_group" else _int(result, "leaf_index", op)
        return _int(result, "epoch", op)

    def create_key_package(self, extension_types: list[int] | None = None) -> bytes:
        """A KeyPackage (§10); ``extension_types`` are non-default types it also supports."""
        params: dict[str, Any] = {"identity": self.name}
        if extension_types is not None:
            params["extension_types"] = extension_types
        result = self.driver.call("create_key_package", **params)
        return _hex(result, "key_package", "create_key_package")

    def create_group(self, group_id: bytes, extensions: dict[int, bytes] | None = None) -> int:
        """A new group (§11), with GroupContext ``extensions`` as {type: extension_data}."""
        params: dict[str, Any] = {"identity": self.name, "group_id": group_id.hex()}
        if extensions is not None:
            params["extensions"] = [{"type": t, "data": d.hex()} for t, d in extensions.items()]
        result = self.driver.call("create_group", **params)
        return self._joined(result, "create_group")

    def add_members(self, key_packages: list[bytes]) -> AddResult:
        op = "add_members"
        result = self.driver.call(
            op, group=self._group(), key_packages=[kp.hex() for kp in key_packages]
        )
        return AddResult(
            commit=_hex(result, "commit", op),
            welcome=_hex(result, "welcome", op),
            ratchet_tree=_hex(result, "ratchet_tree", op),
            epoch=_int(result, "epoch", op),
        )

    def join(self, welcome: bytes, ratchet_tree: bytes | None) -> int:
        params: dict[str, Any] = {"welcome": welcome.hex()}
        if ratchet_tree is not None:
            params["ratchet_tree"] = ratchet_tree.hex()
        return self._joined(self.driver.call("join", **params), "join")

    def protect(self, plaintext: bytes, authenticated_data: bytes | None = None) -> bytes:
        params: dict[str, Any] = {"group": self._group(), "plaintext": plaintext.hex()}
        if authenticated_data is not None:
            params["authenticated_data"] = authenticated_data.hex()
        return _hex(self.driver.call("protect", **params), "message", "protect")

    def unprotect(self, message: bytes) -> Received:
        op = "unprotect"
        result = self.driver.call(op, group=self._group(), message=message.hex())
        return Received(
            _hex(result, "plaintext", op),
            _int(result, "sender", op),
            _hex(result, "authenticated_data", op),
        )

    def update(self) -> tuple[bytes, int]:
        result = self.driver.call("update", group=self._group())
        return _hex(result, "commit", "update"), _int(result, "epoch", "update")

    def remove(self, leaf_index: int) -> tuple[bytes, int]:
        result = self.driver.call("remove", group=self._group(), leaf_index=leaf_index)
        return _hex(result, "commit", "remove"), _int(result, "epoch", "remove")

    def process(self, message: bytes) -> dict[str, Any]:
        return self.driver.call("process", group=self._group(), message=message.hex())

    def export_state(self) -> dict[str, Any]:
        return self.driver.call("export_state", group=self._group())

    def epoch(self) -> int:
        return _int(self.export_state(), "epoch", "export_state")

    def group_info(self) -> tuple[bytes, bytes]:
        result = self.driver.call("group_info", group=self._group())
        return _hex(result, "group_info", "group_info"), _hex(result, "ratchet_tree", "group_info")

    def external_join(self, group_info: bytes, ratchet_tree: bytes | None) -> tuple[bytes, int]:
        params: dict[str, Any] = {"identity": self.name, "group_info": group_info.hex()}
        if ratchet_tree is not None:
            params["ratchet_tree"] = ratchet_tree.hex()
        result = self.driver.call("external_join", **params)
        epoch = self._joined(result, "external_join")
        return _hex(result, "commit", "external_join"), epoch


def ci() -> bool:
    """True when running in CI, where a missing Node must fail rather than skip."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def node_argv() -> list[str]:
    """The command running the ts-mls driver; raises :class:`InteropError` if Node is unusable."""
    node = shutil.which("node")
    if node is None:
        raise InteropError("node (Node.js >= 20) is not on PATH; the ts-mls member needs it")
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, timeout=60, check=False
    ).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        raise InteropError(f"cannot read the Node.js version from {version!r}") from None
    if major < 20:
        raise InteropError(f"Node.js {version} is too old; ts-mls {TSMLS_VERSION} needs >= 20")
    return [node, str(TSMLS_DRIVER)]


def installed_tsmls_version() -> str | None:
    manifest = HERE / "node_modules" / "ts-mls" / "package.json"
    if not manifest.is_file():
        return None
    version = json.loads(manifest.read_text()).get("version")
    return version if isinstance(version, str) else None


def install_tsmls() -> None:
    """``npm ci`` the pinned ts-mls into tests/mls/interop/node_modules unless it is there."""
    if installed_tsmls_version() == TSMLS_VERSION:
        return
    npm = shutil.which("npm")
    if npm is None:
        raise InteropError("npm is not on PATH; it installs ts-mls for the interop tests")
    done = subprocess.run(
        [npm, "ci", "--prefer-offline", "--no-audit", "--no-fund"],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    if done.returncode != 0:
        raise InteropError(
            f"npm ci in {HERE} failed ({done.returncode}):\n{done.stdout[-2000:]}"
            f"\n{done.stderr[-4000:]}"
        )
    if installed_tsmls_version() != TSMLS_VERSION:
        raise InteropError(
            f"npm ci installed ts-mls {installed_tsmls_version()}, not {TSMLS_VERSION}"
        )


def hearth_argv() -> list[str]:
    """The command running Hearth's own driver (RFC 9420 in core/hearth_mls)."""
    return [sys.executable, "-m", "hearth_mls.interop"]
