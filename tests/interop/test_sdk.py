"""The official google-genai SDK against our emulator: a client we did not write.

Run with ``nox -s interop`` (it installs google-genai into a venv of its own; google-genai is
never a dependency of this project). Marked ``interop``, which the default run excludes.

The SDK is asyncio code and the emulator is trio code: each test runs the emulator with
``trio.run`` in a background thread (:func:`emulator_thread`) and the SDK with
``asyncio.run`` in the test's thread. The SDK forces ``wss://`` in Gemini-API mode
(wire-protocol.md §1.6), so the emulator serves TLS with a trustme certificate, which the
SDK trusts through ``http_options.async_client_args["ssl"]`` (or ``SSL_CERT_FILE``).
Everything stays on 127.0.0.1.
"""

import asyncio
import functools
import json
import queue
import ssl
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from gemini_live_trio import (
    Content,
    FunctionCall,
    GoAway,
    Part,
    ServerContent,
    ToolCall,
    ToolResponse,
)
from gemini_live_trio.testing import (
    ClientGone,
    Emulator,
    EmulatorConnection,
    serve_emulator,
    tone_pcm,
)

genai = pytest.importorskip("google.genai")
trustme = pytest.importorskip("trustme")
from google.genai import errors, types  # noqa: E402

pytestmark = pytest.mark.interop

TEXT_MODEL = "gemini-live-2.5-flash-preview"  # TEXT or AUDIO (wire-protocol.md §7.1)
AUDIO_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"  # AUDIO only
#: The version most tests pin; one test uses the SDK's own default (v1), also served.
API_VERSION = "v1beta"


# ----------------------------------------------------------------------------- harness


@attrs.frozen
class TlsCA:
    """A throwaway certificate authority and the SSL contexts built on it."""

    server: ssl.SSLContext
    client: ssl.SSLContext
    pem: bytes


@pytest.fixture(scope="module")
def tls_ca() -> TlsCA:
    ca = trustme.CA()
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(server)
    client = ssl.create_default_context()
    ca.configure_trust(client)
    return TlsCA(server=server, client=client, pem=ca.cert_pem.bytes())


@contextmanager
def emulator_thread(**options: Any) -> Iterator[Emulator]:
    """``serve_emulator(**options)`` in its own thread's trio run, for the block's duration.

    Leaving the block stops the emulator and joins the thread; an exception raised inside the
    emulator (a behaviour's failed assertion, a crash) is raised here, failing the test.
    """
    ready: queue.Queue[Any] = queue.Queue()
    failures: list[BaseException] = []

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            emulator = await nursery.start(functools.partial(serve_emulator, **options))
            ready.put((emulator, trio.lowlevel.current_trio_token(), nursery.cancel_scope))

    def run() -> None:
        try:
            trio.run(main)
        except BaseException as exc:
            failures.append(exc)
            ready.put(exc)

    thread = threading.Thread(target=run, name="emulator", daemon=True)
    thread.start()
    started = ready.get(timeout=30)
    if isinstance(started, BaseException):
        thread.join(5)
        raise started
    emulator, token, scope = started
    try:
        yield emulator
    finally:
        try:
            token.run_sync_soon(scope.cancel)
        except trio.RunFinishedError:
            pass
        thread.join(30)
        assert not thread.is_alive(), "the emulator thread did not stop"
    if failures:
        raise failures[0]


def sdk_client(
    emulator: Emulator, ca: TlsCA | None, *, api_key: str | None = None, **http: Any
) -> Any:
    """A ``genai.Client`` in Gemini-API mode pointed at the emulator's TLS port."""
    http.setdefault("api_version", API_VERSION)
    if ca is not None:
        http["async_client_args"] = {"ssl": ca.client}
    options = types.HttpOptions(base_url=f"https://127.0.0.1:{emulator.port}", **http)
    return genai.Client(api_key=api_key or emulator.api_key, http_options=options)


def run_sdk(body: Callable[[], Awaitable[Any]]) -> Any:
    """Run the SDK side (asyncio) in this thread, bounded by 30 s."""
    return asyncio.run(asyncio.wait_for(body(), timeout=30))


async def one_turn(session: Any) -> list[Any]:
    """``session.receive()`` until and including turnComplete (the SDK's own loop)."""
    return [message async for message in session.receive()]


# ----------------------------------------------------------------------------- the tests


