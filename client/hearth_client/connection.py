"""The engine's websocket to its server: hello, auth, requests by ``ref``, reconnect.

protocol.md §3 (hello, per-identity auth), §2.3 (``ref`` matching) and §4.6
(resume). One :class:`Connection` owns one websocket at a time and reconnects
with jittered exponential backoff through websockets' ``async for ws in
connect(...)`` loop. After each (re)connect it says ``hello``, authenticates
every identity the engine currently holds (one per room membership, so rooms
stay unlinkable, protocol.md §3.2), then calls ``on_online`` in a task so the
engine can re-subscribe each room from its last sequence.

Frames that answer a request (they carry its ``ref``) resolve that request's
future; every other frame goes, in arrival order, to the synchronous
``on_frame`` callback. ``on_frame`` runs in the reader loop, so it must not
await: it processes MLS messages inline (keeping room order) and spawns tasks
for follow-up requests.

``pin_key`` sees every ``server_hello``'s ``ds_key`` before anything is signed: it
pins the key on first contact and returns the pinned one; another key raises
ServerKeyChangedError, which stops the connection for good (OFFLINE, no auth
sent, protocol.md §3.2).
A socket the server closes with 4003 (no identity within ``auth_timeout``) while
we have no identity to authenticate is not reopened: the connection goes idle
(OFFLINE) until :meth:`Connection.start` is called again (creating or joining a
room). A handshake refused with HTTP 503 (``max_connections``, protocol.md §2.1)
is retried after at least its ``Retry-After`` seconds, with the usual backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import random
from collections.abc import Awaitable, Callable, Generator, Iterable
from typing import Any

import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from websockets.asyncio.client import ClientConnection, connect
from websockets.client import process_exception as websockets_retry_rule
from websockets.exceptions import ConnectionClosed, InvalidStatus

from hearth_client.errors import (
    InviteRefusedError,
    NotConnectedError,
    ServerKeyChangedError,
    ServerRefusedError,
)
from hearth_client.events import ConnectionState
from hearth_core.auth import sign_challenge
from hearth_core.codec import decode_server_frame, encode_frame
from hearth_core.errors import ErrorCode, FrameError
from hearth_core.frames import Auth, Error, Hello, ServerFrame, ServerHello

log = logging.getLogger("hearth_client.connection")

_INVITE_CODES = frozenset(
    {"invite_invalid", "invite_expired", "invite_revoked", "invite_exhausted"}
)
MAX_FRAME = 2 * 1024 * 1024
#: protocol.md §3.2: closed for not authenticating within ``auth_timeout``.
CLOSE_AUTH_TIMEOUT = 4003
#: Upper bound on a ``Retry-After`` we honour, so a bad header cannot park us for days.
MAX_RETRY_AFTER = 300.0


def backoff_delays(
    initial: float = 0.1, maximum: float = 30.0, factor: float = 2.0
) -> Callable[[], Generator[float]]:
    """Jittered exponential reconnect delays (full jitter) for websockets' ``connect``."""

    def delays() -> Generator[float]:
        delay = initial
        while True:
            yield random.uniform(delay / 2, delay)
            delay = min(maximum, delay * factor)

    return delays


def refused(frame: Error) -> ServerRefusedError:
    """The exception for an ``error`` answer (protocol.md §5)."""
    code = str(frame.code)
    if code in _INVITE_CODES:
        return InviteRefusedError(code, frame.message)
    return ServerRefusedError(code, frame.message)


