"""Sans-I/O state machine for one Live connection, in the client or the server role.

:class:`LiveProtocol` turns frames (``str`` or ``bytes``) into events and events into frames and
tracks the few facts a connection has: whether ``setup`` went out and ``setupComplete`` came
back, the session id, how many client messages were sent (the index the server's
``lastConsumedClientMessageIndex`` refers to: ``setup`` is 0, later messages count from 1), and
the latest resumable handle. It does no I/O and reads no clock (h11/wsproto style).
"""

import enum
import re
from typing import Any

from . import _events as ev
from ._exceptions import FrameDecodeError, ProtocolError, UsageError
from ._wire import (
    WireError,
    decode_client_frame,
    decode_server_frame,
    dumps,
    encode_client_frame,
    encode_server_event,
)


class Role(enum.Enum):
    """Which side of the connection a :class:`LiveProtocol` plays."""

    CLIENT = "client"
    SERVER = "server"


class State(enum.Enum):
    """Where a connection is in its lifecycle."""

    #: Nothing sent yet; the client's first message must be ``setup``.
    IDLE = "idle"
    #: ``setup`` sent (client) or received (server); waiting for ``setupComplete``.
    SETTING_UP = "setting_up"
    #: ``setupComplete`` exchanged: the conversation is on.
    OPEN = "open"
    #: The connection ended; nothing more may be sent.
    CLOSED = "closed"


_LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{48,}")


def preview(data: str | bytes, limit: int = 160) -> str:
    """The start of a frame for error messages, with long base64 runs elided."""
    text = data[: limit * 4].decode("utf-8", "replace") if isinstance(data, bytes) else data
    text = _LONG_TOKEN.sub(lambda m: f"<{len(m.group())} chars>", text[: limit * 4])
    return text[:limit]


class LiveProtocol:
    """One connection's protocol state. ``role`` is whose side this object plays."""

    def __init__(self, role: Role = Role.CLIENT, *, vertex: bool = False) -> None:
        self.role = role
        #: Server role: spell usage the Vertex AI way (``candidatesTokenCount``).
        self.vertex = vertex
        self.state = State.IDLE
        self.session_id: str | None = None
        #: Client messages after ``setup`` sent (client role) or received (server role).
        self.client_messages = 0
        #: The newest handle that came with ``resumable: true``.
        self.resumption_handle: str | None = None
        #: The server's ``lastConsumedClientMessageIndex`` from the newest update, if any.
        self.last_consumed_index: int | None = None
        self.go_away: ev.GoAway | None = None

    def __repr__(self) -> str:
        return f"<LiveProtocol {self.role.value} {self.state.value} sent={self.client_messages}>"

    # ------------------------------------------------------------------ client role

    def send(self, message: ev.ClientMessage | ev.ServerEvent) -> str | bytes:
        """Encode an outgoing message (client role: text frame; server role: binary frame)."""
        if self.state is State.CLOSED:
            raise UsageError("the connection is closed")
        if self.role is Role.SERVER:
            if not isinstance(message, ev.ServerEvent):
                raise UsageError(f"the server role sends server events, not {message!r:.80}")
            if isinstance(message, ev.SetupComplete):
                self.state = State.OPEN
                self.session_id = message.session_id
            return dumps(encode_server_event(message, vertex=self.vertex)).encode()
        if not isinstance(message, ev.ClientMessage):
            raise UsageError(f"the client role sends client messages, not {message!r:.80}")
        if isinstance(message, ev.Setup):
            if self.state is not State.IDLE:
                raise UsageError("setup may be sent only once, as the first message")
            self.state = State.SETTING_UP
        elif self.state is not State.OPEN:
            raise UsageError("wait for setupComplete before sending (the server requires it)")
        else:
            self.client_messages += 1
        return encode_client_frame(message)

    def send_frame(self, events: "list[ev.ServerEvent]") -> bytes:
        """Server role: several events in one frame (e.g. ``serverContent`` + ``usageMetadata``)."""
        if self.role is not Role.SERVER:
            raise UsageError("only the server role sends several keys in one frame")
        if self.state is State.CLOSED:
            raise UsageError("the connection is closed")
        body: dict[str, Any] = {}
        for event in events:
            if isinstance(event, ev.SetupComplete):
                self.state = State.OPEN
                self.session_id = event.session_id
            encoded = encode_server_event(event, vertex=self.vertex)
            if body.keys() & encoded.keys():
                raise UsageError(f"two {type(event).__name__} events cannot share one frame")
            body.update(encoded)
        return dumps(body).encode()

    def receive(self, data: str | bytes) -> list[Any]:
        """Decode an incoming frame into events, in frame order.

        Client role: a list of :class:`ServerEvent`; raises :class:`FrameDecodeError` for a frame
        that is not a Live message. Server role: a one-element list holding the
        :class:`ClientMessage`; raises :class:`ProtocolError` (``close_code`` 1007, the real
        server's wording) for anything the real server would reject.
        """
        if self.role is Role.SERVER:
            return [self._receive_client(data)]
        try:
            events = decode_server_frame(data)
        except WireError as exc:
            raise FrameDecodeError(
                f"malformed frame from the server: {exc}", preview=preview(data)
            ) from None
        for event in events:
            kind = type(event)
            if kind is ev.ServerContent:
                continue  # the per-frame case: nothing to track
            if kind is ev.SetupComplete:
                assert isinstance(event, ev.SetupComplete)
                if self.state is State.SETTING_UP:
                    self.state = State.OPEN
                self.session_id = event.session_id or self.session_id
            elif isinstance(event, ev.SessionResumptionUpdate):
                if event.resumable and event.new_handle:
                    self.resumption_handle = event.new_handle
                if event.last_consumed_client_message_index is not None:
                    self.last_consumed_index = event.last_consumed_client_message_index
            elif isinstance(event, ev.GoAway):
                self.go_away = event
        return events

    def closed(self) -> None:
        """Record that the connection ended."""
        self.state = State.CLOSED

    # ------------------------------------------------------------------ server role

    def _receive_client(self, data: str | bytes) -> ev.ClientMessage:
        try:
            message = decode_client_frame(data)
        except WireError as exc:
            raise ProtocolError(str(exc), close_code=1007) from None
        if isinstance(message, ev.Setup):
            if self.state is not State.IDLE:
                raise ProtocolError("setup must be sent only once.", close_code=1007)
            self.state = State.SETTING_UP
        elif self.state is State.IDLE:
            raise ProtocolError("The first message must be setup.", close_code=1007)
        else:
            self.client_messages += 1
        return message
