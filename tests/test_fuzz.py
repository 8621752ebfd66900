"""Hostile frames over real sockets, both ways (hypothesis, bounded).

test_wire.py fuzzes the sans-I/O decoders; this file puts the same kind of input on a real
loopback WebSocket, where a crash would kill a task instead of failing one call:

* the **session's reader** gets arbitrary JSON, known keys with wrong types, mutated and
  truncated frames, invalid UTF-8 and invalid base64 from an emulator behaviour
  (``conn.send_raw``), each frame followed by a good marker frame. Each bad frame becomes
  exactly the events a fresh client-role ``LiveProtocol`` decodes from it, or one
  :class:`MalformedFrame`; the marker after it always arrives; the session ends normally.
* **oversized frames**: up to ``MAX_MESSAGE_SIZE`` (16 MiB) is decoded; past it the client's
  WebSocket closes the connection with 1009, which is a reconnectable :class:`ConnectionLost`
  (the frame is lost, everything before it was delivered).
* the **emulator's request parser**: a raw WebSocket client sends hostile setups and
  messages; the emulator answers each with the close the real service uses (1007 for a payload
  it cannot take) and never crashes or closes with an internal error for bad input.
"""

import collections
import json
from collections.abc import Iterator
from typing import Any

import pytest
import trio
from _helpers import MODEL, session_kwargs, start_emulator
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_wire import _paths, _replace, client_messages, json_values, server_events

from gemini_live_trio import (
    Blob,
    ConnectionLost,
    Content,
    MalformedFrame,
    Part,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    ServerContent,
    SessionOptions,
    Transcription,
    UnknownServerMessage,
    open_live_session,
)
from gemini_live_trio import _wire as w
from gemini_live_trio._exceptions import FrameDecodeError, ProtocolError
from gemini_live_trio._protocol import LiveProtocol, Role
from gemini_live_trio._transport import MAX_MESSAGE_SIZE, TransportClosed, open_websocket
from gemini_live_trio.testing import ClientGone, EmulatorConnection, default_model

NO_RECONNECT = SessionOptions(reconnect=ReconnectPolicy.off())
#: Bounded: the whole file runs in a few seconds on two cores.
SOCKET_FUZZ = settings(
    max_examples=80,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
#: Events that come from frames (the session adds others: metrics, reconnects, ...).
WIRE_EVENTS = (*w.SERVER_KEYS.values(), UnknownServerMessage, MalformedFrame)

#: Inputs sent by this module's tests, by kind (shown with ``pytest -s``).
COUNTS: collections.Counter[str] = collections.Counter()


@pytest.fixture(scope="module", autouse=True)
def _report_counts() -> Iterator[None]:
    yield
    if COUNTS:
        print("\nfuzz inputs:", dict(sorted(COUNTS.items())), "total", sum(COUNTS.values()))


# ----------------------------------------------------------------------------- strategies

SEED_FRAMES = [
    {
        "serverContent": {
            "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": "AAD/fw=="}}]}
        }
    },
    {"toolCall": {"functionCalls": [{"id": "fc-7", "name": "book_table", "args": {"guests": 2}}]}},
    {"goAway": {"timeLeft": "50s"}},
    {"sessionResumptionUpdate": {"newHandle": "h", "resumable": True}},
    {"serverContent": {"turnComplete": True}, "usageMetadata": {"promptTokenCount": 4}},
]

valid_server_frames = server_events.map(lambda event: w.encode_server_event(event)) | (
    st.sampled_from(SEED_FRAMES)
)


@st.composite
def mutated(draw: st.DrawFn, frames: st.SearchStrategy[Any]) -> str:
    """A valid frame with one value replaced by arbitrary JSON, or one key removed."""
    frame = draw(frames)
    path = draw(st.sampled_from(_paths(frame)))
    if path and draw(st.booleans()):
        return json.dumps(_replace(frame, path, None, delete=True))
    return json.dumps(_replace(frame, path, draw(json_values)))


@st.composite
def truncated(draw: st.DrawFn, frames: st.SearchStrategy[Any]) -> bytes:
    raw = w.dumps(draw(frames)).encode()
    return raw[: draw(st.integers(0, len(raw) - 1))]