class Connection:
    """One logical connection to a Hearth server that survives reconnects."""

    def __init__(
        self,
        url: str,
        *,
        identities: Callable[[], Iterable[Ed25519PrivateKey]],
        on_frame: Callable[[ServerFrame], None],
        on_online: Callable[[], Awaitable[None]],
        on_state: Callable[[ConnectionState, str], None],
        reconnect_delays: Callable[[], Generator[float]] | None = None,
        open_timeout: float = 10.0,
        pin_key: Callable[[bytes], bytes] | None = None,
    ) -> None:
        self.url = url
        self._identities = identities
        self._on_frame = on_frame
        self._on_online = on_online
        self._on_state = on_state
        self._delays = reconnect_delays or backoff_delays()
        self._pin_key = pin_key
        self._retry_after = 0.0
        #: Set when the connection stopped for good (a changed server key).
        self.fatal: NotConnectedError | None = None
        self._stopped = "nothing to authenticate"  # why the loop last stopped (idle)
        #: Set on ONLINE and when the connection stops (fatal or idle): wakes waiters.
        self._settled = asyncio.Event()
        self._open_timeout = open_timeout
        self._refs = itertools.count(1)
        self._pending: dict[int, asyncio.Future[ServerFrame]] = {}
        self._ws: ClientConnection | None = None
        self._authed: set[bytes] = set()
        self._online = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._online_task: asyncio.Task[None] | None = None
        self.server_hello: ServerHello | None = None
        self.state = ConnectionState.OFFLINE
        self._closing = False

    # --- lifecycle -------------------------------------------------------------------

    def start(self) -> None:
        """Connect in the background (again, after going idle); no-op once stopped for good."""
        if self._task is None and self.fatal is None and not self._closing:
            self._settled.clear()
            self._set_state(ConnectionState.CONNECTING)
            self._task = asyncio.create_task(self._run(), name="hearth-connection")

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._online_task is not None:
            self._online_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._online_task
        self._fail_pending("the engine is closing")
        self._set_state(ConnectionState.OFFLINE)

    async def wait_online(self, timeout: float) -> None:  # noqa: ASYNC109
        """Wait for ONLINE; ServerKeyChangedError at once if stopped for a changed key."""
        try:
            async with asyncio.timeout(timeout):
                while not self._online.is_set():
                    if self.fatal is not None:
                        raise self.fatal
                    if self._task is None:
                        raise NotConnectedError(f"not connected ({self._stopped})")
                    await self._settled.wait()
                    if not self._online.is_set() and self.fatal is None and self._task:
                        self._settled.clear()
        except TimeoutError as exc:
            raise NotConnectedError(f"not connected to {self.url} after {timeout} s") from exc

    @property
    def online(self) -> bool:
        return self._online.is_set()

    def _set_state(self, state: ConnectionState, detail: str = "") -> None:
        if state is not self.state:
            self.state = state
            self._on_state(state, detail)

    def _fail_pending(self, why: str) -> None:
        for future in self._pending.values():
            if not future.done():
                future.set_exception(NotConnectedError(why))
        self._pending.clear()

    def process_exception(self, exc: Exception) -> Exception | None:
        """websockets' retry rule, remembering a 503's ``Retry-After`` (protocol.md §2.1)."""
        if isinstance(exc, InvalidStatus) and exc.response.status_code == 503:
            try:
                wait = float(exc.response.headers.get("Retry-After", "0"))
            except ValueError:
                wait = 0.0
            self._retry_after = min(max(wait, 0.0), MAX_RETRY_AFTER)
            self._set_state(ConnectionState.RECONNECTING, "server full (503)")
        return websockets_retry_rule(exc)

    def reconnect_delays(self) -> Generator[float]:
        """The backoff delays, each at least the last 503's ``Retry-After`` (once)."""
        for delay in self._delays():
            retry_after, self._retry_after = self._retry_after, 0.0
            yield max(delay, retry_after)

    async def _run(self) -> None:
        try:
            await self._connect_loop()
        except Exception as exc:  # a fatal handshake error (e.g. HTTP 404): stop, say why
            if self._closing:
                return
            self._task = None
            self._stopped = f"cannot connect: {exc}"
            self._set_state(ConnectionState.OFFLINE, self._stopped)
            self._settled.set()

    async def _connect_loop(self) -> None:
        async for ws in connect(
            self.url,
            compression=None,
            open_timeout=self._open_timeout,
            max_size=MAX_FRAME,
            reconnect_delays=self.reconnect_delays,
            process_exception=self.process_exception,
        ):
            code = None
            try:
                await self._session(ws)
            except ConnectionClosed as exc:
                code = exc.rcvd.code if exc.rcvd else None
                detail = f"connection closed ({code or 'no close frame'})"
            except (FrameError, TimeoutError) as exc:
                detail = f"protocol failure: {exc}"
                await ws.close()
            except ServerKeyChangedError as exc:
                await ws.close()
                self.fatal = exc
                detail = str(exc)
            else:
                detail = "connection closed"
            idle = (
                code == CLOSE_AUTH_TIMEOUT
                and not self._authed
                and not self._pending
                and not list(self._identities())
            )
            self._ws = None
            self._online.clear()
            if self._online_task is not None:
                self._online_task.cancel()
                self._online_task = None
            self._fail_pending(detail)
            if self._closing:
                return
            if self.fatal is not None or idle:
                # Stopped for good (changed key), or idle until a room needs us.
                self._task = None
                self._stopped = f"idle after {detail}: nothing to authenticate"
                self._set_state(ConnectionState.OFFLINE, detail)
                self._settled.set()
                return
            self._set_state(ConnectionState.RECONNECTING, detail)

    async def _session(self, ws: ClientConnection) -> None:
        await ws.send(encode_frame(Hello(versions=[1])), text=True)
        async with asyncio.timeout(self._open_timeout):
            first = decode_server_frame(await ws.recv(decode=False))
        if not isinstance(first, ServerHello):
            raise FrameError(getattr(first, "code", "hello_required"), "no server_hello")  # type: ignore[arg-type]
        if first.ds_key is None:
            raise FrameError(
                ErrorCode.HELLO_REQUIRED, "server_hello without ds_key (protocol.md §3.2)"
            )
        if self._pin_key is not None:
            pinned = self._pin_key(first.ds_key)
            if pinned != first.ds_key:  # nothing is signed for another key (§3.2)
                raise ServerKeyChangedError(self.url, pinned, first.ds_key)
        self.server_hello = first
        self._ws = ws
        self._authed = set()
        self._online_task = asyncio.create_task(self._go_online(), name="hearth-online")
        async for raw in ws:
            frame = decode_server_frame(raw)
            ref = getattr(frame, "ref", None)
            if ref is not None and ref in self._pending:
                future = self._pending.pop(ref)
                if not future.done():
                    future.set_result(frame)
                continue
            try:
                self._on_frame(frame)
            except Exception:  # a bug in a handler must not kill the connection
                log.exception("frame handler failed for a %s frame", type(frame).__name__)

    async def _go_online(self) -> None:
        try:
            for key in list(self._identities()):
                try:
                    await self.authenticate(key)
                except ServerRefusedError as exc:  # e.g. limit_exceeded (protocol.md §3.2)
                    log.warning("an identity was not authenticated: %s", exc.code)
            await self._on_online()
        except NotConnectedError:
            # The socket dropped while going online; the reader loop reconnects.
            log.info("connection lost while going online")
            ws = self._ws
            if ws is not None:
                await ws.close()
            return
        self._online.set()
        self._settled.set()
        self._set_state(ConnectionState.ONLINE)

    # --- requests --------------------------------------------------------------------

    async def authenticate(self, key: Ed25519PrivateKey) -> None:
        """Authenticate one membership's identity on the current websocket (§3.2)."""
        if self.server_hello is None:
            raise NotConnectedError("no server_hello yet")
        ds_key = self.server_hello.ds_key
        if ds_key is None:
            raise NotConnectedError("server_hello without ds_key")
        identity, signature = sign_challenge(key, ds_key=ds_key, nonce=self.server_hello.nonce)
        if identity in self._authed:
            return
        await self.request(Auth(identity=identity, signature=signature), wait_online=False)
        self._authed.add(identity)

    async def request(
        self,
        frame: Any,
        *,
        timeout: float = 20.0,  # noqa: ASYNC109
        wait_online: bool = True,
    ) -> ServerFrame:
        """Send ``frame`` with a fresh ``ref``; return the answer or raise ServerRefusedError.

        Waits for the connection to be online (unless ``wait_online`` is False, used
        while going online). A connection lost before the answer raises
        NotConnectedError: the caller decides whether retrying is safe (``send``
        and ``commit`` carry client ids, so they are, protocol.md §8.3).
        """
        if wait_online and not self._online.is_set():
            await self.wait_online(timeout)
        ws = self._ws
        if ws is None:
            raise NotConnectedError("not connected")
        ref = next(self._refs)
        frame = msgspec.structs.replace(frame, ref=ref)
        future: asyncio.Future[ServerFrame] = asyncio.get_running_loop().create_future()
        self._pending[ref] = future
        try:
            await ws.send(encode_frame(frame), text=True)
            async with asyncio.timeout(timeout):
                answer = await future
        except ConnectionClosed as exc:
            raise NotConnectedError("connection lost while sending") from exc
        except TimeoutError as exc:
            raise NotConnectedError(f"no answer within {timeout} s") from exc
        finally:
            self._pending.pop(ref, None)
        if isinstance(answer, Error):
            raise refused(answer)
        return answer

    async def send(self, frame: msgspec.Struct) -> None:
        """Send a frame that has no answer (``typing``); dropped while offline."""
        ws = self._ws
        if ws is None or not self._online.is_set():
            return
        with contextlib.suppress(ConnectionClosed):
            await ws.send(encode_frame(frame), text=True)


__all__ = ["Connection", "backoff_delays", "refused"]
