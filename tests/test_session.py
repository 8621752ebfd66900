"""Session tests: the client against the emulator over real loopback WebSockets."""

import logging
import math

import pytest
import trio
from _helpers import (
    MODEL,
    REALTIME_TEXT_MODEL,
    all_tasks,
    collect_turn,
    session_kwargs,
    start_emulator,
)

from gemini_live_trio import (
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    Blob,
    ClientContent,
    ConfigError,
    ConnectError,
    ConnectionLost,
    ConnectTimeout,
    Content,
    EventsDropped,
    InvalidArgument,
    LiveConfig,
    MalformedFrame,
    Part,
    PolicyViolation,
    QuotaExceeded,
    RealtimeInput,
    RealtimeInputConfig,
    ReconnectPolicy,
    RetryAdvice,
    ServerContent,
    SessionOptions,
    SetupComplete,
    SetupTimeout,
    UsageError,
    UsageMetadata,
    open_live_session,
)
from gemini_live_trio._transport import serve_websocket
from gemini_live_trio.testing import (
    ClientGone,
    Close,
    Drop,
    Emulator,
    EmulatorConnection,
    Expect,
    Send,
    script,
    tone_pcm,
)

#: For tests of how a connection ends: no automatic reconnect.
NO_RECONNECT = SessionOptions(reconnect=ReconnectPolicy.off())


def _closing_server(then: object) -> object:
    """A raw WebSocket handler: accept, read setup, then run ``then`` (closes the socket)."""

    class _Conn:
        def __init__(self, raw: object) -> None:
            self.raw = raw

        async def close(self, code: int, reason: str) -> None:
            await self.raw.aclose(code, reason)  # type: ignore[attr-defined]

    async def handler(raw: object) -> None:
        await raw.accept()  # type: ignore[attr-defined]
        await raw.receive()  # type: ignore[attr-defined]
        await then(_Conn(raw))  # type: ignore[operator]

    return handler


TRANSCRIBED = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    input_audio_transcription=AudioTranscriptionConfig(),
)


async def test_text_turn_audio_transcription_and_usage(emulator: Emulator) -> None:
    async with open_live_session(MODEL, config=TRANSCRIBED, **session_kwargs(emulator)) as session:
        assert session.session_id
        await session.send_text("hello there")
        events = await collect_turn(session.events)
        # usage travels in the same frame as turnComplete, so it follows it
        usage = await session.events.receive()

    assert isinstance(events[0], SetupComplete)
    assert events[0].session_id == session.session_id
    content = [e for e in events if isinstance(e, ServerContent)]
    audio = b"".join(e.audio for e in content)
    words = "".join(e.output_transcription_text or "" for e in content)
    assert words.split() == "You said: hello there".split()
    assert len(audio) > 0 and len(audio) % 2 == 0
    # real PCM: the tone the emulator promises, byte for byte
    assert audio == tone_pcm(len(audio) / 48_000)
    assert any(e.generation_complete for e in content)
    assert content[-1].turn_complete
    assert isinstance(usage, UsageMetadata) and usage.response_token_count
    sent = emulator.connections[0].received
    assert isinstance(sent[0], ClientContent) and sent[0].turn_complete


async def test_send_text_uses_realtime_input_for_realtime_text_models(emulator: Emulator) -> None:
    async with open_live_session(REALTIME_TEXT_MODEL, **session_kwargs(emulator)) as session:
        await session.send_text("hi")
        await collect_turn(session.events)
        with pytest.raises(UsageError, match=r"realtimeInput\.text"):
            await session.send_text("hi", turn_complete=False)
    (message, *_) = emulator.connections[0].received
    assert message == RealtimeInput(text="hi")


async def test_audio_in_gets_input_transcription(emulator: Emulator) -> None:
    pcm = b"\x01\x00" * 1600  # 100 ms at 16 kHz
    async with open_live_session(MODEL, config=TRANSCRIBED, **session_kwargs(emulator)) as session:
        for _ in range(3):
            await session.send_realtime_input(audio=pcm)
        await session.send_realtime_input(audio_stream_end=True)
        events = await collect_turn(session.events)
    heard = [e.input_transcription_text for e in events if isinstance(e, ServerContent)]
    assert "<300 ms of audio>" in heard
    received = emulator.connections[0].received
    assert [m.audio.data for m in received[:3] if m.audio] == [pcm] * 3  # type: ignore[attr-defined]


