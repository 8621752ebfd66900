"""A Live session: one conversation, its tasks and its channels.

Tasks (all in the session's nursery, none outlives it):

* the **connection task** opens the WebSocket, sends ``setup``, waits for ``setupComplete``,
  then runs the **reader** (always drains the socket, decodes frames into events) and the
  **writer** (encodes ``session.outgoing`` messages onto the socket);
* the **pump** moves events the application has not read yet from the overflow queue into
  ``session.events`` (see "Slow consumers");
* the **tool dispatcher** (``_tools.py``) runs registered handlers.

Slow consumers. ``session.events`` is a memory channel with ``event_buffer`` slots (default
512, about 20 s of 40 ms audio frames). The reader never waits for the application: when the
channel is full, events go to an overflow queue, in order. If the audio waiting there exceeds
``max_buffered_audio`` seconds (default 60), the oldest audio-only ``ServerContent`` events are
dropped (stale audio is useless for real-time playback) and an :class:`EventsDropped` event
says how many. Nothing else is ever dropped; if more than ``max_pending_events`` (10,000)
non-audio events pile up, the session fails with :class:`SlowConsumer`.

Ending. When the connection ends the events channel is closed after the last event, so
``async for event in session.events`` stops; the reason is raised from the ``async with``
(and from any later ``send_*``). Leaving the ``async with`` sends what is already queued on
``session.outgoing`` (up to ``close_timeout``), closes with 1000, and cancels every task,
also when cancelled from outside.
"""

import collections
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from . import _events as ev
from ._auth import ApiKey, Endpoint, EphemeralToken
from ._config import LiveConfig, Tool
from ._content import Blob, Content, FunctionResponse
from ._exceptions import (
    ConfigError,
    GeminiLiveError,
    InternalError,
    SetupTimeout,
    UsageError,
    error_for_close,
)
from ._models import TextInput, text_input_for
from ._protocol import LiveProtocol, State
from ._tools import DEFAULT_MAX_CONCURRENT_TOOLS, ToolDispatcher, ToolLike, collect_tools
from ._transport import TransportClosed, WebSocket, open_websocket

logger = logging.getLogger("gemini_live_trio")

Auth = ApiKey | EphemeralToken

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
    #: Slots of ``session.events``.
    event_buffer: int = 512
    #: Slots of ``session.outgoing``; a full channel makes ``send_*`` wait (backpressure).
    outgoing_buffer: int = 64
    #: Seconds of unread 24 kHz audio kept beyond ``event_buffer`` before the oldest is dropped.
    max_buffered_audio: float = 60.0
    #: Unread non-audio events beyond ``event_buffer`` before the session fails.
    max_pending_events: int = 10_000
    #: Allow a credential over plain ws:// to a non-loopback host.
    allow_insecure: bool = False
    #: Tool handlers running at once; later calls wait for a slot.
    max_concurrent_tools: int = DEFAULT_MAX_CONCURRENT_TOOLS


def _audio_only(event: ev.ServerEvent) -> int:
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