@st.composite
def invalid_utf8(draw: st.DrawFn) -> bytes:
    raw = w.dumps(draw(valid_server_frames)).encode()
    at = draw(st.integers(0, len(raw)))
    junk = draw(st.sampled_from([b"\xff", b"\xc3(", b"\xed\xa0\x80", b"\xf0\x28\x8c\x28", b"\x80"]))
    return raw[:at] + junk + raw[at:]


base64_junk = st.one_of(
    st.text(alphabet="!@#$%^&*()<>?,.;:~`\\|\"' \t", min_size=1, max_size=12),
    st.text(alphabet="ABCDabcd0123+/", min_size=1, max_size=9).filter(lambda s: len(s) % 4 == 1),
    st.text(min_size=1, max_size=8).filter(lambda s: not s.isascii()),
    st.sampled_from(["====", "A===", "AB=C", "AAAA=AAA", "\u00e9\u00e9\u00e9\u00e9"]),
    json_values.filter(lambda v: not isinstance(v, str)),
)


@st.composite
def invalid_base64(draw: st.DrawFn) -> str:
    data = draw(base64_junk)
    where = draw(st.sampled_from(["inline", "signature"]))
    if where == "inline":
        part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    else:
        part = {"text": "hi", "thoughtSignature": data}
    return json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}})


wrong_types = st.builds(
    lambda key, value: json.dumps({key: value}), st.sampled_from(sorted(w.SERVER_KEYS)), json_values
)

#: (kind, frame) pairs; the kind only labels the count.
hostile_server_frames = st.one_of(
    st.tuples(st.just("arbitrary json"), json_values.map(json.dumps)),
    st.tuples(st.just("wrong types"), wrong_types),
    st.tuples(st.just("mutated"), mutated(valid_server_frames)),
    st.tuples(st.just("truncated"), truncated(valid_server_frames)),
    st.tuples(st.just("invalid utf-8"), invalid_utf8()),
    st.tuples(st.just("invalid base64"), invalid_base64()),
    st.tuples(st.just("random bytes"), st.binary(max_size=64)),
).flatmap(
    # text frame or binary frame, as the server may send either (wire-protocol.md §1.1)
    lambda item: (
        st.sampled_from(
            [item, (item[0], item[1].encode() if isinstance(item[1], str) else item[1])]
        )
        if isinstance(item[1], str)
        else st.just(item)
    )
)


def expected_events(frame: str | bytes) -> list[Any]:
    """What the session must deliver for ``frame``: a fresh client-role decode of it."""
    try:
        return LiveProtocol(Role.CLIENT).receive(frame)
    except FrameDecodeError as exc:
        return [MalformedFrame(error=exc.message, preview=exc.preview)]


def marker(index: int) -> ServerContent:
    return ServerContent(output_transcription=Transcription(text=f"\x00marker-{index}"))


def is_marker(event: Any, index: int) -> bool:
    return (
        type(event) is ServerContent
        and event.output_transcription is not None
        and event.output_transcription.text == f"\x00marker-{index}"
    )


# ----------------------------------------------------------------------------- the reader


@SOCKET_FUZZ
@given(frames=st.lists(hostile_server_frames, min_size=1, max_size=6))
async def test_the_reader_survives_hostile_frames(frames: list[tuple[str, str | bytes]]) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()  # the client's "go"
            for index, (_, frame) in enumerate(frames):
                await conn.send_raw(frame)
                await conn.send(marker(index))
            while True:
                await conn.receive()
        except ClientGone:
            pass

    async with trio.open_nursery() as nursery:
        emulator = await start_emulator(nursery, behaviour=behaviour)
        async with open_live_session(
            MODEL, options=NO_RECONNECT, **session_kwargs(emulator)
        ) as session:
            await session.send_realtime_input(text="go")
            with trio.fail_after(10):
                await session.events.receive()  # setupComplete
                for index, (kind, frame) in enumerate(frames):
                    got = []
                    async for event in session.events:
                        if is_marker(event, index):
                            break
                        if isinstance(event, WIRE_EVENTS):
                            got.append(event)
                    else:
                        pytest.fail("the session ended before the marker")
                    assert got == expected_events(frame)
                    for event in got:
                        if isinstance(event, MalformedFrame):
                            assert len(event.preview) <= 160
                            COUNTS[f"reader: {kind} (malformed)"] += 1
                        else:
                            COUNTS[f"reader: {kind} (decoded)"] += 1
        assert session.error is None
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("data", ["!!!!", "AB!@CD==", "====", "AAAA AAAA"])
async def test_base64_outside_both_alphabets_is_a_malformed_frame(
    nursery: trio.Nursery, data: str
) -> None:
    part = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": data}}
    frame = json.dumps({"serverContent": {"modelTurn": {"parts": [part]}}})

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send_raw(frame.encode())
        await conn.send(marker(0))
        await default_model(conn)

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, options=NO_RECONNECT, **session_kwargs(emulator)) as s:
        await s.send_realtime_input(text="go")
        await s.events.receive()  # setupComplete
        event = await s.events.receive()
    assert isinstance(event, MalformedFrame), event
    assert "base64" in event.error


