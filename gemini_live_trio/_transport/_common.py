"""What both client backends share: the interface, the close exception, the TCP/TLS stream."""

import math
import os
import ssl
import sys
from abc import ABC, abstractmethod
from typing import NamedTuple
from urllib.parse import urlsplit

import trio

from .._exceptions import ConnectError, ConnectTimeout

#: Server frames are far smaller (a 40 ms audio frame is ~13 KB of JSON), but a large tool call
#: or grounding block must never kill the session with 1009.
MAX_MESSAGE_SIZE = 16 * 2**20
#: trio-websocket's buffer between its socket reader and ours (the websockets backend has no
#: such queue: its ``receive`` reads the socket itself).
MESSAGE_QUEUE_SIZE = 64


class EagerSocketStream(trio.abc.HalfCloseableStream):
    """A TCP stream whose ``send_all`` writes at once when the kernel takes the bytes.

    trio's ``SocketStream.send_all`` yields to the scheduler after every successful write
    (about 7 µs per frame here, a third of the client's cost per upstream audio chunk). Like
    asyncio's transports, this one tries the write first and waits for the socket to become
    writable only when the kernel's buffer is full; it still raises ``Cancelled`` at entry, as
    every checkpoint does. Reads, ``send_eof`` and closing are the wrapped stream's. Where a
    socket cannot be written with ``os.write`` (Windows), it is plain ``SocketStream``.
    """

    __slots__ = ("_drained", "_inner", "_reading", "_waiting", "socket")

    def __init__(self, inner: trio.SocketStream) -> None:
        self._inner = inner
        self.socket = inner.socket
        #: A write is waiting for room: another one now would put its bytes first.
        self._waiting = False
        #: The last read got less than it asked for: the socket was empty then.
        self._drained = False
        self._reading = False

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        if self._waiting:  # as SocketStream: one writer at a time
            raise trio.BusyResourceError("another task is writing to this stream")
        socket = self.socket
        # the descriptor is looked up right before the write (no await in between): once the
        # socket is closed its number may belong to another connection
        fd = socket.fileno()
        if not EAGER_WRITES or fd < 0 or not data or socket.did_shutdown_SHUT_WR:
            await self._inner.send_all(data)  # its errors and checkpoints
            return
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            sent = os.write(fd, data)
        except BlockingIOError:
            sent = 0
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket write failed: {exc!r}") from exc
        if sent < len(data):  # the kernel's buffer is full: wait as SocketStream does
            self._waiting = True
            try:
                with memoryview(data) as view:
                    await self._inner.send_all(view[sent:])
            finally:
                self._waiting = False

    async def wait_send_all_might_not_block(self) -> None:
        await self._inner.wait_send_all_might_not_block()

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """As ``SocketStream.receive_some``, but after a read that emptied the socket it waits
        for data before reading again: a read that would fail costs a system call and trio's
        bookkeeping, once per frame when audio arrives at the speed of speech."""
        size = RECEIVE_SIZE_DEFAULT if max_bytes is None else max_bytes
        if self._reading:
            raise trio.BusyResourceError("another task is reading from this stream")
        self._reading = True
        try:
            if EAGER_WRITES and self._drained:
                data = await self._read_when_ready(size)
            else:
                data = await self._inner.receive_some(size)
        finally:
            self._reading = False
        self._drained = 0 < len(data) < size
        return data

    async def _read_when_ready(self, size: int) -> bytes:
        if self.socket.fileno() < 0:
            raise trio.ClosedResourceError("the socket was closed")
        try:
            await trio.lowlevel.wait_readable(self.socket)
        except OSError as exc:  # as SocketStream: a closed socket is ClosedResourceError
            raise trio.ClosedResourceError("the socket was closed") from exc
        fd = self.socket.fileno()  # looked up after the wait: it may have been closed meanwhile
        if fd < 0:
            raise trio.ClosedResourceError("the socket was closed")
        try:
            return os.read(fd, size)
        except BlockingIOError:  # woken without data after all
            return await self._inner.receive_some(size)
        except OSError as exc:
            raise trio.BrokenResourceError(f"socket read failed: {exc!r}") from exc

    async def send_eof(self) -> None:
        await self._inner.send_eof()

    async def aclose(self) -> None:
        await self._inner.aclose()


