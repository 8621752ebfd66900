"""Latency, tool round trip, reconnect gap and usage metrics: the recorder alone, then a session."""

import trio
from _helpers import MODEL, collect_turn, session_kwargs, start_emulator

from gemini_live_trio import (
    Blob,
    ClientContent,
    Content,
    FunctionCall,
    FunctionResponse,
    Part,
    RealtimeInput,
    Reconnected,
    ServerContent,
    ToolCall,
    ToolResponse,
    TurnMetrics,
    UsageMetadata,
    open_live_session,
)
from gemini_live_trio._metrics import MetricsRecorder
from gemini_live_trio.testing import EmulatorConnection

AUDIO = ServerContent(
    model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm", data=b"\0\0" * 480))])
)


def test_turn_latencies_are_measured_from_the_last_input() -> None:
    recorder = MetricsRecorder()
    recorder.connected()
    recorder.sent(RealtimeInput(audio=Blob(mime_type="audio/pcm", data=b"")), now=9.0)
    recorder.sent(RealtimeInput(audio_stream_end=True), now=10.0)
    recorder.received(ServerContent(output_transcription=None), now=10.1)
    recorder.received(AUDIO, now=10.25)
    recorder.received(AUDIO, now=10.5)
    assert recorder.frame_done() is None
    recorder.received(ServerContent(turn_complete=True), now=11.0)
    recorder.received(UsageMetadata(prompt_token_count=7, response_token_count=5), now=11.0)
    metrics = recorder.frame_done()
    assert metrics is not None
    assert metrics.first_audio_latency == 0.25
    assert metrics.turn_latency == 1.0
    assert metrics.audio_bytes == 1920
    assert metrics.usage == UsageMetadata(prompt_token_count=7, response_token_count=5)
    assert recorder.frame_done() is None  # emitted once
    stats = recorder.stats
    assert (stats.turns, stats.first_audio_latencies, stats.turn_latencies) == (1, [0.25], [1.0])


def test_usage_is_summed_per_connection_and_session_and_tools_are_timed() -> None:
    recorder = MetricsRecorder()
    recorder.connected()
    recorder.received(UsageMetadata(response_token_count=3, total_token_count=4), now=1)
    recorder.received(ToolCall(function_calls=[FunctionCall(id="a", name="f")]), now=2)
    recorder.sent(ToolResponse(function_responses=[FunctionResponse(id="a", name="f")]), now=2.5)
    recorder.reconnected(
        Reconnected(resumed=True, gap=0.75, attempts=1, replayed=0, lost=0, planned=False)
    )
    recorder.connected()
    recorder.received(UsageMetadata(response_token_count=10, total_token_count=12), now=3)
    stats = recorder.stats
    assert stats.usage.response_token_count == 13
    assert stats.usage.total_token_count == 16
    assert [u.response_token_count for u in stats.usage_by_connection] == [3, 10]
    assert stats.tool_round_trips == [0.5]
    assert (stats.reconnects, stats.reconnect_gaps, stats.connections) == (1, [0.75], 2)


def test_interrupted_turns_are_counted() -> None:
    recorder = MetricsRecorder()
    recorder.sent(ClientContent(turns=[Content.user("hi")], turn_complete=True), now=0)
    recorder.received(AUDIO, now=0.5)
    recorder.received(ServerContent(interrupted=True), now=0.6)
    recorder.received(ServerContent(turn_complete=True), now=0.7)
    metrics = recorder.frame_done()
    assert metrics is not None and metrics.interrupted
    assert recorder.stats.interrupted_turns == 1


async def test_session_reports_turn_metrics_and_stats(nursery: trio.Nursery) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        while True:
            message = await conn.receive()
            if isinstance(message, ClientContent):
                await trio.sleep(0.05)  # model "thinking" time, measured by the client
                await conn.reply_to_text("the answer")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        for _ in range(2):
            await session.send_text("question")
            await collect_turn(session.events)
            metrics = await collect_turn(session.events, until=lambda e: isinstance(e, TurnMetrics))
            turn = metrics[-1]
            assert isinstance(turn, TurnMetrics)
            assert turn.first_audio_latency is not None and turn.first_audio_latency >= 0.05
            assert turn.turn_latency is not None
            assert turn.turn_latency >= turn.first_audio_latency
            assert turn.usage is not None and turn.usage.response_token_count
        stats = session.stats
    assert stats.turns == 2
    assert stats.connections == 1
    assert len(stats.first_audio_latencies) == 2
    assert stats.usage.response_token_count == sum(
        u.response_token_count for u in stats.usage_by_connection
    )
    assert stats.usage.response_token_count > 0
