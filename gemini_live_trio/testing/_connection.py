"""One emulated Live connection as a behaviour sees it: request facts, message I/O, closing.

:class:`EmulatorConnection` decodes client frames with the server-role :class:`LiveProtocol` and
enforces the protocol rules the real service enforces after ``setup`` (wire-protocol.md §4): a
broken rule closes the connection with 1007, as the service does, and ends the behaviour with
:class:`ClientGone`.
"""

import secrets
import typing
from collections.abc import Mapping
from typing import Any

from .._events import ClientMessage, RealtimeInput, ServerEvent, Setup, ToolResponse
from .._exceptions import ProtocolError
from .._protocol import LiveProtocol, Role
from .._transport import ServerConnection, TransportClosed
from . import _reply

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
        resumption_store: dict[str, dict[str, Any]] | None = None,
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
        #: Close code and reason sent by either side; ``(1006, None)`` after :meth:`drop`.
        self.closed_with: tuple[int, str | None] | None = None
        #: Conversation facts the default model remembers (``"name"``).
        self.memory: dict[str, Any] = {}
        #: Tokens in the conversation so far, by modality (prompt counts in usageMetadata).
        self.context_tokens: dict[str, int] = {}
        #: The session's one response modality (``AUDIO`` or ``TEXT``), set with ``setup``.
        self.response_modality = "AUDIO"
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
        if self.closed_with is not None:
            raise ClientGone(*self.closed_with)
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
        if self.closed_with is not None:
            raise ClientGone(*self.closed_with)
        try:
            await self._ws.send(data)
        except TransportClosed as exc:
            raise self._gone(exc.code, exc.reason) from None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Close the WebSocket with ``code``; ``reason`` is cut to 123 bytes."""
        reason = truncate_reason(reason)
        if self.closed_with is None:
            self.closed_with = (code, reason)
        self.protocol.closed()
        await self._ws.aclose(code, reason)

    async def drop(self) -> None:
        """End the TCP connection without a close frame: the client sees 1006."""
        if self.closed_with is None:
            self.closed_with = (1006, None)
        self.protocol.closed()
        await self._ws.drop()

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
        """A fresh handle that restores this conversation's memory on a later connection."""
        handle = secrets.token_hex(16)
        self._resumption_store[handle] = {
            "memory": dict(self.memory),
            "context_tokens": dict(self.context_tokens),
        }
        return handle

    def resume(self, handle: str) -> bool:
        """Restore the conversation saved under ``handle``; False if the handle is unknown."""
        saved = self._resumption_store.get(handle)
        if saved is None:
            return False
        self.memory.update(saved["memory"])
        self.context_tokens.update(saved["context_tokens"])
        return True

    # ------------------------------------------------------------------ internals

    def _gone(self, code: int, reason: str | None) -> ClientGone:
        if self.closed_with is None:
            self.closed_with = (code, reason)
        self.protocol.closed()
        return ClientGone(*self.closed_with)

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