def test_sdk_with_its_default_api_version(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = genai.Client(
            api_key=emulator.api_key,
            http_options=types.HttpOptions(
                base_url=f"https://127.0.0.1:{emulator.port}",
                async_client_args={"ssl": tls_ca.client},
            ),
        )

        async def body() -> None:
            config = types.LiveConnectConfig(response_modalities=["TEXT"])
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                assert session.session_id

        run_sdk(body)


def test_setup_and_text_turn(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> tuple[str | None, list[Any]]:
            config = types.LiveConnectConfig(response_modalities=["TEXT"])
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text="hello there")])
                )
                return session.session_id, await one_turn(session)

        session_id, messages = run_sdk(body)

    (conn,) = emulator.connections
    assert session_id and session_id == conn.session_id
    assert conn.setup.model == f"models/{TEXT_MODEL}"
    assert conn.headers["x-goog-api-key"] == emulator.api_key
    assert conn.headers["user-agent"].startswith("google-genai-sdk/")
    text = "".join(m.text or "" for m in messages if m.server_content)
    assert text == "You said: hello there"
    assert messages[-1].server_content.turn_complete
    usage = [m.usage_metadata for m in messages if m.usage_metadata]
    assert usage and usage[-1].response_token_count  # the SDK read our usage spelling
    assert conn.closed_with is not None and conn.closed_with[0] == 1000


def test_audio_in_and_audio_out(tls_ca: TlsCA) -> None:
    pcm = tone_pcm(0.1, 16000)  # 100 ms chunks of 16 kHz input
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> list[Any]:
            config = types.LiveConnectConfig(
                response_modalities=["AUDIO"],
                input_audio_transcription=types.AudioTranscriptionConfig(),
                output_audio_transcription=types.AudioTranscriptionConfig(),
            )
            async with client.aio.live.connect(model=AUDIO_MODEL, config=config) as session:
                for _ in range(3):
                    await session.send_realtime_input(
                        audio=types.Blob(data=pcm, mime_type="audio/pcm;rate=16000")
                    )
                await session.send_realtime_input(audio_stream_end=True)
                return await one_turn(session)

        messages = run_sdk(body)

    (conn,) = emulator.connections
    # the SDK sends URL-safe base64 with snake_case keys; the emulator read it byte-exact
    audio_in = [m.audio.data for m in conn.received if getattr(m, "audio", None)]
    assert audio_in == [pcm] * 3
    assert conn.received[-1].audio_stream_end is True  # type: ignore[union-attr]
    heard = [m.server_content.input_transcription.text for m in messages if _has_input(m)]
    assert heard == ["<300 ms of audio>"]
    audio_out = b"".join(m.data or b"" for m in messages if m.server_content)
    assert len(audio_out) > 0 and audio_out == tone_pcm(len(audio_out) / 48_000)
    spoken = "".join(
        m.server_content.output_transcription.text
        for m in messages
        if m.server_content and m.server_content.output_transcription
    )
    assert spoken.split() == "You said: <300 ms of audio>".split()
    assert messages[-1].server_content.turn_complete


def _has_input(message: Any) -> bool:
    return bool(message.server_content and message.server_content.input_transcription)


def test_tool_call_and_snake_case_tool_response(tls_ca: TlsCA) -> None:
    raw_responses: list[str | bytes] = []
    decoded: list[Any] = []

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()  # the user's turn
            call = FunctionCall(id="fc-7", name="book_table", args={"guests": 2})
            await conn.send(ToolCall(function_calls=[call]))
            raw = await conn.receive_frame()
            raw_responses.append(raw)
            decoded.append(conn.decode(raw))  # the strict parser the real server mirrors
            await conn.say("Booked: A12.")
            await conn.receive()  # until the SDK leaves
        except ClientGone:
            pass

    declaration = types.FunctionDeclaration(
        name="book_table",
        description="Reserve a table",
        parameters=types.Schema(
            type=types.Type.OBJECT,
            properties={"guests": types.Schema(type=types.Type.INTEGER)},
            required=["guests"],
        ),
    )
    with emulator_thread(ssl_context=tls_ca.server, behaviour=behaviour) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> tuple[Any, list[Any]]:
            config = types.LiveConnectConfig(
                response_modalities=["TEXT"],
                tools=[types.Tool(function_declarations=[declaration])],
            )
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text="table for 2")])
                )
                tool_call = None
                async for message in session.receive():
                    if message.tool_call:
                        tool_call = message.tool_call
                        break
                assert tool_call is not None
                (fc,) = tool_call.function_calls
                await session.send_tool_response(
                    function_responses=types.FunctionResponse(
                        id=fc.id, name=fc.name, response={"output": {"confirmation": "A12"}}
                    )
                )
                return tool_call, await one_turn(session)

        tool_call, messages = run_sdk(body)

    (fc,) = tool_call.function_calls
    assert (fc.id, fc.name, fc.args) == ("fc-7", "book_table", {"guests": 2})
    (conn,) = emulator.connections
    (declared,) = conn.setup.tools[0].function_declarations  # type: ignore[index]
    assert declared.name == "book_table"
    # the SDK's own spelling (wire-protocol.md §4.1): the snake_case top-level alias, which
    # our client never sends; the emulator's strict parser takes it as the service does
    (raw,) = raw_responses
    frame = json.loads(raw)
    assert set(frame) == {"tool_response"}
    (body,) = frame["tool_response"].values()  # functionResponses (SDK 3.x) or snake_case
    assert [set(item) for item in body] == [{"id", "name", "response"}]
    (response,) = decoded
    assert isinstance(response, ToolResponse)
    (fr,) = response.function_responses
    assert (fr.id, fr.name, fr.response) == (
        "fc-7",
        "book_table",
        {"output": {"confirmation": "A12"}},
    )
    assert "".join(m.text or "" for m in messages if m.server_content) == "Booked: A12."


