"""The emulator's REST side: model listings, ephemeral token creation and an OAuth endpoint.

One set of handlers (:meth:`EmulatorRest.handle`, a pure function of the request) is served two
ways: over real HTTP/1.1 on loopback by :func:`serve_emulator_rest` (h11 on trio), and in
process by :meth:`EmulatorRest.mock_transport` (an :class:`httpx.MockTransport`, no socket)::

    emulator = await nursery.start(serve_emulator)
    rest = await nursery.start(partial(serve_emulator_rest, emulator))
    token = await create_ephemeral_token(api_key=emulator.api_key, base_url=rest.base_url)
    # the token opens sessions on emulator.base_url (Constrained method, v1alpha)

Routes (wire-protocol.md §7.5, §8.1; error bodies are Google's ``{"error": {code, message,
status}}``):

* ``GET /v1beta/models`` (also ``v1alpha``), ``?pageSize=&pageToken=``, API key in
  ``x-goog-api-key`` or ``?key=``: every model, paged (``nextPageToken`` until the end). Live
  models (the emulator's catalogue) list ``bidiGenerateContent``; a few others do not.
  ``GET /v1beta/models/{id}``: one model.
* ``POST /v1alpha/auth_tokens``: mint an ephemeral token (404 on v1beta, as the real service).
* ``GET /v1beta1/publishers/google/models``: Vertex AI's listing (``publisherModels``), with a
  bearer token or an express-mode API key.
* ``POST /token``: an OAuth 2 token endpoint for google-auth (service-account JWT grant or a
  refresh token): point a service-account JSON's ``token_uri`` at it and its access tokens open
  Vertex AI sessions on the emulator. Signatures are not checked.
"""

import base64
import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs

import attrs
import h11
import httpx
import trio

from ._handshake import BAD_KEY, NO_KEY, default_models
from ._tokens import INVALID_CREDENTIALS, EmulatorCredentials, TokenRequestError

if TYPE_CHECKING:
    from ._server import Emulator

