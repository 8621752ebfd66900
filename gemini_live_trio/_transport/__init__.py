"""The only package that imports a WebSocket library.

Two client backends with one interface (:class:`WebSocket`, :class:`TransportClosed`), picked by
``open_websocket(..., backend=...)`` (``SessionOptions.transport``):

* ``"trio-websocket"`` (``_trio_websocket.py``): trio-websocket over a stream we own. Its
  reader task parses frames into a queue that ``receive`` takes from.
* ``"websockets"`` (``_websockets.py``): websockets' sans-I/O protocol layer driven by a trio
  stream, with no task of its own: ``receive`` reads and parses. One task hop less per frame.

Both own the TCP/TLS stream the same way (``_common.open_stream``): DNS + TCP + TLS + upgrade
within ``connect_timeout``, errors naming only ``safe_url``, a bounded and shielded close on the
way out, and the socket always freed. The stream writes at once when the kernel takes the
bytes (``_common.EagerSocketStream``) and its TLS layer decrypts every record a read brought
in at once (``_tls.TLSStream``): trio's own streams take a scheduler pass per write and per
TLS record, i.e. per audio frame.

The server side the emulator uses (:func:`serve_websocket`, :class:`ServerConnection`) is
trio-websocket's.
"""

import ssl
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager

from . import _trio_websocket, _websockets
from ._common import MAX_MESSAGE_SIZE, MESSAGE_QUEUE_SIZE, TransportClosed, WebSocket
from ._trio_websocket import ServerConnection, TrioWebSocket, serve_websocket
from ._websockets import WebsocketsWebSocket

__all__ = [
    "DEFAULT_TRANSPORT",
    "MAX_MESSAGE_SIZE",
    "MESSAGE_QUEUE_SIZE",
    "TRANSPORTS",
    "ServerConnection",
    "TransportClosed",
    "TrioWebSocket",
    "WebSocket",
    "WebsocketsWebSocket",
    "open_websocket",
    "serve_websocket",
]

#: The client backends ``open_websocket`` (and ``SessionOptions.transport``) accept.
TRANSPORTS = ("trio-websocket", "websockets")
#: The default: in the README's bench run a raw client on trio-websocket alone costs 29.5 µs
#: of CPU per 40 ms downstream audio frame and 36.2 per upstream chunk, more than this library
#: end to end on the websockets backend (25.4 and 12.3). trio-websocket stays supported and
#: tested.
DEFAULT_TRANSPORT = "websockets"

_OPENERS = {
    "trio-websocket": _trio_websocket.open_websocket,
    "websockets": _websockets.open_websocket,
}


def open_websocket(
    url: str,
    headers: Sequence[tuple[str, str]],
    *,
    safe_url: str,
    ssl_context: ssl.SSLContext | None = None,
    connect_timeout: float = 10.0,
    close_timeout: float = 2.0,
    max_message_size: int = MAX_MESSAGE_SIZE,
    message_queue_size: int = MESSAGE_QUEUE_SIZE,
    backend: str = DEFAULT_TRANSPORT,
) -> AbstractAsyncContextManager[WebSocket]:
    """Connect (DNS + TCP + TLS + upgrade within ``connect_timeout``) and yield a WebSocket.

    Leaving the block closes with 1000 (bounded by ``close_timeout``, shielded from outside
    cancellation) and always frees the socket. ``safe_url`` (credentials redacted) is the only
    form of the URL that reaches an error message. ``backend`` is one of :data:`TRANSPORTS`.
    """
    try:
        opener = _OPENERS[backend]
    except KeyError:
        raise ValueError(f"unknown transport {backend!r}; choose one of {TRANSPORTS}") from None
    return opener(
        url,
        headers,
        safe_url=safe_url,
        ssl_context=ssl_context,
        connect_timeout=connect_timeout,
        close_timeout=close_timeout,
        max_message_size=max_message_size,
        message_queue_size=message_queue_size,
    )
