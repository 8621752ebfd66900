"""Golden frames: every client message our session sends has the shape wire-protocol.md shows.

The examples of wire-protocol.md §3.1, §3.8 and §4.2-§4.4 (kept as data in test_wire.py, which
also proves that each of them, and each server example, decodes) are the reference. A recording
server on 127.0.0.1 keeps every raw frame the session sends; each one must be a text frame of
canonical camelCase JSON whose key tree and value types match the document's example for that
message (values too, where the test chose the same ones). Not marked ``interop``: this needs
no SDK and runs by default.
"""

import base64
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import pytest
import trio
from _helpers import MODEL
from test_wire import DOC_CLIENT_FRAMES

from gemini_live_trio import (
    ActivityHandling,
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Behavior,
    ClientContent,
    ContextWindowCompressionConfig,
    EndSensitivity,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    FunctionResponseScheduling,
    LiveConfig,
    MediaResolution,
    PrebuiltVoiceConfig,
    ProactivityConfig,
    RealtimeInputConfig,
    ReconnectPolicy,
    SessionOptions,
    Setup,
    SetupComplete,
    SlidingWindow,
    SpeechConfig,
    StartSensitivity,
    ThinkingConfig,
    Tool,
    ToolCall,
    ToolCallFinished,
    TurnCoverage,
    VoiceConfig,
    open_live_session,
)
from gemini_live_trio._events import ClientMessage, ServerEvent
from gemini_live_trio._protocol import LiveProtocol, Role
from gemini_live_trio._transport import ServerConnection, TransportClosed, serve_websocket

#: The document's examples, by what they show.
DOC = {
    "setup_full": DOC_CLIENT_FRAMES[0],  # §3.1
    "setup_sdk_minimal": DOC_CLIENT_FRAMES[1],  # §3.8, official SDK, no config
    "setup_gemini_ex": DOC_CLIENT_FRAMES[3],  # §3.8, AUDIO + output transcription
    "client_content": DOC_CLIENT_FRAMES[4],  # §4.2
    "client_content_no_turns": DOC_CLIENT_FRAMES[5],  # §4.2
    "audio": DOC_CLIENT_FRAMES[7],  # §4.3
    "video": DOC_CLIENT_FRAMES[8],
    "text": DOC_CLIENT_FRAMES[9],
    "activity_start": DOC_CLIENT_FRAMES[10],
    "activity_end": DOC_CLIENT_FRAMES[11],
    "audio_stream_end": DOC_CLIENT_FRAMES[12],
    "tool_response": DOC_CLIENT_FRAMES[14],  # §4.4
}

NO_RECONNECT = SessionOptions(reconnect=ReconnectPolicy.off())


def doc(name: str) -> Any:
    return json.loads(DOC[name])


def shape(value: Any) -> Any:
    """The key tree of a JSON value with every leaf replaced by its type name."""
    if isinstance(value, dict):
        return {key: shape(item) for key, item in value.items()}
    if isinstance(value, list):
        return [shape(item) for item in value]
    return type(value).__name__


#: Free-form JSON objects (§4.4 ``response``: ``output`` for results, ``error`` for failures).
OPAQUE = frozenset({"response", "args", "parameters", "parametersJsonSchema"})


def conforms(ours: Any, documented: Any, path: str = "$") -> None:
    """Every key of ``ours`` is one the document shows at that place, with the same shape."""
    if isinstance(documented, dict):
        assert isinstance(ours, dict), f"{path}: expected an object, got {ours!r:.60}"
        extra = set(ours) - set(documented)
        assert not extra, f"{path}: keys the document does not show: {sorted(extra)}"
        for key, value in ours.items():
            if key in OPAQUE:
                assert isinstance(value, dict), f"{path}.{key}: expected an object"
                continue
            conforms(value, documented[key], f"{path}.{key}")
    elif isinstance(documented, list):
        assert isinstance(ours, list), f"{path}: expected a list, got {ours!r:.60}"
        for index, value in enumerate(ours):
            conforms(value, documented[min(index, len(documented) - 1)], f"{path}[{index}]")
    else:
        assert type(ours) is type(documented), f"{path}: {ours!r:.60} vs {documented!r:.60}"


# ----------------------------------------------------------------------------- recorder

Script = Callable[[ClientMessage], list[ServerEvent]]


