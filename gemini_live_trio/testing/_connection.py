"""One emulated Live connection as a behaviour sees it: request facts, message I/O, closing.

:class:`EmulatorConnection` decodes client frames with the server-role :class:`LiveProtocol` and
enforces the protocol rules the real service enforces after ``setup`` (wire-protocol.md §4): a
broken rule closes the connection with 1007, as the service does, and ends the behaviour with
:class:`ClientGone`.
"""

import math
import secrets
import typing
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import attrs
import trio

from .._content import Content
from .._events import (
    ClientContent,
    ClientMessage,
    GoAway,
    Int64,
    RealtimeInput,
    ServerEvent,
    SessionResumptionUpdate,
    Setup,
    ToolResponse,
)
from .._exceptions import ProtocolError
from .._protocol import LiveProtocol, Role
from .._transport import ServerConnection, TransportClosed
from . import _reply
from ._audio import INPUT_RATE, rate_of

#: What the real service says for a payload it refuses (wire-protocol.md §6.1).
INVALID_ARGUMENT = "Request contains an invalid argument."
#: RFC 6455 limit on a close reason.
MAX_REASON_BYTES = 123
#: The official SDK's (websockets') default limit on an incoming message.
MAX_FRAME_BYTES = 2**20

_REALTIME_FIELDS = (
    "audio",
    "video",
    "text",
    "activity_start",
    "activity_end",
    "audio_stream_end",
    "media_chunks",
)


class ClientGone(Exception):
    """The connection is over: the client closed or dropped it, or the emulator closed it.

    ``code`` is the close code (1006 when no close frame came), ``reason`` its text.
    """

    def __init__(self, code: int, reason: str | None = None) -> None:
        super().__init__(code, reason)
        self.code = code
        self.reason = reason


@attrs.frozen(kw_only=True)
class SavedConversation:
    """What a resumption handle restores: the state the model built from the client's input.

    ``history`` is every client message folded into this state, in order, across connections
    (the messages up to the ``lastConsumedClientMessageIndex`` the handle was issued with).
    """

    model: str
    issued_at: float
    memory: Mapping[str, Any]
    context_tokens: Mapping[str, int]
    history: tuple[ClientMessage, ...]
    pending_turns: tuple[Content, ...]
    pending_audio: bytes
    audio_rate: int


def truncate_reason(reason: str | None) -> str | None:
    """``reason`` cut to 123 bytes of UTF-8 without splitting a character."""
    if reason is None:
        return None
    return reason.encode()[:MAX_REASON_BYTES].decode("utf-8", "ignore")


