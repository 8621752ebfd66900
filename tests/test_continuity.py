"""Continuity (issue 4): one ``open_live_session`` is one conversation across connections.

Resumption handles, the ``goAway`` handover, automatic reconnects with backoff and limits,
replay of what the server did not consume, keepalive, and tool calls at a switch; all against
the emulator over loopback. Timed tests request ``autojump_clock`` and put a trio-clock
``fail_after`` around their waits, so a hang fails fast in virtual time.
"""

import itertools
import json
import math
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, TypeVar

import pytest
import trio
import trio.testing
from _helpers import MODEL, session_kwargs, start_emulator
from wsproto import ConnectionType, WSConnection
from wsproto.events import AcceptConnection, BytesMessage, CloseConnection, Request, TextMessage

from gemini_live_trio import (
    AudioTranscriptionConfig,
    Blob,
    ClientContent,
    ClientMessage,
    ConnectionLost,
    Content,
    ContextWindowCompressionConfig,
    FunctionCall,
    FunctionDeclaration,
    FunctionResponse,
    GoAway,
    InvalidArgument,
    LiveConfig,
    LiveSession,
    PolicyViolation,
    QuotaExceeded,
    RealtimeInput,
    Reconnected,
    Reconnecting,
    ReconnectPolicy,
    ServerContent,
    ServerEvent,
    SessionClosed,
    SessionOptions,
    SessionResumptionUpdate,
    SlidingWindow,
    ToolCall,
    ToolCallFinished,
    ToolResponse,
    Transcription,
    open_live_session,
)
from gemini_live_trio._wire import encode_client_message
from gemini_live_trio.testing import (
    INVALID_HANDLE,
    Behaviour,
    Close,
    Drop,
    Emulator,
    EmulatorConnection,
    Expect,
    Reply,
    ResumptionUpdate,
    Send,
    SendGoAway,
    Sleep,
    Stall,
    Step,
    default_model,
    per_connection,
    script,
)

#: Audio answers with their words as output transcription (so tests can read them).
CONFIG = LiveConfig(
    response_modalities=["AUDIO"], output_audio_transcription=AudioTranscriptionConfig()
)
INTERNAL = "Internal error encountered."
QUOTA = "RESOURCE_EXHAUSTED: quota exceeded for this project."
#: Virtual seconds any single test may take before it counts as hung.
PATIENCE = 600

E = TypeVar("E", bound=ServerEvent)


def options(**policy: Any) -> SessionOptions:
    return SessionOptions(reconnect=ReconnectPolicy(**policy))


def wire(messages: Sequence[ClientMessage]) -> list[dict[str, Any]]:
    """Messages in their wire form, so sent and received ones compare equal."""
    return [encode_client_message(m) for m in messages]


def audio(n: int, seconds: float = 0.5) -> RealtimeInput:
    """``seconds`` of 16 kHz s16le audio whose bytes say which chunk it is."""
    return RealtimeInput(
        audio=Blob(mime_type="audio/pcm;rate=16000", data=bytes([n]) * int(32_000 * seconds))
    )


def text_turn(text: str, *, turn_complete: bool = True) -> ClientContent:
    return ClientContent(turns=[Content.user(text)], turn_complete=turn_complete)


async def until(
    session: LiveSession, kind: type[E], check: Callable[[E], bool] = lambda e: True
) -> tuple[E, list[ServerEvent]]:
    """Read events up to the first ``kind`` that passes ``check``: (it, everything read)."""
    seen: list[ServerEvent] = []
    with trio.fail_after(PATIENCE):
        async for event in session.events:
            seen.append(event)
            if isinstance(event, kind) and check(event):
                return event, seen
    raise AssertionError(f"the events ended before a {kind.__name__}: {seen}")


async def both(session: LiveSession, *kinds: type[ServerEvent]) -> list[ServerEvent]:
    """Read events until one of each of ``kinds`` was seen, in whatever order."""
    seen: list[ServerEvent] = []
    while not all(any(isinstance(e, k) for e in seen) for k in kinds):
        _, more = await until(session, ServerEvent, lambda e: isinstance(e, kinds))
        seen += more
    return seen


async def answer(session: LiveSession) -> str:
    """The words of the next model turn (its output transcription)."""
    _, seen = await until(session, ServerContent, lambda e: bool(e.turn_complete))
    return "".join(
        e.output_transcription_text or "" for e in seen if isinstance(e, ServerContent)
    ).strip()


async def resumable(session: LiveSession) -> SessionResumptionUpdate:
    """The next resumable handle update."""
    update, _ = await until(session, SessionResumptionUpdate, lambda e: bool(e.resumable))
    return update


async def tell_name(session: LiveSession) -> None:
    """First turn of most tests: the server learns a name and issues a handle for it."""
    await session.send_text("my name is Alice")
    assert await answer(session) == "Nice to meet you, Alice."
    await resumable(session)


async def ask_name(session: LiveSession) -> str:
    await session.send_text("what's my name?")
    return await answer(session)


def drops_after_first_turn(*then: Step) -> Behaviour:
    """Connection 1 answers one text turn (issuing a handle), then does ``then``; later
    connections are the default model."""
    return per_connection(script(Expect(ClientContent), Reply(), *then))


# --------------------------------------------------------------------------- resumption


