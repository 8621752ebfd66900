"""The Live API emulator, driven over real loopback WebSockets with raw JSON frames.

Nothing here uses the library's client: frames are built by hand, the way the official SDK and
other clients send them, so these tests pin the emulator to the wire protocol itself.
"""

import base64
import json
import re
import signal
import socket
import ssl
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import trio
import trio_websocket as tw
import trustme

from gemini_live_trio._content import Transcription
from gemini_live_trio._events import (
    ClientContent,
    GoAway,
    RealtimeInput,
    ServerContent,
    ToolResponse,
    UsageMetadata,
)
from gemini_live_trio.testing import (
    ClientGone,
    Close,
    Drop,
    Emulator,
    EmulatorConnection,
    Expect,
    Reply,
    Send,
    Sleep,
    script,
    serve_emulator,
    tone_pcm,
)

PATH = "/ws/google.ai.generativelanguage.{}.GenerativeService.{}"
V1BETA = PATH.format("v1beta", "BidiGenerateContent")
VERTEX = "/ws/google.cloud.aiplatform.v1beta1.LlmBidiService/BidiGenerateContent"
AUDIO_MODEL = "models/gemini-2.5-flash-native-audio-preview-12-2025"
TEXT_MODEL = "models/gemini-live-2.5-flash-preview"
NO_KEY = "Method doesn't allow unregistered callers (callers without established identity)."
NOT_FOUND = (
    "models/gemini-9-nope is not found for API version {}, or is not supported for "
    "bidiGenerateContent. Call ListModels to see the list of available models and their"
)

Json = dict[str, Any]


# --------------------------------------------------------------------------- helpers


@asynccontextmanager
async def connect(
    emulator: Emulator,
    path: str = V1BETA,
    *,
    key: str | None = "test-key",
    headers: Sequence[tuple[str, str]] = (),
    ssl_context: ssl.SSLContext | None = None,
) -> AsyncIterator[tw.WebSocketConnection]:
    """A raw client WebSocket. It owns its TCP stream, so a server-initiated close leaks no
    socket (trio-websocket 0.12's ``open_websocket_url`` does, see stack-notes.md §2 C)."""
    sent = [("x-goog-api-key", key)] if key is not None else []
    sent += headers
    stream: trio.SocketStream | trio.SSLStream[trio.SocketStream]
    if ssl_context is None:
        stream = await trio.open_tcp_stream(emulator.host, emulator.port)
    else:
        stream = await trio.open_ssl_over_tcp_stream(
            emulator.host, emulator.port, ssl_context=ssl_context, https_compatible=True
        )
    try:
        async with trio.open_nursery() as nursery:
            ws = await tw.wrap_client_stream(
                nursery,
                stream,
                f"{emulator.host}:{emulator.port}",
                path,
                extra_headers=[(k.encode(), v.encode()) for k, v in sent],
                message_queue_size=512,
                max_message_size=2**20,  # the official SDK's limit
            )
            try:
                yield ws
            finally:
                await ws.aclose()
                nursery.cancel_scope.cancel()
    finally:
        await trio.aclose_forcefully(stream)


async def send(ws: tw.WebSocketConnection, message: Json) -> None:
    await ws.send_message(json.dumps(message))


async def receive(ws: tw.WebSocketConnection) -> Json:
    frame = await ws.get_message()
    assert isinstance(frame, bytes), "the server sends binary frames"
    message: Json = json.loads(frame)
    assert_camel(message)
    return message


def assert_camel(value: Any) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            assert "_" not in key, f"snake_case key {key!r} in a server frame"
            assert_camel(inner)
    elif isinstance(value, list):
        for inner in value:
            assert_camel(inner)


async def closed(ws: tw.WebSocketConnection) -> tuple[int, str | None]:
    """Read until the connection closes; the close code and reason."""
    with pytest.raises(tw.ConnectionClosed) as info:
        while True:
            await ws.get_message()
    reason = info.value.reason
    assert reason is not None
    return reason.code, reason.reason


async def start(ws: tw.WebSocketConnection, model: str = AUDIO_MODEL, **setup: Any) -> Json:
    """Send setup, return setupComplete."""
    await send(ws, {"setup": {"model": model, **setup}})
    reply = await receive(ws)
    assert set(reply) == {"setupComplete"}
    return reply


