"""The client's TLS stream against trio's own TLS server over loopback."""

import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing
import trustme
from _helpers import server_context, trusting

from gemini_live_trio._transport._common import EagerSocketStream
from gemini_live_trio._transport._tls import TLSStream


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@asynccontextmanager
async def tls_pair(
    ca: trustme.CA,
    *,
    server_host: str = "127.0.0.1",
    handshake: bool = True,
    trusted: trustme.CA | None = None,
) -> AsyncIterator[tuple[TLSStream, trio.SSLStream[trio.SocketStream]]]:
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    tcp = EagerSocketStream(await trio.open_tcp_stream("127.0.0.1", port))
    raw_server = await listeners[0].accept()
    server = trio.SSLStream(raw_server, server_context(ca, server_host), server_side=True)
    client = TLSStream(tcp, trusting(trusted or ca), server_hostname="127.0.0.1")
    try:
        if handshake:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(server.do_handshake)
                await client.do_handshake()
        yield client, server
    finally:
        await trio.aclose_forcefully(client)
        await trio.aclose_forcefully(server)
        await listeners[0].aclose()


async def test_bytes_cross_intact_both_ways_beyond_the_socket_buffers(ca: trustme.CA) -> None:
    payload = bytes(range(256)) * (16 * 1024)  # 4 MiB: many records, full socket buffers
    async with tls_pair(ca) as (client, server):
        got_by_server = bytearray()
        got_by_client = bytearray()

        async def server_side() -> None:
            while len(got_by_server) < len(payload):
                got_by_server.extend(await server.receive_some(65536))
                await trio.lowlevel.checkpoint()  # a slow reader: the client must wait
            await server.send_all(payload[::-1])

        async with trio.open_nursery() as nursery:
            nursery.start_soon(server_side)
            await client.send_all(payload)
            while len(got_by_client) < len(payload):
                data = await client.receive_some(70000)
                assert data
                got_by_client.extend(data)
    assert bytes(got_by_server) == payload
    assert bytes(got_by_client) == payload[::-1]


async def test_records_in_hand_come_back_in_one_receive(ca: trustme.CA) -> None:
    """The point of this stream: one record per WebSocket frame, many frames per read."""
    async with tls_pair(ca) as (client, server):
        for i in range(20):
            await server.send_all(b"frame %02d;" % i)  # a record each
        await trio.sleep(0.05)  # all of them are in the client's socket buffer
        data = await client.receive_some(65536)
        assert data == b"".join(b"frame %02d;" % i for i in range(20))
        # max_bytes is honoured, the rest stays for the next call
        await server.send_all(b"abcdef")
        await trio.sleep(0.05)
        assert await client.receive_some(4) == b"abcd"
        assert await client.receive_some(4) == b"ef"


async def test_the_end_of_the_stream_with_and_without_close_notify(ca: trustme.CA) -> None:
    async with tls_pair(ca) as (client, server):
        await server.send_all(b"last words")
        await server.transport_stream.aclose()  # TCP closed, no close_notify
        assert await client.receive_some(100) == b"last words"
        assert await client.receive_some(100) == b""
        assert await client.receive_some(100) == b""  # and it stays ended
    async with tls_pair(ca) as (client, server):
        # trio's server stream (https_compatible=False) sends close_notify on aclose
        with trio.move_on_after(0.2):
            await server.aclose()
        assert await client.receive_some(100) == b""


async def test_a_certificate_for_another_host_fails_the_handshake(ca: trustme.CA) -> None:
    async with tls_pair(ca, server_host="example.com", handshake=False) as (client, server):
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await server.do_handshake()

            nursery.start_soon(serve)
            with pytest.raises(trio.BrokenResourceError, match="TLS failed") as caught:
                await client.do_handshake()
            await client.aclose()  # the server sees the connection end
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


async def test_an_untrusted_certificate_fails_the_handshake(ca: trustme.CA) -> None:
    async with tls_pair(ca, trusted=trustme.CA(), handshake=False) as (client, server):
        async with trio.open_nursery() as nursery:

            async def serve() -> None:
                with pytest.raises(trio.BrokenResourceError):
                    await server.do_handshake()

            nursery.start_soon(serve)
            with pytest.raises(trio.BrokenResourceError) as caught:
                await client.do_handshake()
            await client.aclose()
        assert isinstance(caught.value.__cause__, ssl.SSLCertVerificationError)


async def test_a_server_that_hangs_up_during_the_handshake(ca: trustme.CA) -> None:
    async with tls_pair(ca, handshake=False) as (client, server):
        await server.transport_stream.aclose()
        with pytest.raises(trio.BrokenResourceError, match=r"during the handshake|EOF"):
            await client.do_handshake()


async def test_a_send_cancelled_part_way_breaks_the_stream(ca: trustme.CA) -> None:
    async with tls_pair(ca) as (client, _server):
        with trio.move_on_after(0.2) as scope:
            await client.send_all(b"x" * (32 * 2**20))  # nobody reads: the write stalls
        assert scope.cancelled_caught
        with pytest.raises(trio.BrokenResourceError):
            await client.send_all(b"more")


async def test_cancellation_is_checked_and_close_is_final(ca: trustme.CA) -> None:
    async with tls_pair(ca) as (client, server):
        with trio.CancelScope() as scope:
            scope.cancel()
            await client.send_all(b"not sent")
        assert scope.cancelled_caught
        with trio.CancelScope() as scope:
            scope.cancel()
            await client.receive_some(10)
        assert scope.cancelled_caught
        await client.send_all(b"sent")
        assert await server.receive_some(10) == b"sent"
        await client.aclose()
        with pytest.raises(trio.ClosedResourceError):
            await client.send_all(b"after close")
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_some(10)
        with pytest.raises(ValueError):
            await TLSStream(client.transport_stream, trusting(ca), "x").receive_some(0)


async def test_one_receiver_at_a_time(ca: trustme.CA) -> None:
    async with tls_pair(ca) as (client, _server):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.receive_some, 100)  # waits: nothing is sent
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await client.receive_some(100)
            nursery.cancel_scope.cancel()