async def test_resumption_handle_tracks_the_newest_resumable_handle(
    nursery: trio.Nursery,
) -> None:
    behaviour = drops_after_first_turn(ResumptionUpdate(resumable=False))
    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        assert session.resumption_handle is None
        await session.send_text("my name is Alice")
        _, turn = await until(session, ServerContent, lambda e: bool(e.turn_complete))
        # during generation: an update without a handle
        (busy,) = [e for e in turn if isinstance(e, SessionResumptionUpdate)]
        assert busy.resumable is False and busy.new_handle is None
        first = await resumable(session)
        (conn,) = emulator.connections
        assert first.new_handle == conn.handles[0] == session.resumption_handle
        # a later "not resumable" update leaves the newest resumable handle in place
        await until(session, SessionResumptionUpdate, lambda e: e.resumable is False)
        await trio.testing.wait_all_tasks_blocked()
        assert session.resumption_handle == first.new_handle
        await session.send_text("hello again")
        await answer(session)
        second = await resumable(session)
        assert second.new_handle == conn.handles[1] == session.resumption_handle
        assert second.new_handle != first.new_handle
        # without lastConsumedClientMessageIndex, as on the Gemini API
        assert second.last_consumed_client_message_index is None
    # the session asked for handles although the config did not (reconnects need them)
    assert conn.setup.session_resumption is not None
    assert conn.setup.session_resumption.handle is None


async def test_resume_handle_continues_a_saved_conversation_with_a_changed_setup(
    nursery: trio.Nursery,
) -> None:
    emulator = await start_emulator(nursery, strict_handles=True)
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await tell_name(session)
        saved = session.resumption_handle
    assert saved is not None
    changed = LiveConfig(
        response_modalities=["AUDIO"],
        output_audio_transcription=AudioTranscriptionConfig(),
        system_instruction="Answer in one short sentence.",
    )
    kwargs = session_kwargs(emulator, resume_handle=saved)
    async with open_live_session(MODEL, config=changed, **kwargs) as session:
        assert session.resumption_handle == saved
        assert await ask_name(session) == "Your name is Alice."
    first, second = emulator.connections
    assert second.setup.session_resumption is not None
    assert second.setup.session_resumption.handle == saved
    assert second.resumed_from == saved
    assert second.setup.model == first.setup.model
    assert first.setup.system_instruction is None
    assert second.setup.system_instruction == Content.user("Answer in one short sentence.")


@pytest.mark.parametrize("strict", [False, True])
async def test_unknown_or_expired_handle(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, strict: bool
) -> None:
    """Lenient (default): a fresh conversation. Strict: 1008, and no retry of a first connect."""
    emulator = await start_emulator(nursery, strict_handles=strict, handle_lifetime=60)
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await tell_name(session)
        saved = session.resumption_handle
    await trio.sleep(61)  # the handle has expired
    for handle in (saved, "no-such-handle"):
        kwargs = session_kwargs(emulator, resume_handle=handle)
        if strict:
            with pytest.raises(PolicyViolation) as info:
                async with open_live_session(MODEL, config=CONFIG, **kwargs):
                    pass  # pragma: no cover
            assert info.value.reason == INVALID_HANDLE and info.value.during_setup
        else:
            async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
                assert await ask_name(session) == "I don't know your name yet."
    assert len(emulator.connections) == 3  # no retries
    assert not any(c.resumed for c in emulator.connections)


async def test_context_window_compression_reaches_every_setup(nursery: trio.Nursery) -> None:
    compression = ContextWindowCompressionConfig(
        trigger_tokens=25_600, sliding_window=SlidingWindow(target_tokens=12_800)
    )
    config = LiveConfig(response_modalities=["AUDIO"], context_window_compression=compression)
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Drop()))
    async with open_live_session(MODEL, config=config, **session_kwargs(emulator)) as session:
        await session.send_text("hi")
        await until(session, Reconnected)
    first, second = emulator.connections
    for conn in (first, second):
        assert conn.setup.context_window_compression == compression
        raw = conn.setup_json["setup"]["contextWindowCompression"]
        assert int(raw["triggerTokens"]) == 25_600
        assert int(raw["slidingWindow"]["targetTokens"]) == 12_800
    assert second.resumed


# --------------------------------------------------------------------------- goAway


