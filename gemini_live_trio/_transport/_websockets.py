"""The websockets backend: websockets' sans-I/O ``ClientProtocol`` driven by a trio stream.

No task of its own. trio-websocket runs a reader task that parses frames into a queue, and our
session's reader takes them from there: two task hops per frame. Here the caller's ``receive``
is the reader:

* **a frame in**: ``receive`` returns the next message from a small deque of already-parsed
  messages; when it is empty, it reads one chunk (``stream.receive_some(RECEIVE_SIZE)``),
  feeds it to ``protocol.receive_data`` and turns ``protocol.events_received()`` into messages
  (text frames as ``str``, binary frames as ``bytes``, fragments joined), then answers what the
  protocol queued (pongs, the echo of a close frame).
* **one reader at a time**: whoever needs data (``receive``, ``ping`` waiting for its pong,
  ``aclose`` waiting for the close reply) reads a chunk itself unless another task is already
  reading; then it waits for that task's chunk and looks again. So ``ping`` works with or
  without a concurrent ``receive`` loop (without one, the messages it reads past wait in the
  deque for the next ``receive``).
* **a frame out**: ``send`` encodes with ``protocol.send_text``/``send_binary`` and writes
  ``protocol.data_to_send()`` while holding the send turn (FIFO), so concurrent sends never
  interleave. A reader never waits for the send turn: pongs it must answer while someone else
  is sending are written by that sender before it gives the turn up.
* **closing**: a close frame from the server ends ``receive`` with its code and reason (after
  the messages before it); EOF without one is 1006; a message over ``max_message_size`` makes
  the client close with 1009 and ``receive`` raise 1009. ``aclose`` sends our close frame,
  reads until the server's close frame or EOF (the caller bounds it) and closes the stream;
  from then on ``receive`` raises (``local=True``), as trio-websocket's does.

No compression extension is offered (permessage-deflate would cost CPU on every audio frame).
The protocol's DEBUG logging is off for good: it would log the request line and headers, which
carry the credential.
"""

import contextlib
import logging
import ssl
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import trio
from websockets.client import ClientProtocol
from websockets.exceptions import InvalidHeaderValue, InvalidStatus, InvalidURI, PayloadTooBig
from websockets.frames import Frame, Opcode
from websockets.http11 import Response
from websockets.protocol import Event, State
from websockets.uri import parse_uri

from .._exceptions import ConnectError, ConnectTimeout, HandshakeRejected
from ._common import (
    MAX_MESSAGE_SIZE,
    MESSAGE_QUEUE_SIZE,
    Stream,
    TransportClosed,
    WebSocket,
    close_wait,
    open_stream,
    parse_target,
)

#: Bytes asked of the stream per read: about six 40 ms audio frames. A bigger read saves a
#: little CPU in a flood (one scheduler pass per read) but every session then holds more
#: decoded, unread frames at once: 64 KiB cost 142 KiB per session at the peak of the bench's
#: 1,000-session burst, 16 KiB 101 KiB, for 5-10% more CPU per frame in a flood.
RECEIVE_SIZE = 16384

_TEXT, _BINARY, _CONT, _PONG, _CLOSE = (
    Opcode.TEXT,
    Opcode.BINARY,
    Opcode.CONT,
    Opcode.PONG,
    Opcode.CLOSE,
)
_OPEN = State.OPEN


class _NoDebug(logging.LoggerAdapter[logging.Logger]):
    """websockets' protocol logs headers (credentials) and every frame at DEBUG: never."""

    def isEnabledFor(self, level: int) -> bool:
        return level > logging.DEBUG and self.logger.isEnabledFor(level)


_LOGGER = _NoDebug(logging.getLogger("gemini_live_trio.websockets"))


def _truncate(reason: str | None) -> str:
    """A close reason that fits a control frame (123 bytes of UTF-8)."""
    return (reason or "").encode()[:123].decode(errors="ignore")