# ----------------------------------------------------------------------------- oversized


async def test_a_frame_between_1_and_16_mib_is_decoded(nursery: trio.Nursery) -> None:
    pcm = bytes(range(256)) * (6 * 2**20 // 256)  # 6 MiB of audio: 8 MiB of base64
    frame = w.dumps(
        w.encode_server_event(
            ServerContent(
                model_turn=Content(parts=[Part(inline_data=Blob(mime_type="audio/pcm", data=pcm))])
            )
        )
    ).encode()
    assert 2**20 < len(frame) < MAX_MESSAGE_SIZE

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send_raw(frame)
        await default_model(conn)

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, options=NO_RECONNECT, **session_kwargs(emulator)) as s:
        await s.send_text("big")
        await s.events.receive()  # setupComplete
        event = await s.events.receive()
        assert isinstance(event, ServerContent) and event.audio == pcm
    COUNTS["oversized: 8 MiB"] += 1


def _too_big() -> bytes:
    return (
        b'{"serverContent": {"outputTranscription": {"text": "' + b"a" * MAX_MESSAGE_SIZE + b'"}}}'
    )


async def test_a_frame_over_16_mib_ends_the_connection_with_1009(nursery: trio.Nursery) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            await conn.send(ServerContent(turn_complete=True))
            await conn.send_raw(_too_big())
            while True:
                await conn.receive()
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    seen = []
    with pytest.raises(ConnectionLost) as caught:
        async with open_live_session(
            MODEL, options=NO_RECONNECT, **session_kwargs(emulator)
        ) as session:
            await session.send_text("hi")
            async for event in session.events:
                seen.append(event)
    assert caught.value.code == 1009
    assert "Exceeded maximum message size" in caught.value.reason
    assert caught.value.retryable  # the next frame may well be fine
    assert any(isinstance(e, ServerContent) and e.turn_complete for e in seen)  # nothing lost
    assert emulator.connections[0].closed_with[0] == 1009  # type: ignore[index]
    COUNTS["oversized: 16 MiB + 70 B"] += 1


async def test_a_frame_over_16_mib_costs_one_reconnect(nursery: trio.Nursery) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            await conn.receive()
            if len(emulator.connections) == 1:
                await conn.send_raw(_too_big())
            await default_model(conn)
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        await session.send_text("hi")
        with trio.fail_after(10):
            reconnecting = [e async for e in _until(session.events, Reconnected)]
    assert any(isinstance(e, Reconnecting) and "1009" in e.reason for e in reconnecting)
    assert session.error is None
    assert [c.closed_with[0] for c in emulator.connections] == [1009, 1000]  # type: ignore[index]
    COUNTS["oversized: 16 MiB + 70 B"] += 1


async def _until(events: Any, kind: type) -> Any:
    async for event in events:
        yield event
        if isinstance(event, kind):
            return


# ----------------------------------------------------------------------------- the emulator

SETUP = {"setup": {"model": f"models/{MODEL}"}}
FULL_SETUP = {
    "setup": {
        "model": f"models/{MODEL}",
        "generationConfig": {"responseModalities": ["AUDIO"], "temperature": 0.6, "topK": 40},
        "systemInstruction": {"role": "user", "parts": [{"text": "Be terse."}]},
        "realtimeInputConfig": {"automaticActivityDetection": {"disabled": False}},
        "sessionResumption": {},
        "inputAudioTranscription": {},
    }
}
valid_client_frames = client_messages.filter(lambda m: type(m).__name__ != "Setup").map(
    w.encode_client_message
)