#: ``os.write``/``os.read`` work on sockets where file descriptors are sockets (not Windows).
EAGER_WRITES = sys.platform != "win32"
#: What a read asks for when the caller does not say (trio's default).
RECEIVE_SIZE_DEFAULT = 65536

#: What the transports read and write: :class:`EagerSocketStream`, or ``_tls.TLSStream``
#: over one.
Stream = trio.abc.Stream


class TransportClosed(Exception):
    """The WebSocket is closed; ``code`` 1006 means no close frame arrived."""

    def __init__(self, code: int, reason: str | None, *, local: bool = False) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
        #: We started the close (``aclose`` was called).
        self.local = local


class WebSocket(ABC):
    """A connected client WebSocket: send and receive whole messages, close, ping.

    Text frames arrive as ``str``, binary frames as ``bytes``; ``send`` picks the frame type the
    same way. Every method raises :class:`TransportClosed` once the connection is closed.
    """

    __slots__ = ("aborted",)

    def __init__(self) -> None:
        #: Set by :meth:`abort`: leaving ``open_websocket`` skips the close handshake.
        self.aborted = False

    def abort(self) -> None:
        """Give up on a dead connection: no close handshake when the block is left."""
        self.aborted = True

    @abstractmethod
    async def send(self, data: str | bytes) -> None:
        """Send one message (``str``: a text frame, ``bytes``: a binary frame)."""

    @abstractmethod
    async def receive(self) -> str | bytes:
        """The next message."""

    @abstractmethod
    async def ping(self) -> None:
        """Send a ping and wait for its pong."""

    @abstractmethod
    async def aclose(self, code: int = 1000, reason: str | None = None) -> None:
        """Close with ``code`` and wait for the server's reply (bound it with a timeout)."""

    @property
    @abstractmethod
    def close_code(self) -> int | None:
        """The close code once closed (1006: no close frame), else ``None``."""


class Target(NamedTuple):
    host: str
    port: int
    secure: bool
    #: Path and query (the query carries ``?key=...``: never put it in a message).
    resource: str
    #: The ``Host`` header: the port only when the URL names one.
    host_header: str


def parse_target(url: str) -> Target:
    parts = urlsplit(url)
    host = parts.hostname or ""
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    name = f"[{host}]" if ":" in host else host
    host_header = name if parts.port is None else f"{name}:{port}"
    return Target(host, port, secure, resource, host_header)


async def open_stream(
    target: Target,
    ssl_context: ssl.SSLContext | None,
    *,
    deadline: float,
    safe_url: str,
    connect_timeout: float,
) -> Stream:
    """DNS + TCP (+ TLS handshake) before ``deadline``; errors name only ``safe_url``."""
    stream: Stream
    try:
        with trio.fail_at(deadline):
            if target.secure:
                if ssl_context is None:
                    ssl_context = ssl.create_default_context()
                from ._tls import TLSStream

                tcp = EagerSocketStream(await trio.open_tcp_stream(target.host, target.port))
                stream = TLSStream(tcp, ssl_context, server_hostname=target.host)
                try:
                    await stream.do_handshake()
                except BaseException:
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(stream)  # never leak the socket
                    raise
            else:
                stream = EagerSocketStream(await trio.open_tcp_stream(target.host, target.port))
    except trio.TooSlowError:
        raise ConnectTimeout(
            f"connecting to {safe_url} took longer than {connect_timeout:g} s"
        ) from None
    except (OSError, ssl.SSLError, trio.BrokenResourceError) as exc:
        detail = exc.__cause__ or exc  # trio wraps TLS failures in an empty BrokenResourceError
        raise ConnectError(f"could not connect to {safe_url}: {detail}") from None
    return stream


def close_wait(close_timeout: float) -> float:
    """How long leaving the block may wait for the close handshake.

    Cancelled from outside, trio-websocket's reader is cancelled too and the server's close
    reply can never be read; either way the caller asked to stop, so wait only briefly.
    """
    cancelled = trio.current_effective_deadline() == -math.inf
    return min(close_timeout, 0.05) if cancelled else close_timeout