async def turn(ws: tw.WebSocketConnection) -> list[Json]:
    """Frames up to and including the one with ``serverContent.turnComplete``."""
    frames = []
    while True:
        frames.append(await receive(ws))
        if frames[-1].get("serverContent", {}).get("turnComplete"):
            return frames


def text_turn(text: str) -> Json:
    return {
        "clientContent": {
            "turns": [{"role": "user", "parts": [{"text": text}]}],
            "turnComplete": True,
        }
    }


def audio_of(frames: list[Json]) -> bytes:
    return b"".join(
        base64.b64decode(part["inlineData"]["data"])
        for f in frames
        for part in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
        if "inlineData" in part
    )


def texts_of(frames: list[Json], field: str) -> list[str]:
    return [
        f["serverContent"][field]["text"] for f in frames if field in f.get("serverContent", {})
    ]


def model_texts(frames: list[Json]) -> list[str]:
    return [
        part["text"]
        for f in frames
        for part in f.get("serverContent", {}).get("modelTurn", {}).get("parts", [])
        if "text" in part
    ]


async def started(nursery: trio.Nursery, **kwargs: Any) -> Emulator:
    emulator: Emulator = await nursery.start(partial(serve_emulator, **kwargs))
    return emulator


# --------------------------------------------------------------------------- handshake


async def test_setup_complete_with_session_id(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    assert emulator.base_url == f"ws://127.0.0.1:{emulator.port}"
    assert emulator.api_key == "test-key"
    async with connect(emulator, headers=[("User-Agent", "raw-test/1")]) as ws:
        reply = await start(ws)
        session_id = reply["setupComplete"]["sessionId"]
        assert isinstance(session_id, str) and session_id
    (conn,) = await emulator.wait_for_connections(1)
    assert conn.method == "BidiGenerateContent"
    assert conn.api_version == "v1beta"
    assert conn.credential == "test-key"
    assert conn.headers["user-agent"] == "raw-test/1"
    assert conn.setup.model == AUDIO_MODEL
    assert conn.session_id == session_id
    assert "test-key" not in repr(conn) and "test-key" not in repr(emulator)


async def test_tls(nursery: trio.Nursery) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    client_context = ssl.create_default_context()
    ca.configure_trust(client_context)
    emulator = await started(nursery, ssl_context=server_context)
    assert emulator.base_url == f"wss://127.0.0.1:{emulator.port}"
    async with connect(emulator, ssl_context=client_context) as ws:
        await start(ws)


@pytest.mark.parametrize(
    ("path", "version", "method"),
    [
        ("/" + V1BETA, "v1beta", "BidiGenerateContent"),  # the official SDK's //ws/
        (PATH.format("v1alpha", "BidiGenerateContent"), "v1alpha", "BidiGenerateContent"),
        (
            PATH.format("v1alpha", "BidiGenerateContentConstrained"),
            "v1alpha",
            "BidiGenerateContentConstrained",
        ),
        (
            PATH.format("v1beta", "BidiGenerateContentConstrained"),
            "v1beta",
            "BidiGenerateContentConstrained",
        ),
        (VERTEX, "v1beta1", "BidiGenerateContent"),
        (VERTEX.replace("v1beta1", "v1"), "v1", "BidiGenerateContent"),
    ],
)
async def test_accepted_paths(nursery: trio.Nursery, path: str, version: str, method: str) -> None:
    emulator = await started(nursery)
    async with connect(emulator, path) as ws:
        await start(ws)
    (conn,) = emulator.connections
    assert (conn.path, conn.api_version, conn.method) == (path, version, method)


@pytest.mark.parametrize(
    "path",
    [
        "/ws/google.ai.generativelanguage.v1beta.GenerativeService/BidiGenerateContent",  # slash
        PATH.format("v2", "BidiGenerateContent"),  # v1 is served: google-genai 3.x uses it
        "/ws/google.cloud.aiplatform.v1.LlmBidiService.BidiGenerateContent",  # dot
        "/",
    ],
)
async def test_wrong_path_is_http_404(nursery: trio.Nursery, path: str) -> None:
    emulator = await started(nursery)
    with pytest.RaisesGroup(
        pytest.RaisesExc(tw.ConnectionRejected, check=lambda e: e.status_code == 404),
        flatten_subgroups=True,
    ):
        async with connect(emulator, path):
            pass  # pragma: no cover
    assert emulator.connections == []


async def test_bad_key_closes_1008_after_upgrade(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator, key="wrong") as ws:
        await send(ws, {"setup": {"model": AUDIO_MODEL}})
        assert await closed(ws) == (1008, "API key not valid. Please pass a valid API key.")
    assert emulator.connections[0].closed_with == (
        1008,
        "API key not valid. Please pass a valid API key.",
    )


async def test_missing_key_closes_1008(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator, key=None) as ws:
        await send(ws, {"setup": {"model": AUDIO_MODEL}})
        code, reason = await closed(ws)
    assert code == 1008
    assert reason is not None and reason.startswith(NO_KEY)
    assert len(reason.encode()) == 123


@pytest.mark.parametrize(
    ("path", "headers", "key"),
    [
        (V1BETA + "?key=k2", [], "k2"),
        (PATH.format("v1alpha", "BidiGenerateContentConstrained") + "?access_token=k2", [], "k2"),
        (V1BETA, [("Authorization", "Token k2")], "k2"),
        (VERTEX, [("Authorization", "Bearer k2")], "k2"),
    ],
)
async def test_credential_sources(
    nursery: trio.Nursery, path: str, headers: list[tuple[str, str]], key: str
) -> None:
    emulator = await started(nursery, api_keys=("k1", "k2"))
    async with connect(emulator, path, key=None, headers=headers) as ws:
        await start(ws)
    assert emulator.connections[0].credential == key
    assert emulator.connections[0].path == path.partition("?")[0]


# --------------------------------------------------------------------------- setup checks


@pytest.mark.parametrize("version", ["v1beta", "v1alpha"])
async def test_unknown_model_1008_names_model_and_version(
    nursery: trio.Nursery, version: str
) -> None:
    emulator = await started(nursery)
    async with connect(emulator, PATH.format(version, "BidiGenerateContent")) as ws:
        await send(ws, {"setup": {"model": "models/gemini-9-nope"}})
        code, reason = await closed(ws)
    assert code == 1008
    assert reason is not None and NOT_FOUND.format(version).startswith(reason)
    assert len(reason.encode()) <= 123


async def test_vertex_model_path_is_stripped(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, vertex=True)
    model = "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    async with connect(
        emulator, VERTEX, key=None, headers=[("authorization", "Bearer test-key")]
    ) as ws:
        await start(ws, model, generationConfig={"responseModalities": ["TEXT"]})