@st.composite
def snake_cased(draw: st.DrawFn, frames: st.SearchStrategy[Any]) -> str:
    """A valid frame with keys in the official SDK's snake_case (still valid)."""

    def snake(value: Any) -> Any:
        if isinstance(value, dict):
            return {_to_snake(k): snake(v) for k, v in value.items()}
        if isinstance(value, list):
            return [snake(v) for v in value]
        return value

    return json.dumps(snake(draw(frames)))


def _to_snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


hostile_client_frames = st.one_of(
    st.tuples(st.just("arbitrary json"), json_values.map(json.dumps)),
    st.tuples(
        st.just("wrong types"),
        st.builds(
            lambda key, value: json.dumps({key: value}),
            st.sampled_from(["clientContent", "realtime_input", "toolResponse", "setup"]),
            json_values,
        ),
    ),
    st.tuples(st.just("mutated"), mutated(valid_client_frames)),
    st.tuples(st.just("truncated"), truncated(valid_client_frames)),
    st.tuples(st.just("snake_case"), snake_cased(valid_client_frames)),
    st.tuples(st.just("random bytes"), st.binary(max_size=64)),
    st.tuples(st.just("valid"), valid_client_frames.map(w.dumps)),
)
hostile_setups = st.one_of(
    st.tuples(st.just("setup: mutated"), mutated(st.just(FULL_SETUP))),
    st.tuples(st.just("setup: truncated"), truncated(st.just(FULL_SETUP))),
    st.tuples(st.just("setup: arbitrary json"), json_values.map(json.dumps)),
    st.tuples(st.just("setup: valid"), st.just(json.dumps(FULL_SETUP))),
)


def undecodable(frames: list[str | bytes]) -> bool:
    """Whether the server-role parser refuses one of ``frames`` (sent after a valid setup)."""
    server = LiveProtocol(Role.SERVER)
    server.receive(json.dumps(SETUP))
    for frame in frames:
        try:
            server.receive(frame)
        except ProtocolError:
            return True
    return False


@SOCKET_FUZZ
@given(setup=hostile_setups, frames=st.lists(hostile_client_frames, max_size=5))
async def test_the_emulator_answers_hostile_clients_like_the_service(
    setup: tuple[str, str], frames: list[tuple[str, str | bytes]]
) -> None:
    async with trio.open_nursery() as nursery:  # an emulator crash fails the test here
        emulator = await start_emulator(nursery)
        url = f"{emulator.base_url}/ws/google.ai.generativelanguage.v1beta.GenerativeService"
        url += ".BidiGenerateContent"
        async with open_websocket(url, [("x-goog-api-key", emulator.api_key)], safe_url=url) as ws:
            try:
                await ws.send(setup[1])
                COUNTS[setup[0]] += 1
                for kind, frame in frames:
                    await ws.send(frame)
                    COUNTS[f"emulator: {kind}"] += 1
            except TransportClosed:
                pass
            # wait until the emulator has read everything (or closed), then leave with 1000
            (conn,) = await emulator.wait_for_connections(1)
            with trio.fail_after(5):
                while conn.closed_with is None and len(conn.received) < len(frames):  # noqa: ASYNC110
                    await trio.sleep(0.001)
        with trio.fail_after(5):
            while conn.closed_with is None:  # noqa: ASYNC110
                await trio.sleep(0.001)
        code, reason = conn.closed_with
        if not _setup_decodes(setup[1]):
            assert code == 1007, (code, reason)
        elif conn.has_setup and conn.received == [] and code != 1000:
            # refused at setup, with the service's codes: unknown field or v1alpha-only field
            # (1007), unknown model (1008), a modality the model lacks (1011)
            assert code in (1007, 1008, 1011), (code, reason)
        elif undecodable([f for _, f in frames]):
            assert code == 1007, (code, reason)
        else:
            # valid frames: kept open, or closed 1007 for a broken rule (wire-protocol.md §4.5)
            assert code in (1000, 1007), (code, reason)
        nursery.cancel_scope.cancel()


def _setup_decodes(frame: str) -> bool:
    try:
        (message,) = LiveProtocol(Role.SERVER).receive(frame)
    except ProtocolError:
        return False
    return type(message).__name__ == "Setup"
