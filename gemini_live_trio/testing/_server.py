"""The emulator server: accept a connection the way the real service does, then run a behaviour.

Per connection: route the path (HTTP 404 if it names no Live RPC), accept the upgrade, refuse a
bad credential with a close frame, validate ``setup`` (unknown fields, model, modality), answer
``setupComplete`` and hand the connection to the behaviour (default: :func:`default_model`).
"""

import secrets
import ssl
from collections.abc import Collection, Iterable, Mapping
from functools import partial
from typing import Any

import attrs
import trio

from .._events import SetupComplete
from .._exceptions import ProtocolError
from .._transport import ServerConnection, serve_websocket
from .._wire import loads
from . import _handshake
from ._connection import ClientGone, EmulatorConnection
from ._model import default_model
from ._script import Behaviour

#: How long a connection refused for its credential waits for the client's first frame, so the
#: close frame answers ``setup`` (as the real service's does) instead of racing it.
REFUSAL_GRACE_S = 10.0
_NOT_FOUND_BODY = b"404 Not Found: no such Live API method\n"


@attrs.define(eq=False)
class Emulator:
    """A running emulator: its address, first API key and every accepted connection."""

    host: str
    port: int
    #: ``ws://host:port`` (``wss://`` with TLS); clients append the ``/ws/...`` path.
    base_url: str
    #: The first accepted API key.
    api_key: str = attrs.field(repr=False)
    api_keys: tuple[str, ...] = attrs.field(repr=False)
    behaviour: Behaviour = attrs.field(repr=False)
    vertex: bool = False
    models: Mapping[str, Collection[str]] = attrs.field(repr=False, factory=dict)
    #: Every accepted connection (the upgrade succeeded), in order.
    connections: list[EmulatorConnection] = attrs.field(factory=list, repr=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    _resumption_store: dict[str, dict[str, Any]] = attrs.field(factory=dict, init=False, repr=False)

    async def wait_for_connections(self, n: int) -> list[EmulatorConnection]:
        """Wait until at least ``n`` connections were accepted; returns the first ``n``."""
        while len(self.connections) < n:
            await self._changed.wait()
        return self.connections[:n]

    async def serve_connection(self, ws: ServerConnection) -> None:
        """Serve one incoming WebSocket request from start to end."""
        path, _, query = ws.path.partition("?")
        where = _handshake.route(path)
        if where is None:
            await ws.reject(404, _NOT_FOUND_BODY)
            return
        try:
            await ws.accept()
        except Exception:  # the client vanished during the upgrade (trio-websocket's error)
            return
        conn = EmulatorConnection(
            ws,
            path=path,
            api_version=where.api_version,
            method=where.method,
            credential=_handshake.credential(ws.headers, query),
            vertex=self.vertex,
            resumption_store=self._resumption_store,
        )
        self.connections.append(conn)
        self._changed.set()
        self._changed = trio.Event()
        try:
            if await self._start(conn, where):
                await self.behaviour(conn)
            if conn.closed_with is None:
                await conn.close(1000)
        except ClientGone:
            pass
        except Exception:
            await conn.close(1011, _handshake.INTERNAL_ERROR)
            raise

    async def _start(self, conn: EmulatorConnection, where: _handshake.Route) -> bool:
        """Check the credential and ``setup``; send ``setupComplete``. False if refused."""
        refusal = _handshake.check_credential(conn.credential, self.api_keys)
        if refusal is not None:
            with trio.move_on_after(REFUSAL_GRACE_S):
                await conn.receive_frame()
            await conn.close(refusal.code, refusal.reason)
            return False
        data = await conn.receive_frame()
        try:
            conn.decode(data)
        except ProtocolError as exc:
            await conn.close(exc.close_code, exc.close_reason)
            return False
        frame = loads(data)  # decode() parsed it already: this cannot fail
        modality, refusal = _handshake.check_setup(conn.setup, frame, where, self.models)
        if refusal is not None:
            await conn.close(refusal.code, refusal.reason)
            return False
        conn.response_modality = modality
        resumption = conn.setup.session_resumption
        handle = resumption.handle if resumption else None
        if handle:
            conn.resume(handle)
        await conn.send(SetupComplete(session_id=secrets.token_hex(8)))
        return True


async def serve_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_keys: Iterable[str] = ("test-key",),
    behaviour: Behaviour | None = None,
    vertex: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    models: Mapping[str, Collection[str]] | None = None,
    task_status: trio.TaskStatus[Emulator] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the Live API emulator until cancelled; ``task_status`` gets the :class:`Emulator`.

    ``behaviour`` runs after each successful setup (default :func:`default_model`); ``vertex``
    spells usage the Vertex AI way; ``models`` maps model names (no ``models/`` prefix) to their
    allowed response modalities (default: the library's registry).
    """
    keys = (api_keys,) if isinstance(api_keys, str) else tuple(api_keys)
    if not keys:
        raise ValueError("serve_emulator needs at least one API key")
    emulator = Emulator(
        host=host,
        port=port,
        base_url="",
        api_key=keys[0],
        api_keys=keys,
        behaviour=behaviour or default_model,
        vertex=vertex,
        models=_handshake.default_models() if models is None else dict(models),
    )
    async with trio.open_nursery() as nursery:
        serve = partial(
            serve_websocket, emulator.serve_connection, host, port, ssl_context=ssl_context
        )
        emulator.port = await nursery.start(serve)
        shown = f"[{host}]" if ":" in host else host
        emulator.base_url = f"{'wss' if ssl_context else 'ws'}://{shown}:{emulator.port}"
        task_status.started(emulator)
