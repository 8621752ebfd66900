"""A Live session: one logical conversation over one or more connections.

Tasks (all in the session's nursery; none outlives it):

* the **supervisor** runs connections one after another (``_connection.py``): the first one
  before ``open_live_session`` returns, later ones on ``goAway`` (a planned handover, opened
  while the old connection still works) or after a reconnectable close (with backoff);
* the **writer** sends ``session.outgoing`` messages on whichever connection is active,
  recording each in the replay buffer (``_replay.py``) so a new connection gets what the old
  one may not have consumed, before any new traffic (``send_*`` write from the caller's task
  instead when the writer is idle: one task switch less per audio chunk);
* the **tool dispatcher** runs registered handlers (``_tools.py``).

``session.events``, ``session.outgoing`` and the ``send_*`` helpers stay the same objects for
the whole conversation; a connection's reader puts events into ``session.events`` without
ever waiting for the application (``_delivery.py``). When the session ends on its own, the
events channel ends after the last event (``async for`` stops) and the reason is raised from
the ``async with`` (and from any later ``send_*``); a body that does not read events is
cancelled so that it gets the error too. Leaving the ``async with`` sends what is already
queued (up to ``close_timeout``), closes with 1000, and cancels every task, also when
cancelled from outside.
"""

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import attrs
import trio

from . import _events as ev
from ._auth import ApiKey, Endpoint, EphemeralToken, VertexAI
from ._backoff import ReconnectPolicy
from ._checks import check_client_content, check_config
from ._config import LiveConfig, SessionResumptionConfig, Tool
from ._connection import Connection, run_connection
from ._content import Blob, Content, FunctionResponse
from ._delivery import EventStream
from ._exceptions import ConfigError, GeminiLiveError, InternalError, UsageError
from ._metrics import MetricsRecorder, SessionStats
from ._models import TextInput, text_input_for
from ._outgoing import open_outgoing
from ._protocol import preview
from ._recording import Recording
from ._replay import ReplayBuffer, is_realtime
from ._sync import FifoLock
from ._tools import DEFAULT_MAX_CONCURRENT_TOOLS, ToolDispatcher, ToolLike, collect_tools
from ._transport import DEFAULT_TRANSPORT, TRANSPORTS, TransportClosed
from ._wire import dumps, encode_client_message

logger = logging.getLogger("gemini_live_trio")

Auth = ApiKey | EphemeralToken | VertexAI

AUDIO_MIME = "audio/pcm;rate=16000"


class SlowConsumer(GeminiLiveError):
    """The application stopped reading ``session.events`` for too long."""


@attrs.frozen(kw_only=True)
class SessionOptions:
    """Tuning knobs of a session; every default is a documented choice."""

    #: DNS + TCP + TLS + WebSocket upgrade.
    connect_timeout: float = 10.0
    #: From sending ``setup`` to ``setupComplete``.
    setup_timeout: float = 15.0
    #: Leaving the session: time to flush ``outgoing`` and finish the close handshake.
    close_timeout: float = 5.0
    #: Unread events of ``session.events`` that are never dropped.
    event_buffer: int = 512
    #: Slots of ``session.outgoing``; a full channel makes ``send_*`` wait (backpressure).
    outgoing_buffer: int = 64
    #: A frame that cannot be written within this time means the connection is dead
    #: (checked by the connection's watchdog: noticed within one to two times this).
    send_timeout: float = 10.0
    #: Seconds of unread 24 kHz audio kept beyond ``event_buffer`` before the oldest is dropped.
    max_buffered_audio: float = 60.0
    #: Unread non-audio events beyond ``event_buffer`` before the session fails.
    max_pending_events: int = 10_000
    #: Allow a credential over plain ws:// to a non-loopback host.
    allow_insecure: bool = False
    #: Tool handlers running at once; later calls wait for a slot.
    max_concurrent_tools: int = DEFAULT_MAX_CONCURRENT_TOOLS
    #: Reconnects, goAway handover, replay and keepalive.
    reconnect: ReconnectPolicy = attrs.field(factory=ReconnectPolicy)
    #: WebSocket client backend: ``"trio-websocket"`` or ``"websockets"`` (websockets'
    #: sans-I/O protocol driven by trio, no reader task of its own: less CPU per frame).
    transport: str = attrs.field(
        default=DEFAULT_TRANSPORT, validator=attrs.validators.in_(TRANSPORTS)
    )