class LiveSession:
    """An open Live conversation. Get one from :func:`open_live_session`.

    ``events`` yields typed server events; ``outgoing`` takes client messages. The ``send_*``
    helpers validate and put messages on ``outgoing``.
    """

    def __init__(
        self,
        *,
        model: str,
        setup: ev.Setup,
        endpoint: Endpoint,
        config: LiveConfig,
        options: SessionOptions,
        ssl_context: Any = None,
        vertex: bool = False,
        handlers: Any = None,
    ) -> None:
        self.model = model
        self.config = config
        self.options = options
        self._setup = setup
        self._endpoint = endpoint
        self._ssl_context = ssl_context
        self._vertex = vertex
        self._protocol = LiveProtocol()
        self._text_input = text_input_for(model)
        self._events_send, self.events = trio.open_memory_channel[ev.ServerEvent](
            options.event_buffer
        )
        self.outgoing, self._outgoing_recv = trio.open_memory_channel[ev.ClientMessage](
            options.outgoing_buffer
        )
        self._overflow: collections.deque[ev.ServerEvent] = collections.deque()
        self._overflow_audio = 0
        self._dropped = (0, 0)
        self._overflow_ready = trio.Event()
        self._reader_done = False
        self._error: BaseException | None = None
        self._finished = trio.Event()
        self._cancel_scope = trio.CancelScope()
        self._closing = False
        self._tools_scope = trio.CancelScope()
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
        state = "closed" if self._finished.is_set() else self._protocol.state.value
        return f"<LiveSession model={self.model!r} {state} url={self._endpoint.safe_url!r}>"

    # ------------------------------------------------------------------ public state

    @property
    def resumption_handle(self) -> str | None:
        """The newest resumable handle the server sent (``None`` until one arrives)."""
        return self._protocol.resumption_handle

    @property
    def closed(self) -> bool:
        return self._finished.is_set()

    @property
    def error(self) -> BaseException | None:
        """Why the session ended, if it ended on its own."""
        return self._error

    # ------------------------------------------------------------------ sending

    async def send(self, message: ev.ClientMessage) -> None:
        """Queue any client message (``session.outgoing.send`` with error mapping)."""
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
        """Add ordered turns to the history; ``turn_complete`` makes the model answer."""
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
        """Flush queued messages, close with 1000 and stop every task. Idempotent."""
        if not self._closing:
            self._closing = True
            self.outgoing.close()
            with trio.move_on_after(self.options.close_timeout):
                await self._finished.wait()
            self._cancel_scope.cancel()
        await self._finished.wait()

    async def _run(self, *, task_status: trio.TaskStatus[None]) -> None:
        """The session's main task: connection, reader, writer, pump."""
        try:
            with self._cancel_scope:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._pump)
                    if self._tools is not None:
                        nursery.start_soon(self._run_tools)
                    await self._connection(task_status=task_status)
                    self._tools_scope.cancel()  # no connection left to answer on
                    self._reader_done = True
                    self._overflow_ready.set()
                    if self._closing:
                        nursery.cancel_scope.cancel()
        finally:
            self._protocol.closed()
            self._events_send.close()
            self._outgoing_recv.close()
            self._finished.set()

    async def _run_tools(self) -> None:
        assert self._tools is not None
        with self._tools_scope:
            await self._tools.run()

    async def _connection(self, *, task_status: trio.TaskStatus[None]) -> None:
        endpoint = self._endpoint
        during_setup = True
        try:
            async with open_websocket(
                endpoint.url,
                endpoint.headers,
                safe_url=endpoint.safe_url,
                ssl_context=self._ssl_context,
                connect_timeout=self.options.connect_timeout,
                close_timeout=self.options.close_timeout,
            ) as socket:
                await socket.send(self._protocol.send(self._setup))
                with trio.move_on_after(self.options.setup_timeout) as scope:
                    while self._protocol.state is not State.OPEN:
                        self._handle_frame(await socket.receive())
                if scope.cancelled_caught:
                    raise SetupTimeout(
                        f"no setupComplete from {endpoint.safe_url} within "
                        f"{self.options.setup_timeout:g} s"
                    )
                during_setup = False
                self.session_id = self._protocol.session_id
                logger.debug("session %s ready at %s", self.session_id, endpoint.safe_url)
                task_status.started()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, socket)
                    try:
                        await self._reader(socket)
                    except TransportClosed as exc:
                        self._connection_closed(exc)
                    nursery.cancel_scope.cancel()
        except TransportClosed as exc:
            # Closed during setup: the reason is the error of open_live_session itself.
            raise error_for_close(exc.code, exc.reason, during_setup=during_setup) from None

    def _connection_closed(self, exc: TransportClosed) -> None:
        if exc.local and self._closing:
            return
        error = error_for_close(exc.code, exc.reason)
        logger.info("session %s ended: %s", self.session_id, error)
        if self._error is None:
            self._error = error

    def _handle_frame(self, data: str | bytes) -> None:
        try:
            events = self._protocol.receive(data)
        except GeminiLiveError as exc:
            message = getattr(exc, "message", str(exc))
            logger.warning("malformed frame from the server: %s", message)
            events = [ev.MalformedFrame(error=message, preview=getattr(exc, "preview", ""))]
        for event in events:
            self._deliver(event)
            if self._tools is not None and type(event) in (ev.ToolCall, ev.ToolCallCancellation):
                self._tools.submit(event)

    async def _reader(self, socket: WebSocket) -> None:
        while True:
            self._handle_frame(await socket.receive())

    async def _writer(self, socket: WebSocket) -> None:
        try:
            async for message in self._outgoing_recv:
                try:
                    frame = self._protocol.send(message)
                except (GeminiLiveError, TypeError, ValueError, KeyError) as exc:
                    logger.warning("could not send %s: %s", type(message).__name__, exc)
                    self._deliver(ev.SendFailed(message=message, error=str(exc)))
                    continue
                await socket.send(frame)
            # outgoing closed by aclose(): everything queued is on the wire; close politely.
            await socket.aclose(1000)
        except TransportClosed:
            pass  # the reader sees the same close and reports it

    # ------------------------------------------------------------------ delivery

    def _deliver(self, event: ev.ServerEvent) -> None:
        """Hand an event to the application without ever blocking the reader."""
        if not self._overflow:
            try:
                self._events_send.send_nowait(event)
                return
            except trio.WouldBlock:
                pass
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                return  # nobody will read it any more
        self._overflow.append(event)
        self._overflow_audio += _audio_only(event)
        self._overflow_ready.set()
        self._enforce_overflow_limits()

    def _enforce_overflow_limits(self) -> None:
        limit = int(self.options.max_buffered_audio * 48_000)
        count, size = self._dropped
        while self._overflow_audio > limit:
            for index, queued in enumerate(self._overflow):
                audio = _audio_only(queued)
                if audio:
                    del self._overflow[index]
                    self._overflow_audio -= audio
                    count, size = count + 1, size + audio
                    break
            else:
                break
        self._dropped = (count, size)
        if len(self._overflow) > self.options.max_pending_events and self._error is None:
            self._error = SlowConsumer(
                f"more than {self.options.max_pending_events} events are waiting to be read; "
                "read session.events faster or raise max_pending_events"
            )
            self._cancel_scope.cancel()

    async def _pump(self) -> None:
        while True:
            await self._overflow_ready.wait()
            self._overflow_ready = trio.Event()
            while self._overflow or self._dropped[0]:
                if self._dropped[0]:
                    count, size = self._dropped
                    self._dropped = (0, 0)
                    logger.warning("slow consumer: dropped %d audio events", count)
                    event: ev.ServerEvent = ev.EventsDropped(count=count, audio_bytes=size)
                else:
                    event = self._overflow.popleft()
                    self._overflow_audio -= _audio_only(event)
                try:
                    await self._events_send.send(event)
                except (trio.BrokenResourceError, trio.ClosedResourceError):
                    self._overflow.clear()
                    return
            if self._reader_done:
                return


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