class WebsocketsWebSocket(WebSocket):
    """A :class:`WebSocket` on websockets' sans-I/O protocol; the caller's tasks do the I/O."""

    __slots__ = (
        "_broken",
        "_closed",
        "_closed_locally",
        "_eof",
        "_fragments",
        "_max_size",
        "_messages",
        "_pending",
        "_ping_count",
        "_pings",
        "_protocol",
        "_read_done",
        "_reading",
        "_send_queue",
        "_sending",
        "_stream",
    )

    def __init__(self, stream: Stream, protocol: ClientProtocol, max_size: int) -> None:
        super().__init__()
        self._stream = stream
        self._protocol = protocol
        self._max_size = max_size
        #: Whole messages parsed but not yet returned by ``receive``.
        self._messages: deque[str | bytes] = deque()
        self._fragments: list[Frame] = []
        #: ``(code, reason)`` once the connection is closed for reading, else None.
        self._closed: tuple[int, str | None] | None = None
        self._closed_locally = False
        self._eof = False
        #: A send was interrupted part-way through a frame: nothing more can be sent.
        self._broken = False
        #: Outgoing bytes taken from the protocol, not yet written (pongs, close frames).
        self._pending: list[bytes] = []
        self._reading = False
        self._read_done = trio.lowlevel.ParkingLot()
        self._sending = False
        self._send_queue = trio.lowlevel.ParkingLot()
        #: Payloads of pings waiting for their pong, oldest first.
        self._pings: dict[bytes, None] = {}
        self._ping_count = 0

    # ------------------------------------------------------------------ receiving

    async def receive(self) -> str | bytes:
        messages = self._messages
        while not messages:
            if self._closed is not None or self._closed_locally:
                raise self._closed_exc()
            await self._pump()
        if self._closed_locally:  # as trio-websocket: after our close, nothing more
            raise self._closed_exc()
        # Already parsed: no checkpoint here, the next read has one (at most one chunk's
        # worth of messages is returned in a row without one).
        return messages.popleft()

    async def _pump(self) -> None:
        """Read and handle one chunk; if another task is reading, wait for its chunk instead."""
        if self._reading:
            await self._read_done.park()
            return
        assert not self._eof
        self._reading = True
        try:
            data = await self._stream.receive_some(RECEIVE_SIZE)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            data = b""  # reset or closed under us: like EOF without a close frame (1006)
        finally:
            self._reading = False
            if self._read_done:
                self._read_done.unpark_all()
        self._feed(data)
        if self._pending and not self._sending:  # else the current sender writes them
            await self._acquire_send()
            try:
                await self._write_pending()
            except TransportClosed:
                pass  # recorded in _closed: receive raises it after the parsed messages
            finally:
                self._release_send()

    def _feed(self, data: bytes | bytearray) -> None:
        protocol = self._protocol
        if data:
            protocol.receive_data(data)
        else:
            self._eof = True
            protocol.receive_eof()
        self._handle(protocol.events_received())
        if self._closed is None:
            exc = protocol.parser_exc
            if exc is not None:
                sent = protocol.close_sent
                if isinstance(exc, EOFError) or sent is None:
                    self._closed = (1006, None)
                elif isinstance(exc, PayloadTooBig):  # trio-websocket's words
                    limit = self._max_size
                    self._closed = (1009, f"Exceeded maximum message size: {limit} bytes")
                else:  # the protocol failed the connection: 1002, 1007 ...
                    self._closed = (sent.code, sent.reason or None)
            elif self._eof:
                self._closed = (1006, None)
        out = protocol.data_to_send()
        if out:
            self._pending.extend(out)

    def _handle(self, frames: Sequence[Event]) -> None:
        messages = self._messages
        for frame in frames:
            assert isinstance(frame, Frame)
            opcode = frame.opcode
            if opcode is _BINARY or opcode is _TEXT:
                if not frame.fin:
                    self._fragments = [frame]
                    continue
                data = frame.data
            elif opcode is _CONT:
                self._fragments.append(frame)
                if not frame.fin:
                    continue
                first = self._fragments[0]
                opcode = first.opcode
                data = b"".join(f.data for f in self._fragments)
                self._fragments = []
            elif opcode is _PONG:
                self._pong(bytes(frame.data))
                continue
            elif opcode is _CLOSE:
                received = self._protocol.close_rcvd
                assert received is not None
                if self._closed is None:
                    self._closed = (received.code, received.reason or None)
                continue
            else:
                continue  # a ping: the protocol queued the pong
            if opcode is _TEXT:
                try:
                    messages.append(str(data, "utf-8"))
                except UnicodeDecodeError:
                    self._protocol.fail(1007, "invalid UTF-8 in a text message")
                    self._closed = (1007, "invalid UTF-8 in a text message")
                    return
            else:
                messages.append(bytes(data))

    def _pong(self, payload: bytes) -> None:
        """A pong answers its ping and every earlier one."""
        if payload in self._pings:
            for waiting in list(self._pings):
                del self._pings[waiting]
                if waiting == payload:
                    break

    # ------------------------------------------------------------------ sending

    async def _acquire_send(self) -> None:
        """Take the send turn (FIFO: a releasing task hands it to the longest waiter)."""
        if self._sending:
            await self._send_queue.park()
        else:
            self._sending = True

    def _release_send(self) -> None:
        if self._send_queue:
            self._send_queue.unpark()  # handed over: _sending stays True
        else:
            self._sending = False

    async def _write_pending(self) -> None:
        """Write what the protocol queued, and what a reader adds meanwhile (turn held)."""
        pending = self._pending
        pending.extend(self._protocol.data_to_send())
        while pending:
            if self._broken:
                pending.clear()
                raise self._closed_exc()
            data = b"".join(pending)
            pending.clear()
            try:
                await self._stream.send_all(data)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._broken = True
                if self._closed is None:
                    self._closed = (1006, None)
                raise self._closed_exc() from None
            except BaseException:
                # Cancelled (or failed) part-way through a frame: a close frame now would land
                # in the middle of it, so the connection can only be dropped.
                self._broken = True
                self.aborted = True
                raise

    async def send(self, data: str | bytes) -> None:
        await self._acquire_send()
        try:
            protocol = self._protocol
            if protocol.state is not _OPEN or self._broken:
                raise self._closed_exc()
            if isinstance(data, str):
                protocol.send_text(data.encode())
            else:
                protocol.send_binary(data)
            await self._write_pending()
        finally:
            self._release_send()

    async def ping(self) -> None:
        """Send a ping and wait for its pong, reading the socket unless another task is."""
        self._ping_count = (self._ping_count + 1) & 0xFFFFFFFF
        payload = self._ping_count.to_bytes(4, "big")
        self._pings[payload] = None
        try:
            await self._acquire_send()
            try:
                if self._protocol.state is not _OPEN or self._broken:
                    raise self._closed_exc()
                self._protocol.send_ping(payload)
                await self._write_pending()
            finally:
                self._release_send()
            while payload in self._pings:
                if self._closed is not None:
                    raise self._closed_exc()
                await self._pump()
        finally:
            self._pings.pop(payload, None)

    # ------------------------------------------------------------------ closing

    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Send a close frame, read until the server's reply or EOF, close the stream."""
        self._closed_locally = True
        if self._protocol.state is _OPEN and not self._broken:
            await self._acquire_send()
            try:
                if self._protocol.state is _OPEN:
                    self._protocol.send_close(code, _truncate(reason))
                    await self._write_pending()
            except TransportClosed:
                pass
            finally:
                self._release_send()
        while self._protocol.close_rcvd is None and not self._eof and not self._broken:
            await self._pump()
        await trio.aclose_forcefully(self._stream)

    def _closed_exc(self) -> TransportClosed:
        if self._closed is not None:
            code, reason = self._closed
        else:  # we started the close (or broke a frame): no reply read
            sent = self._protocol.close_sent
            code, reason = (sent.code, sent.reason or None) if sent is not None else (1006, None)
        return TransportClosed(code, reason, local=self._closed_locally)

    @property
    def close_code(self) -> int | None:
        if self._closed is not None:
            return self._closed[0]
        sent = self._protocol.close_sent
        return sent.code if sent is not None else None