class LiveSession:
    """An open Live conversation. Get one from :func:`open_live_session`.

    ``events`` yields typed server events; ``outgoing`` takes client messages. The ``send_*``
    helpers validate and put messages on ``outgoing``.
    """

    def __init__(
        self,
        *,
        model: str,
        auth: Auth,
        api_version: str | None,
        base_url: str | None,
        setup: ev.Setup,
        config: LiveConfig,
        options: SessionOptions,
        ssl_context: Any = None,
        vertex: bool = False,
        handlers: Any = None,
        resume_handle: str | None = None,
        recording: Recording | None = None,
    ) -> None:
        self.model = model
        self._recording = recording
        self.config = config
        self.options = options
        self._policy = options.reconnect
        self._auth = auth
        self._api_version = api_version
        self._base_url = base_url
        self._setup = setup
        self._endpoint: Endpoint | None = None
        self._ssl_context = ssl_context
        self._vertex = vertex
        self._text_input = text_input_for(model)
        #: The server's events, in order (a ``trio.abc.ReceiveChannel``).
        self.events = self._delivery = EventStream(
            event_buffer=options.event_buffer,
            max_buffered_audio=options.max_buffered_audio,
            max_pending_events=options.max_pending_events,
        )
        #: Client messages for the writer (a ``trio.abc.SendChannel``).
        self.outgoing, self._outgoing_recv, self._queued = open_outgoing(options.outgoing_buffer)
        self._handle = resume_handle
        self._replay = ReplayBuffer(replay_audio_seconds=self._policy.replay_audio_seconds)
        self._active: Connection | None = None
        self._active_changed = trio.Event()
        self._send_lock = FifoLock()
        self._flushed = trio.Event()
        self._closing = trio.Event()
        #: The supervisor's wait on the active connection (see ``_watch``).
        self._watching: trio.CancelScope | None = None
        self._connections = 0
        self._reconnects = 0
        self._turn_open = False
        self._handle_fresh = resume_handle is not None
        self._quiet_changed = trio.Event()
        self._error: BaseException | None = None
        self._finished = trio.Event()
        self._cancel_scope = trio.CancelScope()
        self._metrics = MetricsRecorder()
        self._completed_turn_sent = False
        #: ``send_*`` may still write: false from ``aclose`` or the session's end on.
        self._accepting = True
        self._rapid_drops = 0
        #: call id -> number of the connection the call came on (to spot stale responses)
        self._call_origin: dict[str, int] = {}
        self._tools: ToolDispatcher | None = None
        if handlers:
            declared = {d.name for t in setup.tools or () for d in t.function_declarations or ()}
            self._tools = ToolDispatcher(
                handlers,
                declared=declared,
                send=self.send,
                report=self._deliver,
                max_concurrent=options.max_concurrent_tools,
            )
        self.session_id: str | None = None

    def __repr__(self) -> str:
        state = "closed" if self._finished.is_set() else "open"
        url = self._endpoint.safe_url if self._endpoint else "-"
        return (
            f"<LiveSession model={self.model!r} {state} connections={self._connections} "
            f"url={url!r}>"
        )

    # ------------------------------------------------------------------ public state

    @property
    def resumption_handle(self) -> str | None:
        """The newest resumable handle (``None`` until the server sends one)."""
        return self._handle

    @property
    def closed(self) -> bool:
        return self._finished.is_set()

    @property
    def error(self) -> BaseException | None:
        """Why the session ended, if it ended on its own."""
        return self._error

    @property
    def reconnects(self) -> int:
        """How many times the session moved to a new connection."""
        return self._reconnects

    @property
    def stats(self) -> SessionStats:
        """Latencies, tool round trips, reconnect gaps and token usage so far."""
        return self._metrics.stats

    # ------------------------------------------------------------------ sending

    async def send(self, message: ev.ClientMessage) -> None:
        """Send any client message: directly from this task when nothing is queued ahead of it
        (saves a task switch per audio frame), else through ``session.outgoing``, in order."""
        connection = self._active
        if (
            connection is not None
            and self._accepting
            and self._queued.queued == 0  # nothing waits for the writer or is in its hands
            and not connection.ended.is_set()
            and not self._closing.is_set()
        ):
            try:
                self._send_lock.acquire_nowait()
            except trio.WouldBlock:
                pass
            else:
                try:
                    await self._write_locked(message, connection)
                finally:
                    self._send_lock.release()
                return
        try:
            await self.outgoing.send(message)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self._send_error() from None

    def _send_error(self) -> BaseException:
        if self._error is not None:
            return self._error
        return UsageError("the session is closed")

    async def send_text(self, text: str, *, turn_complete: bool = True) -> None:
        """Send a user text turn the way this model takes text (wire-protocol.md §7.3).

        ``clientContent`` for most models; ``realtimeInput.text`` for realtime-text models
        (Gemini 3.1 Flash Live), where ``turn_complete`` must be true.
        """
        if not isinstance(text, str):
            raise UsageError(f"send_text takes a str, not {type(text).__name__}")
        if self._text_input is TextInput.REALTIME_INPUT:
            if not turn_complete:
                raise UsageError(
                    f"{self.model} takes text as realtimeInput.text, which has no "
                    "turn_complete=False; use send_client_content to seed history"
                )
            await self.send(ev.RealtimeInput(text=text))
        else:
            await self.send_client_content([Content.user(text)], turn_complete=turn_complete)

    async def send_client_content(
        self,
        turns: Sequence[Content] | Content | str | None = None,
        *,
        turn_complete: bool = True,
    ) -> None:
        """Add ordered turns to the history; ``turn_complete`` makes the model answer.

        On realtime-text models (Gemini 3.1 Flash Live) this is only for seeding the initial
        history (see ``HistoryConfig``); use :meth:`send_text` for conversation turns.
        """
        check_client_content(self.model, self.config, seeding=not self._completed_turn_sent)
        if turn_complete:
            self._completed_turn_sent = True
        if isinstance(turns, str):
            turns = [Content.user(turns)]
        elif isinstance(turns, Content):
            turns = [turns]
        await self.send(ev.ClientContent(turns=turns, turn_complete=turn_complete))

    async def send_realtime_input(
        self,
        *,
        audio: bytes | Blob | None = None,
        video: bytes | Blob | None = None,
        text: str | None = None,
        activity_start: bool = False,
        activity_end: bool = False,
        audio_stream_end: bool = False,
    ) -> None:
        """Stream one realtime input. Exactly one argument per call, as the server requires.

        ``audio`` bytes are 16 kHz mono s16le PCM (``audio/pcm;rate=16000``); pass a
        :class:`Blob` for another rate. ``video`` bytes are one JPEG frame.
        """
        if (
            audio is not None
            and video is None
            and text is None
            and not (activity_start or activity_end or audio_stream_end)
        ):  # the hot path: one audio chunk, checked without building anything
            if type(audio) is bytes:
                await self.send(ev.RealtimeInput(audio=Blob(mime_type=AUDIO_MIME, data=audio)))
                return
        else:
            given = [
                name
                for name, value in (
                    ("audio", audio),
                    ("video", video),
                    ("text", text),
                    ("activity_start", activity_start or None),
                    ("activity_end", activity_end or None),
                    ("audio_stream_end", audio_stream_end or None),
                )
                if value is not None
            ]
            if len(given) != 1:
                raise UsageError(
                    "send_realtime_input takes exactly one argument per call, got "
                    + (", ".join(given) or "none")
                )
        manual = self.config.manual_activity()
        if (activity_start or activity_end) and not manual:
            raise UsageError(
                "activity_start/activity_end need automatic activity detection disabled "
                "(RealtimeInputConfig(automatic_activity_detection="
                "AutomaticActivityDetection(disabled=True)))"
            )
        if audio_stream_end and manual:
            raise UsageError("audio_stream_end is for automatic activity detection only")
        if audio is not None:
            blob = audio if isinstance(audio, Blob) else Blob(mime_type=AUDIO_MIME, data=audio)
            if not blob.mime_type.startswith("audio/"):
                raise UsageError(f"audio needs an audio/* MIME type, got {blob.mime_type!r}")
            message = ev.RealtimeInput(audio=blob)
        elif video is not None:
            blob = video if isinstance(video, Blob) else Blob(mime_type="image/jpeg", data=video)
            if not blob.mime_type.startswith("image/"):
                raise UsageError(f"video needs an image/* MIME type, got {blob.mime_type!r}")
            message = ev.RealtimeInput(video=blob)
        elif text is not None:
            message = ev.RealtimeInput(text=text)
        elif activity_start:
            message = ev.RealtimeInput(activity_start=ev.ActivityStart())
        elif activity_end:
            message = ev.RealtimeInput(activity_end=ev.ActivityEnd())
        else:
            message = ev.RealtimeInput(audio_stream_end=True)
        await self.send(message)

    async def send_tool_response(
        self, responses: FunctionResponse | Sequence[FunctionResponse]
    ) -> None:
        """Answer function calls. On the Gemini API every response needs the call's ``id``."""
        if isinstance(responses, FunctionResponse):
            responses = [responses]
        if not responses:
            raise UsageError("send_tool_response needs at least one FunctionResponse")
        if not self._vertex and any(r.id is None for r in responses):
            raise UsageError("each FunctionResponse needs the id of the call it answers")
        await self.send(ev.ToolResponse(function_responses=list(responses)))

    # ------------------------------------------------------------------ lifecycle

    async def aclose(self) -> None:
        """Send what is queued, close with 1000 and stop every task. Idempotent."""
        try:
            if not self._closing.is_set():
                self._accepting = False  # what comes now goes to the closed channel: an error
                self.outgoing.close()
                with trio.move_on_after(self.options.close_timeout):
                    await self._flushed.wait()
                self._close_soon()
                with trio.move_on_after(self.options.close_timeout):
                    await self._finished.wait()
        finally:
            self._close_soon()
            self._cancel_scope.cancel()
        await self._finished.wait()

    async def _run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The session's main task."""
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as connections:
                    connections.start_soon(self._writer)
                    if self._tools is not None:
                        connections.start_soon(self._tools.run)
                    await self._supervise(connections, task_status)
                    connections.cancel_scope.cancel()
        finally:
            self._accepting = False
            self._outgoing_recv.close()  # sends fail from now on, with the reason
            self._delivery.finish()  # what is queued stays readable, then EndOfChannel
            if self._recording is not None:
                self._recording.close()
            self._flushed.set()
            self._finished.set()

    async def _supervise(self, nursery: trio.Nursery, task_status: trio.TaskStatus[None]) -> None:
        """Run connections until the session is over."""
        connection = await self._connect(nursery)  # the first one: no retry, errors propagate
        self._activate(connection)
        task_status.started()
        while True:
            why = await self._watch(connection)
            if why == "closing":
                await connection.retire(self.options.close_timeout)
                return
            if why == "handover":
                new = await self._reconnect(nursery, connection, None)
                if new is not None:
                    nursery.start_soon(connection.retire, self.options.close_timeout)
                    connection = new
                continue
            error = connection.error
            if error is None or self._closing.is_set():
                return
            if not self._policy.should_retry(error):
                self._error = error
                return
            if self._tools is not None:  # their calls are not in any resumed state
                self._tools.cancel_running("the connection was lost")
            new = await self._reconnect(nursery, connection, error)
            if new is None:
                return
            connection = new

    async def _watch(self, connection: Connection) -> str:
        """Wait until the connection ended, the user is closing, or a handover is due.

        One wait, no helper tasks: the connection's end and ``aclose`` cancel it."""
        if self._closing.is_set():
            return "closing"
        if connection.ended.is_set():
            return "ended"
        with trio.CancelScope() as scope:
            self._watching = scope
            connection.on_end = scope.cancel
            try:
                if self._policy.handover and not connection.handover_failed:
                    await self._handover_due(connection)
                    return "handover"
                await trio.sleep_forever()
            finally:
                self._watching = None
                connection.on_end = None
        return "closing" if self._closing.is_set() else "ended"

    def _close_soon(self) -> None:
        """The user is leaving: the supervisor stops watching and retires the connection."""
        self._closing.set()
        if self._watching is not None:
            self._watching.cancel()

    def _quiet(self) -> bool:
        """No turn in progress, no tool running, and the newest handle covers every turn."""
        tools_idle = self._tools is None or not self._tools.running
        return not self._turn_open and self._handle_fresh and tools_idle

    def _poke_quiet(self) -> None:
        self._quiet_changed.set()
        self._quiet_changed = trio.Event()

    async def _handover_due(self, connection: Connection) -> None:
        """Returns when this connection should be replaced after its ``goAway``."""
        await connection.go_away_received.wait()
        deadline = connection.go_away_deadline
        assert deadline is not None
        while self._handle is None:  # nothing to resume from yet: wait for the first handle
            await self._quiet_changed.wait()
        now = trio.current_time()
        if connection.handover_by is None:
            connection.handover_by = now + max(0.0, deadline - now) * self._policy.handover_at
        with trio.move_on_at(connection.handover_by):
            while not self._quiet():
                await self._quiet_changed.wait()

    async def _connect(self, nursery: trio.Nursery) -> Connection:
        """Open one more connection (resuming from the newest handle, if any)."""
        self._connections += 1
        self._endpoint = endpoint = await self._auth.endpoint(
            self.model,
            api_version=self._api_version,
            base_url=self._base_url,
            allow_insecure=self.options.allow_insecure,
        )
        setup = self._setup
        if self._handle is not None:
            resumption = setup.session_resumption or SessionResumptionConfig()
            setup = attrs.evolve(
                setup, session_resumption=attrs.evolve(resumption, handle=self._handle)
            )
        if self._recording is not None:
            self._recording.write("client", self._connections, dumps(encode_client_message(setup)))
        policy = self._policy
        keepalive = (
            (policy.keepalive_interval, policy.keepalive_timeout)
            if policy.keepalive_interval
            else None
        )
        start = partial(
            run_connection,
            number=self._connections,
            endpoint=endpoint,
            setup=setup,
            on_frame=self._on_frame,
            ssl_context=self._ssl_context,
            connect_timeout=self.options.connect_timeout,
            setup_timeout=self.options.setup_timeout,
            close_timeout=self.options.close_timeout,
            keepalive=keepalive,
            send_timeout=self.options.send_timeout,
            transport=self.options.transport,
        )
        try:
            connection: Connection = await nursery.start(start)
        except BaseExceptionGroup as group:
            leaf = _collapse(group)
            raise leaf from leaf.__cause__
        self.session_id = connection.protocol.session_id or self.session_id
        self._metrics.connected()
        return connection

    async def _reconnect(
        self, nursery: trio.Nursery, old: Connection, error: GeminiLiveError | None
    ) -> Connection | None:
        """Replace ``old``: planned (``error`` is None, ``old`` still works) or after a drop."""
        planned = error is None
        lost_at = trio.current_time()
        delays = self._policy.delays(error)
        # A reconnected connection that died young does not reset the backoff: a server that
        # accepts and drops at once must not get a burst of immediate reconnects.
        young = lost_at - old.opened_at < self._policy.stable_after
        if not planned and old.number > 1 and young:
            # it counts as one more failed attempt at restoring the same connection
            self._rapid_drops += 1
            if self._rapid_drops >= self._policy.max_attempts:
                self._error = error
                return None
            for _ in range(self._rapid_drops):
                next(delays)
        else:
            self._rapid_drops = 0
        last: BaseException | None = error
        limit = self._policy.max_reconnects
        for attempt in range(1, self._policy.max_attempts + 1):
            if self._closing.is_set() or (limit is not None and self._reconnects >= limit):
                break
            delay = next(delays)
            reason = "goAway" if error is None else str(error)
            held = planned
            if planned:
                # A planned handover holds the writer from here to the switch: a turn sent
                # now would start being answered on the old connection, be cut off by the
                # switch and, being answered, not be replayed. Held messages wait in
                # ``outgoing`` and go out on the new connection. (After a drop there is no
                # live connection to protect: the writer is held only while switching.)
                await trio.sleep(delay)
                await self._send_lock.acquire()
                by = old.handover_by
                if not self._quiet() and by is not None and trio.current_time() < by:
                    # a turn went out since the quiet moment: wait for the next one
                    self._send_lock.release()
                    return None
                self._deliver(
                    ev.Reconnecting(attempt=attempt, delay=delay, reason=reason, planned=True)
                )
            else:
                self._deliver(
                    ev.Reconnecting(attempt=attempt, delay=delay, reason=reason, planned=False)
                )
                await trio.sleep(delay)
            handle = self._handle
            try:
                try:
                    new = await self._connect(nursery)
                    while self._handle != handle:
                        # a newer handle arrived (on the old connection) while this one was
                        # set up: resuming from the older one would silently lose a turn
                        nursery.start_soon(new.retire, self.options.close_timeout)
                        handle = self._handle
                        new = await self._connect(nursery)
                except GeminiLiveError as exc:
                    logger.info("reconnect attempt %d failed: %s", attempt, exc)
                    last = exc
                    if not self._policy.should_retry(exc):
                        break
                    continue
                resumed = handle is not None
                if self._tools is not None:
                    self._tools.cancel_running("the connection was replaced")
                if not held:
                    await self._send_lock.acquire()
                    held = True
                replayed, lost = await self._switch_locked(new)
            finally:
                if held:
                    self._send_lock.release()
            self._reconnects += 1
            done = ev.Reconnected(
                resumed=resumed,
                gap=trio.current_time() - lost_at,
                attempts=attempt,
                replayed=replayed,
                lost=lost,
                planned=planned,
            )
            self._metrics.reconnected(done)
            self._deliver(done)
            return new
        if planned:
            old.handover_failed = True  # keep using it; reconnect when it ends
            return None
        if not self._closing.is_set():
            self._error = last
        return None

    async def _switch_locked(self, new: Connection) -> tuple[int, int]:
        """Replay what the new connection lacks, then make it the one the writer uses
        (``_send_lock`` held by the caller)."""
        plan = self._replay.plan()
        replayed = 0
        for position, message in enumerate(plan.messages):
            frame = new.protocol.send(message)
            self._replay.record(new.number, new.protocol.client_messages, message)
            if self._recording is not None:
                self._recording.write("client", new.number, frame)
            try:
                await new.socket.send(frame)
            except TransportClosed:
                # this connection died too: keep the rest for the next one
                for rest in plan.messages[position + 1 :]:
                    self._replay.record(new.number, new.protocol.client_messages + 1, rest)
                break
            replayed += 1
        # a fresh connection: nothing is in progress on it until the model says so
        self._turn_open = False
        self._handle_fresh = self._handle is not None and all(is_realtime(m) for m in plan.messages)
        self._activate(new)
        return replayed, plan.lost

    def _activate(self, connection: Connection) -> None:
        self._active = connection
        self._active_changed.set()
        self._active_changed = trio.Event()

    # ------------------------------------------------------------------ writing

    async def _writer(self) -> None:
        async for message in self._outgoing_recv:
            try:
                await self._write(message)
            finally:
                # counted from ``outgoing.send`` until written, so a direct send (``send``)
                # never overtakes a message queued before it
                self._queued.queued -= 1
        self._flushed.set()

    async def _write(self, message: ev.ClientMessage) -> None:
        while True:
            connection = self._active
            if connection is None or connection.ended.is_set():
                await self._active_changed.wait()
                continue
            async with self._send_lock:
                if connection is not self._active or connection.ended.is_set():
                    continue
                await self._write_locked(message, connection)
                return

    async def _write_locked(self, message: ev.ClientMessage, connection: Connection) -> None:
        """Encode, remember for replay, and send ``message`` (``_send_lock`` held)."""
        if isinstance(message, ev.ToolResponse) and self._stale(message, connection):
            logger.info("dropped a tool response whose call belongs to a lost connection")
            self._deliver(
                ev.SendFailed(
                    message=message,
                    error="its call was made on a connection that has been replaced",
                )
            )
            return
        try:
            frame = connection.protocol.send(message)
        except (GeminiLiveError, TypeError, ValueError, KeyError) as exc:
            logger.warning("could not send %s: %s", type(message).__name__, exc)
            self._deliver(ev.SendFailed(message=message, error=str(exc)))
            return
        if not self._replay.record(connection.number, connection.protocol.client_messages, message):
            self._handle_fresh = False  # a turn or tool answer the newest handle does not hold
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("send %s", preview(frame))
        if self._recording is not None:
            self._recording.write("client", connection.number, frame)
        # A frame is written whole or the connection is given up: a write cut short by a
        # cancellation from outside may have left half a frame on the wire, which would corrupt
        # every later frame. The message is already in the replay buffer, so the next
        # connection gets it. A write that stalls is ended by the connection's watchdog after
        # send_timeout (a timer per frame would cost more than the rest of this path).
        connection.sending_since = now = trio.current_time()
        try:
            await connection.socket.send(frame)
        except TransportClosed:
            pass  # recorded: replayed on the next connection
        except BaseException:
            connection.give_up("a send was cancelled part-way through a frame")
            raise
        finally:
            connection.sending_since = None
        self._metrics.sent(message, now)

    def _stale(self, message: ev.ToolResponse, connection: Connection) -> bool:
        """True when every call this response answers came on an earlier connection."""
        origins = [self._call_origin.get(r.id or r.name) for r in message.function_responses]
        return all(o is not None and o < connection.number for o in origins)

    # ------------------------------------------------------------------ reading

    def _on_frame(self, connection: Connection, data: str | bytes) -> bool:
        """Called by a connection's reader for every frame; never blocks. True when the frame
        ended a turn or asked for a tool: the application is about to answer."""
        if logger.isEnabledFor(logging.DEBUG):
            logger.debug("recv %s", preview(data))
        if self._recording is not None:
            self._recording.write("server", connection.number, data)
        try:
            events = connection.protocol.receive(data)
        except GeminiLiveError as exc:
            message = getattr(exc, "message", str(exc))
            logger.warning("malformed frame from the server: %s", message)
            events = [ev.MalformedFrame(error=message, preview=getattr(exc, "preview", ""))]
        metrics = self._metrics
        now = trio.current_time()
        answer = False
        for event in events:
            kind = type(event)
            metrics.received(event, now)
            if kind is ev.ServerContent:
                if event.model_turn is not None or event.output_transcription is not None:
                    self._replay.model_output()
                    self._turn_open = True
                if event.turn_complete or event.interrupted:
                    self._turn_open = False
                    self._poke_quiet()
                    answer = True
            elif kind is ev.ToolCall:
                answer = True
                self._replay.model_output()
                self._turn_open = True
                for call in event.function_calls:
                    self._call_origin[call.id or call.name] = connection.number
            elif kind is ev.SessionResumptionUpdate:
                active = self._active
                if active is not None and connection.number < active.number:
                    pass  # a retiring connection's handle must not replace the newer state
                elif event.resumable and event.new_handle:
                    self._handle = event.new_handle
                    self._replay.covered(
                        connection.number, event.last_consumed_client_message_index
                    )
                    self._handle_fresh = True
                    self._poke_quiet()
            elif kind is ev.GoAway:
                connection.note_go_away(event)
            self._deliver(event)
            if self._tools is not None and (kind is ev.ToolCall or kind is ev.ToolCallCancellation):
                self._tools.submit(event)
        turn = metrics.frame_done()
        if turn is not None:
            self._deliver(turn)
        return answer

    def _deliver(self, event: ev.ServerEvent) -> None:
        """Hand an event to the application without ever blocking the reader."""
        if type(event) is ev.ToolCallFinished:
            self._poke_quiet()
        if not self._delivery.deliver(event) and self._error is None:
            self._error = SlowConsumer(
                f"more than {self.options.max_pending_events} events are waiting to be read; "
                "read session.events faster or raise SessionOptions.max_pending_events"
            )
            self._cancel_scope.cancel()


