"""Both WebSocket client backends against real loopback servers: same behaviour, frame for frame.

The servers are the emulator's (trio-websocket, ``_transport.serve_websocket``), a raw
websockets ``ServerProtocol`` over ``trio.serve_tcp`` (for frames trio-websocket cannot be told
to send: fragments, bad UTF-8), and bare TCP listeners (an upgrade that never comes).
"""

import gc
import json
import ssl
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, contextmanager
from functools import partial
from typing import Any

import attrs
import pytest
import trio
import trio.lowlevel
import trio.testing
import trustme
from _helpers import MODEL, session_kwargs, start_emulator
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol

from gemini_live_trio import (
    ConnectError,
    ConnectTimeout,
    HandshakeRejected,
    SessionOptions,
    open_live_session,
)
from gemini_live_trio._transport import (
    DEFAULT_TRANSPORT,
    TRANSPORTS,
    ServerConnection,
    TransportClosed,
    TrioWebSocket,
    WebSocket,
    WebsocketsWebSocket,
    open_websocket,
    serve_websocket,
)

SECRET = "k-SECRET-never-in-messages"
CLASSES = {"trio-websocket": TrioWebSocket, "websockets": WebsocketsWebSocket}

Handler = Callable[[ServerConnection], Awaitable[None]]


@pytest.fixture(params=TRANSPORTS)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@contextmanager
def leaked_sockets() -> Iterator[list[str]]:
    """ResourceWarnings for sockets left open inside the block (after a full GC)."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
        gc.collect()
    found.extend(str(w.message) for w in caught if issubclass(w.category, ResourceWarning))


def url_for(port: int, scheme: str = "ws") -> str:
    return f"{scheme}://127.0.0.1:{port}/ws/live?key={SECRET}"


async def serve(nursery: trio.Nursery, handler: Handler, **kwargs: Any) -> int:
    port: int = await nursery.start(partial(serve_websocket, handler, "127.0.0.1", 0, **kwargs))
    return port


@asynccontextmanager
async def connect(
    backend: str, port: int, scheme: str = "ws", **kwargs: Any
) -> AsyncIterator[WebSocket]:
    async with open_websocket(
        url_for(port, scheme), [("x-test", "1")], safe_url="(url)", backend=backend, **kwargs
    ) as ws:
        assert type(ws) is CLASSES[backend]
        yield ws


async def closed_with(conn: ServerConnection) -> tuple[int, str | None]:
    """Read on the server side until the client's close arrives."""
    with trio.fail_after(5):
        while True:
            try:
                await conn.receive()
            except TransportClosed as exc:
                return exc.code, exc.reason


async def serve_tcp(nursery: trio.Nursery, handler: Callable[[trio.SocketStream], Any]) -> int:
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


async def serve_raw(
    nursery: trio.Nursery, script: Callable[[trio.SocketStream, ServerProtocol], Awaitable[None]]
) -> int:
    """A sans-I/O websockets server: accept the upgrade, then let ``script`` write frames.

    The response is written with the script's first frames (one write: the client finds
    frames in the same read as the response)."""

    async def handler(stream: trio.SocketStream) -> None:
        protocol = ServerProtocol()
        request = None
        while request is None:
            protocol.receive_data(await stream.receive_some(65536))
            for event in protocol.events_received():
                assert isinstance(event, Request)
                request = event
        protocol.send_response(protocol.accept(request))
        try:
            await script(stream, protocol)
        finally:
            await stream.aclose()

    return await serve_tcp(nursery, handler)


async def flush(stream: trio.SocketStream, protocol: ServerProtocol) -> None:
    await stream.send_all(b"".join(protocol.data_to_send()))


# ----------------------------------------------------------------------------- messages


async def test_text_and_binary_frames_keep_their_type_both_ways(
    nursery: trio.Nursery, backend: str
) -> None:
    seen: list[str | bytes] = []

    async def echo(conn: ServerConnection) -> None:
        await conn.accept()
        assert conn.headers["x-test"] == "1" and conn.path.endswith(f"?key={SECRET}")
        for _ in range(4):
            message = await conn.receive()
            seen.append(message)
            await conn.send(message)
        await closed_with(conn)

    port = await serve(nursery, echo)
    async with connect(backend, port) as ws:
        for message in ("text ✓", b"\x00binary\xff", "", b""):
            await ws.send(message)
            assert await ws.receive() == message
    assert seen == ["text ✓", b"\x00binary\xff", "", b""]
    assert [type(m) for m in seen] == [str, bytes, str, bytes]


