"""Faults: floods, cancellation from outside at every stage, crashing and hanging handlers.

Each test runs the real session against a loopback server and checks the two promises that
matter when things go wrong: **nothing lost** (every event is delivered or its loss is
reported) and **nothing leaked** (no task outlives the ``async with``, the server sees the
socket closed, no ResourceWarning).
"""

import gc
import math
import ssl
import tracemalloc
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import pytest
import trio
from _helpers import MODEL, collect_turn, session_kwargs, start_emulator

from gemini_live_trio import (
    Blob,
    ClientContent,
    ConnectionLost,
    ConnectTimeout,
    Content,
    EventsDropped,
    FunctionCall,
    Part,
    RealtimeInput,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    ServerContent,
    SessionOptions,
    SlowConsumer,
    ToolCall,
    ToolCallFinished,
    ToolResponse,
    Transcription,
    open_live_session,
    tool,
)
from gemini_live_trio._transport import (
    ServerConnection,
    TransportClosed,
    TrioWebSocket,
    WebSocket,
    WebsocketsWebSocket,
)
from gemini_live_trio._transport import serve_websocket as serve_raw_websocket
from gemini_live_trio.testing import (
    ClientGone,
    Close,
    Emulator,
    EmulatorConnection,
    default_model,
    script,
    tone_pcm,
)

NO_RECONNECT = SessionOptions(reconnect=ReconnectPolicy.off())
CHUNK = tone_pcm(0.04)  # 40 ms of 24 kHz output audio: 1920 bytes


def audio_event() -> ServerContent:
    part = Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=CHUNK))
    return ServerContent(model_turn=Content(parts=[part]))


# ----------------------------------------------------------------------------- leak checks


def tasks_outside(server_nursery: trio.Nursery) -> int:
    """Live trio tasks, not counting the servers' (their per-connection tasks end later)."""
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for child in task.child_nurseries:
            if child is not server_nursery:
                stack.extend(child.child_tasks)
    return count


@asynccontextmanager
async def nothing_leaks(server_nursery: trio.Nursery) -> AsyncIterator[None]:
    """No task outlives the block and no ResourceWarning is raised (after a full GC)."""
    before = tasks_outside(server_nursery)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
        gc.collect()
    assert tasks_outside(server_nursery) == before, "a task outlived the session"
    leaked = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaked, [str(w.message) for w in leaked]


async def closed_by_client(conn: EmulatorConnection) -> tuple[int, str | None]:
    """The emulator's view of how ``conn`` ended (waits for the end)."""
    with trio.fail_after(5):
        while conn.closed_with is None:  # noqa: ASYNC110 - polling a plain attribute
            await trio.sleep(0.001)
    return conn.closed_with


async def serve_tcp(nursery: trio.Nursery, handler: Callable[[Any], Any]) -> int:
    listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
    return int(listeners[0].socket.getsockname()[1])


# ----------------------------------------------------------------------------- floods


async def flood(
    nursery: trio.Nursery,
    monkeypatch: pytest.MonkeyPatch,
    *,
    frames: int,
    options: SessionOptions,
    trace_memory: bool = False,
) -> dict[str, Any]:
    """The server sends ``frames`` audio frames as fast as the socket takes them, pinging the
    client every 250, while the application reads nothing; then one more turn."""
    flooded = trio.Event()
    found: dict[str, Any] = {"server_pings": [], "client_pings": 0, "pending": 0, "audio": 0}

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        for i in range(frames):
            await conn.send(audio_event())
            if i % 250 == 0:  # the server pings the client in the middle of the flood
                start = trio.current_time()
                await conn._ws._conn.ping()  # type: ignore[attr-defined]
                found["server_pings"].append(trio.current_time() - start)
        await conn.send(ServerContent(turn_complete=True))
        flooded.set()
        await default_model(conn)

    def counting(real_ping: Callable[[WebSocket], Awaitable[None]]) -> Any:
        async def counting_ping(self: WebSocket) -> None:
            await real_ping(self)
            found["client_pings"] += 1

        return counting_ping

    for backend in (TrioWebSocket, WebsocketsWebSocket):
        monkeypatch.setattr(backend, "ping", counting(backend.ping))
    emulator = await start_emulator(nursery, behaviour=behaviour)
    if trace_memory:
        tracemalloc.start()
    try:
        async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as s:
            baseline, _ = tracemalloc.get_traced_memory()
            tracemalloc.reset_peak()
            await s.send_realtime_input(text="flood me")
            with trio.fail_after(30):
                while not flooded.is_set():  # the application reads nothing meanwhile
                    found["pending"] = max(found["pending"], s._delivery.pending)
                    found["audio"] = max(found["audio"], s._delivery._overflow_audio)
                    await trio.sleep(0.001)
            _, peak = tracemalloc.get_traced_memory()
            found["memory"] = peak - baseline
            found["events"] = await collect_turn(s.events)
            found["reconnects"] = s.reconnects
            await s.send_realtime_input(text="still there?")  # the connection survived
            found["next_turn"] = await collect_turn(s.events)
    finally:
        tracemalloc.stop()
    return found