async def _cancel_body_when_failed(session: LiveSession, scope: trio.CancelScope) -> None:
    """When the session ends on its own with an error, stop the ``async with`` body too (its
    error is raised from the block). A body that reads events gets every one of them first:
    the body is cancelled once nothing is left unread, or once nothing has been read for half
    a second (a body blocked elsewhere, never reading, would otherwise hang forever)."""
    await session._finished.wait()
    if session.error is None:
        return
    grace = 0.5
    unread = session._delivery.unread
    idle = 0.0
    while unread and idle < grace:
        await trio.sleep(0.05)
        now = session._delivery.unread
        idle = 0.0 if now < unread else idle + 0.05
        unread = now
    scope.cancel()


def _collapse(group: BaseExceptionGroup[Any]) -> BaseException:
    """One exception for the user: the only leaf, else an InternalError wrapping the group."""
    leaves: list[BaseException] = []
    stack: list[BaseException] = [group]
    while stack:
        exc = stack.pop()
        if isinstance(exc, BaseExceptionGroup):
            stack.extend(reversed(exc.exceptions))
        else:
            leaves.append(exc)
    non_cancel = [e for e in leaves if not isinstance(e, trio.Cancelled)]
    if len(leaves) == 1:
        return leaves[0]
    if len(non_cancel) == 1:
        return non_cancel[0]
    if not non_cancel:
        return leaves[0]
    if len(group.exceptions) == 1:
        return group.exceptions[0]  # the body's own exception group: the user's, unchanged
    error = InternalError(
        "several errors at once (please report this): "
        + "; ".join(f"{type(e).__name__}: {e}" for e in non_cancel)
    )
    error.__cause__ = group
    return error


