"""The emulator server: accept a connection the way the real service does, then run a behaviour.

Per connection: route the path (HTTP 404 if it names no Live RPC), accept the upgrade, refuse a
bad credential with a close frame, validate ``setup`` (unknown fields, model, modality), restore
the conversation a resumption handle names, answer ``setupComplete`` and hand the connection to
the behaviour (default: :func:`default_model`). A ``goAway`` deadline
(:meth:`EmulatorConnection.go_away`) ends the behaviour and closes the connection.

Resumption handles: every resumable ``sessionResumptionUpdate`` carries a fresh handle that
restores the conversation as it was then (memory, token counts, consumed messages, unanswered
input). A handle stays valid for ``handle_lifetime`` seconds after it was issued (the service is
said to keep them 2 hours after the session ends; counting from issue is the stricter choice)
and any number of times. What the real service does with an unknown or expired handle is not
documented (a 1007 or 1008 close is plausible): by default the emulator starts a fresh
conversation, as if no handle had been given; ``strict_handles=True`` closes with 1008
:data:`INVALID_HANDLE` instead, and with 1007 when the model differs from the handle's.
"""

import collections
import secrets
import ssl
from collections.abc import Collection, Iterable, Mapping
from functools import partial

import attrs
import trio

from .._events import SetupComplete
from .._exceptions import ProtocolError
from .._models import normalise_model_name
from .._transport import ServerConnection, serve_websocket
from .._wire import loads
from . import _handshake
from ._connection import INVALID_ARGUMENT, ClientGone, EmulatorConnection, SavedConversation
from ._model import default_model
from ._script import Behaviour
from ._tokens import TOKEN_EXPIRED, EmulatorCredentials

#: How long a connection refused for its credential waits for the client's first frame, so the
#: close frame answers ``setup`` (as the real service's does) instead of racing it.
REFUSAL_GRACE_S = 10.0
_NOT_FOUND_BODY = b"404 Not Found: no such Live API method\n"
#: Close reason for an unknown or expired handle with ``strict_handles`` (an assumption: the
#: real service's code and words for this are not documented).
INVALID_HANDLE = "Invalid session resumption handle."
#: How long a resumption handle can be used, from when it was issued (2 hours).
HANDLE_LIFETIME_S = 7200.0


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
    #: Close 1008 for an unknown or expired resumption handle instead of starting afresh.
    strict_handles: bool = False
    #: Send ``lastConsumedClientMessageIndex`` with every resumable update (the Gemini API
    #: does not; Vertex AI does with ``transparent``), so exact replay can be exercised.
    send_consumed_index: bool = False
    #: Seconds a resumption handle stays valid after it was issued.
    handle_lifetime: float = HANDLE_LIFETIME_S
    #: Seconds between a valid ``setup`` and ``setupComplete`` (a slow service); may be
    #: changed at any time, e.g. to slow down only a reconnect.
    setup_delay: float = 0.0
    #: API keys, bearer tokens and minted ephemeral tokens (shared with the REST side).
    credentials: EmulatorCredentials = attrs.field(factory=EmulatorCredentials, repr=False)
    #: Every accepted connection (the upgrade succeeded), in order.
    connections: list[EmulatorConnection] = attrs.field(factory=list, repr=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False, repr=False)
    _resumption_store: dict[str, SavedConversation] = attrs.field(
        factory=dict, init=False, repr=False
    )
    _refusals: collections.deque[tuple[int, str | None]] = attrs.field(
        factory=collections.deque, init=False, repr=False
    )

    async def wait_for_connections(self, n: int) -> list[EmulatorConnection]:
        """Wait until at least ``n`` connections were accepted; returns the first ``n``."""
        while len(self.connections) < n:
            await self._changed.wait()
        return self.connections[:n]

    def refuse_next(
        self, n: int = 1, *, code: int = 1011, reason: str | None = _handshake.INTERNAL_ERROR
    ) -> None:
        """Close each of the next ``n`` connections with ``code`` as soon as its ``setup``
        arrives (no ``setupComplete``): a service that is down, for reconnect tests.
        Refusals queue up behind those already pending."""
        self._refusals.extend([(code, reason)] * n)

    @property
    def pending_refusals(self) -> int:
        return len(self._refusals)

    def expire_handles(self) -> None:
        """Forget every resumption handle issued so far (as if they had all expired)."""
        self._resumption_store.clear()

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
            send_consumed_index=self.send_consumed_index,
        )
        self.connections.append(conn)
        self._changed.set()
        self._changed = trio.Event()
        try:
            with conn.lifetime:  # cancelled at a goAway deadline
                if await self._start(conn, where):
                    await self.behaviour(conn)
            if conn.closed_with is None:
                code, reason = conn.expiry if conn.lifetime.cancelled_caught else (1000, None)
                await conn.close(code, reason)
        except ClientGone:
            pass
        except Exception:
            await conn.close(1011, _handshake.INTERNAL_ERROR)
            raise

    async def _start(self, conn: EmulatorConnection, where: _handshake.Route) -> bool:
        """Check the credential and ``setup``; send ``setupComplete``. False if refused."""
        refusal = self.credentials.check(conn.credential, where)
        if refusal is not None:
            with trio.move_on_after(REFUSAL_GRACE_S):
                await conn.receive_frame()
            await conn.close(refusal.code, refusal.reason)
            return False
        data = await conn.receive_frame()
        if self._refusals:
            await conn.close(*self._refusals.popleft())
            return False
        # an ephemeral token: count the use, impose its locked fields, end at its expiry
        data, refusal = self.credentials.admit(
            conn.credential, data, resumable=lambda h: conn.saved_model(h) is not None
        )
        if refusal is not None:
            await conn.close(refusal.code, refusal.reason)
            return False
        left = self.credentials.session_seconds_left(conn.credential)
        if left is not None:
            conn.expiry = (1008, TOKEN_EXPIRED)
            conn.lifetime.deadline = min(conn.lifetime.deadline, trio.current_time() + left)
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
        conn.setup_json = frame
        resumption = conn.setup.session_resumption
        handle = resumption.handle if resumption else None
        if handle:
            refused = self._resume(conn, handle)
            if refused is not None:
                await conn.close(*refused)
                return False
        if self.setup_delay:
            await trio.sleep(self.setup_delay)
        await conn.send(SetupComplete(session_id=secrets.token_hex(8)))
        return True

    def _resume(self, conn: EmulatorConnection, handle: str) -> tuple[int, str] | None:
        """Restore the conversation ``handle`` names; the close for a refused handle."""
        saved_model = conn.saved_model(handle)
        if not conn.resume(handle, max_age=self.handle_lifetime):
            return (1008, INVALID_HANDLE) if self.strict_handles else None
        assert saved_model is not None
        if self.strict_handles and normalise_model_name(saved_model) != normalise_model_name(
            conn.setup.model
        ):
            return (1007, INVALID_ARGUMENT)  # every setup field but the model may change
        return None