async def test_audio_flood_stays_bounded_and_pings_are_answered(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch
) -> None:
    frames = 3000  # 120 s of audio
    options = SessionOptions(
        event_buffer=16,
        max_buffered_audio=1.0,  # 48,000 bytes: 25 frames
        reconnect=ReconnectPolicy(keepalive_interval=0.02, keepalive_timeout=1.0),
    )
    found = await flood(nursery, monkeypatch, frames=frames, options=options)
    events = found["events"]
    audio = [e for e in events if isinstance(e, ServerContent) and e.audio]
    dropped = [e for e in events if isinstance(e, EventsDropped)]
    assert found["reconnects"] == 0
    assert not [e for e in events if isinstance(e, Reconnecting)]
    # nothing lost without a word: delivered + reported-dropped == sent
    assert len(audio) + sum(d.count for d in dropped) == frames
    assert sum(d.audio_bytes for d in dropped) == len(CHUNK) * sum(d.count for d in dropped)
    # the documented bound: max_buffered_audio of audio beyond event_buffer
    assert found["audio"] <= 48_000
    assert found["pending"] <= 48_000 // len(CHUNK) + 2
    # pings both ways went on during the flood
    assert len(found["server_pings"]) == frames // 250
    assert max(found["server_pings"]) < 1.0
    assert found["client_pings"] >= 1
    assert found["next_turn"][-1].turn_complete


@pytest.mark.parametrize(("max_audio", "bounded"), [(0.25, True), (3600.0, False)])
async def test_audio_flood_memory_is_what_max_buffered_audio_says(
    nursery: trio.Nursery, monkeypatch: pytest.MonkeyPatch, max_audio: float, bounded: bool
) -> None:
    options = SessionOptions(event_buffer=16, max_buffered_audio=max_audio)
    found = await flood(nursery, monkeypatch, frames=600, options=options, trace_memory=True)
    megabytes = found["memory"] / 2**20
    # 600 unread events hold ~1.5 MB (PCM and objects: audio-only events keep no parsed JSON);
    # the bound (16 in the channel + 0.25 s = 7 frames of overflow) holds ~0.1 MB
    if bounded:
        assert megabytes < 0.6, f"{megabytes:.2f} MiB"
    else:
        assert megabytes > 1.1, f"{megabytes:.2f} MiB (the control: nothing dropped)"


async def test_non_audio_flood_fails_with_slow_consumer(nursery: trio.Nursery) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            for i in range(500):
                await conn.send(ServerContent(output_transcription=Transcription(text=f"{i} ")))
            while True:
                await conn.receive()
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    options = SessionOptions(
        event_buffer=8, max_pending_events=100, reconnect=ReconnectPolicy.off()
    )
    async with nothing_leaks(nursery):
        with pytest.raises(SlowConsumer, match="more than 100 events"):
            async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as s:
                with trio.fail_after(5):
                    while not s.closed:  # noqa: ASYNC110 - the session ends on its own
                        await trio.sleep(0.001)
                assert s._delivery.pending <= 101  # it stopped queueing at the limit
        # what was queued is still readable, in order, and then the channel ends
        texts = [
            e.output_transcription_text async for e in s.events if isinstance(e, ServerContent)
        ]
        assert texts[:5] == ["0 ", "1 ", "2 ", "3 ", "4 "]
    assert (await closed_by_client(emulator.connections[0]))[0] == 1000


