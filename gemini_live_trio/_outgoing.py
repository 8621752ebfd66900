"""``session.outgoing``: the writer task's queue, and how many messages wait in it.

``send_*`` write from the caller's task when nothing is queued ahead (one task switch less per
audio chunk), so they must know cheaply whether anything is: a memory channel can tell
(``statistics()``), but that builds an object each time, about 1 µs per chunk. This send
channel wraps the memory channel and counts messages put in and not yet written: the writer
decrements the count once it has written one.
"""

import trio

from . import _events as ev


class _Count:
    __slots__ = ("queued",)

    def __init__(self) -> None:
        self.queued = 0


class OutgoingChannel(trio.abc.SendChannel[ev.ClientMessage]):
    """Client messages for the session's writer (``send``, ``send_nowait``, ``clone``, close)."""

    __slots__ = ("_count", "_send")

    def __init__(self, send: trio.MemorySendChannel[ev.ClientMessage], count: _Count) -> None:
        self._send = send
        self._count = count

    @property
    def queued(self) -> int:
        """Messages put in and not yet written by the writer."""
        return self._count.queued

    async def send(self, value: ev.ClientMessage) -> None:
        """Queue ``value``, waiting while the queue is full (backpressure)."""
        self._count.queued += 1
        try:
            await self._send.send(value)
        except BaseException:
            self._count.queued -= 1  # not queued after all
            raise

    def send_nowait(self, value: ev.ClientMessage) -> None:
        """Queue ``value`` or raise ``trio.WouldBlock``."""
        self._send.send_nowait(value)
        self._count.queued += 1

    def clone(self) -> "OutgoingChannel":
        return OutgoingChannel(self._send.clone(), self._count)

    def close(self) -> None:
        self._send.close()

    async def aclose(self) -> None:
        await self._send.aclose()

    def __enter__(self) -> "OutgoingChannel":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_outgoing(
    size: int,
) -> tuple[OutgoingChannel, trio.MemoryReceiveChannel[ev.ClientMessage], _Count]:
    """The send side (``session.outgoing``), the writer's receive side, and the count the
    writer decrements for every message it has written."""
    send, receive = trio.open_memory_channel[ev.ClientMessage](size)
    count = _Count()
    return OutgoingChannel(send, count), receive, count
