"""Tool dispatch against the emulator over loopback: answers, errors, cancellation, streaming."""

import threading
import time
from collections.abc import AsyncIterator

import pytest
import trio
from _helpers import MODEL, collect_turn, session_kwargs, start_emulator

from gemini_live_trio import (
    AudioTranscriptionConfig,
    Blob,
    Content,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponseScheduling,
    LiveConfig,
    Part,
    ServerContent,
    SessionOptions,
    Tool,
    ToolCall,
    ToolCallCancellation,
    ToolCallFinished,
    ToolResponse,
    ToolResult,
    open_live_session,
    tool,
)
from gemini_live_trio.testing import ClientGone, EmulatorConnection


def call(id: str, name: str, **args: object) -> FunctionCall:
    return FunctionCall(id=id, name=name, args=args)


async def responses(conn: EmulatorConnection, count: int) -> list[ToolResponse]:
    """The next ``count`` tool responses (other client messages are skipped)."""
    found: list[ToolResponse] = []
    while len(found) < count:
        message = await conn.receive()
        if isinstance(message, ToolResponse):
            found.append(message)
    return found


def get_stock_price(symbol: str) -> dict[str, object]:
    """Get the current stock price.

    Args:
        symbol: The ticker symbol, e.g. AAPL.
    """
    return {"price": 178.5, "currency": "USD", "symbol": symbol}


async def test_tool_call_is_answered_and_the_model_uses_the_result(nursery: trio.Nursery) -> None:
    seen: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("fc-1", "get_stock_price", symbol="AAPL")]))
        (answer,) = await responses(conn, 1)
        seen.append(answer)
        output = answer.function_responses[0].response["output"]  # type: ignore[index]
        await conn.reply_to_text(f"Apple trades at {output['price']}")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    config = LiveConfig(output_audio_transcription=AudioTranscriptionConfig())
    async with open_live_session(
        MODEL, config=config, tools=[get_stock_price], **session_kwargs(emulator)
    ) as session:
        await session.send_text("What's Apple's stock price?")
        events = await collect_turn(session.events)

    declared = emulator.connections[0].setup.tools[0].function_declarations[0]  # type: ignore[index]
    assert declared.name == "get_stock_price"
    assert declared.parameters_json_schema["required"] == ["symbol"]  # type: ignore[index]
    (reply,) = seen[0].function_responses
    assert (reply.id, reply.name) == ("fc-1", "get_stock_price")
    assert reply.response == {"output": {"price": 178.5, "currency": "USD", "symbol": "AAPL"}}
    assert any(isinstance(e, ToolCall) for e in events)  # the user sees the call too
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert [(f.id, f.outcome) for f in finished] == [("fc-1", "ok")]
    transcript = "".join(
        e.output_transcription_text or "" for e in events if isinstance(e, ServerContent)
    )
    assert "178.5" in transcript  # the final model turn used the tool's result
    assert any(isinstance(e, ServerContent) and e.audio for e in events)


async def test_parallel_calls_and_several_frames_each_answered_once(nursery: trio.Nursery) -> None:
    got: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(
            ToolCall(function_calls=[call("a", "add", x=1, y=2), call("b", "add", x=3, y=4)])
        )
        await conn.send(ToolCall(function_calls=[call("c", "add", x=5, y=6)]))
        got.extend(await responses(conn, 3))
        await conn.reply_to_text("done")

    async def add(x: int, y: int) -> int:
        await trio.sleep(0.01 * x)
        return x + y

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, tools=[add], **session_kwargs(emulator)) as session:
        await session.send_text("add things")
        await collect_turn(session.events)
    answers = {r.function_responses[0].id: r.function_responses[0].response for r in got}
    assert answers == {"a": {"output": 3}, "b": {"output": 7}, "c": {"output": 11}}