async def test_many_messages_in_one_read_and_one_message_over_many(
    nursery: trio.Nursery, backend: str
) -> None:
    small = [json.dumps({"n": i}).encode() for i in range(200)]
    big = bytes(range(256)) * 4096  # 1 MiB: many reads

    async def burst(conn: ServerConnection) -> None:
        await conn.accept()
        for message in small:
            await conn.send(message)
        await conn.send(big)
        await closed_with(conn)

    port = await serve(nursery, burst)
    async with connect(backend, port) as ws:
        assert [await ws.receive() for _ in small] == small
        assert await ws.receive() == big


async def test_fragmented_messages_are_joined(nursery: trio.Nursery, backend: str) -> None:
    async def fragments(stream: trio.SocketStream, protocol: ServerProtocol) -> None:
        protocol.send_text("hé".encode()[:2], fin=False)  # a split UTF-8 sequence
        protocol.send_continuation("hé".encode()[2:] + b"llo", fin=True)
        protocol.send_binary(b"\x01", fin=False)
        protocol.send_ping(b"between")  # control frames may come between fragments
        protocol.send_continuation(b"\x02", fin=False)
        protocol.send_continuation(b"\x03", fin=True)
        await flush(stream, protocol)
        await trio.sleep_forever()

    port = await serve_raw(nursery, fragments)
    async with connect(backend, port, close_timeout=0.1) as ws:
        assert await ws.receive() == "héllo"
        assert await ws.receive() == b"\x01\x02\x03"


async def test_concurrent_sends_never_interleave(nursery: trio.Nursery, backend: str) -> None:
    received: list[str | bytes] = []
    messages = [bytes([i]) * 200_000 for i in range(20)]

    async def collect(conn: ServerConnection) -> None:
        await conn.accept()
        for _ in messages:
            received.append(await conn.receive())
        await closed_with(conn)

    port = await serve(nursery, collect)
    async with connect(backend, port) as ws, trio.open_nursery() as senders:
        for message in messages:
            senders.start_soon(ws.send, message)
    assert sorted(received) == messages  # every message whole


# ----------------------------------------------------------------------------- pings


async def test_ping_waits_for_the_pong_with_or_without_a_reader(
    nursery: trio.Nursery, backend: str
) -> None:
    async def chatty(conn: ServerConnection) -> None:
        await conn.accept()
        for i in range(50):
            await conn.send(f"message {i}")
        await closed_with(conn)

    port = await serve(nursery, chatty)
    async with connect(backend, port) as ws:
        with trio.fail_after(5):
            await ws.ping()  # nobody reads: the messages before the pong wait for receive()
            await ws.ping()
        assert await ws.receive() == "message 0"
        received: list[str | bytes] = []

        async def reader() -> None:
            while len(received) < 49:
                received.append(await ws.receive())

        async with trio.open_nursery() as tasks:
            tasks.start_soon(reader)
            with trio.fail_after(5):
                for _ in range(10):
                    await ws.ping()  # while another task reads
        assert received == [f"message {i}" for i in range(1, 50)]


async def test_a_server_ping_is_answered_by_receive(nursery: trio.Nursery, backend: str) -> None:
    pongs: list[bytes] = []

    async def pinger(stream: trio.SocketStream, protocol: ServerProtocol) -> None:
        protocol.send_ping(b"are you there")
        protocol.send_text(b"after the ping")
        await flush(stream, protocol)
        while not pongs:
            protocol.receive_data(await stream.receive_some(65536))
            pongs.extend(
                bytes(e.data)
                for e in protocol.events_received()
                if isinstance(e, Frame) and e.opcode is Opcode.PONG
            )
        protocol.send_text(b"got the pong")
        await flush(stream, protocol)
        await trio.sleep_forever()

    port = await serve_raw(nursery, pinger)
    async with connect(backend, port, close_timeout=0.1) as ws:
        with trio.fail_after(5):
            assert await ws.receive() == "after the ping"
            assert await ws.receive() == "got the pong"
    assert pongs == [b"are you there"]