class EmulatorConnection:
    """The emulator's side of one accepted connection.

    ``credential`` is the string the client authenticated with; it never appears in the repr.
    """

    def __init__(
        self,
        ws: ServerConnection,
        *,
        path: str,
        api_version: str,
        method: str,
        credential: str | None,
        vertex: bool,
        resumption_store: dict[str, SavedConversation] | None = None,
        send_consumed_index: bool = False,
    ) -> None:
        self._ws = ws
        #: The request path as sent (repeated slashes kept, query string removed).
        self.path = path
        #: Request headers, names in lower case.
        self.headers: dict[str, str] = dict(ws.headers)
        self.api_version = api_version
        #: ``BidiGenerateContent`` or ``BidiGenerateContentConstrained``.
        self.method = method
        self.credential = credential
        self.vertex = vertex
        self.protocol = LiveProtocol(Role.SERVER, vertex=vertex)
        #: Every client message after ``setup``, in order (including one that broke a rule).
        self.received: list[ClientMessage] = []
        self._closed_with: tuple[int, str | None] | None = None
        #: ``trio.current_time()`` when the emulator closed the connection or first noticed
        #: that the client had (see :attr:`closed_with`).
        self.closed_at: float | None = None
        #: Conversation facts the default model remembers (``"name"``).
        self.memory: dict[str, Any] = {}
        #: Tokens in the conversation so far, by modality (prompt counts in usageMetadata).
        self.context_tokens: dict[str, int] = {}
        #: The session's one response modality (``AUDIO`` or ``TEXT``), set with ``setup``.
        self.response_modality = "AUDIO"
        #: ``trio.current_time()`` when the upgrade was accepted.
        self.accepted_at = trio.current_time()
        #: The conversation's client messages as the model consumed them: those restored from
        #: the resumption handle, then every message received here (compare with what a client
        #: sent to prove nothing was lost or doubled across connections).
        self.history: list[ClientMessage] = []
        #: The handle this connection resumed from (``None``: a fresh conversation, also when
        #: an unknown handle was accepted leniently).
        self.resumed_from: str | None = None
        #: Resumable handles issued on this connection, oldest first.
        self.handles: list[str] = []
        #: Add ``lastConsumedClientMessageIndex`` to resumption updates (always on Vertex
        #: with ``transparent``); the index counts this connection's messages, ``setup`` is 0.
        self.send_consumed_index = send_consumed_index
        #: Input heard but not answered yet (text turns before ``turnComplete``, audio before
        #: its end), whoever received it; answering clears it; saved with a handle.
        self.pending_turns: list[Content] = []
        self.pending_audio = bytearray()
        self.audio_rate = INPUT_RATE
        #: ``(code, reason)`` the connection closes with when a ``goAway`` deadline passes.
        self.expiry: tuple[int, str | None] = (1000, None)
        #: Cancelled at the ``goAway`` deadline: the emulator then closes with ``expiry``.
        self.lifetime = trio.CancelScope()
        #: The ``setup`` frame as decoded JSON, in the client's own spelling.
        self.setup_json: Any = None
        self._setup: Setup | None = None
        self._resumption_store = {} if resumption_store is None else resumption_store

    def __repr__(self) -> str:
        model = self._setup.model if self._setup else None
        return (
            f"<EmulatorConnection {self.api_version} {self.method} model={model!r} "
            f"received={len(self.received)} closed_with={self.closed_with}>"
        )

    # ------------------------------------------------------------------ facts

    @property
    def setup(self) -> Setup:
        """The client's ``setup`` message (available to every behaviour)."""
        if self._setup is None:
            raise RuntimeError("this connection has not received setup")
        return self._setup

    @property
    def has_setup(self) -> bool:
        return self._setup is not None

    @property
    def closed_with(self) -> tuple[int, str | None] | None:
        """Close code and reason sent by either side; ``(1006, None)`` after :meth:`drop` or
        when the client vanished. ``None`` while the connection is open."""
        if self._closed_with is None and self._ws.closed is not None:
            self._ended(self._ws.closed)  # the client closed it while nobody was reading
        return self._closed_with

    @property
    def resumed(self) -> bool:
        """True when ``setup`` named a handle the emulator knew (the conversation goes on)."""
        return self.resumed_from is not None

    @property
    def session_id(self) -> str | None:
        return self.protocol.session_id

    @property
    def manual_activity(self) -> bool:
        """True when the client disabled automatic activity detection (push-to-talk)."""
        rc = self._setup.realtime_input_config if self._setup else None
        aad = rc.automatic_activity_detection if rc else None
        return bool(aad and aad.disabled)

    # ------------------------------------------------------------------ I/O

    async def receive_frame(self) -> str | bytes:
        """The next raw client frame; raises :class:`ClientGone` once the connection is over."""
        if self._closed_with is not None:
            raise ClientGone(*self._closed_with)
        try:
            return await self._ws.receive()
        except TransportClosed as exc:
            raise self._gone(exc.code, exc.reason) from None

    async def receive(self) -> ClientMessage:
        """The next client message, checked against the protocol rules.

        Raises :class:`ClientGone` when the client closed or dropped the connection, and after
        closing it for a broken rule (1007, the real service's wording).
        """
        data = await self.receive_frame()
        try:
            message = self.decode(data)
        except ProtocolError as exc:
            await self.close(exc.close_code, exc.close_reason)
            raise ClientGone(exc.close_code, truncate_reason(exc.close_reason)) from None
        if isinstance(message, Setup):
            return message
        self.received.append(message)
        self.history.append(message)
        self._absorb(message)
        if self._breaks_rules(message):
            await self.close(1007, INVALID_ARGUMENT)
            raise ClientGone(1007, INVALID_ARGUMENT)
        return message

    def decode(self, data: str | bytes) -> ClientMessage:
        """One client frame as a message (remembering ``setup``); raises :class:`ProtocolError`
        with the close code and reason the real service would use."""
        (message,) = self.protocol.receive(data)
        if isinstance(message, Setup):
            self._setup = message
        return typing.cast(ClientMessage, message)

    async def send(self, *events: ServerEvent) -> None:
        """Send ``events`` together in one binary frame (camelCase JSON)."""
        frame = self.protocol.send_frame(list(events))
        if len(frame) > MAX_FRAME_BYTES:
            raise ValueError(f"a {len(frame)}-byte frame would kill the official SDK (1009)")
        await self.send_raw(frame)

    async def send_raw(self, data: str | bytes) -> None:
        """Send one frame exactly as given (bytes: binary, str: text), e.g. a malformed one."""
        if self._closed_with is not None:
            raise ClientGone(*self._closed_with)
        try:
            await self._ws.send(data)
        except TransportClosed as exc:
            raise self._gone(exc.code, exc.reason) from None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the WebSocket with ``code``; ``reason`` is cut to 123 bytes."""
        reason = truncate_reason(reason)
        self._ended((code, reason))
        await self._ws.aclose(code, reason)

    async def drop(self) -> None:
        """End the TCP connection without a close frame: the client sees 1006."""
        self._ended((1006, None))
        await self._ws.drop()

    async def go_away(
        self, time_left: float | timedelta, *, code: int = 1000, reason: str | None = None
    ) -> None:
        """Send ``goAway {timeLeft}`` and close with ``code`` once that time has passed.

        Returns at once: the behaviour goes on until the deadline (or until the client leaves
        first, as a client handing over does). The real service closes with 1000, or with
        1011 ``"Deadline expired"`` in field reports (wire-protocol.md §2).
        """
        left = time_left if isinstance(time_left, timedelta) else timedelta(seconds=time_left)
        await self.send(GoAway(time_left=left))
        self.expiry = (code, truncate_reason(reason))
        deadline = trio.current_time() + left.total_seconds()
        self.lifetime.deadline = min(self.lifetime.deadline, deadline)

    async def stall(self, seconds: float = math.inf) -> None:
        """Play dead for ``seconds`` without closing: stop reading, answer no ping, send
        nothing. A client's keepalive should notice; an endless stall ends with the
        connection's lifetime (a ``goAway`` deadline) or the emulator."""
        if self._closed_with is not None:
            raise ClientGone(*self._closed_with)
        await self._ws.stall(seconds)

    # ------------------------------------------------------------------ the default model

    async def say(self, answer: str) -> None:
        """Send ``answer`` as one complete model turn (audio or text, per the session)."""
        await _reply.speak(self, answer)

    async def reply_to_text(self, text: str) -> None:
        """Answer a user text the way :func:`default_model` does."""
        await _reply.reply_to_text(self, text)

    async def reply_to_audio(self, pcm: bytes, rate: int = 16000) -> None:
        """Answer user audio (mono s16le at ``rate``): transcription first if enabled."""
        await _reply.reply_to_audio(self, pcm, rate)

    # ------------------------------------------------------------------ resumption

    def new_resumption_handle(self) -> str:
        """A fresh handle that restores this conversation (as consumed so far) later."""
        handle = secrets.token_hex(16)
        self._resumption_store[handle] = SavedConversation(
            model=self.setup.model,
            issued_at=trio.current_time(),
            memory=dict(self.memory),
            context_tokens=dict(self.context_tokens),
            history=tuple(self.history),
            pending_turns=tuple(self.pending_turns),
            pending_audio=bytes(self.pending_audio),
            audio_rate=self.audio_rate,
        )
        self.handles.append(handle)
        return handle

    def resumption_update(self, *, resumable: bool = True) -> SessionResumptionUpdate:
        """The ``sessionResumptionUpdate`` for this moment.

        Resumable: a fresh handle covering every message received so far, with
        ``lastConsumedClientMessageIndex`` (this connection's count; ``setup`` is 0) when the
        client asked for ``transparent`` or the emulator sends indices. Not resumable (during
        generation or a function call): no handle.
        """
        if not resumable:
            return SessionResumptionUpdate(resumable=False)
        resumption = self.setup.session_resumption
        index = None
        if self.send_consumed_index or (resumption is not None and resumption.transparent):
            index = Int64(self.protocol.client_messages)
        return SessionResumptionUpdate(
            new_handle=self.new_resumption_handle(),
            resumable=True,
            last_consumed_client_message_index=index,
        )

    def resume(self, handle: str, *, max_age: float = math.inf) -> bool:
        """Restore the conversation saved under ``handle``; False if the handle is unknown or
        older than ``max_age`` seconds."""
        saved = self._resumption_store.get(handle)
        if saved is None or trio.current_time() - saved.issued_at > max_age:
            return False
        self.memory.update(saved.memory)
        self.context_tokens.update(saved.context_tokens)
        self.history[:0] = saved.history
        self.pending_turns[:] = saved.pending_turns
        self.pending_audio[:] = saved.pending_audio
        self.audio_rate = saved.audio_rate
        self.resumed_from = handle
        return True

    def saved_model(self, handle: str) -> str | None:
        """The model of the conversation saved under ``handle`` (``None`` if unknown)."""
        saved = self._resumption_store.get(handle)
        return saved.model if saved is not None else None

    # ------------------------------------------------------------------ internals

    def _gone(self, code: int, reason: str | None) -> ClientGone:
        self._ended((code, reason))
        assert self._closed_with is not None
        return ClientGone(*self._closed_with)

    def _ended(self, how: tuple[int, str | None]) -> None:
        if self._closed_with is None:
            self._closed_with = how
            self.closed_at = trio.current_time()
        self.protocol.closed()

    def _absorb(self, message: ClientMessage) -> None:
        """Keep what the model has heard but not answered yet (whoever received it: the
        default model or a script step), so a handle issued now carries it."""
        if isinstance(message, ClientContent):
            self.pending_turns.extend(message.turns or ())
        elif isinstance(message, RealtimeInput):
            if message.activity_start is not None:
                self.pending_audio.clear()
            blobs = [message.audio] if message.audio is not None else message.media_chunks or ()
            for blob in blobs:
                if blob.mime_type.startswith("audio/"):
                    if not self.pending_audio:
                        self.audio_rate = rate_of(blob.mime_type)
                    self.pending_audio += blob.data

    def _breaks_rules(self, message: ClientMessage) -> bool:
        """The rules the real service enforces with 1007 (wire-protocol.md §4.3-4.5)."""
        if isinstance(message, RealtimeInput):
            values: Mapping[str, Any] = {f: getattr(message, f) for f in _REALTIME_FIELDS}
            present = [f for f, v in values.items() if v is not None and v is not False]
            if len(present) > 1:
                return True
            activity = message.activity_start is not None or message.activity_end is not None
            if activity and not self.manual_activity:
                return True
            if message.audio_stream_end and self.manual_activity:
                return True
        if isinstance(message, ToolResponse) and not self.vertex:
            return any(r.id is None for r in message.function_responses)
        return False
