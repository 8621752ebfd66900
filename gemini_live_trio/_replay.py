"""Which client messages to send again on a new connection, so nothing the user sent is lost.

Sans-I/O. Every message the writer puts on the wire is recorded with its connection and its
per-connection index (``setup`` is 0, later messages count from 1: the numbering of the
server's ``lastConsumedClientMessageIndex``). A resumable ``sessionResumptionUpdate`` says what
the new handle already contains:

* **exact** - the update carries ``lastConsumedClientMessageIndex`` (Vertex ``transparent``,
  or any server that sends it): messages up to that index are forgotten, everything after it
  is replayed, in order, before any new traffic.
* **best effort** - no index (the Gemini API): everything sent before the update is in the
  handle. After it, on a drop: realtime audio/video/activity of the last
  ``replay_audio_seconds`` is replayed; a text turn is replayed only if the model had not
  started answering it (so it is never answered twice); tool responses are never replayed
  (their calls are not in the handle's state either). What could not be replayed is counted
  as ``lost`` in the :class:`Reconnected` event.
"""

import collections

import attrs

from . import _events as ev

_AUDIO_BYTES_PER_SECOND = 32_000  # 16 kHz s16le mono
#: Hard cap on remembered messages; older ones are forgotten first (and counted as lost).
MAX_REMEMBERED = 5_000


@attrs.define
class _Sent:
    seq: int
    connection: int
    index: int
    message: ev.ClientMessage
    realtime: bool
    size: int


def is_realtime(message: ev.ClientMessage) -> bool:
    """Streamed input (audio, video, activity signals), as opposed to a turn or tool answer."""
    return isinstance(message, ev.RealtimeInput) and message.text is None


def _size(message: ev.ClientMessage) -> int:
    if isinstance(message, ev.RealtimeInput):
        blob = message.audio or message.video
        return len(blob.data) if blob is not None else 0
    return 0


@attrs.frozen
class ReplayPlan:
    """What to send on the new connection, in order, and how many messages are given up."""

    messages: tuple[ev.ClientMessage, ...]
    lost: int
    exact: bool


class ReplayBuffer:
    """Remembers client messages until a resumption handle covers them."""

    def __init__(self, *, replay_audio_seconds: float = 2.0) -> None:
        self._sent: collections.deque[_Sent] = collections.deque()
        self._tail_bytes = int(replay_audio_seconds * _AUDIO_BYTES_PER_SECOND)
        self._forgotten = 0
        self._seq = 0
        #: Messages with ``seq`` up to this one are being answered (O(1) per model frame).
        self._answered_seq = 0
        #: Whether the newest resumable update carried an index.
        self.exact = False

    def __len__(self) -> int:
        return len(self._sent)

    def record(self, connection: int, index: int, message: ev.ClientMessage) -> bool:
        """The writer is about to put ``message`` on the wire as ``index`` of ``connection``.
        Returns whether it is realtime input (the writer needs to know too)."""
        self._seq += 1
        realtime = is_realtime(message)
        self._sent.append(_Sent(self._seq, connection, index, message, realtime, _size(message)))
        if len(self._sent) > MAX_REMEMBERED:
            self._sent.popleft()
            self._forgotten += 1
        return realtime

    def model_output(self) -> None:
        """The model produced output: every text turn sent so far is being answered."""
        self._answered_seq = self._seq

    def covered(self, connection: int, last_consumed: int | None) -> None:
        """A resumable handle arrived on ``connection``; forget what it contains."""
        self.exact = last_consumed is not None
        if last_consumed is None:
            self._sent.clear()
        else:
            while self._sent and (
                self._sent[0].connection < connection
                or (self._sent[0].connection == connection and self._sent[0].index <= last_consumed)
            ):
                self._sent.popleft()
        self._forgotten = 0

    def plan(self) -> ReplayPlan:
        """What the next connection must receive first; the buffer is emptied (the replayed
        messages are recorded again as they are re-sent)."""
        sent = list(self._sent)
        self._sent.clear()
        lost, self._forgotten = self._forgotten, 0
        if self.exact:
            return ReplayPlan(tuple(s.message for s in sent), lost, True)
        keep: list[ev.ClientMessage] = []
        budget = self._tail_bytes
        for s in reversed(sent):
            if s.realtime:
                if s.size <= budget:
                    budget -= s.size
                    keep.append(s.message)
                else:
                    budget = 0
                    lost += 1
            elif isinstance(s.message, ev.ToolResponse) or s.seq <= self._answered_seq:
                lost += 1
            else:
                keep.append(s.message)
        keep.reverse()
        return ReplayPlan(tuple(keep), lost, False)