async def test_a_ping_on_a_closed_connection_raises(nursery: trio.Nursery, backend: str) -> None:
    async def closer(conn: ServerConnection) -> None:
        await conn.accept()
        await conn.aclose(1001, "going away")

    port = await serve(nursery, closer)
    async with connect(backend, port) as ws:
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason, info.value.local) == (1001, "going away", False)
        with pytest.raises(TransportClosed):
            await ws.ping()
        with pytest.raises(TransportClosed) as sent:
            await ws.send("too late")
        assert sent.value.code == 1001
        assert ws.close_code == 1001


# ----------------------------------------------------------------------------- closes


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        (1000, None),
        (1008, "Policy violation: API key not valid"),
        (1011, "Internal error encountered."),
        (4000, "é" * 70),  # 140 bytes of UTF-8: cut to fit a control frame
    ],
)
async def test_the_servers_close_code_and_reason_after_the_messages_before_it(
    nursery: trio.Nursery, backend: str, code: int, reason: str | None
) -> None:
    async def closer(conn: ServerConnection) -> None:
        await conn.accept()
        for i in range(3):
            await conn.send(f"m{i}")
        await conn.aclose(code, reason)

    port = await serve(nursery, closer)
    async with connect(backend, port) as ws:
        assert [await ws.receive() for _ in range(3)] == ["m0", "m1", "m2"]
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
    assert (info.value.code, info.value.local) == (code, False)
    if reason is not None and len(reason.encode()) > 123:
        assert info.value.reason is not None and reason.startswith(info.value.reason)
        assert len(info.value.reason.encode()) >= 120
    else:
        assert info.value.reason == reason


async def test_an_abrupt_drop_is_1006(nursery: trio.Nursery, backend: str) -> None:
    async def dropper(conn: ServerConnection) -> None:
        await conn.accept()
        await conn.send("last words")
        await conn.drop()

    port = await serve(nursery, dropper)
    async with connect(backend, port) as ws:
        assert await ws.receive() == "last words"
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.reason) == (1006, None)
        assert ws.close_code == 1006


async def test_an_oversized_message_closes_with_1009(nursery: trio.Nursery, backend: str) -> None:
    got: list[tuple[int, str | None]] = []

    async def flooder(conn: ServerConnection) -> None:
        await conn.accept()
        await conn.send(b"small")
        await conn.send(b"x" * 5000)
        got.append(await closed_with(conn))

    port = await serve(nursery, flooder)
    async with connect(backend, port, max_message_size=4096) as ws:
        assert await ws.receive() == b"small"
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
        assert info.value.code == 1009
    with trio.fail_after(5):
        while not got:  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert got[0][0] == 1009


@pytest.mark.parametrize(
    ("bad", "code"),
    [
        (b"\x81\x02\xff\xfe", 1007),  # a text frame that is not UTF-8
        (b"\xc1\x01x", 1002),  # RSV1 set, but no extension was agreed
        (b"\x80\x01x", 1002),  # a continuation with no message to continue
    ],
)
async def test_a_bad_frame_fails_the_connection(
    nursery: trio.Nursery, backend: str, bad: bytes, code: int
) -> None:
    got: list[tuple[int, str | None]] = []

    async def bad_frame(stream: trio.SocketStream, protocol: ServerProtocol) -> None:
        protocol.send_text(b"fine")
        await stream.send_all(b"".join(protocol.data_to_send()) + bad)
        while protocol.close_rcvd is None:
            protocol.receive_data(await stream.receive_some(65536))
        got.append((protocol.close_rcvd.code, protocol.close_rcvd.reason))

    port = await serve_raw(nursery, bad_frame)
    async with connect(backend, port, close_timeout=0.1) as ws:
        assert await ws.receive() == "fine"
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
        assert (info.value.code, info.value.local) == (code, False)
    if backend == "websockets":  # trio-websocket drops the connection without a close frame
        assert got and got[0][0] == code


async def test_a_local_close_reaches_the_server_and_ends_receive(
    nursery: trio.Nursery, backend: str
) -> None:
    got: list[tuple[int, str | None]] = []

    async def waiter(conn: ServerConnection) -> None:
        await conn.accept()
        got.append(await closed_with(conn))

    port = await serve(nursery, waiter)
    async with connect(backend, port) as ws:
        with trio.fail_after(5):
            await ws.aclose(4000, "client bye")
        with pytest.raises(TransportClosed) as info:
            await ws.receive()
        assert info.value.local
        with pytest.raises(TransportClosed) as sent:
            await ws.send("after close")
        assert sent.value.local
        await ws.aclose()  # idempotent
    assert got == [(4000, "client bye")]