# ---------------------------------------------------------------------- connecting


async def _upgrade(
    stream: Stream,
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    max_message_size: int,
    safe_url: str,
) -> WebsocketsWebSocket:
    """The HTTP upgrade: ``ClientProtocol.connect()``, then read until the ``Response``."""
    try:
        uri = parse_uri(url)
    except InvalidURI as exc:  # its message holds the URL (and so the key)
        raise ConnectError(f"{safe_url} is not a WebSocket URL: {exc.msg}") from None
    protocol = ClientProtocol(uri, max_size=max_message_size, logger=_LOGGER)
    request = protocol.connect()
    for name, value in headers:
        try:
            request.headers[name] = value
        except InvalidHeaderValue:
            raise ConnectError(f"the {name} header is not a valid HTTP header value") from None
    protocol.send_request(request)
    try:
        await stream.send_all(b"".join(protocol.data_to_send()))
        while True:
            data = await stream.receive_some(RECEIVE_SIZE)
            if data:
                protocol.receive_data(data)
            else:
                protocol.receive_eof()
            events = protocol.events_received()
            failure = protocol.handshake_exc
            if isinstance(failure, InvalidStatus):
                status = failure.response.status_code
                raise HandshakeRejected(
                    f"{safe_url} answered the upgrade with HTTP {status}", status_code=status
                )
            if failure is not None:
                raise ConnectError(f"WebSocket handshake with {safe_url} failed: {failure}")
            if events:
                assert isinstance(events[0], Response)
                socket = WebsocketsWebSocket(stream, protocol, max_message_size)
                socket._handle(events[1:])  # frames that came with the response
                with contextlib.suppress(TransportClosed):  # then receive() raises it
                    await socket._write_pending()  # the pongs they asked for
                return socket
            if not data:  # pragma: no cover - the protocol reports EOF as handshake_exc
                raise ConnectError(f"{safe_url} closed the connection during the upgrade")
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError) as exc:
        raise ConnectError(f"WebSocket handshake with {safe_url} failed: {exc!r}") from None


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
    """See :func:`gemini_live_trio._transport.open_websocket` (``message_queue_size`` is
    unused: there is no queue between the socket and ``receive``)."""
    del message_queue_size
    target = parse_target(url)
    deadline = trio.current_time() + connect_timeout
    stream = await open_stream(
        target, ssl_context, deadline=deadline, safe_url=safe_url, connect_timeout=connect_timeout
    )
    try:
        socket: WebsocketsWebSocket | None = None
        with trio.move_on_at(deadline):
            socket = await _upgrade(
                stream, url, headers, max_message_size=max_message_size, safe_url=safe_url
            )
        if socket is None:
            raise ConnectTimeout(
                f"the WebSocket upgrade at {safe_url} took longer than {connect_timeout:g} s"
            )
        try:
            yield socket
        finally:
            wait = close_wait(close_timeout)
            with trio.CancelScope(shield=True):
                if not socket.aborted:
                    with trio.move_on_after(wait):
                        await socket.aclose()
    finally:
        with trio.CancelScope(shield=True):
            await trio.aclose_forcefully(stream)
