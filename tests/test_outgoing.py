"""``session.outgoing`` counts what the writer has not written (the direct-send rule)."""

import pytest
import trio
import trio.testing

from gemini_live_trio import RealtimeInput
from gemini_live_trio._outgoing import open_outgoing

MESSAGE = RealtimeInput(text="hi")


async def test_the_count_follows_sends_and_takes() -> None:
    send, receive, count = open_outgoing(2)
    send.send_nowait(MESSAGE)
    await send.send(MESSAGE)
    assert send.queued == count.queued == 2
    with pytest.raises(trio.WouldBlock):
        send.send_nowait(MESSAGE)  # full: not counted
    assert count.queued == 2
    await receive.receive()
    count.queued -= 1  # what the writer does for every message it takes
    assert send.queued == 1


async def test_a_send_that_never_got_in_is_not_counted() -> None:
    send, receive, count = open_outgoing(1)
    await send.send(MESSAGE)
    with trio.move_on_after(0.05) as scope:
        await send.send(MESSAGE)  # full: waits, then is cancelled
    assert scope.cancelled_caught
    assert count.queued == 1
    await receive.aclose()
    with pytest.raises(trio.BrokenResourceError):
        await send.send(MESSAGE)
    assert count.queued == 1


async def test_a_message_handed_to_a_waiting_writer_counts_until_taken() -> None:
    """The case a memory channel's buffer statistics miss: no buffer, a receiver waiting."""
    send, receive, count = open_outgoing(0)
    taken: list[object] = []

    async def writer() -> None:
        async for message in receive:
            count.queued -= 1
            taken.append(message)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(writer)
        await trio.testing.wait_all_tasks_blocked()
        send.send_nowait(MESSAGE)  # handed over, the writer has not run yet
        assert count.queued == 1 and not taken
        await trio.testing.wait_all_tasks_blocked()
        assert count.queued == 0 and taken == [MESSAGE]
        clone = send.clone()
        await clone.send(MESSAGE)  # clones share the count
        await trio.testing.wait_all_tasks_blocked()
        assert count.queued == 0 and len(taken) == 2
        await clone.aclose()
        with send:
            pass  # closing the last send side ends the writer's loop
