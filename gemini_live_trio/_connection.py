"""One WebSocket connection of a session: open, ``setup``, read until it ends, keep it alive.

A session may go through several connections (``goAway`` handover, reconnects); each one is a
:func:`run_connection` task in the session's nursery. The task reports through its
:class:`Connection` object: ``ended`` is set when it is over and ``error`` says why (``None``
when the session closed it on purpose).
"""

import logging
import math
from collections.abc import Callable
from typing import Any

import attrs
import trio

from . import _events as ev
from ._auth import Endpoint, Secret, redact
from ._exceptions import ConnectionLost, GeminiLiveError, SetupTimeout, error_for_close
from ._protocol import LiveProtocol, State
from ._transport import DEFAULT_TRANSPORT, TransportClosed, WebSocket, open_websocket

logger = logging.getLogger("gemini_live_trio")


@attrs.define(eq=False)
class Connection:
    """The live parts of one connection, shared between its task and the session."""

    number: int
    socket: WebSocket
    protocol: LiveProtocol
    ended: trio.Event = attrs.Factory(trio.Event)
    #: Why it ended; ``None`` while it runs or when the session retired it on purpose.
    error: GeminiLiveError | None = None
    #: The session is closing it on purpose (a local close is then not an error).
    retiring: bool = False
    #: A planned handover to a new connection failed; ride this one out.
    handover_failed: bool = False
    #: ``trio.current_time()`` deadline announced by ``goAway``.
    go_away_deadline: float | None = None
    go_away_received: trio.Event = attrs.Factory(trio.Event)
    #: When a planned handover happens even without a quiet moment.
    handover_by: float | None = None
    scope: trio.CancelScope = attrs.Factory(trio.CancelScope)
    #: ``trio.current_time()`` when setupComplete arrived.
    opened_at: float = attrs.Factory(trio.current_time)
    close_requested: trio.Event = attrs.Factory(trio.Event)
    #: ``trio.current_time()`` when the write in progress began (None: no write in progress).
    sending_since: float | None = None
    #: The credential, so that a close reason echoing it is redacted.
    secret: Secret | None = None
    #: Called once ``ended`` is set (the session's supervisor stops waiting).
    on_end: Callable[[], None] | None = None

    def note_go_away(self, event: ev.GoAway) -> None:
        left = event.time_left.total_seconds() if event.time_left is not None else 0.0
        self.go_away_deadline = trio.current_time() + left
        self.go_away_received.set()

    def give_up(self, why: str) -> None:
        """Treat the connection as dead (1006): no more writes, no close handshake; its stream
        is closed, which also wakes a write stuck on it."""
        if self.error is None:
            self.error = ConnectionLost(1006, why)
            logger.info("connection %d: %s", self.number, why)
        self.socket.abort()
        self.scope.cancel()

    async def retire(self, grace: float) -> None:
        """Close politely with 1000 (waiting at most ``grace`` s) and wait for the task to end."""
        self.retiring = True
        self.close_requested.set()
        with trio.move_on_after(grace):
            await self.ended.wait()
        self.scope.cancel()


#: Handles one frame; True when the application is likely to answer what it just got
#: (a turn ended, a tool call): the reader then lets it run before parsing the next frame.
FrameHandler = Callable[[Connection, "str | bytes"], bool]