def test_resumption_handle_resumes_the_conversation(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> tuple[str, str]:
            config = types.LiveConnectConfig(
                response_modalities=["TEXT"],
                session_resumption=types.SessionResumptionConfig(),
            )
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text="My name is Ada")])
                )
                await one_turn(session)
                handle = None
                while handle is None:  # updates arrive between turns: the next receive()
                    async for message in session.receive():
                        update = message.session_resumption_update
                        if update and update.resumable and update.new_handle:
                            handle = update.new_handle
                            break
            resumed = types.LiveConnectConfig(
                response_modalities=["TEXT"],
                session_resumption=types.SessionResumptionConfig(handle=handle),
            )
            async with client.aio.live.connect(model=TEXT_MODEL, config=resumed) as session:
                await session.send_client_content(
                    turns=types.Content(role="user", parts=[types.Part(text="What's my name?")])
                )
                messages = await one_turn(session)
            return handle, "".join(m.text or "" for m in messages if m.server_content)

        handle, answer = run_sdk(body)

    first, second = emulator.connections
    assert first.setup.session_resumption is not None
    assert second.setup.session_resumption is not None
    assert second.setup.session_resumption.handle == handle
    assert answer == "Your name is Ada."


def test_go_away_time_left(tls_ca: TlsCA) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.send(GoAway(time_left=timedelta(seconds=50)))
        await conn.send(ServerContent(model_turn=Content(parts=[Part(text="bye")])))
        await conn.send(ServerContent(turn_complete=True))
        try:
            await conn.receive()
        except ClientGone:
            pass

    with emulator_thread(ssl_context=tls_ca.server, behaviour=behaviour) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> list[Any]:
            config = types.LiveConnectConfig(response_modalities=["TEXT"])
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                return await one_turn(session)

        messages = run_sdk(body)

    go_away = [m.go_away for m in messages if m.go_away]
    assert [g.time_left for g in go_away] == ["50s"]
    assert emulator.connections[0].closed_with == (1000, None)


def test_bad_key_is_the_services_close_code(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, tls_ca, api_key="AIzaSy-not-a-valid-key-000000000000")

        async def body() -> None:
            config = types.LiveConnectConfig(response_modalities=["TEXT"])
            async with client.aio.live.connect(model=TEXT_MODEL, config=config):
                pytest.fail("setup must not succeed")

        with pytest.raises(errors.APIError) as caught:
            run_sdk(body)
    assert caught.value.code == 1008
    assert "API key not valid" in str(caught.value)


def test_unknown_model_is_the_services_close_code(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, tls_ca)

        async def body() -> None:
            async with client.aio.live.connect(model="gemini-0.0-nope", config=None):
                pytest.fail("setup must not succeed")

        with pytest.raises(errors.APIError) as caught:
            run_sdk(body)
    assert caught.value.code == 1008
    assert "models/gemini-0.0-nope is not found" in str(caught.value)


def test_sdk_trusts_the_emulator_through_ssl_cert_file(
    tls_ca: TlsCA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_bytes(tls_ca.pem)
    monkeypatch.setenv("SSL_CERT_FILE", str(bundle))
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, None)  # no ssl context: SSL_CERT_FILE is read

        async def body() -> str | None:
            config = types.LiveConnectConfig(response_modalities=["TEXT"])
            async with client.aio.live.connect(model=TEXT_MODEL, config=config) as session:
                return session.session_id

        assert run_sdk(body)


def test_sdk_refuses_the_emulator_without_the_test_ca(tls_ca: TlsCA) -> None:
    with emulator_thread(ssl_context=tls_ca.server) as emulator:
        client = sdk_client(emulator, None)  # certifi only: our CA is unknown

        async def body() -> None:
            async with client.aio.live.connect(model=TEXT_MODEL, config=None):
                pytest.fail("must not connect")

        with pytest.raises(ssl.SSLCertVerificationError):
            run_sdk(body)
    assert emulator.connections == []
