"""Soak: hundreds of concurrent sessions with turns, tool calls and forced reconnects, in bounded
time, with every message accounted for on both sides.

Each session streams audio, sends text turns, answers tool calls through a registered handler,
and lives through the faults its number picks: an abrupt TCP drop (1006), a 1011 "Internal
error", an unexpected 1000, or a goAway handover. The emulator behaviour keeps a ledger of what
it received and sent for each session, across all of that session's connections; the client
keeps its own. The two must agree exactly, and each fault must cost exactly one reconnect with
nothing replayed twice and nothing lost.

Runs in the default suite; ``SESSIONS`` and ``TURNS`` bound it (well under 60 s on 2 cores).
"""

import collections
import re
import time
from datetime import timedelta
from typing import Any

import trio
from _helpers import MODEL, session_kwargs, start_emulator

from gemini_live_trio import (
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    Content,
    FunctionCall,
    GoAway,
    LiveConfig,
    Part,
    RealtimeInput,
    Reconnected,
    ServerContent,
    SessionResumptionUpdate,
    ToolCall,
    ToolCallFinished,
    ToolResponse,
    Transcription,
    open_live_session,
)
from gemini_live_trio.testing import ClientGone, EmulatorConnection, tone_pcm

SESSIONS = 200
TURNS = 5
AUDIO_IN = tone_pcm(0.02, 16000)  # 20 ms of input
AUDIO_OUT = tone_pcm(0.04)  # 40 ms of output
FAULTS = ("drop", "close 1011", "close 1000", "goAway")
_SESSION = re.compile(r"soak session (\d+)")