async def test_manual_activity_signals(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(nursery)
    manual = LiveConfig(
        realtime_input_config=RealtimeInputConfig(
            automatic_activity_detection=AutomaticActivityDetection(disabled=True)
        )
    )
    async with open_live_session(MODEL, config=manual, **session_kwargs(emulator)) as session:
        await session.send_realtime_input(activity_start=True)
        await session.send_realtime_input(audio=b"\0\0" * 320)
        await session.send_realtime_input(activity_end=True)
        events = await collect_turn(session.events)
        with pytest.raises(UsageError, match="automatic activity detection"):
            await session.send_realtime_input(audio_stream_end=True)
    assert any(isinstance(e, ServerContent) and e.audio for e in events)


async def test_realtime_input_takes_exactly_one_field(emulator: Emulator) -> None:
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        with pytest.raises(UsageError, match="exactly one"):
            await session.send_realtime_input(audio=b"\0\0", text="x")
        with pytest.raises(UsageError, match="exactly one"):
            await session.send_realtime_input()
        with pytest.raises(UsageError, match="disabled"):
            await session.send_realtime_input(activity_start=True)
    assert emulator.connections[0].received == []


@pytest.mark.parametrize(
    ("code", "reason", "error", "retry"),
    [
        (1007, "Request contains an invalid argument.", InvalidArgument, RetryAdvice.NEVER),
        (
            1008,
            "Operation is not implemented, or supported, or enabled.",
            PolicyViolation,
            RetryAdvice.NEVER,
        ),
        (1011, "Resource exhausted: quota exceeded.", QuotaExceeded, RetryAdvice.BACKOFF),
        (1011, "Internal error encountered.", ConnectionLost, RetryAdvice.RECONNECT),
        (1000, None, ConnectionLost, RetryAdvice.RECONNECT),
    ],
)
async def test_close_codes_become_typed_errors_after_the_last_event(
    nursery: trio.Nursery, code: int, reason: str | None, error: type, retry: RetryAdvice
) -> None:
    emulator = await start_emulator(
        nursery,
        behaviour=script(
            Expect(ClientContent), Send(ServerContent(turn_complete=True)), Close(code, reason)
        ),
    )
    seen = []
    with pytest.raises(error) as caught:
        async with open_live_session(
            MODEL, options=NO_RECONNECT, **session_kwargs(emulator)
        ) as session:
            await session.send_text("hi")
            async for event in session.events:  # ends when the connection ends
                seen.append(event)
    assert caught.value.code == code
    assert caught.value.reason == (reason or "")
    assert caught.value.retry is retry
    assert not caught.value.during_setup
    content = [e for e in seen if isinstance(e, ServerContent)]
    assert content[-1].turn_complete  # nothing lost before the close


async def test_abrupt_drop_is_1006_connection_lost(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(nursery, behaviour=script(Expect(ClientContent), Drop()))
    with pytest.raises(ConnectionLost) as caught:
        async with open_live_session(
            MODEL, options=NO_RECONNECT, **session_kwargs(emulator)
        ) as session:
            await session.send_text("hi")
            async for _ in session.events:
                pass
    assert caught.value.code == 1006
    assert caught.value.retryable


async def test_send_after_close_raises_the_close_reason(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(
        nursery, behaviour=script(Close(1011, "Internal error encountered."))
    )
    with pytest.raises(ConnectionLost):
        async with open_live_session(
            MODEL, options=NO_RECONNECT, **session_kwargs(emulator)
        ) as session:
            async for _ in session.events:
                pass
            with pytest.raises(ConnectionLost, match="1011"):
                await session.send_text("too late")


async def test_bad_key_fails_during_setup_without_leaking_it(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "AIzaSyTHIS-IS-NOT-A-REAL-KEY-0123456789"
    with pytest.raises(PolicyViolation) as caught:
        async with open_live_session(MODEL, api_key=secret, base_url=emulator.base_url):
            pytest.fail("setup must not succeed")
    assert caught.value.during_setup
    assert "API key not valid" in str(caught.value)
    text = str(caught.value) + repr(caught.value) + caplog.text
    assert secret not in text


async def test_unknown_model_fails_during_setup(emulator: Emulator) -> None:
    with pytest.raises(PolicyViolation, match=r"models/gemini-0\.0-nope is not found"):
        async with open_live_session("gemini-0.0-nope", **session_kwargs(emulator)):
            pytest.fail("setup must not succeed")


async def test_v1alpha_only_field_on_v1beta_is_refused_before_connecting(
    emulator: Emulator,
) -> None:
    from gemini_live_trio import ProactivityConfig

    config = LiveConfig(proactivity=ProactivityConfig(proactive_audio=True))
    with pytest.raises(ConfigError, match="v1alpha"):
        async with open_live_session(MODEL, config=config, **session_kwargs(emulator)):
            pytest.fail("must not connect")
    assert emulator.connections == []
    async with open_live_session(
        MODEL, config=config, api_version="v1alpha", **session_kwargs(emulator)
    ) as session:
        assert session.session_id


async def test_unknown_setup_field_close_names_the_fix(nursery: trio.Nursery) -> None:
    """A 1007 "Unknown name" close during setup (the server's answer to a field this API
    version lacks) becomes InvalidArgument with a hint."""

    async def refuse(conn: EmulatorConnection) -> None:
        await conn.close(
            1007,
            "Invalid JSON payload received. Unknown name \"newField\" at 'setup': "
            "Cannot find field.",
        )

    port = await nursery.start(serve_websocket, _closing_server(refuse), "127.0.0.1", 0)
    with pytest.raises(InvalidArgument, match="Unknown name") as caught:
        async with open_live_session(
            MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}", options=NO_RECONNECT
        ):
            pytest.fail("setup must not succeed")
    assert caught.value.during_setup
    assert "v1alpha" in str(caught.value)


async def test_connect_timeout_fires_when_the_upgrade_never_answers(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def silent(stream: trio.SocketStream) -> None:
        await trio.sleep_forever()

    listeners = await nursery.start(trio.serve_tcp, silent, 0)
    port = listeners[0].socket.getsockname()[1]
    start = trio.current_time()
    with trio.fail_after(60):
        with pytest.raises(ConnectTimeout, match="took longer than 3 s"):
            async with open_live_session(
                MODEL,
                api_key="test-key",
                base_url=f"ws://127.0.0.1:{port}",
                options=SessionOptions(connect_timeout=3),
            ):
                pytest.fail("must not connect")
    assert trio.current_time() - start == pytest.approx(3, abs=0.1)


async def test_setup_timeout_when_setup_complete_never_comes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def mute(conn: object) -> None:
        await conn.accept()  # type: ignore[attr-defined]
        await trio.sleep_forever()

    port = await nursery.start(serve_websocket, mute, "127.0.0.1", 0)
    with trio.fail_after(60), pytest.raises(SetupTimeout):
        async with open_live_session(
            MODEL,
            api_key="k",
            base_url=f"ws://127.0.0.1:{port}",
            options=SessionOptions(setup_timeout=5),
        ):
            pytest.fail("must not be set up")


async def test_connection_refused_is_connect_error() -> None:
    listener = trio.socket.socket()
    await listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()  # nothing listens there now
    with pytest.raises(ConnectError, match="could not connect"):
        async with open_live_session(MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}"):
            pytest.fail("must not connect")


async def listen_only(conn: EmulatorConnection) -> None:
    while True:
        await conn.receive()  # records into conn.received; ClientGone ends the behaviour


async def test_leaving_flushes_queued_messages_and_closes_1000(nursery: trio.Nursery) -> None:
    emulator = await start_emulator(nursery, behaviour=listen_only)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        for i in range(20):
            await session.send_realtime_input(text=f"line {i}")
    conn = emulator.connections[0]
    with trio.fail_after(5):
        while conn.closed_with is None:  # noqa: ASYNC110 - polling a plain attribute
            await trio.sleep(0.01)
    assert [m.text for m in conn.received] == [f"line {i}" for i in range(20)]  # type: ignore[attr-defined]
    assert conn.closed_with[0] == 1000


async def test_cancelled_from_outside_leaves_no_task_and_closes(emulator: Emulator) -> None:
    before = all_tasks()
    with trio.move_on_after(0.5) as scope:
        async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
            await session.send_text("hi")
            async for _ in session.events:
                pass
    assert scope.cancelled_caught
    with trio.fail_after(5):  # the emulator's side of the connection may take a moment more
        while all_tasks() != before:  # noqa: ASYNC110 - polling a plain count
            await trio.sleep(0.01)
    assert session.closed
    conn = emulator.connections[0]
    with trio.fail_after(5):
        while conn.closed_with is None:  # noqa: ASYNC110 - polling a plain attribute
            await trio.sleep(0.01)
    assert conn.closed_with[0] == 1000


async def test_user_exception_comes_out_unwrapped(emulator: Emulator) -> None:
    class Mine(Exception):
        pass

    with pytest.raises(Mine):
        async with open_live_session(MODEL, **session_kwargs(emulator)):
            raise Mine
    assert len(emulator.connections) == 1


async def test_malformed_server_frame_is_an_event_and_the_session_goes_on(
    nursery: trio.Nursery,
) -> None:
    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        await conn.send_raw(b"{not json")
        await conn.send_raw(b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": 5}]}}}')
        await conn.reply_to_text("still here")

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        await session.send_text("go")
        events = await collect_turn(session.events)
    bad = [e for e in events if isinstance(e, MalformedFrame)]
    assert len(bad) == 2
    assert "not valid JSON" in bad[0].error
    assert "serverContent" in bad[1].error
    assert events[-1].turn_complete  # type: ignore[attr-defined]


async def test_slow_consumer_drops_only_stale_audio_and_says_so(nursery: trio.Nursery) -> None:
    frames = 400
    flooded = trio.Event()

    async def behaviour(conn: EmulatorConnection) -> None:
        await conn.receive()
        chunk = tone_pcm(0.04)
        for i in range(frames):
            part = Part(inline_data=Blob(mime_type="audio/pcm;rate=24000", data=chunk))
            await conn.send(ServerContent(model_turn=Content(parts=[part])))
            if i == frames // 2:
                await conn.send(ServerContent(generation_complete=True))
        await conn.send(ServerContent(turn_complete=True))
        flooded.set()
        try:
            while True:
                await conn.reply_to_text((await conn.receive()).text)  # type: ignore[attr-defined]
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=behaviour)
    options = SessionOptions(event_buffer=8, max_buffered_audio=1.0)
    async with open_live_session(MODEL, options=options, **session_kwargs(emulator)) as session:
        await session.send_realtime_input(text="flood me")
        await flooded.wait()  # the application reads nothing while 16 s of audio arrive
        await trio.sleep(0.2)
        events = await collect_turn(session.events)
        audio = [e for e in events if isinstance(e, ServerContent) and e.audio]
        dropped = [e for e in events if isinstance(e, EventsDropped)]
        assert dropped, "the drop must be reported"
        assert len(audio) + sum(d.count for d in dropped) == frames
        assert sum(d.audio_bytes for d in dropped) == 1920 * sum(d.count for d in dropped)
        assert any(isinstance(e, ServerContent) and e.generation_complete for e in events)
        # buffered audio never exceeds the limit (1 s of 24 kHz audio = 48,000 bytes)
        assert len(audio) * 1920 <= 48_000 + 1920 * (8 + 2)
        # the connection survived the flood: the next turn works
        await session.send_realtime_input(text="still there?")
        reply = await collect_turn(session.events)
        assert reply[-1].turn_complete  # type: ignore[attr-defined]


async def test_config_errors_before_any_socket(emulator: Emulator) -> None:
    with pytest.raises(ConfigError, match="exactly one response modality"):
        async with open_live_session(
            MODEL,
            config=LiveConfig(response_modalities=["AUDIO", "TEXT"]),
            **session_kwargs(emulator),
        ):
            pass
    with pytest.raises(ConfigError, match="no credentials"):
        async with open_live_session(MODEL, base_url=emulator.base_url):
            pass
    with pytest.raises(ConfigError, match="unencrypted"):
        async with open_live_session(MODEL, api_key="k", base_url="ws://example.com"):
            pass
    assert emulator.connections == []


async def test_api_key_from_environment(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", emulator.api_key)
    async with open_live_session(MODEL, base_url=emulator.base_url) as session:
        assert session.session_id
    assert emulator.connections[0].credential == emulator.api_key


async def test_repr_and_logs_hold_no_secret(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        await session.send_text("hi")
        await collect_turn(session.events)
        text = repr(session) + repr(session._endpoint) + caplog.text
    assert emulator.api_key not in text


async def test_outgoing_channel_accepts_raw_messages(emulator: Emulator) -> None:
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        await session.outgoing.send(RealtimeInput(text="direct"))
        events = await collect_turn(session.events)
    assert events[-1].turn_complete  # type: ignore[attr-defined]
    assert emulator.connections[0].received[0] == RealtimeInput(text="direct")


def test_event_buffer_default_is_documented() -> None:
    options = SessionOptions()
    assert options.event_buffer == 512
    assert options.max_buffered_audio == 60.0
    assert math.isfinite(options.connect_timeout)


async def test_direct_sends_and_queued_sends_keep_their_order(nursery: trio.Nursery) -> None:
    """``send()`` writes from the caller's task when nothing is queued; mixing it with the
    ``outgoing`` channel must never reorder one task's messages."""
    emulator = await start_emulator(nursery, behaviour=listen_only)
    texts = [f"m{i}" for i in range(300)]
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        for i, text in enumerate(texts):
            if i % 3 == 0:
                await session.outgoing.send(RealtimeInput(text=text))
            else:
                await session.send_realtime_input(text=text)
    conn = emulator.connections[0]
    with trio.fail_after(5):
        while len(conn.received) < len(texts):  # noqa: ASYNC110 - polling a plain list
            await trio.sleep(0.01)
    assert [m.text for m in conn.received] == texts  # type: ignore[attr-defined]


async def test_a_direct_send_cancelled_mid_frame_gives_up_the_connection_not_the_data(
    nursery: trio.Nursery,
) -> None:
    """Cancelling a send that may have written half a frame must not corrupt the stream: the
    connection is dropped (never a 1007 on the server) and the session reconnects."""
    listening = trio.Event()

    async def deaf_then_listening(conn: EmulatorConnection) -> None:
        if len(emulator.connections) == 1:
            await listening.wait()
        try:
            while True:
                await conn.receive()
        except ClientGone:
            pass

    emulator = await start_emulator(nursery, behaviour=deaf_then_listening)
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        with trio.move_on_after(0.3):
            while True:  # the socket backs up; the send in progress is then cancelled
                await session.send_realtime_input(audio=b"\0" * 32_000)
        reconnected = await collect_turn(
            session.events, until=lambda e: type(e).__name__ == "Reconnected"
        )
        listening.set()
        await session.send_realtime_input(text="after")
    first, second = emulator.connections[:2]
    with trio.fail_after(5):
        while first.closed_with is None or not second.received:  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert first.closed_with[0] == 1006  # dropped, never a half frame followed by more
    assert reconnected[-1].resumed is False or reconnected[-1].resumed is True


async def test_the_bodys_own_exception_group_comes_out_unchanged(emulator: Emulator) -> None:
    """Two failures in the user's own nursery are the user's group, not an InternalError."""

    async def fail(message: str) -> None:
        raise ValueError(message)

    with pytest.raises(ExceptionGroup) as caught:
        async with open_live_session(MODEL, **session_kwargs(emulator)):
            async with trio.open_nursery() as mine:
                mine.start_soon(fail, "a")
                mine.start_soon(fail, "b")
    assert sorted(str(e) for e in caught.value.exceptions) == ["a", "b"]


async def test_a_send_once_aclose_has_begun_fails(emulator: Emulator) -> None:
    """From the moment ``aclose`` closes ``outgoing``, no message is written, directly or not."""
    from gemini_live_trio import UsageError

    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(session.aclose)
            while session._accepting:  # until aclose has closed outgoing (it then flushes)
                await trio.lowlevel.checkpoint()
            with pytest.raises(UsageError, match="closed"):
                await session.send_text("too late")
    assert emulator.connections[0].received == []
