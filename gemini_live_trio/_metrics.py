"""Per-turn latency, tool round trips, reconnect gaps and token usage. Sans-I/O: the session
passes ``now`` (``trio.current_time()``) in; nothing here reads a clock.

A turn's latency is measured from the end of the user's input — the last client input message
(text turn, ``activityEnd``, ``audioStreamEnd``, or the last audio chunk) written before the
model's first output — to the first audio byte and to ``turnComplete``. Usage is summed per
connection and over the logical session, with both backends' spellings already normalised by
the codec (``responseTokenCount`` / ``candidatesTokenCount`` -> ``response_token_count``).
"""

import attrs

from . import _events as ev


@attrs.define
class Usage:
    """Token counts added up over several ``usageMetadata`` messages."""

    prompt_token_count: int = 0
    cached_content_token_count: int = 0
    response_token_count: int = 0
    tool_use_prompt_token_count: int = 0
    thoughts_token_count: int = 0
    total_token_count: int = 0

    def add(self, usage: ev.UsageMetadata) -> None:
        for name in _USAGE_FIELDS:  # every field of this class
            value = getattr(usage, name)
            if value:
                setattr(self, name, getattr(self, name) + value)


_USAGE_FIELDS = tuple(a.name for a in attrs.fields(Usage))


@attrs.define
class SessionStats:
    """``session.stats``: what happened so far in this logical session."""

    connections: int = 0
    reconnects: int = 0
    turns: int = 0
    interrupted_turns: int = 0
    #: Usage over the whole session, and per connection (index 0 = first connection).
    usage: Usage = attrs.Factory(Usage)
    usage_by_connection: list[Usage] = attrs.Factory(list)
    #: Seconds from end of user input to the first audio byte, per completed turn.
    first_audio_latencies: list[float] = attrs.Factory(list)
    #: Seconds from end of user input to ``turnComplete``, per completed turn.
    turn_latencies: list[float] = attrs.Factory(list)
    #: Seconds from ``toolCall`` to the ``toolResponse`` going out, per answered call.
    tool_round_trips: list[float] = attrs.Factory(list)
    #: Seconds without a usable connection, per reconnect.
    reconnect_gaps: list[float] = attrs.Factory(list)


@attrs.frozen(kw_only=True, repr=False)
class TurnMetrics(ev.ServerEvent):
    """Emitted right after a turn's ``turnComplete``; latencies in seconds (``None`` when the
    turn had no such moment, e.g. no audio or no client input)."""

    turn: int
    first_audio_latency: float | None
    turn_latency: float | None
    audio_bytes: int
    interrupted: bool
    usage: ev.UsageMetadata | None


class MetricsRecorder:
    """Watches messages going out and events coming in; keeps :class:`SessionStats`."""

    def __init__(self) -> None:
        self.stats = SessionStats()
        self._input_end: float | None = None
        self._first_output: float | None = None
        self._first_audio: float | None = None
        self._audio_bytes = 0
        self._interrupted = False
        self._usage: ev.UsageMetadata | None = None
        self._calls: dict[str, float] = {}
        self._completed_at: float | None = None

    def connected(self) -> None:
        self.stats.connections += 1
        self.stats.usage_by_connection.append(Usage())

    def reconnected(self, event: ev.Reconnected) -> None:
        self.stats.reconnects += 1
        self.stats.reconnect_gaps.append(event.gap)

    def sent(self, message: ev.ClientMessage, now: float) -> None:
        if isinstance(message, ev.ToolResponse):
            for response in message.function_responses:
                started = self._calls.pop(response.id or response.name, None)
                if started is not None:
                    self.stats.tool_round_trips.append(now - started)
        elif self._first_output is None:
            self._input_end = now  # the latest input before the model answers

    def received(self, event: ev.ServerEvent, now: float) -> None:
        """Note one incoming event (call :meth:`frame_done` after the frame's last one)."""
        kind = type(event)
        if kind is ev.ServerContent:
            assert isinstance(event, ev.ServerContent)
            if event.model_turn is not None:
                if self._first_output is None:
                    self._first_output = now
                audio = len(event.audio)
                if audio and self._first_audio is None:
                    self._first_audio = now
                self._audio_bytes += audio
            if event.interrupted:
                self._interrupted = True
            if event.turn_complete:
                self._completed_at = now
        elif kind is ev.UsageMetadata:
            assert isinstance(event, ev.UsageMetadata)
            self.stats.usage.add(event)
            if self.stats.usage_by_connection:
                self.stats.usage_by_connection[-1].add(event)
            self._usage = event
        elif kind is ev.ToolCall:
            assert isinstance(event, ev.ToolCall)
            if self._first_output is None:
                self._first_output = now
            for call in event.function_calls:
                self._calls[call.id or call.name] = now

    def frame_done(self) -> TurnMetrics | None:
        """The metrics of a turn that completed in this frame (usage in the same frame, which
        follows ``serverContent``, is included)."""
        now = self._completed_at
        if now is None:
            return None
        self._completed_at = None
        start = self._input_end
        first_audio = None
        turn = None
        if start is not None:
            turn = now - start
            if self._first_audio is not None:
                first_audio = self._first_audio - start
        stats = self.stats
        stats.turns += 1
        if self._interrupted:
            stats.interrupted_turns += 1
        if first_audio is not None:
            stats.first_audio_latencies.append(first_audio)
        if turn is not None:
            stats.turn_latencies.append(turn)
        metrics = TurnMetrics(
            turn=stats.turns,
            first_audio_latency=first_audio,
            turn_latency=turn,
            audio_bytes=self._audio_bytes,
            interrupted=self._interrupted,
            usage=self._usage,
        )
        self._input_end = self._first_output = self._first_audio = None
        self._audio_bytes = 0
        self._interrupted = False
        self._usage = None
        return metrics