async def test_cancellation_cancels_a_hanging_handler_and_its_result_never_reaches_the_wire(
    nursery: trio.Nursery,
) -> None:
    started = trio.Event()
    cancelled = trio.Event()
    got: list[ToolResponse] = []

    @tool
    async def book_table(guests: int) -> str:
        started.set()
        try:
            await trio.sleep_forever()
        finally:
            cancelled.set()
        return "unreachable"

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("slow", "book_table", guests=2)]))
        await started.wait()
        await conn.send(ToolCallCancellation(ids=["slow"]))
        await cancelled.wait()
        await conn.send(ToolCall(function_calls=[call("next", "book_table", guests=0)]))
        await started.wait()
        await conn.send(ToolCallCancellation(ids=["next"]))
        await conn.reply_to_text("ok")
        try:
            while True:
                message = await conn.receive()
                if isinstance(message, ToolResponse):
                    got.append(message)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, tools=[book_table], **session_kwargs(emulator)) as session:
        await session.send_text("book")
        events = await collect_turn(session.events)
        await trio.sleep(0.1)
        finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert cancelled.is_set()
    assert got == []
    assert any(isinstance(e, ToolCallCancellation) and e.ids == ("slow",) for e in events)
    assert ("slow", "cancelled") in [(f.id, f.outcome) for f in finished]


async def test_cancelled_sync_handler_late_result_is_dropped(nursery: trio.Nursery) -> None:
    release = threading.Event()
    entered = threading.Event()
    got: list[ToolResponse] = []

    def lookup(city: str) -> str:
        entered.set()
        release.wait(5)
        return f"sunny in {city}"

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("w1", "lookup", city="Paris")]))
        while not entered.is_set():  # noqa: ASYNC110 - a threading.Event, set by a thread
            await trio.sleep(0.005)
        await conn.send(ToolCallCancellation(ids=["w1"]))
        try:
            while True:
                message = await conn.receive()
                if isinstance(message, ToolResponse):
                    got.append(message)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, tools=[lookup], **session_kwargs(emulator)) as session:
        await session.send_text("weather")
        async for event in session.events:
            if isinstance(event, ToolCallFinished):
                assert event.outcome == "cancelled"
                break
        release.set()  # the abandoned thread finishes now; its result must go nowhere
        await trio.sleep(0.2)
    assert got == []


async def test_handler_exception_becomes_an_error_response_and_the_next_turn_works(
    nursery: trio.Nursery,
) -> None:
    got: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(
            ToolCall(
                function_calls=[
                    call("e1", "explode"),
                    call("e2", "get_stock_price", ticker="AAPL"),
                    call("e3", "no_such_function"),
                ]
            )
        )
        got.extend(await responses(conn, 3))
        await conn.reply_to_text("sorry")
        while True:
            message = await conn.receive()
            if isinstance(message, ToolResponse):
                got.append(message)
            else:
                await conn.reply_to_text("second turn")

    async def explode() -> None:
        raise RuntimeError("database is down")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(
        MODEL, tools=[explode, get_stock_price], **session_kwargs(emulator)
    ) as session:
        await session.send_text("try")
        first = await collect_turn(session.events)
        await session.send_text("again")
        second = await collect_turn(session.events)
    errors = {r.function_responses[0].id: r.function_responses[0].response for r in got}
    assert errors["e1"] == {"error": {"type": "RuntimeError", "message": "database is down"}}
    assert errors["e2"]["error"]["type"] == "InvalidArguments"  # type: ignore[index]
    assert "symbol" in errors["e2"]["error"]["message"]  # type: ignore[index]
    assert errors["e3"]["error"]["type"] == "UnknownFunction"  # type: ignore[index]
    outcomes = sorted(e.outcome for e in first if isinstance(e, ToolCallFinished))
    assert outcomes == ["error", "invalid_arguments", "unknown"]
    assert second[-1].turn_complete  # type: ignore[attr-defined]


async def test_slow_sync_handler_does_not_delay_audio(nursery: trio.Nursery) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("s1", "slow_lookup")]))
        pcm = b"\x10\x00" * 960
        for _ in range(10):
            part = Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=pcm))
            await conn.send(ServerContent(model_turn=Content(parts=[part])))
        await responses(conn, 1)
        await conn.send(ServerContent(turn_complete=True))

    def slow_lookup() -> str:
        time.sleep(0.5)  # blocks its worker thread, not the event loop
        return "done"

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, tools=[slow_lookup], **session_kwargs(emulator)) as session:
        await session.send_text("go")
        order = [
            "audio" if isinstance(e, ServerContent) and e.audio else type(e).__name__
            for e in await collect_turn(session.events)
        ]
    assert order.count("audio") == 10
    assert order.index("ToolCallFinished") > max(i for i, k in enumerate(order) if k == "audio")