async def test_aclose_while_another_task_receives(nursery: trio.Nursery, backend: str) -> None:
    """The session's shape: the reader stops at the close, ``aclose`` gets the reply."""
    got: list[tuple[int, str | None]] = []

    async def waiter(conn: ServerConnection) -> None:
        await conn.accept()
        got.append(await closed_with(conn))

    port = await serve(nursery, waiter)
    async with connect(backend, port) as ws:
        ended: list[TransportClosed] = []

        async def reader() -> None:
            try:
                while True:
                    await ws.receive()
            except TransportClosed as exc:
                ended.append(exc)

        with trio.fail_after(5):
            async with trio.open_nursery() as tasks:
                tasks.start_soon(reader)
                await trio.sleep(0.05)
                await ws.aclose(1000)
        assert ended[0].local
    assert got == [(1000, None)]


# ----------------------------------------------------------------------------- connecting


async def test_connect_timeout_when_the_upgrade_never_answers(
    nursery: trio.Nursery, backend: str
) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    port = await serve_tcp(nursery, silent)
    start = trio.current_time()
    with trio.fail_after(5), pytest.raises(ConnectTimeout) as info:
        async with connect(backend, port, connect_timeout=0.3):
            pytest.fail("connected")
    assert 0.25 < trio.current_time() - start < 2
    assert "(url)" in str(info.value) and SECRET not in str(info.value)


@pytest.mark.parametrize("status", [401, 403, 429, 503])
async def test_an_http_rejection_is_handshake_rejected(
    nursery: trio.Nursery, backend: str, status: int
) -> None:
    async def refuse(conn: ServerConnection) -> None:
        await conn.reject(status, b'{"error": "no"}')

    port = await serve(nursery, refuse)
    with pytest.raises(HandshakeRejected) as info:
        async with connect(backend, port):
            pytest.fail("connected")
    assert info.value.status_code == status
    assert f"HTTP {status}" in str(info.value) and SECRET not in str(info.value)


async def test_not_a_websocket_server_is_a_connect_error(
    nursery: trio.Nursery, backend: str
) -> None:
    async def hang_up(stream: trio.SocketStream) -> None:
        async with stream:
            await stream.receive_some(65536)
            await stream.send_all(b"SSH-2.0-OpenSSH\r\n")

    port = await serve_tcp(nursery, hang_up)
    with trio.fail_after(5), pytest.raises(ConnectError) as info:
        async with connect(backend, port, connect_timeout=1):
            pytest.fail("connected")
    if backend == "websockets":  # trio-websocket waits out connect_timeout instead
        assert not isinstance(info.value, ConnectTimeout)
    assert "(url)" in str(info.value) and SECRET not in str(info.value)


async def test_a_refused_connection_is_a_connect_error(backend: str) -> None:
    with trio.socket.socket() as unused:
        await unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    with pytest.raises(ConnectError) as info:
        async with connect(backend, port):
            pytest.fail("connected")
    assert not isinstance(info.value, ConnectTimeout)
    assert "(url)" in str(info.value) and SECRET not in str(info.value)


async def test_tls(nursery: trio.Nursery, backend: str) -> None:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)

    async def echo(conn: ServerConnection) -> None:
        await conn.accept()
        await conn.send(await conn.receive())
        await closed_with(conn)

    port = await serve(nursery, echo, ssl_context=server)
    with leaked_sockets() as leaks:
        async with connect(backend, port, "wss", ssl_context=client) as ws:
            await ws.send("over TLS")
            assert await ws.receive() == "over TLS"
            with trio.fail_after(5):
                await ws.ping()
        with pytest.raises(ConnectError, match="certificate verify failed"):
            async with connect(backend, port, "wss"):  # the system CAs do not know ours
                pytest.fail("connected")
    assert leaks == []


