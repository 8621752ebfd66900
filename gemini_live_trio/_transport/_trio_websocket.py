"""The trio-websocket backend (client), and the server side the emulator uses.

Client side: :func:`open_websocket` owns the TCP/TLS stream and wraps it with trio-websocket's
public ``wrap_client_stream``. Owning the stream fixes two trio-websocket 0.12 lifecycle bugs
(stack-notes.md §2): a ``connect_timeout`` that does not fire when the server never answers the
upgrade, and a socket left open (ResourceWarning) after a server-initiated close.

Sizes, chosen for Live audio:

* ``max_message_size`` 16 MiB (see ``_common.MAX_MESSAGE_SIZE``).
* ``message_queue_size`` 64: trio-websocket's own buffer between its socket reader and ours.
  Our reader never blocks on the application (see ``_session.py``), so this only absorbs
  scheduling jitter; pings are answered by trio-websocket's reader while it has room.
* ``receive_buffer_size`` None (read what is there): measured 125 -> 83 µs per audio frame.

Server side (used by the emulator): :func:`serve_websocket` and :class:`ServerConnection`.
"""

import ssl
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio_websocket as tw
from wsproto.connection import ConnectionState
from wsproto.events import Event, Pong

from .._exceptions import ConnectError, ConnectTimeout, HandshakeRejected
from ._common import (
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    TransportClosed,
    WebSocket,
    close_wait,
    open_stream,
    parse_target,
)


def _closed(exc: tw.ConnectionClosed, *, local: bool = False) -> TransportClosed:
    reason = exc.reason
    code = int(reason.code) if reason is not None else 1006
    return TransportClosed(code, reason.reason if reason is not None else None, local=local)


class TrioWebSocket(WebSocket):
    """A :class:`WebSocket` on a trio-websocket connection (which runs its own reader task)."""

    __slots__ = ("_closed_locally", "_ws")

    def __init__(self, ws: tw.WebSocketConnection) -> None:
        super().__init__()
        self._ws = ws
        self._closed_locally = False

    async def send(self, data: str | bytes) -> None:
        try:
            await self._ws.send_message(data)
        except tw.ConnectionClosed as exc:
            raise _closed(exc, local=self._closed_locally) from None
        except BaseException:
            # Cancelled (or failed) part-way through a frame: a close frame now would land in
            # the middle of it, so the connection can only be dropped.
            self.aborted = True
            raise

    async def receive(self) -> str | bytes:
        try:
            return await self._ws.get_message()
        except tw.ConnectionClosed as exc:
            raise _closed(exc, local=self._closed_locally) from None

    async def ping(self) -> None:
        """Send a ping and wait for its pong (trio-websocket's reader task reads it)."""
        try:
            await self._ws.ping()
        except tw.ConnectionClosed as exc:
            raise _closed(exc, local=self._closed_locally) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        self._closed_locally = True
        await self._ws.aclose(code, reason)

    @property
    def close_code(self) -> int | None:
        closed = self._ws.closed
        return closed.code if closed is not None else None


def _leaf(group: BaseExceptionGroup[Any]) -> BaseException | None:
    """The only exception of a (nested) group, or ``None`` if there are several."""
    leaves: list[BaseException] = []

    def walk(exc: BaseException) -> None:
        if isinstance(exc, BaseExceptionGroup):
            for inner in exc.exceptions:
                walk(inner)
        else:
            leaves.append(exc)

    walk(group)
    return leaves[0] if len(leaves) == 1 else None


@asynccontextmanager
async def open_websocket(
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    safe_url: str,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
    max_message_size: int = MAX_MESSAGE_SIZE,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
) -> AsyncIterator[WebSocket]:
    """See :func:`gemini_live_trio._transport.open_websocket`."""
    target = parse_target(url)
    deadline = trio.current_time() + connect_timeout
    stream = await open_stream(
        target, ssl_context, deadline=deadline, safe_url=safe_url, connect_timeout=connect_timeout
    )
    wire_headers = [(k.encode(), v.encode()) for k, v in headers]
    try:
        async with trio.open_nursery() as nursery:
            ws: tw.WebSocketConnection | None = None
            with trio.move_on_at(deadline):
                ws = await tw.wrap_client_stream(
                    nursery,
                    stream,  # type: ignore[arg-type]  # any trio Stream works (annotation)
                    target.host_header,
                    target.resource,
                    extra_headers=wire_headers,
                    message_queue_size=message_queue_size,
                    max_message_size=max_message_size,
                    receive_buffer_size=None,
                )
            if ws is None:
                nursery.cancel_scope.cancel()
                raise ConnectTimeout(
                    f"the WebSocket upgrade at {safe_url} took longer than {connect_timeout:g} s"
                )
            _no_pong_after_close(ws)
            socket = TrioWebSocket(ws)
            try:
                yield socket
            finally:
                wait = close_wait(close_timeout)
                with trio.CancelScope(shield=True):
                    if not socket.aborted:
                        with trio.move_on_after(wait):
                            await socket.aclose()
                    nursery.cancel_scope.cancel()
    except BaseExceptionGroup as group:
        leaf = _leaf(group)
        if isinstance(leaf, tw.ConnectionRejected):
            raise HandshakeRejected(
                f"{safe_url} answered the upgrade with HTTP {leaf.status_code}",
                status_code=leaf.status_code,
            ) from None
        if isinstance(leaf, tw.HandshakeError | trio.BrokenResourceError | OSError):
            raise ConnectError(f"WebSocket handshake with {safe_url} failed: {leaf!r}") from None
        if leaf is not None:
            raise leaf from leaf.__cause__
        raise
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)