async def test_timeout_sends_an_error(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    got: list[ToolResponse] = []

    @tool(timeout=30)
    async def hang() -> None:
        await trio.sleep_forever()

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("t1", "hang")]))
        got.extend(await responses(conn, 1))
        await conn.reply_to_text("timed out")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, tools=[hang], **session_kwargs(emulator)) as session:
        await session.send_text("go")
        events = await collect_turn(session.events)
    (answer,) = got[0].function_responses
    assert answer.response["error"]["type"] == "Timeout"  # type: ignore[index]
    finished = [e for e in events if isinstance(e, ToolCallFinished)]
    assert finished[0].outcome == "timeout"
    assert finished[0].duration >= 0


async def test_non_blocking_generator_streams_intermediate_results(nursery: trio.Nursery) -> None:
    got: list[ToolResponse] = []

    @tool(scheduling=FunctionResponseScheduling.WHEN_IDLE)
    async def search_flights(to: str) -> AsyncIterator[object]:
        yield {"status": "searching", "to": to}
        yield ToolResult(output={"status": "found", "flights": 3}, scheduling="INTERRUPT")

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("n1", "search_flights", to="Oslo")]))
        got.extend(await responses(conn, 3))
        await conn.reply_to_text("found three")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(
        MODEL, tools=[search_flights], **session_kwargs(emulator)
    ) as session:
        await session.send_text("flights to Oslo")
        await collect_turn(session.events)
    declared = emulator.connections[0].setup.tools[0].function_declarations[0]  # type: ignore[index]
    assert declared.behavior == "NON_BLOCKING"
    parts = [r.function_responses[0] for r in got]
    assert [(p.will_continue, p.scheduling) for p in parts] == [
        (True, "WHEN_IDLE"),
        (True, "INTERRUPT"),
        (False, "SILENT"),
    ]
    assert parts[1].response == {"output": {"status": "found", "flights": 3}}
    assert parts[2].response == {}


async def test_manual_mode_declaration_without_handler(nursery: trio.Nursery) -> None:
    got: list[ToolResponse] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call("m1", "get_weather", location="Paris")]))
        got.extend(await responses(conn, 1))
        await conn.reply_to_text("it is sunny")

    weather = FunctionDeclaration(
        name="get_weather",
        description="Get current weather for a location",
        parameters={"type": "OBJECT", "properties": {"location": {"type": "STRING"}}},
    )
    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(
        MODEL, tools=[weather, Tool.google_search_tool()], **session_kwargs(emulator)
    ) as session:
        await session.send_text("weather in Paris?")
        async for event in session.events:
            if isinstance(event, ToolCall):
                (fc,) = event.function_calls
                await session.send_tool_response(fc.reply({"sky": "sunny"}))
            if isinstance(event, ServerContent) and event.turn_complete:
                break
    tools = emulator.connections[0].setup.tools
    assert tools is not None and tools[1].google_search == {}
    (answer,) = got[0].function_responses
    assert (answer.id, answer.name, answer.response) == (
        "m1",
        "get_weather",
        {"output": {"sky": "sunny"}},
    )


async def test_concurrency_limit(nursery: trio.Nursery) -> None:
    running = 0
    peak = 0
    gate = trio.Event()

    async def work(n: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await gate.wait()
        running -= 1
        return n

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send(ToolCall(function_calls=[call(f"w{i}", "work", n=i) for i in range(5)]))
        await trio.sleep(0.1)
        gate.set()
        await responses(conn, 5)
        await conn.reply_to_text("all done")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    options = SessionOptions(max_concurrent_tools=2)
    async with open_live_session(
        MODEL, tools=[work], options=options, **session_kwargs(emulator)
    ) as session:
        await session.send_text("work")
        events = await collect_turn(session.events)
    assert peak == 2
    assert sorted(e.id for e in events if isinstance(e, ToolCallFinished)) == [
        f"w{i}" for i in range(5)
    ]


def test_unanswerable_reply_helpers() -> None:
    tc = ToolCall(function_calls=[call("x", "f"), call("y", "g")])
    response = tc.reply({"x": 1, "g": 2})
    assert [(r.id, r.response) for r in response.function_responses] == [
        ("x", {"output": 1}),
        ("y", {"output": 2}),
    ]
    error = call("z", "h").reply(error="nope")
    assert error.response == {"error": "nope"}


@pytest.mark.parametrize("bad", [42, "not callable"])
def test_collect_tools_rejects_non_tools(bad: object) -> None:
    from gemini_live_trio import ConfigError
    from gemini_live_trio._tools import collect_tools

    with pytest.raises(ConfigError, match="not a tool"):
        collect_tools([bad])  # type: ignore[list-item]