async def test_cancelled_from_outside_the_socket_is_closed_at_once(
    nursery: trio.Nursery, backend: str
) -> None:
    got: list[tuple[int, str | None]] = []

    async def waiter(conn: ServerConnection) -> None:
        await conn.accept()
        await conn.send("hello")
        got.append(await closed_with(conn))

    port = await serve(nursery, waiter)
    with leaked_sockets() as leaks:
        with trio.move_on_after(0.2) as scope:
            async with connect(backend, port, close_timeout=5) as ws:
                assert await ws.receive() == "hello"
                start = trio.current_time()
                await ws.receive()  # nothing comes: cancelled here
        assert scope.cancelled_caught
        assert trio.current_time() - start < 1  # the short wait, not close_timeout
        with trio.fail_after(5):
            while not got:  # noqa: ASYNC110
                await trio.sleep(0.01)
    assert got[0][0] in (1000, 1006)
    assert leaks == []


async def test_an_aborted_socket_skips_the_close_handshake(
    nursery: trio.Nursery, backend: str
) -> None:
    got: list[tuple[int, str | None]] = []

    async def waiter(conn: ServerConnection) -> None:
        await conn.accept()
        got.append(await closed_with(conn))

    port = await serve(nursery, waiter)
    async with connect(backend, port) as ws:
        ws.abort()
    with trio.fail_after(5):
        while not got:  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert got == [(1006, None)]


def test_an_unknown_backend_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown transport"):
        open_websocket("ws://127.0.0.1:1/", [], safe_url="x", backend="carrier-pigeon")
    with pytest.raises(ValueError):
        SessionOptions(transport="carrier-pigeon")


# ----------------------------------------------------------------------------- sessions


async def test_session_options_pick_the_transport(nursery: trio.Nursery, transport: str) -> None:
    """``SessionOptions.transport`` reaches the socket (the default: the run's ``--transport``)."""
    other = next(t for t in TRANSPORTS if t != DEFAULT_TRANSPORT)
    emulator = await start_emulator(nursery)
    for options, expected in [
        (SessionOptions(), transport),
        (SessionOptions(transport=other), other),
    ]:
        async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as s:
            active = s._active
            assert active is not None
            assert type(active.socket) is CLASSES[expected]
    assert attrs.fields(SessionOptions).transport.default == DEFAULT_TRANSPORT


# ---------------------------------------------------------------------- the eager TCP stream


@asynccontextmanager
async def tcp_pair() -> AsyncIterator[tuple[Any, trio.SocketStream]]:
    """An EagerSocketStream connected over loopback to a plain server-side SocketStream."""
    from gemini_live_trio._transport._common import EagerSocketStream

    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    client = EagerSocketStream(await trio.open_tcp_stream("127.0.0.1", port))
    server = await listeners[0].accept()
    try:
        yield client, server
    finally:
        await client.aclose()
        await server.aclose()
        await listeners[0].aclose()


async def test_eager_stream_writes_more_than_the_kernel_buffer_in_order() -> None:
    """A write the kernel cannot take at once finishes by waiting, bytes intact and in order."""
    payload = bytes(range(256)) * (32 * 1024)  # 8 MiB: far beyond the socket buffers
    received = bytearray()
    async with tcp_pair() as (client, server):

        async def read() -> None:
            while len(received) < 2 * len(payload):
                data = await server.receive_some(65536)
                assert data
                received.extend(data)
                await trio.lowlevel.checkpoint()  # a slow reader: the writer must wait for it

        async with trio.open_nursery() as nursery:
            nursery.start_soon(read)
            await client.send_all(payload)
            await client.send_all(memoryview(payload)[::-1].tobytes())
    assert bytes(received) == payload + payload[::-1]


async def test_eager_stream_checks_cancellation_before_writing() -> None:
    async with tcp_pair() as (client, server):
        with trio.CancelScope() as scope:
            scope.cancel()
            await client.send_all(b"never sent")
        assert scope.cancelled_caught
        await client.send_all(b"sent")
        assert await server.receive_some(100) == b"sent"


async def test_eager_stream_never_writes_to_a_reused_descriptor() -> None:
    """After close, the old number may belong to a new socket: the write must fail, not go
    there."""
    async with tcp_pair() as (client, _server):
        await client.aclose()
        async with tcp_pair() as (other, other_server):
            with pytest.raises(trio.ClosedResourceError):
                await client.send_all(b"for the closed connection")
            await other.send_all(b"mine")
            assert await other_server.receive_some(100) == b"mine"