def faults_of(session: int) -> dict[int, str]:
    """The faults session ``session`` lives through: turn -> kind (one or two per session)."""
    plan = {1 + session % 3: FAULTS[session % 4]}
    if session % 5 == 0:
        plan[4] = FAULTS[(session // 5) % 4]
    return plan


def has_tool_call(session: int, turn: int) -> bool:
    return (session + turn) % 2 == 0


class Ledger:
    """Counts by (session, kind), kept by one side."""

    def __init__(self) -> None:
        self.counts: collections.Counter[tuple[int, str]] = collections.Counter()

    def add(self, session: int, kind: str, n: int = 1) -> None:
        self.counts[(session, kind)] += n

    def total(self, kind: str) -> int:
        return sum(n for (_, k), n in self.counts.items() if k == kind)

    def of(self, session: int) -> dict[str, int]:
        return {k: n for (s, k), n in sorted(self.counts.items()) if s == session}


def soak_behaviour(server: Ledger) -> Any:
    """The emulator's side: answer turns, call tools, inject each session's planned faults."""

    async def behaviour(conn: EmulatorConnection) -> None:
        instruction = conn.setup.system_instruction
        text = instruction.parts[0].text if instruction and instruction.parts else ""
        found = _SESSION.fullmatch(text or "")
        assert found, text
        session = int(found.group(1))
        server.add(session, "connections")

        async def send(kind: str, *events: Any) -> None:
            await conn.send(*events)
            server.add(session, kind)

        try:
            while True:
                message = await conn.receive()
                if isinstance(message, RealtimeInput) and message.audio is not None:
                    server.add(session, "audio in")
                    server.add(session, "audio in bytes", len(message.audio.data))
                    continue
                assert isinstance(message, ClientContent), message
                server.add(session, "text turns")
                turn = int((message.turns or ())[0].parts[0].text.split()[-1])  # type: ignore[index, union-attr]
                if has_tool_call(session, turn):
                    call = FunctionCall(id=f"{session}-{turn}", name="lookup", args={"q": turn})
                    await send("tool calls", ToolCall(function_calls=[call]))
                    response = await conn.receive()
                    assert isinstance(response, ToolResponse), response
                    (answer,) = response.function_responses
                    assert answer.id == call.id and answer.response == {"output": turn * 10}
                    server.add(session, "tool responses")
                for _ in range(2):
                    blob = Blob(mime_type="audio/pcm;rate=24000", data=AUDIO_OUT)
                    await send(
                        "audio out",
                        ServerContent(model_turn=Content(parts=[Part(inline_data=blob)])),
                    )
                await send(
                    "transcripts",
                    ServerContent(output_transcription=Transcription(text=f"answer {turn}")),
                )
                await send("turn completes", ServerContent(turn_complete=True))
                handle = conn.new_resumption_handle()
                await send("handles", SessionResumptionUpdate(new_handle=handle, resumable=True))
                fault = faults_of(session).get(turn)
                if fault is None:
                    continue
                server.add(session, "faults")
                if fault == "drop":
                    await conn.drop()
                    return
                if fault == "close 1011":
                    await conn.close(1011, "Internal error encountered.")
                    return
                if fault == "close 1000":
                    await conn.close(1000)
                    return
                await send("go aways", GoAway(time_left=timedelta(seconds=30)))
                # the client hands over to a new connection and closes this one with 1000
        except ClientGone:
            pass

    return behaviour


async def client_session(index: int, emulator: Any, client: Ledger) -> None:
    async def lookup(q: int) -> int:
        """Look a number up."""
        await trio.lowlevel.checkpoint()
        return q * 10

    config = LiveConfig(
        response_modalities=["AUDIO"],
        system_instruction=f"soak session {index}",
        output_audio_transcription=AudioTranscriptionConfig(),
    )
    plan = faults_of(index)
    async with open_live_session(
        MODEL, config=config, tools=[lookup], **session_kwargs(emulator)
    ) as session:
        client.add(index, "connections")
        for turn in range(TURNS):
            for _ in range(2):
                await session.send_realtime_input(audio=AUDIO_IN)
                client.add(index, "audio in")
                client.add(index, "audio in bytes", len(AUDIO_IN))
            await session.send_text(f"turn {turn}")
            client.add(index, "text turns")
            # a turn ends with its handle: nothing is sent while a handle is in flight, so a
            # fault right after it can lose nothing
            async for event in session.events:
                if isinstance(event, ServerContent):
                    if event.audio:
                        client.add(index, "audio out")
                    if event.output_transcription_text:
                        client.add(index, "transcripts")
                    if event.turn_complete:
                        client.add(index, "turn completes")
                elif isinstance(event, ToolCall):
                    client.add(index, "tool calls")
                elif isinstance(event, ToolCallFinished):
                    assert event.outcome == "ok", event
                    client.add(index, "tool responses")
                elif isinstance(event, SessionResumptionUpdate) and event.new_handle:
                    client.add(index, "handles")
                    break
            if turn in plan:
                client.add(index, "faults")
                if plan[turn] == "goAway":
                    client.add(index, "go aways")
                async for event in session.events:
                    if isinstance(event, Reconnected):
                        assert (event.replayed, event.lost) == (0, 0), event
                        assert event.planned == (plan[turn] == "goAway"), event
                        client.add(index, "connections")
                        break
        assert session.reconnects == len(plan)


async def test_soak_every_message_accounted_for(nursery: trio.Nursery) -> None:
    server, client = Ledger(), Ledger()
    emulator = await start_emulator(nursery, behaviour=soak_behaviour(server))
    started = time.perf_counter()
    with trio.fail_after(120):
        async with trio.open_nursery() as sessions:
            for index in range(SESSIONS):
                sessions.start_soon(client_session, index, emulator, client)
    elapsed = time.perf_counter() - started

    # every connection the emulator accepted has ended
    with trio.fail_after(10):
        while any(c.closed_with is None for c in emulator.connections):  # noqa: ASYNC110
            await trio.sleep(0.01)

    for index in range(SESSIONS):
        assert client.of(index) == server.of(index), index
    expected_faults = sum(len(faults_of(i)) for i in range(SESSIONS))
    tool_turns = sum(has_tool_call(i, t) for i in range(SESSIONS) for t in range(TURNS))
    assert client.total("faults") == server.total("faults") == expected_faults
    assert server.total("tool calls") == server.total("tool responses") == tool_turns
    assert server.total("text turns") == client.total("turn completes") == SESSIONS * TURNS
    assert len(emulator.connections) == SESSIONS + expected_faults
    codes = collections.Counter(c.closed_with[0] for c in emulator.connections)  # type: ignore[index]
    kinds = collections.Counter(
        FAULTS[i % 4] if t == 1 + i % 3 else FAULTS[(i // 5) % 4]
        for i in range(SESSIONS)
        for t in faults_of(i)
    )
    assert codes[1006] == kinds["drop"]
    assert codes[1011] == kinds["close 1011"]
    # 1000: every session's last connection, the unexpected 1000s, and the retired goAway ones
    assert codes[1000] == SESSIONS + kinds["close 1000"] + kinds["goAway"]
    messages_in = sum(server.total(k) for k in ("audio in", "text turns", "tool responses"))
    frames_out = sum(
        server.total(k)
        for k in ("audio out", "transcripts", "turn completes", "handles", "tool calls", "go aways")
    )
    print(
        f"\nsoak: {SESSIONS} sessions x {TURNS} turns in {elapsed:.1f} s; "
        f"{len(emulator.connections)} connections; faults {dict(kinds)}; "
        f"client messages sent = received by the emulator = {messages_in} "
        f"({server.total('audio in bytes')} audio bytes); "
        f"emulator frames sent = events received by the clients = {frames_out} "
        f"(+{len(emulator.connections)} setupComplete); "
        f"tool calls answered {server.total('tool responses')}"
    )