async def test_a_user_who_never_reads_still_gets_the_error(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(
        nursery, behaviour=script(Close(1011, "Internal error encountered."))
    )
    with trio.move_on_after(1) as waited:
        with pytest.raises(ConnectionLost):
            async with open_live_session(MODEL, options=NO_RECONNECT, **session_kwargs(emulator)):
                await trio.sleep_forever()  # e.g. waiting on its own microphone, never reading
    assert not waited.cancelled_caught, "the session ended but the body was never told"


# ----------------------------------------------------------------------------- cancellation


async def test_cancelled_during_tcp_and_upgrade(nursery: trio.Nursery) -> None:
    accepted = trio.Event()
    eof = trio.Event()

    async def silent(stream: trio.SocketStream) -> None:
        accepted.set()
        while await stream.receive_some():  # the upgrade request, then EOF
            pass
        eof.set()

    port = await serve_tcp(nursery, silent)
    async with nothing_leaks(nursery):
        async with trio.open_nursery() as client:

            async def connect() -> None:
                async with open_live_session(MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}"):
                    pytest.fail("must not connect")

            client.start_soon(connect)
            await accepted.wait()
            await trio.sleep(0.01)  # the upgrade request is out, its answer never comes
            client.cancel_scope.cancel()
    with trio.fail_after(5):
        await eof.wait()


async def stalled_tls_server(nursery: trio.Nursery) -> tuple[int, trio.Event, trio.Event]:
    """A TCP server that accepts and reads but never answers the TLS ClientHello."""
    accepted = trio.Event()
    eof = trio.Event()

    async def mute(stream: trio.SocketStream) -> None:
        accepted.set()
        while await stream.receive_some():  # the ClientHello, then EOF
            pass
        eof.set()

    return await serve_tcp(nursery, mute), accepted, eof


async def test_cancelled_during_the_tls_handshake(nursery: trio.Nursery) -> None:
    port, accepted, eof = await stalled_tls_server(nursery)
    async with nothing_leaks(nursery):
        async with trio.open_nursery() as client:

            async def connect() -> None:
                async with open_live_session(
                    MODEL,
                    api_key="k",
                    base_url=f"wss://127.0.0.1:{port}",
                    ssl_context=ssl.create_default_context(),
                ):
                    pytest.fail("must not connect")

            client.start_soon(connect)
            await accepted.wait()
            await trio.sleep(0.01)
            client.cancel_scope.cancel()
    with trio.fail_after(5):
        await eof.wait()


async def test_tls_handshake_timeout_leaks_no_socket(nursery: trio.Nursery) -> None:
    port, _, eof = await stalled_tls_server(nursery)
    async with nothing_leaks(nursery):
        with pytest.raises(ConnectTimeout):
            async with open_live_session(
                MODEL,
                api_key="k",
                base_url=f"wss://127.0.0.1:{port}",
                ssl_context=ssl.create_default_context(),
                options=SessionOptions(connect_timeout=0.1),
            ):
                pytest.fail("must not connect")
    with trio.fail_after(5):
        await eof.wait()


async def test_cancelled_during_setup(nursery: trio.Nursery) -> None:
    got_setup = trio.Event()
    server_saw: list[int] = []

    async def never_completes(ws: ServerConnection) -> None:
        await ws.accept()
        try:
            await ws.receive()
            got_setup.set()
            await ws.receive()
        except TransportClosed as exc:
            server_saw.append(exc.code)

    port = await nursery.start(partial(serve_raw_websocket, never_completes, "127.0.0.1", 0))
    async with nothing_leaks(nursery):
        async with trio.open_nursery() as client:

            async def connect() -> None:
                async with open_live_session(MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}"):
                    pytest.fail("must not be set up")

            client.start_soon(connect)
            await got_setup.wait()
            client.cancel_scope.cancel()
    with trio.fail_after(5):
        while not server_saw:  # noqa: ASYNC110
            await trio.sleep(0.001)
    assert server_saw[0] in (1000, 1006)  # closed: politely if there was time, else dropped


async def test_cancelled_mid_turn(nursery: trio.Nursery) -> None:
    async def slow_speaker(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            while True:
                await conn.send(audio_event())
                await trio.sleep(0.002)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=slow_speaker)
    async with nothing_leaks(nursery):
        with trio.CancelScope() as scope:
            async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
                await session.send_text("talk")
                count = 0
                async for event in session.events:
                    count += isinstance(event, ServerContent) and bool(event.audio)
                    if count == 10:
                        scope.cancel()
        assert scope.cancelled_caught and session.closed
    assert (await closed_by_client(emulator.connections[0]))[0] == 1000


async def test_cancelled_during_a_tool_call(nursery: trio.Nursery) -> None:
    started = trio.Event()
    cleaned_up = trio.Event()
    server_got: list[Any] = []

    @tool(timeout=None)
    async def wait_forever() -> str:
        """Never returns."""
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            cleaned_up.set()
        return "unreachable"

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            call = FunctionCall(id="fc-1", name="wait_forever", args={})
            await conn.send(ToolCall(function_calls=[call]))
            while True:
                server_got.append(await conn.receive())
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with nothing_leaks(nursery):
        with trio.CancelScope() as scope:
            async with open_live_session(
                MODEL, tools=[wait_forever], **session_kwargs(emulator)
            ) as session:
                await session.send_text("call it")
                await started.wait()
                scope.cancel()
    assert cleaned_up.is_set()  # the handler's own finally ran
    assert (await closed_by_client(emulator.connections[0]))[0] == 1000
    assert not [m for m in server_got if isinstance(m, ToolResponse)]  # no late answer


async def test_cancelled_during_a_reconnect(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(nursery)
    in_setup = trio.Event()
    second: list[ServerConnection] = []

    async def first_drops_then_mute(ws: ServerConnection) -> None:
        if not second and not emulator.connections:
            await emulator.serve_connection(ws)  # the first connection: a real emulator one
            return
        await ws.accept()  # the reconnect: accepted, setup read, never answered
        second.append(ws)
        try:
            await ws.receive()
            in_setup.set()
            await ws.receive()
        except TransportClosed:
            pass

    port = await nursery.start(partial(serve_raw_websocket, first_drops_then_mute, "127.0.0.1", 0))
    async with nothing_leaks(nursery):
        with trio.CancelScope() as scope:
            async with open_live_session(
                MODEL, api_key=emulator.api_key, base_url=f"ws://127.0.0.1:{port}"
            ) as session:
                await session.send_text("hi")
                await collect_turn(session.events)
                await emulator.connections[0].drop()  # 1006: the session reconnects
                reconnecting = await session.events.receive()
                while not isinstance(reconnecting, Reconnecting):
                    reconnecting = await session.events.receive()
                await in_setup.wait()
                scope.cancel()
        assert scope.cancelled_caught
    assert emulator.connections[0].closed_with == (1006, None)
    assert len(second) == 1


async def cancel_while_leaving_with_a_full_queue(nursery: trio.Nursery) -> EmulatorConnection:
    """Leave a session whose socket is backed up (the server stopped reading) and cancel the
    flush from outside; returns the server's side once it has read everything."""
    listening = trio.Event()

    async def deaf(conn: EmulatorConnection) -> None:
        await listening.wait()  # reads nothing for a while: the client's sends back up
        try:
            while True:
                await conn.receive()
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=deaf)
    options = SessionOptions(close_timeout=30, outgoing_buffer=4)
    async with nothing_leaks(nursery):
        with trio.move_on_after(0.5) as scope:
            async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as s:
                chunk = RealtimeInput(
                    audio=Blob(mime_type="audio/pcm;rate=16000", data=bytes(32_000))
                )
                with trio.move_on_after(0.2):
                    while True:  # until the socket and the outgoing channel are full
                        await s.outgoing.send(chunk)  # the writer task's path, not send()'s
            # leaving waits up to close_timeout (30 s) to flush: the outer cancel cuts it short
        assert scope.cancelled_caught
    listening.set()
    await closed_by_client(emulator.connections[0])
    return emulator.connections[0]


async def test_cancelled_while_leaving_with_a_full_queue(nursery: trio.Nursery) -> None:
    conn = await cancel_while_leaving_with_a_full_queue(nursery)
    assert conn.closed_with is not None


async def test_a_send_cancelled_midway_is_not_followed_by_a_corrupt_frame(
    nursery: trio.Nursery,
) -> None:
    conn = await cancel_while_leaving_with_a_full_queue(nursery)
    code, why = conn.closed_with  # type: ignore[misc]
    assert code in (1000, 1006), why  # a clean close frame, or the TCP end: never garbage


# ----------------------------------------------------------------------------- a sweep


def lifecycle_behaviour() -> Callable[[EmulatorConnection], Any]:
    """Text turn, tool call, abrupt drop (first connection); then the default model."""

    async def behaviour(conn: EmulatorConnection) -> None:
        resumption = conn.setup.session_resumption
        if resumption is not None and resumption.handle:
            await default_model(conn)
            return
        try:
            message = await conn.receive()
            await conn.reply_to_text("hello")
            message = await conn.receive()
            assert isinstance(message, ClientContent)
            call = FunctionCall(id="fc-1", name="lookup", args={"what": "x"})
            await conn.send(ToolCall(function_calls=[call]))
            message = await conn.receive()
            assert isinstance(message, ToolResponse), message
            await conn.say("found it")
            await conn.drop()
        except ClientGone:
            pass

    return behaviour


async def lifecycle(emulator: Emulator, phase: list[str]) -> None:
    """One session's whole life: connect, turn, tool call, reconnect, turn, leave."""

    async def lookup(what: str) -> str:
        """Look something up."""
        await trio.sleep(0.002)
        return what

    phase.append("connect")
    async with open_live_session(MODEL, tools=[lookup], **session_kwargs(emulator)) as session:
        phase.append("turn")
        await session.send_text("hi")
        await collect_turn(session.events)
        phase.append("tool call")
        await session.send_text("use the tool")
        await collect_turn(session.events)
        phase.append("reconnect")
        async for event in session.events:
            if isinstance(event, Reconnected):
                break
        phase.append("second turn")
        await session.send_text("again")
        await collect_turn(session.events)
        phase.append("leave")
    phase.append("done")


class StepCounter(trio.abc.Instrument):
    """Counts task steps; past ``cancel_at`` steps it cancels ``scope`` (once)."""

    def __init__(self, scope: trio.CancelScope | None = None, cancel_at: int = 0) -> None:
        self.steps = 0
        self._scope = scope
        self._cancel_at = cancel_at
        self._token = trio.lowlevel.current_trio_token()

    def before_task_step(self, task: trio.lowlevel.Task) -> None:
        self.steps += 1
        if self._scope is not None and self.steps == self._cancel_at:
            self._token.run_sync_soon(self._scope.cancel)


async def test_cancellation_at_many_points_of_a_sessions_life(nursery: trio.Nursery) -> None:
    """Cancel one whole session life (connect, setup, turn, tool call, drop and reconnect,
    turn, leave) after 0, n/24, 2n/24... of the n task steps it takes: every time, no task
    outlives it, every socket is closed, no ResourceWarning."""
    emulator = await start_emulator(nursery, behaviour=lifecycle_behaviour())
    counts = []
    for _ in range(2):  # uncancelled: how many scheduler steps a whole life takes
        counter = StepCounter()
        trio.lowlevel.add_instrument(counter)
        full: list[str] = []
        with trio.fail_after(10):
            await lifecycle(emulator, full)
        trio.lowlevel.remove_instrument(counter)
        assert full[-1] == "done"
        counts.append(counter.steps)
    steps = min(counts)
    hit: dict[str, int] = {}
    points = 24
    async with nothing_leaks(nursery):
        for k in range(points):
            before = len(emulator.connections)
            tasks = tasks_outside(nursery)
            phase: list[str] = []
            with trio.CancelScope() as scope:
                counter = StepCounter(scope, cancel_at=1 + steps * k // points)
                trio.lowlevel.add_instrument(counter)
                try:
                    with trio.fail_after(10):
                        await lifecycle(emulator, phase)
                finally:
                    trio.lowlevel.remove_instrument(counter)
            assert tasks_outside(nursery) == tasks, f"a task outlived a cancel in {phase[-1]}"
            hit[phase[-1]] = hit.get(phase[-1], 0) + 1
            for conn in emulator.connections[before:]:
                code, _ = await closed_by_client(conn)
                assert code in (1000, 1006)  # 1006: the emulator's own drop before reconnecting
    assert sum(hit.values()) == points
    assert len(hit) >= 4, hit  # the points really are spread over the session's life
    print(f"cancel points by phase ({steps} steps per life):", hit)


# ----------------------------------------------------------------------------- handlers


async def test_a_tool_that_never_returns_times_out_while_the_session_goes_on(
    nursery: trio.Nursery,
) -> None:
    @tool(timeout=0.2)
    async def stuck() -> str:
        """Never returns."""
        await trio.sleep_forever()
        return "unreachable"

    responses: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            await conn.send(ToolCall(function_calls=[FunctionCall(id="s", name="stuck", args={})]))
            for _ in range(10):  # the model keeps talking meanwhile
                await conn.send(audio_event())
                await trio.sleep(0.01)
            message = await conn.receive()
            assert isinstance(message, ToolResponse)
            responses.append(message)
            await conn.say("ok")
            await default_model(conn)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with nothing_leaks(nursery):
        async with open_live_session(MODEL, tools=[stuck], **session_kwargs(emulator)) as session:
            await session.send_text("go")
            with trio.fail_after(5):
                events = await collect_turn(session.events)
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [f.outcome for f in finished] == ["timeout"]
    audio_before_timeout = [e for e in events if isinstance(e, ServerContent) and e.audio]
    assert len(audio_before_timeout) >= 10
    (response,) = responses
    assert response.function_responses[0].response["error"]["type"] == "Timeout"  # type: ignore[index]


class UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("cannot describe myself")


async def fails_unprintably() -> str:
    """A handler whose exception cannot be turned into text."""
    raise UnprintableError


async def returns_a_set() -> dict[str, Any]:
    """A handler whose result is not JSON."""
    return {"ids": {1, 2}}


@pytest.mark.parametrize(
    "handler",
    [
        pytest.param(fails_unprintably),
        pytest.param(returns_a_set),
    ],
)
async def test_a_broken_handler_still_gets_an_error_response(
    nursery: trio.Nursery, handler: Callable[..., Any]
) -> None:
    responses: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            call = FunctionCall(id="b", name=handler.__name__, args={})
            await conn.send(ToolCall(function_calls=[call]))
            with trio.move_on_after(0.5):
                message = await conn.receive()
                assert isinstance(message, ToolResponse)
                responses.append(message)
            await conn.say("done")
            await default_model(conn)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(
        MODEL, tools=[handler], options=NO_RECONNECT, **session_kwargs(emulator)
    ) as session:
        await session.send_text("go")
        with trio.fail_after(5):
            events = await collect_turn(session.events)
    assert [e.outcome for e in events if isinstance(e, ToolCallFinished)] == ["error"]
    (response,) = responses
    assert "error" in response.function_responses[0].response  # type: ignore[operator]


async def test_user_code_crashing_mid_session_leaves_nothing_behind(nursery: trio.Nursery) -> None:
    class Oops(Exception):
        pass

    @tool(timeout=None)
    async def busy() -> str:
        """Runs until cancelled."""
        await trio.sleep_forever()
        return "unreachable"

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            await conn.send(ToolCall(function_calls=[FunctionCall(id="x", name="busy", args={})]))
            while True:
                await conn.send(audio_event())
                await trio.sleep(0.005)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with nothing_leaks(nursery):
        with pytest.raises(Oops):
            async with open_live_session(MODEL, tools=[busy], **session_kwargs(emulator)) as s:
                await s.send_text("go")
                async for event in s.events:
                    if isinstance(event, ServerContent) and event.audio:
                        raise Oops
    assert (await closed_by_client(emulator.connections[0]))[0] == 1000


def test_every_buffer_has_a_finite_default_bound() -> None:
    options = SessionOptions()
    assert math.isfinite(options.max_buffered_audio) and options.max_buffered_audio > 0
    assert 0 < options.max_pending_events < math.inf
    assert 0 < options.event_buffer < math.inf and 0 < options.outgoing_buffer < math.inf