async def test_goaway_mid_turn_hands_over_after_the_turn_before_the_deadline(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    first = script(
        Expect(ClientContent),  # my name is Alice
        Reply(),  # ... and a handle
        Expect(ClientContent),  # tell me a story
        Send(ServerContent(output_transcription=Transcription(text="Once "))),
        SendGoAway(60, code=1011, reason="Deadline expired"),  # mid-turn
        Sleep(5),
        Reply(),  # the rest of the turn, then a fresh handle: a quiet moment
    )
    emulator = await start_emulator(nursery, behaviour=per_connection(first))
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        events, outgoing = session.events, session.outgoing
        await tell_name(session)
        await session.send_text("tell me a story")
        done, seen = await until(session, Reconnected)
        kinds = [type(e) for e in seen]
        go_away = seen[kinds.index(GoAway)]
        assert isinstance(go_away, GoAway) and go_away.time_left is not None
        assert go_away.time_left.total_seconds() == 60
        turn_end = next(
            i for i, e in enumerate(seen) if isinstance(e, ServerContent) and e.turn_complete
        )
        handle = next(
            i for i, e in enumerate(seen) if isinstance(e, SessionResumptionUpdate) and e.resumable
        )
        start = kinds.index(Reconnecting)
        assert kinds.index(GoAway) < turn_end < handle < start
        reconnecting = seen[start]
        assert reconnecting == Reconnecting(attempt=1, delay=0.0, reason="goAway", planned=True)
        assert done.planned and done.resumed and done.attempts == 1
        assert (done.replayed, done.lost) == (0, 0)
        assert done.gap == pytest.approx(0, abs=0.01)
        # the conversation goes on over the same channels
        assert await ask_name(session) == "Your name is Alice."
        assert session.events is events and session.outgoing is outgoing
        assert session.reconnects == 1
    old, new = emulator.connections
    deadline = old.lifetime.deadline
    assert old.handles and new.resumed_from == old.handles[-1]
    assert new.setup.model == old.setup.model
    # opened after the turn (5 s after goAway), long before the deadline
    assert deadline - 60 + 5 <= new.accepted_at < deadline - 30
    # the client closed the old one politely, before the server's deadline close (1011)
    assert old.closed_with == (1000, None)
    assert old.closed_at is not None and old.closed_at < deadline
    assert wire(new.received)[:1] == wire([text_turn("what's my name?")])
    assert wire(new.history) == wire(
        [text_turn("my name is Alice"), text_turn("tell me a story"), text_turn("what's my name?")]
    )


async def test_goaway_before_the_first_handle_hands_over_once_one_arrives(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    first = script(
        Expect(ClientContent),
        Send(ServerContent(output_transcription=Transcription(text="Nice "))),
        SendGoAway(60, code=1011, reason="Deadline expired"),
        Sleep(5),
        Reply(),  # turnComplete and the session's first handle
    )
    emulator = await start_emulator(nursery, behaviour=per_connection(first))
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await session.send_text("my name is Alice")
        reconnecting, _ = await until(session, Reconnecting)
        done, _ = await until(session, Reconnected)
        assert await ask_name(session) == "Your name is Alice."
    old, _new = emulator.connections
    assert reconnecting.planned and done.planned and done.resumed
    assert old.closed_with == (1000, None)  # not the server's 1011 at the deadline


async def test_goaway_during_a_long_turn_hands_over_at_the_handover_fraction(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """No quiet moment before ``handover_at`` of ``timeLeft``: switch mid-turn; the answered
    text turn is not replayed (never answered twice) and counts as lost."""
    first = script(
        Expect(ClientContent),
        Reply(),
        Expect(ClientContent),
        Send(ServerContent(output_transcription=Transcription(text="Once "))),
        SendGoAway(10),
        Sleep(20),  # the turn would end after the deadline
        Reply(),
    )
    emulator = await start_emulator(nursery, behaviour=per_connection(first))
    kwargs = session_kwargs(emulator, options=options(handover_at=0.5))
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        await session.send_text("tell me a story")
        done, _ = await until(session, Reconnected)
        assert done.planned and done.resumed
        assert (done.replayed, done.lost) == (0, 1)
        assert await ask_name(session) == "Your name is Alice."
    old, new = emulator.connections
    assert new.accepted_at == pytest.approx(old.lifetime.deadline - 5)
    assert new.resumed_from == old.handles[0]
    assert old.closed_with == (1000, None)


async def test_a_handle_issued_during_the_handover_is_not_skipped(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    first = script(
        Expect(ClientContent),
        Reply(),  # H1
        Expect(ClientContent),  # tell me a story
        Send(ServerContent(output_transcription=Transcription(text="Once "))),
        SendGoAway(10),  # forced handover at 5 s (mid-turn)
        Sleep(6),
        Reply(),  # at 6 s: the turn ends on the old connection, H2 covers it
    )
    emulator = await start_emulator(nursery, behaviour=per_connection(first))
    kwargs = session_kwargs(emulator, options=options(handover_at=0.5))
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        emulator.setup_delay = 2.0  # the new connection is ready at 7 s
        await session.send_text("tell me a story")
        done, _ = await until(session, Reconnected)
        emulator.setup_delay = 0.0
        await session.send_text("what's my name?")
        await until(session, ServerContent, lambda e: bool(e.turn_complete))
    old, *_, last = emulator.connections
    assert len(old.handles) == 2
    # nothing missing from the conversation the server continues
    assert done.planned
    assert wire(last.history) == wire(
        [text_turn("my name is Alice"), text_turn("tell me a story"), text_turn("what's my name?")]
    )


async def test_goaway_deadline_closes_the_connection_without_handover_when_off(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(
        nursery,
        behaviour=drops_after_first_turn(SendGoAway(30, code=1011, reason="Deadline expired")),
    )
    kwargs = session_kwargs(emulator, options=SessionOptions(reconnect=ReconnectPolicy.off()))
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            await session.send_text("hi")
            await until(session, GoAway)
            sent_at = trio.current_time()
            with trio.fail_after(PATIENCE):
                async for _ in session.events:
                    pass
            assert trio.current_time() - sent_at == pytest.approx(30)
    assert (info.value.code, info.value.reason) == (1011, "Deadline expired")
    (conn,) = emulator.connections
    assert conn.closed_with == (1011, "Deadline expired")
    assert conn.setup.session_resumption is None  # off: not even handles


# --------------------------------------------------------------------------- reconnect


@pytest.mark.parametrize(
    ("inject", "code"),
    [(Drop(), 1006), (Close(1000), 1000), (Close(1011, INTERNAL), 1011)],
    ids=["drop-1006", "close-1000", "transient-1011"],
)
async def test_reconnects_after_a_reconnectable_close_and_resumes(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, inject: Step, code: int
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(inject))
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await tell_name(session)
        reconnecting, _ = await until(session, Reconnecting)
        done, _ = await until(session, Reconnected)
        assert await ask_name(session) == "Your name is Alice."
    assert (reconnecting.attempt, reconnecting.delay, reconnecting.planned) == (1, 0.0, False)
    assert f"code {code}" in reconnecting.reason
    assert done.resumed and not done.planned and done.attempts == 1
    assert done.gap == pytest.approx(0, abs=0.01)  # first retry is immediate
    old, new = emulator.connections
    assert new.resumed_from == old.handles[-1]
    assert session.reconnects == 1 and session.error is None


@pytest.mark.parametrize("jitter", [0.0, 0.5])
async def test_backoff_timing_follows_the_policy(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock, jitter: float
) -> None:
    policy = {"initial_delay": 1.0, "factor": 2.0, "max_delay": 5.0, "jitter": jitter}
    emulator = await start_emulator(
        nursery, behaviour=per_connection(script(Expect(ClientContent), Drop()))
    )
    kwargs = session_kwargs(emulator, options=options(**policy))
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        emulator.refuse_next(4)  # the service is down for 4 attempts
        await session.send_text("hi")
        done, seen = await until(session, Reconnected)
        # no handle yet: a fresh conversation, which gets the unanswered turn again
        assert await answer(session) == "You said: hi"
    assert not done.resumed and (done.replayed, done.lost) == (1, 0)
    delays = [e.delay for e in seen if isinstance(e, Reconnecting)]
    nominal = [1.0, 2.0, 4.0, 5.0]  # then capped at max_delay
    assert delays[0] == 0.0
    if jitter:
        assert all(n * (1 - jitter) <= d <= n for d, n in zip(delays[1:], nominal, strict=True))
    else:
        assert delays[1:] == nominal
    first, *attempts = emulator.connections
    assert len(attempts) == 5 and done.attempts == 5
    assert [a.closed_with for a in attempts[:4]] == [(1011, INTERNAL)] * 4
    # attempts really happened at those times
    assert first.closed_at is not None
    times = [first.closed_at] + [a.accepted_at for a in attempts]
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert gaps == pytest.approx(delays, abs=1e-6)
    assert done.gap == pytest.approx(sum(delays), abs=1e-6)


async def test_quota_close_backs_off_from_quota_delay_without_immediate_retry(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Close(1011, QUOTA)))
    kwargs = session_kwargs(emulator, options=options(quota_delay=5.0, jitter=0.0))
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        emulator.refuse_next(1, code=1011, reason=QUOTA)
        await tell_name(session)
        done, seen = await until(session, Reconnected)
        assert await ask_name(session) == "Your name is Alice."
    assert [e.delay for e in seen if isinstance(e, Reconnecting)] == [5.0, 10.0]
    first, refused, ok = emulator.connections
    assert first.closed_at is not None
    assert refused.accepted_at - first.closed_at == pytest.approx(5.0)
    assert ok.accepted_at - refused.accepted_at == pytest.approx(10.0)
    assert done.resumed and done.attempts == 2


async def test_gives_up_after_max_attempts_and_raises_the_last_error(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(
        nursery, behaviour=per_connection(script(Expect(ClientContent), Drop()))
    )
    kwargs = session_kwargs(emulator, options=options(max_attempts=3, jitter=0.0))
    seen: list[ServerEvent] = []
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            for n in (1, 2, 3):
                emulator.refuse_next(1, reason=f"Internal error encountered. ({n})")
            await session.send_text("hi")
            with trio.fail_after(PATIENCE):
                async for event in session.events:  # ends when the session gives up
                    seen.append(event)
            with pytest.raises(ConnectionLost):
                await session.send_text("anyone?")
    error = info.value
    assert error.code == 1011 and error.during_setup
    assert error.reason == "Internal error encountered. (3)"  # the last attempt's
    assert session.error is error
    assert [e.attempt for e in seen if isinstance(e, Reconnecting)] == [1, 2, 3]
    assert not any(isinstance(e, Reconnected) for e in seen)
    assert len(emulator.connections) == 4 and emulator.pending_refusals == 0


async def test_max_reconnects_limits_the_whole_session(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    # three connections drop at once; a fourth (a broken limit) would work, not loop forever
    emulator = await start_emulator(nursery, behaviour=per_connection(*[script(Drop())] * 3))
    kwargs = session_kwargs(emulator, options=options(max_reconnects=2))
    seen: list[ServerEvent] = []
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            with trio.fail_after(PATIENCE):
                async for event in session.events:
                    seen.append(event)
    assert info.value.code == 1006
    assert session.reconnects == 2
    assert sum(isinstance(e, Reconnected) for e in seen) == 2
    assert len(emulator.connections) == 3


@pytest.mark.parametrize(
    ("code", "reason", "error"),
    [
        (1007, "Request contains an invalid argument.", InvalidArgument),
        (1008, "Operation is not implemented, or supported, or enabled.", PolicyViolation),
    ],
)
async def test_fatal_closes_are_not_retried(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    code: int,
    reason: str,
    error: type[SessionClosed],
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Close(code, reason)))
    seen: list[ServerEvent] = []
    with pytest.raises(error) as info:
        async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
            await session.send_text("hi")
            with trio.fail_after(PATIENCE):
                async for event in session.events:
                    seen.append(event)
    assert (info.value.code, info.value.reason) == (code, reason)
    assert not any(isinstance(e, Reconnecting) for e in seen)
    assert len(emulator.connections) == 1


@pytest.mark.parametrize(("reason", "error"), [(INTERNAL, ConnectionLost), (QUOTA, QuotaExceeded)])
async def test_no_retry_when_the_first_connect_fails(
    nursery: trio.Nursery,
    autojump_clock: trio.testing.MockClock,
    reason: str,
    error: type[SessionClosed],
) -> None:
    emulator = await start_emulator(nursery)
    emulator.refuse_next(3, code=1011, reason=reason)
    with pytest.raises(error) as info:
        async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)):
            pass  # pragma: no cover
    assert info.value.during_setup and info.value.retryable
    assert len(emulator.connections) == 1 and emulator.pending_refusals == 2


async def test_a_fatal_close_while_reconnecting_ends_the_session(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The handle expired before the reconnect; a strict server closes 1008: no more tries."""
    emulator = await start_emulator(
        nursery,
        behaviour=drops_after_first_turn(Sleep(61), Drop()),
        strict_handles=True,
        handle_lifetime=60,
    )
    with pytest.raises(PolicyViolation) as info:
        async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
            await tell_name(session)
            with trio.fail_after(PATIENCE):
                async for _ in session.events:
                    pass
    assert info.value.reason == INVALID_HANDLE
    _first, refused = emulator.connections
    assert refused.closed_with == (1008, INVALID_HANDLE)


async def test_policy_off_turns_reconnecting_off(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Drop()))
    kwargs = session_kwargs(emulator, options=SessionOptions(reconnect=ReconnectPolicy.off()))
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            await session.send_text("hi")
            with trio.fail_after(PATIENCE):
                async for event in session.events:
                    assert not isinstance(event, Reconnecting)
    assert info.value.code == 1006
    assert len(emulator.connections) == 1


# --------------------------------------------------------------------------- nothing lost


async def test_messages_sent_while_reconnecting_arrive_after_the_switch_once_in_order(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Drop()))
    kwargs = session_kwargs(emulator, options=options(jitter=0.0, initial_delay=1.0))
    queued = [
        text_turn("part one", turn_complete=False),
        audio(1),
        text_turn("part two", turn_complete=False),
        audio(2),
        RealtimeInput(audio_stream_end=True),
        text_turn("what's my name?"),
    ]
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        emulator.refuse_next(1)  # the second attempt, 1 s later, succeeds
        await tell_name(session)
        await until(session, Reconnecting, lambda e: e.attempt == 2)
        for message in queued:  # no connection right now: they wait, in order
            await session.send(message)
        done, _ = await until(session, Reconnected)
        # the audio turn is answered first, then the text
        assert await answer(session) == "You said: <1000 ms of audio>"
        assert await answer(session) == "Your name is Alice."
    assert (done.replayed, done.lost, done.attempts) == (0, 0, 2)
    _first, _refused, last = emulator.connections
    assert wire(last.received) == wire(queued)
    assert wire(last.history) == wire([text_turn("my name is Alice"), *queued])


async def test_exact_replay_with_the_consumed_index(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The server says which messages the handle holds; the rest is replayed exactly once."""
    first = script(
        Expect(ClientContent),
        Reply(),  # handle at lastConsumedClientMessageIndex 1
        Expect(RealtimeInput),
        Expect(RealtimeInput),
        Expect(RealtimeInput),
        Drop(),  # received 3 more, but none is in the handle
    )
    emulator = await start_emulator(
        nursery, behaviour=per_connection(first), send_consumed_index=True
    )
    after = [audio(1), audio(2), audio(3), audio(4), audio(5), text_turn("what's my name?")]
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await session.send_text("my name is Alice")
        update = await resumable(session)
        assert update.last_consumed_client_message_index == 1
        for message in after:
            await session.send(message)
        done, _ = await until(session, Reconnected)
        assert await answer(session) == "Your name is Alice."
    old, new = emulator.connections
    assert old.closed_with == (1006, None) and len(old.received) == 4
    assert done.resumed and done.lost == 0 and done.replayed >= 3
    sent = wire([text_turn("my name is Alice"), *after])
    # what the conversation consumed: the handle's part of connection 1, then connection 2
    assert wire(old.received[:1] + new.received) == sent
    assert wire(new.history) == sent


async def test_exact_replay_starts_after_the_newest_consumed_index(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """A handle issued mid-stream holds part of the audio: only what follows is replayed."""
    first = script(
        Expect(ClientContent),
        Reply(),  # index 1
        Expect(RealtimeInput),
        Expect(RealtimeInput),
        ResumptionUpdate(),  # index 3: the first two chunks are in this handle
        Expect(RealtimeInput),
        Drop(),
    )
    emulator = await start_emulator(
        nursery, behaviour=per_connection(first), send_consumed_index=True
    )
    after = [audio(1), audio(2), audio(3), audio(4), RealtimeInput(audio_stream_end=True)]
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await tell_name(session)
        for message in after:
            await session.send(message)
        update = await resumable(session)
        done, _ = await until(session, Reconnected)
        # the resumed model heard all four chunks exactly once
        assert await answer(session) == "You said: <2000 ms of audio>"
    assert update.last_consumed_client_message_index == 3
    old, new = emulator.connections
    assert new.resumed_from == old.handles[1] == update.new_handle
    assert done.replayed >= 1 and done.lost == 0  # chunk 3 at least went to connection 1
    assert wire(new.received) == wire(after[2:])
    assert wire(new.history) == wire([text_turn("my name is Alice"), *after])


async def test_a_handle_carries_input_the_model_has_not_answered_yet(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Emulator state per handle includes unanswered input (half an utterance here); the
    injections are EmulatorConnection methods called from the test."""
    emulator = await start_emulator(nursery)
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await session.send(audio(1))
        await session.send(audio(2))
        (conn,) = await emulator.wait_for_connections(1)
        await trio.testing.wait_all_tasks_blocked()  # the emulator has read both chunks
        assert len(conn.received) == 2
        await conn.send(conn.resumption_update())  # mid-utterance
        await conn.drop()
        done, _ = await until(session, Reconnected)
        await session.send_realtime_input(audio_stream_end=True)
        assert await answer(session) == "You said: <1000 ms of audio>"
    assert done.resumed and (done.replayed, done.lost) == (0, 0)
    old, new = emulator.connections
    assert new.resumed_from == old.handles[0]
    assert wire(new.received) == wire([RealtimeInput(audio_stream_end=True)])


async def test_replay_interrupted_by_another_drop_goes_on_at_the_next_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    first = script(Expect(ClientContent), Reply(), *[Expect(RealtimeInput)] * 5, Drop())
    second = script(Drop())  # dies while the client replays
    emulator = await start_emulator(
        nursery, behaviour=per_connection(first, second), send_consumed_index=True
    )
    chunks = [audio(n) for n in range(1, 6)]
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await tell_name(session)
        for chunk in chunks:
            await session.send(chunk)
        await until(session, Reconnected)  # to connection 2, which dies during the replay
        await until(session, Reconnected)  # to connection 3
        assert await ask_name(session) == "Your name is Alice."
    *_, last = emulator.connections
    assert len(emulator.connections) == 3
    assert wire(last.history) == wire([text_turn("my name is Alice"), *chunks]) + wire(
        [text_turn("what's my name?")]
    )


async def test_best_effort_replay_without_the_consumed_index(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Gemini API: the recent audio tail and an unanswered text turn are replayed; a turn the
    model was answering and a tool response are not, and count as lost."""
    first = script(
        Expect(ClientContent),  # my name is Alice
        Reply(),  # handle: everything so far
        Expect(ClientContent),  # tell me a story
        Send(ServerContent(output_transcription=Transcription(text="Once "))),  # answering it
        Send(ToolCall(function_calls=[FunctionCall(id="call-1", name="lookup", args={})])),
        Expect(ToolResponse),
        *[Expect(RealtimeInput)] * 6,
        Expect(ClientContent),  # what's my name? (not answered yet)
        Drop(),
    )
    emulator = await start_emulator(nursery, behaviour=per_connection(first))
    lookup = FunctionDeclaration(name="lookup", description="Look something up.")
    chunks = [audio(n) for n in range(1, 7)]  # 0.5 s each; the policy replays 2 s
    kwargs = session_kwargs(emulator, tools=[lookup], options=options(replay_audio_seconds=2.0))
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        await session.send_text("tell me a story")
        call, _ = await until(session, ToolCall)
        await session.send_tool_response(
            FunctionResponse(id="call-1", name="lookup", response={"output": "42"})
        )
        for chunk in chunks:
            await session.send(chunk)
        await session.send_text("what's my name?")
        done, _ = await until(session, Reconnected)
        assert await answer(session) == "Your name is Alice."
    assert call.function_calls[0].id == "call-1"
    assert done.resumed and not done.planned
    # story turn + tool response + the 2 oldest chunks: given up; the rest replayed, in order
    assert (done.replayed, done.lost) == (5, 4)
    old, new = emulator.connections
    assert new.resumed_from == old.handles[0]
    assert wire(new.received) == wire([*chunks[2:], text_turn("what's my name?")])
    assert not any(isinstance(m, ToolResponse) for m in new.received)


# --------------------------------------------------------------------------- keepalive


async def test_keepalive_turns_a_silent_stall_into_a_reconnect(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(nursery, behaviour=drops_after_first_turn(Stall()))
    kwargs = session_kwargs(
        emulator, options=options(keepalive_interval=5.0, keepalive_timeout=3.0)
    )
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        stalled_at = trio.current_time()
        reconnecting, _ = await until(session, Reconnecting)
        noticed_at = trio.current_time()
        done, _ = await until(session, Reconnected)
        assert await ask_name(session) == "Your name is Alice."
    assert 3.0 <= noticed_at - stalled_at <= 5.0 + 3.0
    assert "keepalive" in reconnecting.reason and "1006" in reconnecting.reason
    assert done.resumed
    old, _new = emulator.connections
    assert old.closed_with is None  # the server never closed it: it just went silent


async def test_keepalive_is_quiet_on_a_healthy_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    emulator = await start_emulator(nursery)
    kwargs = session_kwargs(
        emulator, options=options(keepalive_interval=5.0, keepalive_timeout=3.0)
    )
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        await trio.sleep(120)  # 24 pings, all answered
        assert await ask_name(session) == "Your name is Alice."
        assert session.reconnects == 0
    assert len(emulator.connections) == 1


# --------------------------------------------------------------------------- tools


def _tool_call_then(*then: Step) -> Behaviour:
    return per_connection(
        script(
            Expect(ClientContent),
            Reply(),
            Expect(ClientContent),
            Send(ToolCall(function_calls=[FunctionCall(id="call-1", name="slow_lookup")])),
            *then,
        )
    )


async def test_tool_call_in_flight_at_a_reconnect_is_cancelled_and_never_answered(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    started = trio.Event()

    async def slow_lookup() -> str:
        """Takes a long time."""
        started.set()
        await trio.sleep(100)
        return "too late"  # pragma: no cover

    emulator = await start_emulator(nursery, behaviour=_tool_call_then(Sleep(1), Drop()))
    kwargs = session_kwargs(emulator, tools=[slow_lookup])
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        await tell_name(session)
        await session.send_text("look it up")
        seen = await both(session, ToolCallFinished, Reconnected)
        assert started.is_set()
        assert await ask_name(session) == "Your name is Alice."
        await trio.sleep(200)  # long after the handler would have finished
    (finished,) = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert (finished.id, finished.outcome) == ("call-1", "cancelled")
    kinds = [type(e) for e in seen]
    assert kinds.index(Reconnecting) < kinds.index(ToolCallFinished)
    for conn in emulator.connections:
        assert not any(isinstance(m, ToolResponse) for m in conn.received)


async def test_tool_result_ready_during_the_backoff_never_reaches_the_new_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def slow_lookup() -> str:
        """Takes half a second."""
        await trio.sleep(0.5)
        return "stale"

    emulator = await start_emulator(nursery, behaviour=_tool_call_then(Sleep(0.1), Drop()))
    kwargs = session_kwargs(
        emulator, tools=[slow_lookup], options=options(jitter=0.0, initial_delay=1.0)
    )
    async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
        emulator.refuse_next(1)  # next attempt after 1 s: the handler finishes in between
        await tell_name(session)
        await session.send_text("look it up")
        seen = await both(session, ToolCallFinished, Reconnected)
        assert await ask_name(session) == "Your name is Alice."
    for conn in emulator.connections:
        assert not any(isinstance(m, ToolResponse) for m in conn.received)
    (finished,) = [e for e in seen if isinstance(e, ToolCallFinished)]
    assert finished.outcome == "cancelled"


# --------------------------------------------------------------------------- emulator


async def test_emulator_refusals_and_stall_are_per_connection(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The injection tools themselves: refusals queue up; a stall ends with the lifetime."""
    emulator: Emulator = await start_emulator(
        nursery, behaviour=script(SendGoAway(10, code=1001, reason="bye"), Stall())
    )
    emulator.refuse_next(1, code=1013, reason="Try again later.")
    assert emulator.pending_refusals == 1
    off = SessionOptions(reconnect=ReconnectPolicy.off())
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, **session_kwargs(emulator, options=off)):
            pass  # pragma: no cover
    assert (info.value.code, info.value.reason) == (1013, "Try again later.")
    no_keepalive = SessionOptions(reconnect=ReconnectPolicy(enabled=False, keepalive_interval=None))
    with pytest.raises(ConnectionLost) as info:
        async with open_live_session(MODEL, **session_kwargs(emulator, options=no_keepalive)) as s:
            with trio.fail_after(PATIENCE):
                async for _ in s.events:
                    pass
    # the stalled connection still closed at the goAway deadline, with the chosen code
    assert (info.value.code, info.value.reason) == (1001, "bye")
    _refused, stalled = emulator.connections
    assert isinstance(stalled, EmulatorConnection)
    assert stalled.closed_at == pytest.approx(stalled.accepted_at + 10)
    assert math.isfinite(stalled.lifetime.deadline)


async def test_emulator_survives_a_keepalive_ping_crossing_its_close(
    nursery: trio.Nursery,
) -> None:
    """A client ping that arrives after the emulator's close frame gets no pong, and does not
    take the server down (trio-websocket#184: it used to answer with a pong wsproto refuses)."""
    emulator = await start_emulator(nursery, behaviour=script(Close(1011, "Deadline expired")))
    path = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
    ws = WSConnection(ConnectionType.CLIENT)
    received: list[Any] = []

    async def next_event(stream: trio.SocketStream) -> Any:
        while not received:
            data = await stream.receive_some()
            ws.receive_data(data or None)
            received.extend(ws.events())
        return received.pop(0)

    with trio.fail_after(5):
        async with await trio.open_tcp_stream(emulator.host, emulator.port) as stream:
            headers = [(b"x-goog-api-key", emulator.api_key.encode())]
            await stream.send_all(
                ws.send(Request(host="127.0.0.1", target=path, extra_headers=headers))
            )
            assert isinstance(await next_event(stream), AcceptConnection)
            setup = {"setup": {"model": f"models/{MODEL}"}}
            await stream.send_all(ws.send(TextMessage(data=json.dumps(setup))))
            assert isinstance(await next_event(stream), BytesMessage)  # setupComplete
            close = await next_event(stream)
            assert isinstance(close, CloseConnection) and close.code == 1011
            ping = b"\x89\x80\x00\x00\x00\x00"  # masked, empty: sent before our close reply
            await stream.send_all(ping + ws.send(close.response()))
            while await stream.receive_some():
                pass  # no pong; the server closes the TCP connection
    async with open_live_session(MODEL, **session_kwargs(emulator)) as session:
        assert session.session_id  # still serving


async def test_a_server_ping_crossing_the_clients_close_is_harmless(
    nursery: trio.Nursery,
) -> None:
    async def server(stream: trio.SocketStream) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        pending: list[Any] = []

        async def next_event() -> Any:
            while not pending:
                ws.receive_data(await stream.receive_some() or None)
                pending.extend(ws.events())
            return pending.pop(0)

        async with stream:
            assert isinstance(await next_event(), Request)
            await stream.send_all(ws.send(AcceptConnection()))
            assert isinstance(await next_event(), TextMessage)  # setup
            await stream.send_all(ws.send(BytesMessage(data=b'{"setupComplete": {}}')))
            close = await next_event()
            assert isinstance(close, CloseConnection)
            await stream.send_all(b"\x89\x00" + ws.send(close.response()))  # ping, then reply

    listeners = await nursery.start(partial(trio.serve_tcp, server, 0, host="127.0.0.1"))
    port = listeners[0].socket.getsockname()[1]
    off = SessionOptions(reconnect=ReconnectPolicy.off())
    with trio.fail_after(5):
        async with open_live_session(
            MODEL, api_key="k", base_url=f"ws://127.0.0.1:{port}", options=off
        ) as session:
            assert not session.closed
    assert session.closed and session.error is None


async def test_a_server_that_drops_every_connection_gets_no_reconnect_storm(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """Only the first drop is retried at once; connections that die young keep the backoff
    growing instead of restarting it, until max_reconnects ends the session."""

    async def drop_soon(conn: EmulatorConnection) -> None:
        await trio.sleep(0.1)
        await conn.drop()

    emulator = await start_emulator(nursery, behaviour=drop_soon)
    policy = {"initial_delay": 1.0, "factor": 2.0, "max_delay": 8.0, "jitter": 0.0}
    kwargs = session_kwargs(emulator, options=options(max_reconnects=4, **policy))
    seen: list[ServerEvent] = []
    with trio.fail_after(PATIENCE), pytest.raises(ConnectionLost):
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            async for event in session.events:
                seen.append(event)
    delays = [e.delay for e in seen if isinstance(e, Reconnecting)]
    assert delays == [0.0, 1.0, 2.0, 4.0]
    assert len(emulator.connections) == 5  # the first one and four reconnects


async def test_connections_that_keep_dying_young_count_as_failed_attempts(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    async def drop_soon(conn: EmulatorConnection) -> None:
        await trio.sleep(0.1)
        await conn.close(1011, "Internal error encountered.")

    emulator = await start_emulator(nursery, behaviour=drop_soon)
    kwargs = session_kwargs(emulator, options=options(max_attempts=3, jitter=0.0))
    with trio.fail_after(PATIENCE), pytest.raises(ConnectionLost, match="1011"):
        async with open_live_session(MODEL, config=CONFIG, **kwargs) as session:
            async for _ in session.events:
                pass
    # the first connection, then reconnects until three in a row died young
    assert len(emulator.connections) == 4


async def test_a_turn_sent_right_after_goaway_is_answered_in_full(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    """The user types the next line the moment goAway arrives (a quiet moment, so the
    handover is starting): the turn must not be cut off by the switch and lost."""

    class GoesAwayAfterEachAnswer:
        def __init__(self, conn: EmulatorConnection) -> None:
            self._conn = conn

        def __getattr__(self, name: str) -> Any:
            return getattr(self._conn, name)

        async def reply_to_text(self, text: str) -> None:
            await self._conn.reply_to_text(text)
            await self._conn.go_away(5)

    async def behaviour(conn: EmulatorConnection) -> None:
        await default_model(GoesAwayAfterEachAnswer(conn))  # type: ignore[arg-type]

    emulator = await start_emulator(nursery, behaviour=behaviour)
    async with open_live_session(MODEL, config=CONFIG, **session_kwargs(emulator)) as session:
        await session.send_text("my name is Bob")
        assert await answer(session) == "Nice to meet you, Bob."
        await until(session, GoAway)
        await session.send_text("what's my name?")
        assert await answer(session) == "Your name is Bob."
        done, _ = await until(session, Reconnected)  # the handover, at the next quiet moment
    assert done.planned and done.resumed and done.lost == 0
