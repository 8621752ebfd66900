"""TLS for the client's stream: ``ssl.SSLObject`` on memory BIOs over :class:`EagerSocketStream`.

Why not ``trio.SSLStream``: ``SSLObject.read`` returns one TLS record per call, and the service
sends one record per WebSocket frame, so ``SSLStream.receive_some`` hands out one frame per
call, each call a pass through the scheduler; its ``send_all`` takes a lock with a scheduler
pass per write. Measured over loopback TLS (``python bench/bench_tls.py``), that was 11 µs per
downstream audio frame and 12 µs per upstream chunk on top of plain TCP, where an asyncio
client pays 2 and 7. Here ``receive_some`` decrypts every complete record one socket read
brought in (one scheduler pass per read, as for plain TCP) and ``send_all`` writes at once when
the socket takes the bytes.

What this stream is for, and all it does: a client with at most one task receiving and any
number of tasks sending (our transports serialise their own sends). TLS 1.3 post-handshake
messages (session tickets, key updates) are handled by OpenSSL inside ``read``; whatever it
queues to send goes out after that read. Like ``trio.SSLStream(https_compatible=True)``, a TCP
close without ``close_notify`` is a clean end of stream and ``aclose`` just closes the socket.
Any failure, or a cancellation that may have cut a record short, breaks the stream for good
(``trio.BrokenResourceError``), since TLS cannot resume after lost bytes.
"""

import ssl

import trio

from .._sync import FifoLock
from ._common import EagerSocketStream

#: Bytes read from the socket at once (records decrypted from them are returned together).
READ_SIZE = 65536


class TLSStream(trio.abc.Stream):
    """A TLS client connection over ``transport``; call :meth:`do_handshake` first."""

    def __init__(
        self, transport: EagerSocketStream, context: ssl.SSLContext, server_hostname: str
    ) -> None:
        self.transport_stream = transport
        self._incoming = ssl.MemoryBIO()
        self._outgoing = ssl.MemoryBIO()
        self._ssl = context.wrap_bio(
            self._incoming, self._outgoing, server_side=False, server_hostname=server_hostname
        )
        self._send_lock = FifoLock()
        self._broken: BaseException | None = None
        self._closed = False
        self._eof = False
        self._receiving = False

    def _check(self) -> None:
        if self._closed:
            raise trio.ClosedResourceError("the TLS stream is closed")
        if self._broken is not None:
            raise trio.BrokenResourceError("the TLS stream is broken") from self._broken

    def _fail(self, exc: BaseException) -> trio.BrokenResourceError:
        self._broken = exc
        return trio.BrokenResourceError(f"TLS failed: {exc}")

    async def do_handshake(self) -> None:
        """The TLS handshake (certificate and host name checked by ``context``)."""
        self._check()
        while True:
            try:
                self._ssl.do_handshake()
                break
            except ssl.SSLWantReadError:
                await self._flush()
                if not await self._fill():
                    eof = ssl.SSLEOFError("the server closed the connection during the handshake")
                    raise self._fail(eof) from None
            except (ssl.SSLError, ssl.CertificateError) as exc:
                failure = self._fail(exc)
                raise failure from exc
        await self._flush()

    async def _fill(self) -> bool:
        """Read once from the socket into the TLS engine; False at end of stream."""
        data = await self.transport_stream.receive_some(READ_SIZE)
        if data:
            self._incoming.write(data)
            return True
        self._incoming.write_eof()
        return False

    async def _flush(self) -> None:
        """Send what the TLS engine queued. Bytes leave in the order they were taken: the lock
        is FIFO, and taken with no scheduler pass between reading the bytes and queueing up."""
        data = self._outgoing.read()
        if not data:
            return
        try:
            try:
                self._send_lock.acquire_nowait()
            except trio.WouldBlock:
                await self._send_lock.acquire()
            try:
                await self.transport_stream.send_all(data)
            finally:
                self._send_lock.release()
        except BaseException as exc:
            self._broken = exc  # some records may be missing from the stream now
            raise

    async def receive_some(self, max_bytes: int | None = None) -> bytes:
        """Every byte the records already in hand decrypt to (up to ``max_bytes``), reading
        the socket when there are none. ``b""`` at the end of the stream."""
        self._check()
        if self._receiving:
            raise trio.BusyResourceError("another task is receiving from this stream")
        limit = READ_SIZE if max_bytes is None else max_bytes
        if limit < 1:
            raise ValueError("max_bytes must be >= 1")
        self._receiving = True
        try:
            return await self._receive(limit)
        finally:
            self._receiving = False

    async def _receive(self, limit: int) -> bytes:
        await trio.lowlevel.checkpoint_if_cancelled()
        chunks: list[bytes] = []
        size = 0
        waited = False
        while size < limit and not self._eof:
            try:
                data = self._ssl.read(limit - size)
            except ssl.SSLWantReadError:
                if chunks:
                    break
                await self._flush()  # e.g. what a key update asks us to send
                waited = True
                await self._fill()
                continue
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                self._eof = True  # close_notify, or TCP closed without one
                break
            except ssl.SSLError as exc:
                if "UNEXPECTED_EOF_WHILE_READING" in str(exc):
                    self._eof = True
                    break
                failure = self._fail(exc)
                raise failure from exc
            if not data:
                self._eof = True
                break
            chunks.append(data)
            size += len(data)
        if self._outgoing.pending:
            await self._flush()
            waited = True
        if not waited:
            await trio.lowlevel.cancel_shielded_checkpoint()
        return b"".join(chunks)

    async def send_all(self, data: bytes | bytearray | memoryview) -> None:
        """Encrypt ``data`` and write it (at once when the socket takes it)."""
        self._check()
        await trio.lowlevel.checkpoint_if_cancelled()
        if not data:
            return
        try:
            self._ssl.write(data)  # a memory BIO takes all of it
        except ssl.SSLError as exc:
            failure = self._fail(exc)
            raise failure from exc
        await self._flush()

    async def wait_send_all_might_not_block(self) -> None:
        await self.transport_stream.wait_send_all_might_not_block()

    async def aclose(self) -> None:
        """Close the socket (no ``close_notify``: WebSocket has its own close handshake)."""
        self._closed = True
        await self.transport_stream.aclose()