#: Page size when the request gives none, and the most one page holds.
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 1000
#: Models every key sees that are not Live models (they must be filtered out by clients).
OTHER_MODELS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("gemini-2.5-flash", ("generateContent", "countTokens", "createCachedContent")),
    ("gemini-2.5-pro", ("generateContent", "countTokens", "createCachedContent")),
    ("gemini-2.0-flash", ("generateContent", "countTokens")),
    ("gemini-embedding-001", ("embedContent", "countTextTokens", "countTokens")),
    ("imagen-4.0-generate-001", ("predict",)),
)
MISSING_OAUTH = (
    "Request is missing required authentication credential. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential."
)
TOKEN_ONLY_LIVE = "Ephemeral tokens can only be used with the Live API."  # [INF]
_JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
_MAX_BODY = 2**20
_STATUS = {400: "INVALID_ARGUMENT", 401: "UNAUTHENTICATED", 403: "PERMISSION_DENIED"}
_STATUS |= {404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED", 413: "INVALID_ARGUMENT", 500: "INTERNAL"}


@attrs.frozen(kw_only=True)
class RestRequest:
    """One HTTP request as the handlers see it (header names in lower case)."""

    method: str
    path: str
    query: Mapping[str, Sequence[str]] = attrs.field(factory=dict)
    headers: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    body: bytes = attrs.field(default=b"", repr=False)

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


@attrs.frozen(kw_only=True)
class RestResponse:
    status: int
    body: Any

    def content(self) -> bytes:
        return json.dumps(self.body, indent=2).encode() + b"\n"


def _error(status: int, message: str, google_status: str | None = None) -> RestResponse:
    body = {"code": status, "message": message, "status": google_status or _STATUS[status]}
    return RestResponse(status=status, body={"error": body})


@attrs.define(eq=False)
class EmulatorRest:
    """The REST side's state and handlers. ``live_models`` (name -> response modalities) is
    the Live catalogue, shared with the WebSocket side when made by :meth:`for_emulator`."""

    credentials: EmulatorCredentials = attrs.field(
        factory=lambda: EmulatorCredentials.of(["test-key"]), repr=False
    )
    live_models: Mapping[str, Collection[str]] = attrs.field(factory=default_models, repr=False)
    other_models: Sequence[tuple[str, Sequence[str]]] = attrs.field(
        default=OTHER_MODELS, repr=False
    )
    default_page_size: int = DEFAULT_PAGE_SIZE
    max_page_size: int = MAX_PAGE_SIZE
    #: ``http://host:port`` once served (empty for a mock transport only).
    base_url: str = ""
    #: Every request handled, in order.
    requests: list[RestRequest] = attrs.field(factory=list, repr=False)
    _page_tokens: dict[str, int] = attrs.field(factory=dict, init=False, repr=False)

    @classmethod
    def for_emulator(cls, emulator: "Emulator", **options: Any) -> "EmulatorRest":
        """The REST side of a running WebSocket emulator: same credentials and models."""
        return cls(credentials=emulator.credentials, live_models=emulator.models, **options)

    # ------------------------------------------------------------------ transports

    def mock_transport(self) -> httpx.MockTransport:
        """These handlers as an httpx transport (sync and async clients), no socket."""

        def handler(request: httpx.Request) -> httpx.Response:
            response = self.handle(
                RestRequest(
                    method=request.method,
                    path=request.url.path,
                    query=parse_qs(request.url.query.decode("ascii")),
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=request.content,
                )
            )
            return httpx.Response(
                response.status,
                headers={"content-type": "application/json; charset=UTF-8"},
                content=response.content(),
            )

        return httpx.MockTransport(handler)

    # ------------------------------------------------------------------ routing

    def handle(self, request: RestRequest) -> RestResponse:
        """Answer one request."""
        self.requests.append(request)
        path = "/" + "/".join(p for p in request.path.split("/") if p)
        parts = path.strip("/").split("/")
        method = request.method.upper()
        if path == "/token":
            return self._allowed(method, "POST") or self._oauth_token(request)
        if len(parts) == 2 and parts[1] == "models" and parts[0] in ("v1alpha", "v1beta"):
            return self._allowed(method, "GET") or self._list_models(request)
        if len(parts) == 3 and parts[1] == "models" and parts[0] in ("v1alpha", "v1beta"):
            return self._allowed(method, "GET") or self._get_model(request, parts[2])
        if path == "/v1alpha/auth_tokens":
            return self._allowed(method, "POST") or self._create_token(request)
        if path == "/v1beta1/publishers/google/models":
            return self._allowed(method, "GET") or self._list_publisher_models(request)
        return _error(404, f"Method not found: {request.method} {path}")

    @staticmethod
    def _allowed(method: str, expected: str) -> RestResponse | None:
        if method != expected:
            return _error(405, f"Method {method} is not allowed here; use {expected}.")
        return None

    # ------------------------------------------------------------------ credentials

    def _gemini_caller(self, request: RestRequest) -> RestResponse | None:
        key = request.headers.get("x-goog-api-key") or request.param("key")
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if key is None and scheme.lower() == "bearer" and value.strip():
            if self.credentials.is_bearer(value.strip()):
                return None
            return _error(401, INVALID_CREDENTIALS)
        if key is None:
            return _error(403, NO_KEY)
        if self.credentials.token(key) is not None:
            return _error(401, TOKEN_ONLY_LIVE)
        if not self.credentials.is_api_key(key):
            return _error(400, BAD_KEY)
        return None

    def _vertex_caller(self, request: RestRequest) -> RestResponse | None:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
            if self.credentials.is_bearer(token) or self.credentials.is_api_key(token):
                return None
            return _error(401, INVALID_CREDENTIALS)
        key = request.headers.get("x-goog-api-key") or request.param("key")
        if key is not None:
            return None if self.credentials.is_api_key(key) else _error(400, BAD_KEY)
        return _error(401, MISSING_OAUTH)

    # ------------------------------------------------------------------ models

    def catalogue(self) -> list[tuple[str, tuple[str, ...]]]:
        """(model id, supported methods) of every model, in listing order."""
        live = [(name, ("countTokens", "bidiGenerateContent")) for name in self.live_models]
        others = [(n, tuple(m)) for n, m in self.other_models if n not in self.live_models]
        return others + live

    def _page(self, request: RestRequest, entries: list[dict[str, Any]], key: str) -> RestResponse:
        raw_size = request.param("pageSize")
        try:
            size = int(raw_size) if raw_size not in (None, "") else 0
        except ValueError:
            return _error(400, f"Invalid value at 'page_size' ({raw_size!r}).")
        if size < 0:
            return _error(400, "page_size must not be negative.")
        size = min(size or self.default_page_size, self.max_page_size)
        token = request.param("pageToken")
        start = 0
        if token:
            if token not in self._page_tokens:
                return _error(400, "Invalid page token.")
            start = self._page_tokens[token]
        body: dict[str, Any] = {key: entries[start : start + size]}
        if start + size < len(entries):
            next_token = secrets.token_urlsafe(12)
            self._page_tokens[next_token] = start + size
            body["nextPageToken"] = next_token
        return RestResponse(status=200, body=body)

    @staticmethod
    def _model_entry(name: str, methods: Sequence[str]) -> dict[str, Any]:
        live = "bidiGenerateContent" in methods
        return {
            "name": f"models/{name}",
            "baseModelId": name,
            "version": "001",
            "displayName": name.replace("-", " ").title(),
            "description": f"{name} (emulated)",
            "inputTokenLimit": 131072,
            "outputTokenLimit": 8192 if live else 65536,
            "supportedGenerationMethods": list(methods),
            "temperature": 1,
            "topP": 0.95,
            "topK": 64,
        }

    def _list_models(self, request: RestRequest) -> RestResponse:
        refused = self._gemini_caller(request)
        if refused is not None:
            return refused
        entries = [self._model_entry(n, m) for n, m in self.catalogue()]
        return self._page(request, entries, "models")

    def _get_model(self, request: RestRequest, name: str) -> RestResponse:
        refused = self._gemini_caller(request)
        if refused is not None:
            return refused
        for known, methods in self.catalogue():
            if known == name:
                return RestResponse(status=200, body=self._model_entry(known, methods))
        return _error(404, f"models/{name} is not found for API version v1beta.")

    def _list_publisher_models(self, request: RestRequest) -> RestResponse:
        refused = self._vertex_caller(request)
        if refused is not None:
            return refused
        entries = [
            {
                "name": f"publishers/google/models/{name}",
                "versionId": "001",
                "openSourceCategory": "PROPRIETARY",
                "launchStage": "PUBLIC_PREVIEW" if "preview" in name else "GA",
            }
            for name, _ in self.catalogue()
        ]
        return self._page(request, entries, "publisherModels")

    # ------------------------------------------------------------------ tokens

    def _create_token(self, request: RestRequest) -> RestResponse:
        refused = self._gemini_caller(request)
        if refused is not None:
            return refused
        if request.headers.get("x-goog-api-key") is None and request.param("key") is None:
            return _error(403, "Ephemeral tokens must be created with an API key.")  # [INF]
        try:
            body = json.loads(request.body or b"{}")
        except ValueError:
            return _error(400, "Invalid JSON payload received.")
        try:
            token = self.credentials.mint(body, known_model=self.live_models.__contains__)
        except TokenRequestError as exc:
            return _error(exc.status_code, exc.message, exc.status)
        return RestResponse(status=200, body=token.public())

    def _oauth_token(self, request: RestRequest) -> RestResponse:
        form = parse_qs(request.body.decode("utf-8", "replace"))
        grant = (form.get("grant_type") or [""])[0]
        if grant == _JWT_GRANT:
            claims = _jwt_claims((form.get("assertion") or [""])[0])
            if claims is None or not claims.get("iss"):
                return _oauth_error("invalid_grant", "Invalid JWT assertion.")
        elif grant == "refresh_token":
            if not (form.get("refresh_token") or [""])[0]:
                return _oauth_error("invalid_request", "Missing refresh_token.")
        else:
            return _oauth_error("unsupported_grant_type", f"Invalid grant_type: {grant}")
        token = self.credentials.issue_access_token()
        expires = self.credentials.bearer_tokens[token]
        seconds = int((expires - self.credentials.now()).total_seconds()) if expires else 3600
        return RestResponse(
            status=200,
            body={"access_token": token, "expires_in": seconds, "token_type": "Bearer"},
        )


def _oauth_error(error: str, description: str) -> RestResponse:
    return RestResponse(status=400, body={"error": error, "error_description": description})


def _jwt_claims(assertion: str) -> dict[str, Any] | None:
    parts = assertion.split(".")
    if len(parts) != 3:
        return None
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except ValueError:
        return None
    return claims if isinstance(claims, dict) else None


# --------------------------------------------------------------------------- HTTP over h11


async def _read_request(
    conn: h11.Connection, stream: trio.SocketStream
) -> RestRequest | RestResponse | None:
    """The next request on a keep-alive connection (``None`` when the client closed it)."""
    head: h11.Request | None = None
    body = bytearray()
    while True:
        event = conn.next_event()
        if event is h11.NEED_DATA:
            data = await stream.receive_some(65536)
            conn.receive_data(data)
            continue
        if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
            return None
        if isinstance(event, h11.Request):
            head = event
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > _MAX_BODY:
                return _error(413, "Request body too large.")
        elif isinstance(event, h11.EndOfMessage) and head is not None:
            target = head.target.decode("latin-1")
            path, _, query = target.partition("?")
            return RestRequest(
                method=head.method.decode("ascii"),
                path=path,
                query=parse_qs(query),
                headers={k.decode("latin-1").lower(): v.decode("latin-1") for k, v in head.headers},
                body=bytes(body),
            )


async def _send(conn: h11.Connection, stream: trio.SocketStream, response: RestResponse) -> None:
    content = response.content()
    headers = [
        ("content-type", "application/json; charset=UTF-8"),
        ("content-length", str(len(content))),
    ]
    await stream.send_all(conn.send(h11.Response(status_code=response.status, headers=headers)))
    await stream.send_all(conn.send(h11.Data(data=content)))
    await stream.send_all(conn.send(h11.EndOfMessage()))


async def _serve_http(rest: EmulatorRest, stream: trio.SocketStream) -> None:
    """One HTTP/1.1 connection: requests answered in turn until either side closes."""
    async with stream:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                try:
                    request = await _read_request(conn, stream)
                except h11.RemoteProtocolError:
                    if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                        await _send(conn, stream, _error(400, "Malformed HTTP request."))
                    return
                if request is None:
                    return
                if isinstance(request, RestResponse):
                    await _send(conn, stream, request)
                    return
                try:
                    response = rest.handle(request)
                except Exception:  # a bug in a handler: answer, keep serving
                    response = _error(500, "Internal error encountered.", "INTERNAL")
                await _send(conn, stream, response)
                if conn.our_state is not h11.DONE or conn.their_state is not h11.DONE:
                    return
                conn.start_next_cycle()
        except (trio.BrokenResourceError, trio.ClosedResourceError, h11.LocalProtocolError):
            return


async def serve_emulator_rest(
    emulator: "Emulator | None" = None,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    rest: EmulatorRest | None = None,
    task_status: trio.TaskStatus[EmulatorRest] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the REST side over plain HTTP on ``host:port`` until cancelled; ``task_status``
    gets the :class:`EmulatorRest` (``base_url`` set). With ``emulator`` it shares that
    WebSocket emulator's credentials and models; ``rest`` serves prepared state instead."""
    if rest is None:
        rest = EmulatorRest.for_emulator(emulator) if emulator is not None else EmulatorRest()
    listeners = await trio.open_tcp_listeners(port, host=host)
    async with trio.open_nursery() as nursery:
        handler: Callable[[trio.SocketStream], Any] = partial(_serve_http, rest)
        started = await nursery.start(trio.serve_listeners, handler, listeners)
        bound = started[0].socket.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        rest.base_url = f"http://{shown}:{bound}"
        task_status.started(rest)