def _build_setup(model_path: str, config: LiveConfig, tools: Sequence[Tool]) -> ev.Setup:
    return ev.Setup(
        model=model_path,
        generation_config=config.generation_config(),
        system_instruction=config.system_content(),
        tools=list(tools) or None,
        realtime_input_config=config.realtime_input_config,
        session_resumption=config.session_resumption,
        context_window_compression=config.context_window_compression,
        input_audio_transcription=config.input_audio_transcription,
        output_audio_transcription=config.output_audio_transcription,
        proactivity=config.proactivity,
        explicit_vad_signal=config.explicit_vad_signal,
        history_config=config.history_config,
        safety_settings=config.safety_settings,
        avatar_config=config.avatar_config,
    )


async def connect_live_session(
    nursery: trio.Nursery,
    model: str,
    *,
    config: LiveConfig | None = None,
    api_key: str | None = None,
    auth: Auth | None = None,
    api_version: str | None = None,
    base_url: str | None = None,
    tools: Sequence[ToolLike] | None = None,
    ssl_context: Any = None,
    options: SessionOptions | None = None,
    resume_handle: str | None = None,
    recording: Recording | None = None,
) -> LiveSession:
    """Open a session whose tasks run in ``nursery``; returns once ``setupComplete`` arrived.

    The caller must ``await session.aclose()`` (or cancel the nursery). Prefer
    :func:`open_live_session`, which does that for you.
    """
    config = config or LiveConfig()
    options = options or SessionOptions()
    if auth is None:
        auth = ApiKey(key=api_key) if api_key is not None else ApiKey.from_env()
    if auth is None:
        raise ConfigError(
            "no credentials: pass api_key=..., auth=..., or set GEMINI_API_KEY "
            "(or run against the emulator: gemini_live_trio.testing)"
        )
    setup_tools, handlers = collect_tools([*(config.tools or ()), *(tools or ())])
    endpoint = await auth.endpoint(
        model, api_version=api_version, base_url=base_url, allow_insecure=options.allow_insecure
    )  # checks the URL and credentials before anything else happens
    check_config(
        model,
        config,
        api_version=endpoint.api_version or api_version or "v1beta",
        vertex=endpoint.vertex,
        tools=setup_tools,
    )
    if endpoint.vertex and config.response_modalities is None:
        config = attrs.evolve(config, response_modalities=["AUDIO"])  # as the official SDK does
    setup = _build_setup(endpoint.model, config, setup_tools)
    if options.reconnect.enabled and setup.session_resumption is None:
        # reconnecting without a handle would start a new conversation: ask for handles
        setup = attrs.evolve(setup, session_resumption=SessionResumptionConfig())
    session = LiveSession(
        model=model,
        auth=auth,
        api_version=api_version,
        base_url=base_url,
        setup=setup,
        config=config,
        options=options,
        ssl_context=ssl_context,
        vertex=endpoint.vertex,
        handlers=handlers,
        resume_handle=resume_handle,
        recording=recording,
    )
    try:
        await nursery.start(session._run)
    except BaseExceptionGroup as group:
        leaf = _collapse(group)
        raise leaf from leaf.__cause__
    return session