async def test_eager_stream_reports_a_reset_peer_as_broken() -> None:
    async with tcp_pair() as (client, server):
        server.socket.setsockopt(
            trio.socket.SOL_SOCKET, trio.socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00"
        )
        await server.aclose()  # RST
        await trio.sleep(0.05)
        with pytest.raises(trio.BrokenResourceError):
            for _ in range(100):
                await client.send_all(b"x" * 65536)


# ---------------------------------------------------------------------- reader scheduling


async def test_the_application_gets_turn_complete_before_the_rest_of_the_chunk(
    nursery: trio.Nursery, backend: str
) -> None:
    """The application answers a ``turnComplete`` (or a tool call) with its next message, so
    the reader lets it run before it decodes the frames that came in the same read (the
    service sends usage and a resumption handle right behind it)."""
    from gemini_live_trio import ServerContent

    async def script(stream: trio.SocketStream, protocol: ServerProtocol) -> None:
        async def frames() -> list[Any]:
            while True:
                got = [e for e in protocol.events_received() if isinstance(e, Frame)]
                if got:
                    return [json.loads(f.data) for f in got if f.opcode is Opcode.TEXT]
                protocol.receive_data(await stream.receive_some(65536))

        await flush(stream, protocol)
        assert "setup" in (await frames())[0]
        protocol.send_binary(b'{"setupComplete":{}}')
        await flush(stream, protocol)
        assert "clientContent" in (await frames())[0]
        protocol.send_binary(b'{"serverContent":{"turnComplete":true}}')
        for i in range(20):
            protocol.send_binary(b'{"serverContent":{"outputTranscription":{"text":"%d"}}}' % i)
        await flush(stream, protocol)  # one write: the client reads all 21 frames at once
        while await stream.receive_some(65536):
            pass

    port = await serve_raw(nursery, script)
    options = SessionOptions(transport=backend, close_timeout=0.1)  # no close reply here
    async with open_live_session(
        MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}", options=options
    ) as session:
        await session.send_text("hello")
        async for event in session.events:
            if isinstance(event, ServerContent) and event.turn_complete:
                # the turn's metrics at most: the 20 frames behind it are not decoded yet
                assert session._delivery.unread <= 1
                break
        texts = []
        async for event in session.events:
            if isinstance(event, ServerContent) and event.output_transcription_text:
                texts.append(event.output_transcription_text)
                if len(texts) == 20:
                    break
        assert texts == [str(i) for i in range(20)]


async def test_eager_stream_refuses_a_second_writer_while_one_waits() -> None:
    async with tcp_pair() as (client, _server):
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.send_all, b"x" * (16 * 2**20))  # stalls: nobody reads
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await client.send_all(b"would jump the queue")
            nursery.cancel_scope.cancel()


async def test_eager_stream_reads_after_emptying_the_socket() -> None:
    """After a read that emptied the socket, the next one waits for data, then reads it."""
    async with tcp_pair() as (client, server):
        await server.send_all(b"first")
        assert await client.receive_some(100) == b"first"  # less than asked: drained
        async with trio.open_nursery() as nursery:

            async def later() -> None:
                await trio.sleep(0.05)
                await server.send_all(b"second")

            nursery.start_soon(later)
            assert await client.receive_some(100) == b"second"
        async with trio.open_nursery() as nursery:
            nursery.start_soon(client.receive_some, 100)
            await trio.testing.wait_all_tasks_blocked()
            with pytest.raises(trio.BusyResourceError):
                await client.receive_some(100)
            nursery.cancel_scope.cancel()
        await server.aclose()
        assert await client.receive_some(100) == b""  # EOF


async def test_eager_stream_close_wakes_a_waiting_reader() -> None:
    async with tcp_pair() as (client, server):
        await server.send_all(b"x")
        assert await client.receive_some(100) == b"x"
        failures: list[type[BaseException]] = []

        async def reader() -> None:
            try:
                await client.receive_some(100)
            except trio.ClosedResourceError as exc:
                failures.append(type(exc))

        async with trio.open_nursery() as nursery:
            nursery.start_soon(reader)
            await trio.testing.wait_all_tasks_blocked()
            await client.aclose()
        assert failures == [trio.ClosedResourceError]
        with pytest.raises(trio.ClosedResourceError):
            await client.receive_some(100)