@attrs.define
class Recorder:
    """A Live server that answers ``setup`` and keeps every raw frame a client sends."""

    port: int = 0
    frames: list[str | bytes] = attrs.Factory(list)
    script: Script = lambda message: []
    changed: trio.Event = attrs.Factory(trio.Event)

    @property
    def base_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def json(self) -> list[Any]:
        return [json.loads(frame) for frame in self.frames]

    async def handle(self, ws: ServerConnection) -> None:
        await ws.accept()
        protocol = LiveProtocol(Role.SERVER)
        try:
            while True:
                data = await ws.receive()
                self.frames.append(data)
                self.changed.set()
                self.changed = trio.Event()
                (message,) = protocol.receive(data)
                if isinstance(message, Setup):
                    replies: list[ServerEvent] = [SetupComplete(session_id="golden")]
                else:
                    replies = self.script(message)
                for event in replies:
                    await ws.send(protocol.send(event))
        except TransportClosed:
            pass

    async def wait_for(self, count: int) -> None:
        with trio.fail_after(5):
            while len(self.frames) < count:
                await self.changed.wait()


@asynccontextmanager
async def recorder(script: Script | None = None) -> AsyncIterator[Recorder]:
    rec = Recorder()
    if script is not None:
        rec.script = script
    async with trio.open_nursery() as nursery:
        rec.port = await nursery.start(partial(serve_websocket, rec.handle, "127.0.0.1", 0))
        yield rec
        nursery.cancel_scope.cancel()


async def frames_of(
    config: LiveConfig | None = None,
    *,
    model: str = MODEL,
    options: SessionOptions = NO_RECONNECT,
    **kwargs: Any,
) -> list[Any]:
    """The JSON frames one session sends for ``config`` alone (setup only)."""
    async with recorder() as rec:
        async with open_live_session(
            model, config=config, api_key="k", base_url=rec.base_url, options=options, **kwargs
        ):
            pass
    assert all(isinstance(frame, str) for frame in rec.frames), "client frames are text frames"
    return rec.json()


# ----------------------------------------------------------------------------- setup


FULL = LiveConfig(
    response_modalities=["AUDIO"],
    temperature=0.6,
    top_p=0.95,
    top_k=40,
    max_output_tokens=2048,
    seed=11,
    media_resolution=MediaResolution.MEDIA_RESOLUTION_LOW,
    speech_config=SpeechConfig(
        voice_config=VoiceConfig(prebuilt_voice_config=PrebuiltVoiceConfig(voice_name="Aoede")),
        language_code="en-US",
    ),
    thinking_config=ThinkingConfig(thinking_budget=512, include_thoughts=False),
    enable_affective_dialog=True,
    system_instruction="You are a terse concierge.",
    tools=[
        Tool(
            function_declarations=[
                FunctionDeclaration(
                    name="book_table",
                    description="Reserve a table",
                    parameters={
                        "type": "OBJECT",
                        "properties": {"guests": {"type": "INTEGER"}},
                        "required": ["guests"],
                    },
                    behavior=Behavior.NON_BLOCKING,
                )
            ]
        ),
        Tool(google_search={}),
        Tool(code_execution={}),
    ],
    realtime_input_config=RealtimeInputConfig(
        automatic_activity_detection=AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=StartSensitivity.START_SENSITIVITY_LOW,
            end_of_speech_sensitivity=EndSensitivity.END_SENSITIVITY_LOW,
            prefix_padding_ms=40,
            silence_duration_ms=600,
        ),
        activity_handling=ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
        turn_coverage=TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
    ),
    context_window_compression=ContextWindowCompressionConfig(
        trigger_tokens=25600, sliding_window=SlidingWindow(target_tokens=12800)
    ),
    input_audio_transcription=AudioTranscriptionConfig(),
    output_audio_transcription=AudioTranscriptionConfig(),
    proactivity=ProactivityConfig(proactive_audio=True),
)


async def test_full_setup_is_the_documented_setup() -> None:
    (setup,) = await frames_of(FULL, api_version="v1alpha", resume_handle="previous-handle-if-any")
    # same keys, same types, same values: the §3.1 example is exactly what we send
    assert setup == doc("setup_full")


async def test_minimal_setup_matches_the_sdk() -> None:
    (setup,) = await frames_of()
    expected = doc("setup_sdk_minimal")
    assert shape(setup) == shape(expected)
    assert setup["setup"]["model"] == f"models/{MODEL}"


async def test_reconnecting_sessions_ask_for_handles_with_an_empty_session_resumption() -> None:
    (setup,) = await frames_of(options=SessionOptions())
    # wire-protocol.md §3.2: an empty {} switches handle updates on
    assert setup == {"setup": {"model": f"models/{MODEL}", "sessionResumption": {}}}


async def test_audio_with_transcription_setup_matches_gemini_ex() -> None:
    config = LiveConfig(
        response_modalities=["AUDIO"], output_audio_transcription=AudioTranscriptionConfig()
    )
    (setup,) = await frames_of(config)
    assert shape(setup) == shape(doc("setup_gemini_ex"))