@asynccontextmanager
async def open_live_session(
    model: str,
    *,
    config: LiveConfig | None = None,
    api_key: str | None = None,
    auth: Auth | None = None,
    api_version: str | None = None,
    base_url: str | None = None,
    tools: Sequence[ToolLike] | None = None,
    ssl_context: Any = None,
    options: SessionOptions | None = None,
    resume_handle: str | None = None,
    recording: Recording | None = None,
) -> AsyncIterator[LiveSession]:
    """Open a Live session for the duration of an ``async with`` block.

    ::

        async with open_live_session(model, config=LiveConfig(...)) as session:
            await session.send_text("hello")
            async for event in session.events:
                ...

    The API key comes from ``api_key``, else ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``.
    ``base_url`` (``ws://`` or ``wss://``) points at the emulator or a proxy. ``resume_handle``
    continues an earlier conversation (every setup field but the model may change). ``tools`` takes
    plain functions (sync, async or async generators), :func:`tool`-decorated functions,
    :class:`FunctionDeclaration` (answered by you) and built-in :class:`Tool` s. Raises one
    library error (see the exception tree) or your own error, never an exception group.
    """
    session: LiveSession | None = None
    try:
        async with trio.open_nursery() as nursery:
            session = await connect_live_session(
                nursery,
                model,
                config=config,
                api_key=api_key,
                auth=auth,
                api_version=api_version,
                base_url=base_url,
                tools=tools,
                ssl_context=ssl_context,
                options=options,
                resume_handle=resume_handle,
                recording=recording,
            )
            nursery.start_soon(_cancel_body_when_failed, session, nursery.cancel_scope)
            try:
                yield session
            finally:
                await session.aclose()
    except BaseExceptionGroup as group:
        leaf = _collapse(group)
        raise leaf from leaf.__cause__
    if session is not None and session.error is not None:
        error = session.error
        raise error
