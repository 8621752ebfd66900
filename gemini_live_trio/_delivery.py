"""``session.events``: a receive channel the socket reader fills without ever waiting.

Events wait in two ordered queues. The first ``event_buffer`` (default 512, about 20 s of 40 ms
audio frames) are never dropped; later ones wait in an overflow queue. If the audio waiting in
the overflow exceeds ``max_buffered_audio`` seconds (default 60), the oldest audio-only
``ServerContent`` events there are dropped (stale audio is useless for real-time playback) and
an :class:`EventsDropped` event, in their place, says how many. Nothing else is ever dropped:
past ``max_pending_events`` (10,000) unread events in the overflow, :meth:`deliver` reports it
and the session fails with :class:`SlowConsumer`.

Why not a ``trio`` memory channel: its ``receive`` yields to the scheduler on every event, and
a full channel needed a pump task between the overflow and the channel. Here ``receive``
checks for cancellation every time (a cancelled reader never gets an event) but yields to the
scheduler only when it has to wait or once every :data:`YIELD_EVERY` events in a row, so a
burst of frames read from one socket chunk costs one task switch, not one per frame.
"""

import collections
import logging

import trio

from . import _events as ev

logger = logging.getLogger("gemini_live_trio")

_OUTPUT_BYTES_PER_SECOND = 48_000  # 24 kHz s16le mono
#: Events returned in a row without waiting before ``receive`` gives other tasks a turn.
YIELD_EVERY = 64


def audio_only_size(event: ev.ServerEvent) -> int:
    """Bytes of audio in an audio-only ServerContent event (0 if it carries anything else)."""
    if type(event) is not ev.ServerContent or event.model_turn is None:
        return 0
    if (
        event.turn_complete
        or event.generation_complete
        or event.interrupted
        or event.input_transcription
        or event.output_transcription
        or event.turn_complete_reason
    ):
        return 0
    size = 0
    for part in event.model_turn.parts or ():
        if part.inline_data is None or part.text is not None or part.function_call is not None:
            return 0
        size += len(part.inline_data.data)
    return size


class EventStream(trio.abc.ReceiveChannel[ev.ServerEvent]):
    """The events of a session, in order. The session calls :meth:`deliver` and :meth:`finish`;
    the application iterates (``async for``), or calls ``receive`` / ``receive_nowait``."""

    def __init__(
        self, *, event_buffer: int, max_buffered_audio: float, max_pending_events: int
    ) -> None:
        self._capacity = max(1, event_buffer)
        self._audio_limit = int(max_buffered_audio * _OUTPUT_BYTES_PER_SECOND)
        self._max_pending = max_pending_events
        self._ready: collections.deque[ev.ServerEvent] = collections.deque()
        self._overflow: collections.deque[ev.ServerEvent] = collections.deque()
        self._overflow_audio = 0
        self._dropped = (0, 0)
        self._lot = trio.lowlevel.ParkingLot()
        self._in_a_row = 0
        self._finished = False
        self._closed = False

    # ------------------------------------------------------------------ the session's side

    @property
    def pending(self) -> int:
        """Events waiting beyond ``event_buffer``."""
        return len(self._overflow)

    @property
    def unread(self) -> int:
        """Events not read yet."""
        return len(self._ready) + len(self._overflow) + (1 if self._dropped[0] else 0)

    def deliver(self, event: ev.ServerEvent) -> bool:
        """Queue ``event`` without blocking; False means too many events are unread."""
        if self._closed or self._finished:
            return True  # nobody will read it any more
        if self._lot:
            self._lot.unpark()
        if not self._overflow and len(self._ready) < self._capacity:
            self._ready.append(event)
            return True
        self._overflow.append(event)
        self._overflow_audio += audio_only_size(event)
        if self._overflow_audio > self._audio_limit:
            self._drop_stale_audio()
        return len(self._overflow) <= self._max_pending

    def _drop_stale_audio(self) -> None:
        count, size = self._dropped
        while self._overflow_audio > self._audio_limit:
            for index, queued in enumerate(self._overflow):
                audio = audio_only_size(queued)
                if audio:
                    del self._overflow[index]
                    self._overflow_audio -= audio
                    count, size = count + 1, size + audio
                    break
            else:
                break
        self._dropped = (count, size)

    def finish(self) -> None:
        """No more events will come: the reader gets what is queued, then ``EndOfChannel``."""
        self._finished = True
        self._lot.unpark_all()

    # ------------------------------------------------------------------ the application's side

    def receive_nowait(self) -> ev.ServerEvent:
        """The next event, or ``trio.WouldBlock`` / ``trio.EndOfChannel``."""
        if self._closed:
            raise trio.ClosedResourceError("session.events was closed")
        ready = self._ready
        if not ready:
            if self._finished:
                raise trio.EndOfChannel
            raise trio.WouldBlock
        event = ready.popleft()
        if self._overflow or self._dropped[0]:
            self._refill()
        return event

    def _refill(self) -> None:
        """Move one event from the overflow into the never-dropped part (after a drop, first
        the notice, in the place of what was dropped)."""
        count, size = self._dropped
        if count:
            self._dropped = (0, 0)
            logger.warning("slow consumer: dropped %d audio events", count)
            self._ready.append(ev.EventsDropped(count=count, audio_bytes=size))
        else:
            event = self._overflow.popleft()
            self._overflow_audio -= audio_only_size(event)
            self._ready.append(event)

    async def receive(self) -> ev.ServerEvent:
        """The next event; waits for one. ``trio.EndOfChannel`` once the session is over and
        everything was read."""
        await trio.lowlevel.checkpoint_if_cancelled()
        try:
            event = self.receive_nowait()
        except trio.WouldBlock:
            pass
        else:
            self._in_a_row += 1
            if self._in_a_row >= YIELD_EVERY:
                self._in_a_row = 0
                await trio.lowlevel.cancel_shielded_checkpoint()
            return event
        while True:
            self._in_a_row = 0
            await self._lot.park()
            try:
                return self.receive_nowait()
            except trio.WouldBlock:  # another reader took it first
                continue

    def close(self) -> None:
        """Stop reading: queued and later events are discarded."""
        self._closed = True
        self._ready.clear()
        self._overflow.clear()
        self._overflow_audio = 0
        self._dropped = (0, 0)
        self._lot.unpark_all()

    async def aclose(self) -> None:
        self.close()
        await trio.lowlevel.checkpoint()

    def __enter__(self) -> "EventStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
