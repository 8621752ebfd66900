"""``session.events`` on its own: order, bounds, waking, cancellation and fairness."""

import itertools

import pytest
import trio
import trio.lowlevel
import trio.testing

from gemini_live_trio import _delivery
from gemini_live_trio import _events as ev
from gemini_live_trio._content import Blob, Content, Part
from gemini_live_trio._delivery import EventStream


def audio(n: int, size: int = 4800) -> ev.ServerContent:
    blob = Blob(mime_type="audio/pcm;rate=24000", data=bytes([n % 256]) * size)
    return ev.ServerContent(model_turn=Content(parts=(Part(inline_data=blob),)))


def text(n: int) -> ev.ServerContent:
    return ev.ServerContent(output_transcription=ev.Transcription(text=str(n)))


def stream(buffer: int = 4, audio_s: float = 0.5, pending: int = 100) -> EventStream:
    return EventStream(event_buffer=buffer, max_buffered_audio=audio_s, max_pending_events=pending)


def drain(s: EventStream) -> list[ev.ServerEvent]:
    out = []
    while True:
        try:
            out.append(s.receive_nowait())
        except (trio.WouldBlock, trio.EndOfChannel):
            return out


def test_order_is_kept_across_the_buffer_and_the_overflow() -> None:
    s = stream(buffer=3, audio_s=100)
    for i in range(10):
        assert s.deliver(text(i))
    assert s.pending == 7 and s.unread == 10
    assert drain(s) == [text(i) for i in range(10)]
    assert s.unread == 0


def test_stale_audio_is_dropped_from_the_overflow_only_and_reported_in_place() -> None:
    # 0.5 s of 24 kHz audio = 24,000 bytes = 5 events of 4,800 bytes
    s = stream(buffer=4, audio_s=0.5)
    events = [audio(i) for i in range(4)] + [text(100)] + [audio(i) for i in range(4, 14)]
    for event in events:
        assert s.deliver(event)
    got = drain(s)
    # the never-dropped part is intact, and the notice comes right after it
    assert got[:4] == events[:4]
    assert got[4] == ev.EventsDropped(count=5, audio_bytes=5 * 4800)
    # nothing but audio is dropped; the newest audio is kept
    assert got[5:] == [text(100), *events[10:]]


def test_non_audio_beyond_the_limit_is_reported_not_dropped() -> None:
    s = stream(buffer=2, pending=5)
    results = [s.deliver(text(i)) for i in range(8)]
    assert results == [True] * 7 + [False]  # 6 in the overflow: one too many
    assert drain(s) == [text(i) for i in range(8)]


async def test_finish_ends_iteration_after_every_queued_event() -> None:
    s = stream(buffer=2)
    for i in range(5):
        s.deliver(text(i))
    s.finish()
    s.deliver(text(99))  # too late: ignored
    assert [e async for e in s] == [text(i) for i in range(5)]
    with pytest.raises(trio.EndOfChannel):
        await s.receive()


async def test_a_waiting_reader_is_woken_by_deliver_and_by_finish() -> None:
    s = stream()
    got: list[object] = []

    async def reader() -> None:
        async for event in s:
            got.append(event)
        got.append("end")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        s.deliver(text(1))
        await trio.testing.wait_all_tasks_blocked()
        assert got == [text(1)]
        s.finish()
    assert got == [text(1), "end"]


async def test_several_readers_share_the_events_without_losing_any() -> None:
    s = stream(buffer=8, audio_s=100)
    got: list[ev.ServerEvent] = []

    async def reader() -> None:
        async for event in s:
            got.append(event)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        for _ in range(3):
            nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        for i in range(50):
            s.deliver(text(i))
            if i % 7 == 0:
                await trio.lowlevel.checkpoint()
        s.finish()
    assert sorted(got, key=lambda e: int(e.output_transcription_text or 0)) == [
        text(i) for i in range(50)
    ]


async def test_a_cancelled_receive_never_takes_an_event() -> None:
    s = stream()
    s.deliver(text(1))
    with trio.CancelScope() as scope:
        scope.cancel()
        await s.receive()
    assert scope.cancelled_caught
    assert s.receive_nowait() == text(1)


async def test_a_busy_reader_still_lets_other_tasks_run() -> None:
    """``receive`` skips the scheduler for ready events, but not for long: a loop that reads a
    long backlog and never awaits anything else must not starve the rest of the program."""
    s = stream(buffer=1000, audio_s=100)
    for i in range(10 * _delivery.YIELD_EVERY):
        s.deliver(text(i))
    s.finish()
    ticks = 0
    reads_between_ticks: list[int] = []
    reads = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            reads_between_ticks.append(reads)
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await trio.lowlevel.checkpoint()  # the ticker is running (it never blocks)
        async for _ in s:
            reads += 1
        nursery.cancel_scope.cancel()
    assert reads == 10 * _delivery.YIELD_EVERY
    gaps = [b - a for a, b in itertools.pairwise(reads_between_ticks)]
    # trio runs each batch of runnable tasks in a random order, so two yields of the reader
    # can fall between two ticks
    assert ticks >= 10 and max(gaps) <= 2 * _delivery.YIELD_EVERY


async def test_close_discards_and_wakes_a_waiting_reader() -> None:
    s = stream()
    s.deliver(text(1))
    failures: list[type[BaseException]] = []

    async def reader() -> None:
        s.receive_nowait()
        try:
            await s.receive()
        except trio.ClosedResourceError as exc:
            failures.append(type(exc))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        await trio.testing.wait_all_tasks_blocked()
        await s.aclose()
    assert failures == [trio.ClosedResourceError]
    assert s.deliver(text(2))  # discarded: nobody reads any more
    assert s.unread == 0
    with pytest.raises(trio.ClosedResourceError):
        s.receive_nowait()
