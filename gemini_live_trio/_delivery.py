"""Handing events to the application without ever making the socket reader wait.

``session.events`` is a memory channel with ``event_buffer`` slots (default 512, about 20 s of
40 ms audio frames). When it is full, events go to an overflow queue, in order, and a pump
task moves them into the channel as the application reads. If the audio waiting in the
overflow exceeds ``max_buffered_audio`` seconds (default 60), the oldest audio-only
``ServerContent`` events are dropped (stale audio is useless for real-time playback) and an
:class:`EventsDropped` event says how many. Nothing else is ever dropped: past
``max_pending_events`` (10,000) unread non-audio events, :meth:`deliver` reports overflow and
the session fails with :class:`SlowConsumer`.
"""

import collections
import logging

import trio

from . import _events as ev

logger = logging.getLogger("gemini_live_trio")

_OUTPUT_BYTES_PER_SECOND = 48_000  # 24 kHz s16le mono


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


class EventDelivery:
    """The sending side of ``session.events`` plus its overflow queue and pump."""

    def __init__(
        self,
        send: trio.MemorySendChannel[ev.ServerEvent],
        *,
        max_buffered_audio: float,
        max_pending_events: int,
    ) -> None:
        self._send = send
        self._audio_limit = int(max_buffered_audio * _OUTPUT_BYTES_PER_SECOND)
        self._max_pending = max_pending_events
        self._overflow: collections.deque[ev.ServerEvent] = collections.deque()
        self._overflow_audio = 0
        self._dropped = (0, 0)
        self._wakeup = trio.Event()
        self._finishing = False

    @property
    def pending(self) -> int:
        """Events waiting beyond the channel's buffer."""
        return len(self._overflow)

    def deliver(self, event: ev.ServerEvent) -> bool:
        """Queue ``event`` without blocking; False means too many events are unread."""
        if not self._overflow:
            try:
                self._send.send_nowait(event)
                return True
            except trio.WouldBlock:
                pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return True  # nobody will read it any more
        self._overflow.append(event)
        self._overflow_audio += audio_only_size(event)
        self._wakeup.set()
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
        """No more events will come: the pump delivers what is queued, then closes."""
        self._finishing = True
        self._wakeup.set()

    async def pump(self) -> None:
        """Move overflow into the channel as the application reads; close it at the end."""
        try:
            while True:
                await self._wakeup.wait()
                self._wakeup = trio.Event()
                while self._overflow or self._dropped[0]:
                    if self._dropped[0]:
                        count, size = self._dropped
                        self._dropped = (0, 0)
                        logger.warning("slow consumer: dropped %d audio events", count)
                        event: ev.ServerEvent = ev.EventsDropped(count=count, audio_bytes=size)
                    else:
                        event = self._overflow.popleft()
                        self._overflow_audio -= audio_only_size(event)
                    try:
                        await self._send.send(event)
                    except (trio.BrokenResourceError, trio.ClosedResourceError):
                        self._overflow.clear()
                        return
                if self._finishing:
                    return
        finally:
            self._send.close()