# ----------------------------------------------------------------------------- messages


async def test_every_message_kind_has_the_documented_shape() -> None:
    pcm = b"\x00\x00\xff\x7f" * 800  # 100 ms of 16 kHz s16le
    jpeg = b"\xff\xd8\xff\xe0" + bytes(range(256))
    async with recorder() as rec:
        async with open_live_session(
            MODEL, api_key="k", base_url=rec.base_url, options=NO_RECONNECT
        ) as session:
            await session.send_text("What's on my calendar?")
            await session.send_client_content()
            await session.send_realtime_input(audio=pcm)
            await session.send_realtime_input(video=jpeg)
            await session.send_realtime_input(text="and make it vegetarian")
            await session.send_realtime_input(audio_stream_end=True)
            await session.send_tool_response(
                FunctionResponse(
                    id="fc-7",
                    name="book_table",
                    response={"output": {"confirmation": "A12"}},
                    scheduling=FunctionResponseScheduling.WHEN_IDLE,
                    will_continue=False,
                )
            )
            await rec.wait_for(8)
    assert all(isinstance(frame, str) for frame in rec.frames)
    _, content, no_turns, audio, video, text, stream_end, tool = rec.json()
    assert content == doc("client_content")
    assert no_turns == doc("client_content_no_turns")
    assert shape(audio) == shape(doc("audio"))
    assert audio["realtimeInput"]["audio"]["mimeType"] == "audio/pcm;rate=16000"
    assert audio["realtimeInput"]["audio"]["data"] == base64.b64encode(pcm).decode()
    assert shape(video) == shape(doc("video"))
    assert video["realtimeInput"]["video"] == {
        "mimeType": "image/jpeg",
        "data": base64.b64encode(jpeg).decode(),  # standard alphabet, padded
    }
    assert text == doc("text")
    assert stream_end == doc("audio_stream_end")
    assert tool == doc("tool_response")


async def test_manual_activity_signals_have_the_documented_shape() -> None:
    manual = LiveConfig(
        realtime_input_config=RealtimeInputConfig(
            automatic_activity_detection=AutomaticActivityDetection(disabled=True)
        )
    )
    async with recorder() as rec:
        async with open_live_session(
            MODEL, config=manual, api_key="k", base_url=rec.base_url, options=NO_RECONNECT
        ) as session:
            await session.send_realtime_input(activity_start=True)
            await session.send_realtime_input(activity_end=True)
            await rec.wait_for(3)
    _, start, end = rec.json()
    assert start == doc("activity_start")
    assert end == doc("activity_end")


@pytest.mark.parametrize("kind", ["async", "sync", "error"])
async def test_tool_responses_from_handlers_have_the_documented_shape(kind: str) -> None:
    async def book_table(guests: int) -> dict[str, str]:
        """Reserve a table."""
        return {"confirmation": f"A{guests}"}

    def book_table_sync(guests: int) -> dict[str, str]:
        """Reserve a table."""
        return {"confirmation": f"A{guests}"}

    async def book_table_fails(guests: int) -> dict[str, str]:
        """Reserve a table."""
        raise LookupError("no table free")

    handler = {"async": book_table, "sync": book_table_sync, "error": book_table_fails}[kind]
    handler.__name__ = "book_table"

    def script(message: ClientMessage) -> list[ServerEvent]:
        if isinstance(message, ClientContent):
            call = FunctionCall(id="fc-7", name="book_table", args={"guests": 2})
            return [ToolCall(function_calls=[call])]
        return []

    async with recorder(script) as rec:
        async with open_live_session(
            MODEL, api_key="k", base_url=rec.base_url, options=NO_RECONNECT, tools=[handler]
        ) as session:
            await session.send_text("a table for two")
            async for event in session.events:
                if isinstance(event, ToolCallFinished):
                    break
            await rec.wait_for(3)
    setup, _, tool = rec.json()
    declared = setup["setup"]["tools"][0]["functionDeclarations"][0]
    assert declared["name"] == "book_table"
    assert set(declared) <= {"name", "description", "parametersJsonSchema", "behavior"}
    conforms(tool, doc("tool_response"))
    (item,) = tool["toolResponse"]["functionResponses"]
    assert (item["id"], item["name"]) == ("fc-7", "book_table")  # id: required (§4.4)
    if kind == "error":
        assert item["response"] == {"error": {"type": "LookupError", "message": "no table free"}}
    else:
        assert item["response"] == {"output": {"confirmation": "A2"}}