async def run_connection(
    *,
    number: int,
    endpoint: Endpoint,
    setup: ev.Setup,
    on_frame: FrameHandler,
    ssl_context: Any,
    connect_timeout: float,
    setup_timeout: float,
    close_timeout: float,
    keepalive: tuple[float, float] | None,
    send_timeout: float | None = None,
    transport: str = DEFAULT_TRANSPORT,
    task_status: trio.TaskStatus[Connection],
) -> None:
    """Open, send ``setup``, wait for ``setupComplete``, then read until the connection ends.

    Errors before ``setupComplete`` are raised (``nursery.start`` hands them to the caller);
    afterwards they are recorded in ``Connection.error``.
    """
    connection: Connection | None = None
    try:
        async with open_websocket(
            endpoint.url,
            endpoint.headers,
            safe_url=endpoint.safe_url,
            ssl_context=ssl_context,
            connect_timeout=connect_timeout,
            close_timeout=close_timeout,
            backend=transport,
        ) as socket:
            protocol = LiveProtocol()
            connection = Connection(
                number=number, socket=socket, protocol=protocol, secret=endpoint.secret
            )
            try:
                await socket.send(protocol.send(setup))
                with trio.move_on_after(setup_timeout) as waiting:
                    while protocol.state is not State.OPEN:
                        on_frame(connection, await socket.receive())
            except TransportClosed as exc:
                reason = redact(exc.reason or "", endpoint.secret)
                raise error_for_close(exc.code, reason, during_setup=True) from None
            if waiting.cancelled_caught:
                raise SetupTimeout(
                    f"no setupComplete from {endpoint.safe_url} within {setup_timeout:g} s"
                )
            logger.debug("connection %d ready at %s", number, endpoint.safe_url)
            task_status.started(connection)
            with connection.scope:
                async with trio.open_nursery() as nursery:
                    if keepalive is not None or send_timeout is not None:
                        nursery.start_soon(_watchdog, connection, keepalive, send_timeout)
                    nursery.start_soon(_close_when_asked, connection, nursery.cancel_scope)
                    await _read(connection, on_frame)
                    if not connection.retiring:
                        nursery.cancel_scope.cancel()
                    # else: _close_when_asked finishes the close handshake, then cancels
    finally:
        if connection is not None:
            connection.protocol.closed()
            connection.ended.set()
            if connection.on_end is not None:
                connection.on_end()


async def _read(connection: Connection, on_frame: FrameHandler) -> None:
    try:
        while True:
            if on_frame(connection, await connection.socket.receive()):
                # The application answers this (a turn ended, a tool call): let it run before
                # decoding the frames that came in the same read (usage, a resumption handle),
                # ~20 µs sooner. Two passes: trio runs a batch of runnable tasks in either
                # order, so after one the reader may still go first.
                await trio.lowlevel.checkpoint()
                await trio.lowlevel.checkpoint()
    except TransportClosed as exc:
        if connection.error is None and not (exc.local and connection.retiring):
            connection.error = error_for_close(
                exc.code, redact(exc.reason or "", connection.secret)
            )
            logger.info("connection %d ended: %s", connection.number, connection.error)


async def _close_when_asked(connection: Connection, scope: trio.CancelScope) -> None:
    """Close with 1000 when the session retires this connection.

    The close runs here, not in the reader, so the reader can stop at the first sign of the
    close while the transport still reads the server's close reply (trio-websocket's reader
    task, or ``aclose`` itself with the websockets backend).
    """
    await connection.close_requested.wait()
    try:
        await connection.socket.aclose(1000)
    except TransportClosed:
        pass
    scope.cancel()


async def _watchdog(
    connection: Connection, keepalive: tuple[float, float] | None, send_timeout: float | None
) -> None:
    """Two liveness checks in one task (so the per-frame send path needs no timer of its own):

    * keepalive: ping every ``interval``; no pong within ``patience`` s -> dead;
    * a write that has not finished ``send_timeout`` s after it began -> dead (noticed within
      ``send_timeout`` to twice that).

    A dead connection ends as 1006: no close handshake, its stream is closed (which also wakes
    a write stuck on it) and the session reconnects.
    """
    interval = keepalive[0] if keepalive is not None else math.inf
    tick = min(interval, send_timeout or math.inf)
    next_ping = trio.current_time() + interval
    while True:
        await trio.sleep(tick)
        since = connection.sending_since
        if send_timeout is not None and since is not None:
            if trio.current_time() - since >= send_timeout:
                connection.give_up(f"a frame could not be written within {send_timeout:g} s")
                return
        if keepalive is None or trio.current_time() < next_ping:
            continue
        patience = keepalive[1]
        with trio.move_on_after(patience) as waiting:
            try:
                await connection.socket.ping()
            except TransportClosed:
                return  # the reader reports the close
        if waiting.cancelled_caught:
            connection.give_up(f"keepalive: no pong within {patience:g} s, the connection is dead")
            return
        next_ping = trio.current_time() + interval