# --------------------------------------------------------------------------- server side


def _no_pong_after_close(ws: tw.WebSocketConnection) -> None:
    """Skip the pong for a ping that arrives after our close frame went out.

    trio-websocket 0.12 answers it anyway; wsproto refuses (``LocalProtocolError``) and the
    error escapes the connection's nursery, taking the whole server down with it
    (python-trio/trio-websocket#184, fix proposed in PR #198). A client's keepalive ping
    racing the emulator's close is ordinary, so skip the pong as websockets does.
    """
    send = ws._send

    async def send_unless_closing(event: Event) -> None:
        if isinstance(event, Pong) and ws._wsproto.state is not ConnectionState.OPEN:
            return
        await send(event)

    setattr(ws, "_send", send_unless_closing)  # noqa: B010 - mypy forbids assigning a method


class ServerConnection:
    """The emulator's side of one WebSocket: the request facts and message I/O."""

    def __init__(self, request: tw.WebSocketRequest) -> None:
        self._request = request
        self._ws: tw.WebSocketConnection | None = None
        self.path: str = request.path
        self.headers: dict[str, str] = {
            k.decode("latin-1").lower(): v.decode("latin-1") for k, v in request.headers
        }

    async def accept(self) -> None:
        try:
            self._ws = await self._request.accept()
        except tw.ConnectionClosed as exc:
            raise _closed(exc) from None
        _no_pong_after_close(self._ws)

    async def reject(self, status: int, body: bytes = b"") -> None:
        try:
            await self._request.reject(status, body=body)
        except tw.ConnectionClosed as exc:
            raise _closed(exc) from None

    @property
    def _conn(self) -> tw.WebSocketConnection:
        assert self._ws is not None, "accept() first"
        return self._ws

    async def send(self, data: str | bytes) -> None:
        try:
            await self._conn.send_message(data)
        except tw.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def receive(self) -> str | bytes:
        try:
            return await self._conn.get_message()
        except tw.ConnectionClosed as exc:
            raise _closed(exc) from None

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        await self._conn.aclose(code, reason)

    @property
    def closed(self) -> tuple[int, str | None] | None:
        """``(code, reason)`` once closed by either side (1006: no close frame), else None."""
        reason = self._conn.closed
        return (int(reason.code), reason.reason) if reason is not None else None

    async def drop(self) -> None:
        """End the TCP connection with no close frame (the client sees 1006)."""
        stream = self._conn._stream  # no public way to be rude on purpose
        await trio.aclose_forcefully(stream)

    async def stall(self, seconds: float) -> None:
        """Play dead for ``seconds`` without closing: no pong, no frame, nothing read after
        the next ping. trio-websocket's reader answers pings under the stream lock, so
        holding that lock stops it there (no public way to be unresponsive on purpose)."""
        async with self._conn._stream_lock:
            await trio.sleep(seconds)


async def serve_websocket(
    handler: Callable[[ServerConnection], Awaitable[None]],
    host: str,
    port: int,
    *,
    ssl_context: ssl.SSLContext | None = None,
    task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve WebSockets on ``host:port`` (0 picks a port); ``task_status`` gets the port."""

    async def on_request(request: tw.WebSocketRequest) -> None:
        await handler(ServerConnection(request))

    async with trio.open_nursery() as nursery:
        server = await nursery.start(
            lambda task_status: tw.serve_websocket(
                on_request,
                host,
                port,
                ssl_context,
                handler_nursery=None,
                max_message_size=MAX_MESSAGE_SIZE,
                message_queue_size=MESSAGE_QUEUE_SIZE,
                connect_timeout=10,
                disconnect_timeout=5,
                task_status=task_status,
            )
        )
        task_status.started(server.port)