@pytest.mark.parametrize("modalities", [["TEXT"], ["AUDIO", "TEXT"]])
async def test_unsupported_modality_1011(nursery: trio.Nursery, modalities: list[str]) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await send(
            ws,
            {
                "setup": {
                    "model": AUDIO_MODEL,
                    "generationConfig": {"responseModalities": modalities},
                }
            },
        )
        assert await closed(ws) == (1011, "Internal error encountered.")


async def test_unknown_setup_field_1007(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await send(ws, {"setup": {"model": AUDIO_MODEL, "generationConfig": {"colour": "red"}}})
        code, reason = await closed(ws)
    assert code == 1007
    assert reason is not None and 'Unknown name "colour"' in reason


@pytest.mark.parametrize(
    ("setup", "name", "where"),
    [
        ({"proactivity": {"proactiveAudio": True}}, "proactivity", "setup"),
        (
            {"generationConfig": {"enableAffectiveDialog": True}},
            "enableAffectiveDialog",
            "setup.generationConfig",
        ),
        (
            {"generation_config": {"enable_affective_dialog": True}},
            "enable_affective_dialog",
            "setup.generationConfig",
        ),
    ],
)
async def test_v1alpha_only_fields_refused_on_v1beta(
    nursery: trio.Nursery, setup: Json, name: str, where: str
) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await send(ws, {"setup": {"model": AUDIO_MODEL, **setup}})
        code, reason = await closed(ws)
    assert code == 1007
    assert reason == (
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{where}': Cannot find field."
    )
    async with connect(emulator, PATH.format("v1alpha", "BidiGenerateContent")) as ws:
        await start(ws, AUDIO_MODEL, **setup)


async def test_snake_case_like_the_official_sdk(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    setup: Json = {
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "speechConfig": {"voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}}},
            "thinkingConfig": {"include_thoughts": False, "thinking_budget": 0},
        },
        "realtimeInputConfig": {
            "automatic_activity_detection": {"start_of_speech_sensitivity": "START_SENSITIVITY_LOW"}
        },
        "contextWindowCompression": {
            "trigger_tokens": 1000,
            "sliding_window": {"target_tokens": 500},
        },
        "output_audio_transcription": {},
    }
    async with connect(emulator) as ws:
        await start(ws, **setup)
        await send(
            ws,
            {
                "client_content": {
                    "turns": [{"role": "user", "parts": [{"text": "hi"}]}],
                    "turn_complete": True,
                }
            },
        )
        frames = await turn(ws)
    assert "".join(texts_of(frames, "outputTranscription")) == "You said: hi"
    conn = emulator.connections[0]
    assert isinstance(conn.received[0], ClientContent)
    assert conn.setup.output_audio_transcription is not None


async def test_message_before_setup_1007(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await send(ws, text_turn("hello"))
        code, reason = await closed(ws)
    assert code == 1007
    assert reason == "The first message must be setup."


async def test_second_setup_1007(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws)
        await send(ws, {"setup": {"model": AUDIO_MODEL}})
        assert (await closed(ws))[0] == 1007


# --------------------------------------------------------------------------- the default model


async def test_text_turn_audio_reply_sequence(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, outputAudioTranscription={}, sessionResumption={})
        await send(ws, text_turn("hello there"))
        frames = await turn(ws)
        update = await receive(ws)
    # During generation the handle is not resumable (no newHandle); a fresh one follows the turn.
    assert frames.pop(0) == {"sessionResumptionUpdate": {"resumable": False}}
    answer = "You said: hello there"
    # Real PCM: the 440 Hz tone, 60 ms per character, in 40 ms (1920-byte) chunks.
    audio = audio_of(frames)
    assert audio == tone_pcm(len(answer) * 0.06)
    assert len(audio) == len(answer) * 2880
    chunks = [f for f in frames if "modelTurn" in f.get("serverContent", {})]
    assert all(
        len(base64.b64decode(c["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]))
        <= 1920
        for c in chunks
    )
    assert len(chunks) == -(-len(audio) // 1920)
    mimes = {c["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["mimeType"] for c in chunks}
    assert mimes == {"audio/pcm;rate=24000"}
    # Transcription words interleaved, joining to the answer.
    words = texts_of(frames, "outputTranscription")
    assert words == ["You ", "said: ", "hello ", "there"]
    first_word = next(
        i for i, f in enumerate(frames) if "outputTranscription" in f["serverContent"]
    )
    assert 0 < first_word < len(chunks)
    # generationComplete, then turnComplete + usageMetadata in one frame.
    assert frames[-2] == {"serverContent": {"generationComplete": True}}
    last = frames[-1]
    assert set(last) == {"serverContent", "usageMetadata"}
    assert last["serverContent"] == {"turnComplete": True}
    usage = last["usageMetadata"]
    assert usage["totalTokenCount"] == usage["promptTokenCount"] + usage["responseTokenCount"]
    assert usage["promptTokensDetails"] == [
        {"modality": "TEXT", "tokenCount": usage["promptTokenCount"]}
    ]
    assert usage["responseTokensDetails"][0]["modality"] == "AUDIO"
    assert set(update) == {"sessionResumptionUpdate"}
    assert update["sessionResumptionUpdate"]["resumable"] is True
    assert len(update["sessionResumptionUpdate"]["newHandle"]) == 32


async def test_text_modality_one_word_per_frame(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, generationConfig={"responseModalities": ["TEXT"]})
        await send(ws, {"realtimeInput": {"text": "ping pong"}})
        frames = await turn(ws)
    assert model_texts(frames) == ["You ", "said: ", "ping ", "pong"]
    assert audio_of(frames) == b""
    assert frames[-1]["usageMetadata"]["responseTokensDetails"][0]["modality"] == "TEXT"


async def test_remembers_the_name_across_turns(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, generationConfig={"responseModalities": ["TEXT"]})
        answers = []
        for text in ["What's my name?", "Hi, my name is Ada.", "what is my name"]:
            await send(ws, text_turn(text))
            answers.append("".join(model_texts(await turn(ws))))
    assert answers == ["I don't know your name yet.", "Nice to meet you, Ada.", "Your name is Ada."]
    assert emulator.connections[0].memory == {"name": "Ada"}


async def test_prompt_tokens_grow_with_the_conversation(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws)
        await send(ws, text_turn("one"))
        first = (await turn(ws))[-1]["usageMetadata"]
        await send(ws, text_turn("two"))
        second = (await turn(ws))[-1]["usageMetadata"]
    assert second["promptTokenCount"] == first["totalTokenCount"] + 1


async def test_audio_in_then_audio_stream_end(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    pcm = tone_pcm(0.25, 16000)  # 250 ms = 8000 bytes
    async with connect(emulator) as ws:
        await start(ws, inputAudioTranscription={}, outputAudioTranscription={})
        for i in range(0, len(pcm), 3200):
            chunk = base64.urlsafe_b64encode(pcm[i : i + 3200]).decode()  # the SDK's alphabet
            await send(
                ws,
                {"realtime_input": {"audio": {"mime_type": "audio/pcm;rate=16000", "data": chunk}}},
            )
        await send(ws, {"realtimeInput": {"audioStreamEnd": True}})
        frames = await turn(ws)
    assert frames[0] == {
        "serverContent": {"inputTranscription": {"text": "<250 ms of audio>", "finished": True}}
    }
    assert "".join(texts_of(frames, "outputTranscription")) == "You said: <250 ms of audio>"
    assert frames[-1]["usageMetadata"]["promptTokensDetails"] == [
        {"modality": "AUDIO", "tokenCount": 8}
    ]


async def test_manual_activity_detection(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    manual = {"realtimeInputConfig": {"automaticActivityDetection": {"disabled": True}}}
    pcm = base64.b64encode(bytes(3200)).decode()
    async with connect(emulator) as ws:
        await start(ws, AUDIO_MODEL, **manual, inputAudioTranscription={})
        await send(ws, {"realtimeInput": {"activityStart": {}}})
        await send(
            ws, {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": pcm}}}
        )
        await send(ws, {"realtimeInput": {"activityEnd": {}}})
        frames = await turn(ws)
        assert frames[0]["serverContent"]["inputTranscription"]["text"] == "<100 ms of audio>"
        await send(ws, {"realtimeInput": {"audioStreamEnd": True}})
        assert await closed(ws) == (1007, "Request contains an invalid argument.")


@pytest.mark.parametrize(
    "message",
    [
        {"realtimeInput": {"activityStart": {}}},  # automatic activity detection is on
        {"realtimeInput": {"activityEnd": {}}},
        {"realtimeInput": {"text": "a", "audioStreamEnd": True}},  # two fields in one message
        {"toolResponse": {"functionResponses": [{"name": "f", "response": {}}]}},  # no id
    ],
)
async def test_protocol_rules_close_1007(nursery: trio.Nursery, message: Json) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws)
        await send(ws, message)
        assert await closed(ws) == (1007, "Request contains an invalid argument.")
    assert len(emulator.connections[0].received) == 1


async def test_vertex_mode(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, vertex=True)
    model = "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    auth = [("Authorization", "Bearer test-key")]
    async with connect(emulator, VERTEX, key=None, headers=auth) as ws:
        await start(ws, model, generationConfig={"responseModalities": ["AUDIO"]})
        # Vertex may omit function response ids.
        await send(ws, {"toolResponse": {"functionResponses": [{"name": "f", "response": {}}]}})
        await send(ws, text_turn("hi"))
        usage = (await turn(ws))[-1]["usageMetadata"]
    assert "candidatesTokenCount" in usage and "candidatesTokensDetails" in usage
    assert "responseTokenCount" not in usage
    assert isinstance(emulator.connections[0].received[0], ToolResponse)


async def test_resumption_handle_restores_memory(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    text = {"generationConfig": {"responseModalities": ["TEXT"]}}
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, sessionResumption={}, **text)
        await send(ws, text_turn("my name is Grace"))
        await turn(ws)
        handle = (await receive(ws))["sessionResumptionUpdate"]["newHandle"]
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, sessionResumption={"handle": handle}, **text)
        await send(ws, text_turn("what's my name?"))
        assert "".join(model_texts(await turn(ws))) == "Your name is Grace."


async def test_initial_history_is_learned_not_answered(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    history = {
        "clientContent": {
            "turns": [
                {"role": "user", "parts": [{"text": "My name is Lin."}]},
                {"role": "model", "parts": [{"text": "Hello Lin."}]},
            ],
            "turnComplete": True,
        }
    }
    async with connect(emulator) as ws:
        await start(
            ws,
            TEXT_MODEL,
            generationConfig={"responseModalities": ["TEXT"]},
            historyConfig={"initialHistoryInClientContent": True},
        )
        await send(ws, history)
        await send(ws, {"realtimeInput": {"text": "What is my name?"}})
        frames = await turn(ws)
    assert "".join(model_texts(frames)) == "Your name is Lin."


# --------------------------------------------------------------------------- function calls

STOCK = {
    "name": "get_stock_price",
    "parametersJsonSchema": {
        "type": "object",
        "properties": {"symbol": {"type": "string"}},
        "required": ["symbol"],
    },
}
WEATHER = {
    "name": "get_weather",
    "parameters": {
        "type": "OBJECT",
        "properties": {"location": {"type": "STRING"}, "unit": {"type": "STRING"}},
        "required": ["location"],
    },
}
TEXT_OUT = {"generationConfig": {"responseModalities": ["TEXT"]}}


def tools(*declarations: Json) -> Json:
    return {"tools": [{"functionDeclarations": list(declarations)}]}


def tool_response(*answers: tuple[str, str, Any], **extra: Any) -> Json:
    responses = [
        {"id": i, "name": name, "response": {"output": output}, **extra}
        for i, name, output in answers
    ]
    return {"toolResponse": {"functionResponses": responses}}


async def test_a_text_naming_a_tool_gets_a_call_then_an_answer_with_the_result(
    nursery: trio.Nursery,
) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, outputAudioTranscription={}, **tools(STOCK, WEATHER))
        await send(ws, text_turn("What's Apple's stock price?"))
        call = await receive(ws)
        assert call == {
            "toolCall": {
                "functionCalls": [
                    {"id": "fc-1", "name": "get_stock_price", "args": {"symbol": "Apple"}}
                ]
            }
        }
        await send(ws, tool_response(("fc-1", "get_stock_price", {"price": 178.5})))
        frames = await turn(ws)
        # the next call gets the next id
        await send(ws, {"realtimeInput": {"text": "And the weather in Oslo?"}})
        (second,) = (await receive(ws))["toolCall"]["functionCalls"]
    # through the usual path: audio, with the words in the output transcription
    assert audio_of(frames)
    answer = "".join(texts_of(frames, "outputTranscription"))
    assert answer == 'get_stock_price returned {"price": 178.5}.'
    assert frames[-1]["usageMetadata"]["promptTokenCount"] > 0
    assert second == {"id": "fc-2", "name": "get_weather", "args": {"location": "Oslo"}}


async def test_a_text_naming_no_tool_is_answered_as_usual(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, **TEXT_OUT, **tools(STOCK, WEATHER))
        await send(ws, text_turn("my name is Ada"))
        frames = await turn(ws)
    assert "".join(model_texts(frames)) == "Nice to meet you, Ada."


async def test_two_calls_in_one_frame_and_the_model_waits_for_both(
    nursery: trio.Nursery,
) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, **TEXT_OUT, **tools(STOCK, WEATHER))
        await send(ws, text_turn("What's the weather in Paris, and how is Microsoft's stock?"))
        calls = (await receive(ws))["toolCall"]["functionCalls"]
        assert calls == [
            {"id": "fc-1", "name": "get_weather", "args": {"location": "Paris"}},
            {"id": "fc-2", "name": "get_stock_price", "args": {"symbol": "Microsoft"}},
        ]
        # one answer, then a user text, then the other: the text waits for the results turn
        await send(ws, tool_response(("fc-2", "get_stock_price", {"symbol": "MSFT"})))
        await send(ws, {"realtimeInput": {"text": "hello"}})
        await send(ws, tool_response(("fc-1", "get_weather", "cloudy")))
        first = "".join(model_texts(await turn(ws)))
        second = "".join(model_texts(await turn(ws)))
    assert first == 'get_weather returned cloudy; get_stock_price returned {"symbol": "MSFT"}.'
    assert second == "You said: hello"


@pytest.mark.parametrize(
    "answer",
    [
        pytest.param(("fc-9", "get_stock_price", 1), id="unknown id"),
        pytest.param(("fc-1", "get_weather", 1), id="wrong name"),
    ],
)
async def test_a_response_to_no_issued_call_closes_1007(
    nursery: trio.Nursery, answer: tuple[str, str, Any]
) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, **tools(STOCK, WEATHER))
        await send(ws, text_turn("Apple stock?"))
        assert "toolCall" in await receive(ws)
        await send(ws, tool_response(answer))
        assert await closed(ws) == (1007, "Request contains an invalid argument.")


async def test_an_answered_call_cannot_be_answered_again(nursery: trio.Nursery) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, **TEXT_OUT, **tools(STOCK))
        await send(ws, text_turn("The stock of Apple?"))
        assert "toolCall" in await receive(ws)
        await send(ws, tool_response(("fc-1", "get_stock_price", 1)))
        await turn(ws)
        await send(ws, tool_response(("fc-1", "get_stock_price", 1)))
        assert await closed(ws) == (1007, "Request contains an invalid argument.")


async def test_non_blocking_calls_are_answered_at_once_and_again_with_the_result(
    nursery: trio.Nursery,
) -> None:
    emulator = await started(nursery)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, **TEXT_OUT, **tools({**WEATHER, "behavior": "NON_BLOCKING"}))
        await send(ws, text_turn("Weather in Rome?"))
        (call,) = (await receive(ws))["toolCall"]["functionCalls"]
        assert call["id"] == "fc-1"
        right_away = "".join(model_texts(await turn(ws)))  # before any response
        await send(ws, tool_response(("fc-1", "get_weather", "sunny"), scheduling="WHEN_IDLE"))
        later = "".join(model_texts(await turn(ws)))
        # a SILENT result is taken without a word: the next turn answers the next text
        await send(ws, text_turn("and the weather in Bern?"))
        assert "toolCall" in await receive(ws)
        await turn(ws)
        await send(ws, tool_response(("fc-2", "get_weather", "rain"), scheduling="SILENT"))
        await send(ws, text_turn("thanks"))
        after_silent = "".join(model_texts(await turn(ws)))
    assert right_away == "Working on it."
    assert later == "get_weather returned sunny."
    assert after_silent == "You said: thanks"


# --------------------------------------------------------------------------- scripts and behaviours


async def test_script_steps_then_close(nursery: trio.Nursery) -> None:
    long_reason = "Internal error occurred. " + "x" * 200
    behaviour = script(
        Expect(ClientContent),
        Send(ServerContent(interrupted=True), UsageMetadata(prompt_token_count=3)),
        Reply(),
        Reply("my name is Bo"),
        Send(GoAway(time_left=timedelta(seconds=5))),
        Close(1011, long_reason),
    )
    emulator = await started(nursery, behaviour=behaviour)
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, generationConfig={"responseModalities": ["TEXT"]})
        await send(ws, text_turn("first"))
        assert await receive(ws) == {
            "serverContent": {"interrupted": True},
            "usageMetadata": {"promptTokenCount": 3},
        }
        assert "".join(model_texts(await turn(ws))) == "You said: first"
        assert "".join(model_texts(await turn(ws))) == "Nice to meet you, Bo."
        assert await receive(ws) == {"goAway": {"timeLeft": "5s"}}
        code, reason = await closed(ws)
    assert code == 1011
    assert reason == long_reason[:123]
    assert emulator.connections[0].closed_with == (1011, long_reason[:123])


async def test_close_reason_cut_at_a_character_boundary(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, behaviour=script(Close(1008, "\u00e9" * 100)))
    async with connect(emulator) as ws:
        await start(ws)
        assert await closed(ws) == (1008, "\u00e9" * 61)  # 122 bytes: no half character


async def test_script_drop_gives_1006(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, behaviour=script(Drop()))
    async with connect(emulator) as ws:
        await start(ws)
        assert await closed(ws) == (1006, None)
    assert emulator.connections[0].closed_with == (1006, None)


async def test_script_wrong_message_1007(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, behaviour=script(Expect(ToolResponse)))
    async with connect(emulator) as ws:
        await start(ws)
        await send(ws, {"realtimeInput": {"text": "hi"}})
        assert await closed(ws) == (1007, "Script expected ToolResponse, got RealtimeInput.")


async def test_script_timeout_1011(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await started(nursery, behaviour=script(Sleep(30), Expect(RealtimeInput, timeout=2)))
    async with connect(emulator) as ws:
        await start(ws)
        before = trio.current_time()
        code, reason = await closed(ws)
    assert trio.current_time() - before == pytest.approx(32)
    assert code == 1011
    assert reason == "Script timed out after 2 s waiting for RealtimeInput."


async def test_script_continues_with_default_model(nursery: trio.Nursery) -> None:
    emulator = await started(nursery, behaviour=script(Expect(RealtimeInput)))
    async with connect(emulator) as ws:
        await start(ws, TEXT_MODEL, generationConfig={"responseModalities": ["TEXT"]})
        await send(ws, {"realtimeInput": {"text": "ignored by the script"}})
        await send(ws, {"realtimeInput": {"text": "answered"}})
        assert "".join(model_texts(await turn(ws))) == "You said: answered"


async def test_custom_behaviour_sees_client_close(nursery: trio.Nursery) -> None:
    seen: list[ClientGone] = []
    done = trio.Event()

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.send_raw("{not json")
        await conn.send(ServerContent(output_transcription=Transcription(text="hey")))
        try:
            await conn.receive()
        except ClientGone as exc:
            seen.append(exc)
            done.set()

    emulator = await started(nursery, behaviour=behaviour)
    async with connect(emulator) as ws:
        await start(ws)
        assert await ws.get_message() == "{not json"  # a text frame, as given
        assert await receive(ws) == {"serverContent": {"outputTranscription": {"text": "hey"}}}
        await ws.aclose(4000, "bye")
    with trio.fail_after(5):
        await done.wait()
    assert (seen[0].code, seen[0].reason) == (4000, "bye")
    assert emulator.connections[0].closed_with == (4000, "bye")


async def test_behaviour_error_closes_1011_and_surfaces() -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        raise RuntimeError("bug in a behaviour")

    with pytest.RaisesGroup(RuntimeError, flatten_subgroups=True):
        async with trio.open_nursery() as nursery:
            emulator = await started(nursery, behaviour=behaviour)
            async with connect(emulator) as ws:
                await start(ws)
                assert await closed(ws) == (1011, "Internal error encountered.")
                await trio.sleep_forever()


# --------------------------------------------------------------------------- audio and CLI


def test_tone_pcm_is_real_s16le() -> None:
    pcm = tone_pcm(0.01, 24000)
    assert len(pcm) == 480
    samples = [int.from_bytes(pcm[i : i + 2], "little", signed=True) for i in range(0, 480, 2)]
    assert samples[0] == 0 and max(samples) > 5000 and min(samples) < -5000


@pytest.mark.skipif(sys.platform == "win32", reason="needs SIGINT")
def test_command_line_serves_until_ctrl_c() -> None:
    args = [sys.executable, "-m", "gemini_live_trio.testing", "--port", "0", "--api-key", "k9"]
    with subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as proc:
        try:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            found = re.search(r"ws://127\.0\.0\.1:(\d+)", line)
            assert found and "k9" in line, line
            socket.create_connection(("127.0.0.1", int(found[1])), timeout=5).close()
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=10) == 0
        finally:
            proc.kill()
        assert proc.stderr is not None
        assert proc.stderr.read() == ""


def test_command_line_help() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gemini_live_trio.testing", "--help"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    for option in ("--port", "--host", "--api-key", "--vertex"):
        assert option in done.stdout