def _check_config(model: str, config: LiveConfig, *, api_version: str, vertex: bool) -> None:
    """Problems the server would answer with an opaque close, caught before connecting."""
    modalities = config.response_modalities
    if modalities is not None and len(modalities) != 1:
        raise ConfigError(
            f"a Live session has exactly one response modality, got {list(modalities)}; "
            "use AUDIO with output_audio_transcription for text UX"
        )
    if api_version not in ("v1alpha", "v1beta"):
        raise ConfigError(f"api_version must be 'v1alpha' or 'v1beta', got {api_version!r}")
    if config.session_resumption and config.session_resumption.transparent and not vertex:
        raise ConfigError("session_resumption.transparent is Vertex AI only")
    if config.explicit_vad_signal and not vertex:
        raise ConfigError("explicit_vad_signal is Vertex AI only")


async def connect_live_session(
    nursery: trio.Nursery,
    model: str,
    *,
    config: LiveConfig | None = None,
    api_key: str | None = None,
    auth: Auth | None = None,
    api_version: str = "v1beta",
    base_url: str | None = None,
    tools: Sequence[ToolLike] | None = None,
    ssl_context: Any = None,
    options: SessionOptions | None = None,
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
    _check_config(model, config, api_version=api_version, vertex=False)
    setup_tools, handlers = collect_tools([*(config.tools or ()), *(tools or ())])
    endpoint = await auth.endpoint(
        model, api_version=api_version, base_url=base_url, allow_insecure=options.allow_insecure
    )
    session = LiveSession(
        model=model,
        setup=_build_setup(endpoint.model, config, setup_tools),
        endpoint=endpoint,
        config=config,
        options=options,
        ssl_context=ssl_context,
        handlers=handlers,
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
    api_version: str = "v1beta",
    base_url: str | None = None,
    tools: Sequence[ToolLike] | None = None,
    ssl_context: Any = None,
    options: SessionOptions | None = None,
) -> AsyncIterator[LiveSession]:
    """Open a Live session for the duration of an ``async with`` block.

    ::

        async with open_live_session(model, config=LiveConfig(...)) as session:
            await session.send_text("hello")
            async for event in session.events:
                ...

    The API key comes from ``api_key``, else ``GEMINI_API_KEY`` / ``GOOGLE_API_KEY``.
    ``base_url`` (``ws://`` or ``wss://``) points at the emulator or a proxy. ``tools`` takes
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
            )
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