async def serve_emulator(
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    api_keys: Iterable[str] = ("test-key",),
    behaviour: Behaviour | None = None,
    vertex: bool = False,
    ssl_context: ssl.SSLContext | None = None,
    models: Mapping[str, Collection[str]] | None = None,
    strict_handles: bool = False,
    send_consumed_index: bool = False,
    handle_lifetime: float = HANDLE_LIFETIME_S,
    bearer_tokens: Iterable[str] = (),
    task_status: trio.TaskStatus[Emulator] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the Live API emulator until cancelled; ``task_status`` gets the :class:`Emulator`.

    ``behaviour`` runs after each successful setup (default :func:`default_model`); ``vertex``
    spells usage the Vertex AI way; ``models`` maps model names (no ``models/`` prefix) to their
    allowed response modalities (default: the library's registry). ``strict_handles`` closes
    1008 for an unknown or expired resumption handle (default: start afresh);
    ``send_consumed_index`` adds ``lastConsumedClientMessageIndex`` to every resumable update;
    ``handle_lifetime`` is how long a handle stays valid (seconds, from issue).
    ``bearer_tokens`` are OAuth access tokens accepted (Vertex AI); ephemeral tokens minted by
    the REST side (``serve_emulator_rest(emulator)``) are accepted on the Constrained method.
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
        strict_handles=strict_handles,
        send_consumed_index=send_consumed_index,
        handle_lifetime=handle_lifetime,
        credentials=EmulatorCredentials.of(keys, bearer_tokens),
    )
    async with trio.open_nursery() as nursery:
        serve = partial(
            serve_websocket, emulator.serve_connection, host, port, ssl_context=ssl_context
        )
        emulator.port = await nursery.start(serve)
        shown = f"[{host}]" if ":" in host else host
        emulator.base_url = f"{'wss' if ssl_context else 'ws'}://{shown}:{emulator.port}"
        task_status.started(emulator)
