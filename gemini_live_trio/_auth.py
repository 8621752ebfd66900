"""Credentials and endpoints: where a session connects, with which headers, and the model path.

Three kinds of credentials, each with ``async endpoint(model, *, api_version, base_url,
allow_insecure) -> Endpoint`` (called for every connection, so tokens are refreshed there):

* :class:`ApiKey`: a Gemini API key, ``x-goog-api-key`` on ``GenerativeService``.
* :class:`EphemeralToken`: an ``auth_tokens/...`` name minted by your backend
  (:func:`gemini_live_trio.create_ephemeral_token`), ``Authorization: Token`` on the
  ``BidiGenerateContentConstrained`` method, v1alpha.
* :class:`VertexAI`: Vertex AI's ``LlmBidiService`` with an OAuth access token from google-auth
  (Application Default Credentials or given credentials, refreshed off the event loop), or an
  express-mode API key.

Secrets (API keys, ephemeral tokens, bearer tokens) live in :class:`Secret`, whose repr and str
never show the value; :func:`redact` scrubs them from URLs and free text before anything is
logged or put in an exception.
"""

import ipaddress
import os
import re
import warnings
from collections.abc import Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import attrs
import google.auth
import google.auth.credentials
import google.auth.exceptions
import google.auth.transport
import httpx
import trio

from ._exceptions import ConfigError, ConnectError

if TYPE_CHECKING:
    from google.auth.credentials import Credentials

GEMINI_HOST = "wss://generativelanguage.googleapis.com"
_GEMINI_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"
_VERTEX_PATH = "/ws/google.cloud.aiplatform.{version}.LlmBidiService/BidiGenerateContent"

#: API versions of the Gemini API's Live method; v1beta is the default.
GEMINI_API_VERSIONS = ("v1alpha", "v1beta")
#: API versions of Vertex AI's Live method; v1beta1 is the default (as in the official SDK).
VERTEX_API_VERSIONS = ("v1", "v1beta1")
#: The OAuth scope Vertex AI needs.
CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
#: Timeout of one token request made by :class:`HttpxAuthRequest` (seconds).
AUTH_REQUEST_TIMEOUT = 30.0


class Secret:
    """A credential string that never shows itself in a repr, str or f-string."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value.strip():
            raise ConfigError("a credential must be a non-empty string")
        self._value = value.strip()

    def reveal(self) -> str:
        """The value itself: only for the header or query that carries it."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(self._value)


def _as_secret(value: "str | Secret") -> Secret:
    return value if isinstance(value, Secret) else Secret(value)


def _as_optional_secret(value: "str | Secret | None") -> Secret | None:
    return None if value is None else _as_secret(value)


_REDACTIONS = (
    (re.compile(r"(?i)([?&](?:key|access_token|token)=)[^&#\s]+"), r"\1***"),
    (re.compile(r"(?i)(bearer\s+|token\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"auth_tokens/[A-Za-z0-9._~+/=-]+"), "auth_tokens/***"),
    (re.compile(r"AIza[0-9A-Za-z_-]{20,}"), "AIza***"),
    (re.compile(r"ya29\.[0-9A-Za-z._-]+"), "ya29.***"),
)


def redact(text: str, *secrets: Secret | None) -> str:
    """``text`` with credentials replaced by ``***``: query keys, bearer/token headers, Google
    API key and OAuth token shapes, ephemeral token names and any of ``secrets``."""
    for secret in secrets:
        if secret is not None and len(secret.reveal()) >= 4:  # "k" must not eat "Unknown"
            text = text.replace(secret.reveal(), "***")
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@attrs.frozen(kw_only=True)
class Endpoint:
    """Where and how to open one connection."""

    url: str
    headers: Sequence[tuple[str, str]] = attrs.field(default=(), repr=False)
    #: The ``setup.model`` value.
    model: str
    secret: Secret | None = attrs.field(default=None, repr=False)
    #: Vertex AI: usage arrives as ``candidates*``, tool responses may lack ids.
    vertex: bool = False
    #: The API version in the URL (pass it to ``check_config``); empty when unknown.
    api_version: str = ""

    @property
    def safe_url(self) -> str:
        return redact(self.url, self.secret)


def gemini_model_path(model: str) -> str:
    """``models/{id}`` for the Gemini API (names already under ``models/`` or ``tunedModels/``
    pass through)."""
    _check_model_name(model)
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def vertex_model_path(model: str, *, project: str | None, location: str | None) -> str:
    """The Vertex AI ``setup.model`` value, by the official SDK's rules (wire-protocol.md §1.4).

    ``id`` -> ``publishers/google/models/id``; ``pub/id`` -> ``publishers/pub/models/id``;
    names starting with ``projects/``, ``models/`` or ``publishers/`` pass through; then, with a
    project and location, ``publishers/...`` gets ``projects/{p}/locations/{l}/`` in front
    (express mode has neither and keeps ``publishers/google/models/id``).
    """
    _check_model_name(model)
    if model.startswith(("projects/", "models/", "publishers/")):
        path = model
    elif "/" in model:
        publisher, name = model.split("/", 1)
        path = f"publishers/{publisher}/models/{name}"
    else:
        path = f"publishers/google/models/{model}"
    if path.startswith("publishers/") and project and location:
        path = f"projects/{project}/locations/{location}/{path}"
    return path


def _check_model_name(model: str) -> None:
    if not model or any(bad in model for bad in ("..", "?", "&", "#")) or model != model.strip():
        raise ConfigError(f"invalid model name {model!r}")


def vertex_host(location: str) -> str:
    """The Vertex AI host for a location (``https://``): ``global`` -> the global host,
    ``us``/``eu`` -> the multi-region REP hosts, else the regional host."""
    if location == "global":
        return "https://aiplatform.googleapis.com"
    if location in ("us", "eu"):
        return f"https://aiplatform.{location}.rep.googleapis.com"
    return f"https://{location}-aiplatform.googleapis.com"


def _check_transport_security(url: str, sends_secret: bool, allow_insecure: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ConfigError(f"base_url must start with ws:// or wss://, got {redact(url)!r}")
    _check_plain_text(parts.scheme == "ws", parts.hostname, sends_secret, allow_insecure)


def check_rest_url(url: str, *, allow_insecure: bool) -> None:
    """Refuse a REST base URL that is not http(s), or plain http to a remote host."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"a REST base_url must start with http:// or https://, got {url!r}")
    _check_plain_text(parts.scheme == "http", parts.hostname, True, allow_insecure)


def _check_plain_text(plain: bool, host: str | None, sends: bool, allow_insecure: bool) -> None:
    if plain and sends and not is_loopback(host or "") and not allow_insecure:
        raise ConfigError(
            f"refusing to send a credential unencrypted to {host}; "
            "use wss:// (https://) or pass allow_insecure=True"
        )


def _gemini_version(api_version: str | None, default: str) -> str:
    version = api_version or default
    if version not in GEMINI_API_VERSIONS:
        raise ConfigError(
            f"the Gemini API's Live versions are 'v1alpha' and 'v1beta', got {version!r}"
            + (
                " (that is a Vertex AI version: use auth=VertexAI(...))"
                if version in VERTEX_API_VERSIONS
                else ""
            )
        )
    return version


@attrs.frozen(kw_only=True, repr=False)
class ApiKey:
    """A Gemini API key, sent in the ``x-goog-api-key`` header."""

    key: Secret = attrs.field(converter=_as_secret)

    def __repr__(self) -> str:
        return "ApiKey('***')"

    @classmethod
    def from_env(cls) -> "ApiKey | None":
        """From ``GEMINI_API_KEY``, else ``GOOGLE_API_KEY``; ``None`` when neither is set."""
        for name in ("GEMINI_API_KEY", "GOOGLE_API_KEY"):
            value = os.environ.get(name, "").strip()
            if value:
                return cls(key=Secret(value))
        return None

    async def endpoint(
        self, model: str, *, api_version: str | None, base_url: str | None, allow_insecure: bool
    ) -> Endpoint:
        """``api_version`` ``None`` means v1beta."""
        version = api_version or "v1beta"
        url = (base_url or GEMINI_HOST).rstrip("/") + _GEMINI_PATH.format(
            version=version, method="BidiGenerateContent"
        )
        _check_transport_security(url, True, allow_insecure)
        return Endpoint(
            url=url,
            headers=[("x-goog-api-key", self.key.reveal())],
            model=gemini_model_path(model),
            secret=self.key,
            api_version=version,
        )

    async def rest_headers(self) -> list[tuple[str, str]]:
        """Headers for a Gemini API REST call (model listing, token creation)."""
        return [("x-goog-api-key", self.key.reveal())]


@attrs.frozen(kw_only=True, repr=False)
class EphemeralToken:
    """An ephemeral token (``auth_tokens/...``) minted by your backend with
    :func:`gemini_live_trio.create_ephemeral_token`: sent as ``Authorization: Token ...`` to the
    ``BidiGenerateContentConstrained`` method (wire-protocol.md §8.2).

    Tokens are created on v1alpha and documented for v1alpha only, so ``api_version=None``
    means v1alpha. ``"v1beta"`` is allowed (community reports say the Constrained method
    works there) but warns, as the official SDK does. Fields the token locked are overridden
    by the server whatever the client's ``setup`` says; resuming a session does not use up one
    of the token's ``uses``. A token cannot authenticate REST calls.
    """

    token: Secret = attrs.field(converter=_as_secret)

    def __repr__(self) -> str:
        return "EphemeralToken('***')"

    async def endpoint(
        self, model: str, *, api_version: str | None, base_url: str | None, allow_insecure: bool
    ) -> Endpoint:
        version = _gemini_version(api_version, "v1alpha")
        if version != "v1alpha":
            warnings.warn(
                f"ephemeral tokens are documented for api_version='v1alpha' only, not "
                f"{version!r}; pass api_version='v1alpha' if the connection is refused",
                UserWarning,
                stacklevel=2,
            )
        url = (base_url or GEMINI_HOST).rstrip("/") + _GEMINI_PATH.format(
            version=version, method="BidiGenerateContentConstrained"
        )
        _check_transport_security(url, True, allow_insecure)
        return Endpoint(
            url=url,
            headers=[("authorization", f"Token {self.token.reveal()}")],
            model=gemini_model_path(model),
            secret=self.token,
            api_version=version,
        )

    async def rest_headers(self) -> list[tuple[str, str]]:
        raise ConfigError(
            "ephemeral tokens can only be used with the Live API (a WebSocket session); "
            "list models or mint tokens with an API key on your backend"
        )


# --------------------------------------------------------------------------- google-auth


class _AuthResponse(google.auth.transport.Response):
    def __init__(self, status: int, headers: Mapping[str, str], data: bytes) -> None:
        self._status = status
        self._headers = headers
        self._data = data

    @property
    def status(self) -> int:
        return self._status

    @property
    def headers(self) -> Mapping[str, str]:
        return self._headers

    @property
    def data(self) -> bytes:
        return self._data


class HttpxAuthRequest(google.auth.transport.Request):
    """A google-auth HTTP transport over a synchronous :class:`httpx.Client`, so the package
    needs neither ``requests`` nor ``urllib3``. Blocking: call it from a worker thread (google-auth
    calls it inside ``credentials.refresh``, which :class:`VertexAI` runs via
    ``trio.to_thread``). Each call opens (and closes) its own client; ``transport`` (e.g. an
    :class:`httpx.MockTransport` in tests) is used as given and left open.
    """

    def __init__(
        self,
        *,
        timeout: float = AUTH_REQUEST_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._timeout = timeout
        self._transport = transport

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> google.auth.transport.Response:
        client = httpx.Client(transport=self._transport, timeout=timeout or self._timeout)
        try:
            response = client.request(method, url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise google.auth.exceptions.TransportError(  # type: ignore[no-untyped-call]
                f"{type(exc).__name__}: {redact(str(exc))}"
            ) from None
        finally:
            if self._transport is None:  # a given transport is the caller's to close
                client.close()
        return _AuthResponse(response.status_code, dict(response.headers), response.content)


_LOCATION = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_PROJECT = re.compile(r"[A-Za-z0-9][A-Za-z0-9.:_-]*")


class VertexAI:
    """Vertex AI credentials: ``auth=VertexAI(project="my-proj", location="us-central1")``.

    The access token comes from ``credentials`` (any google-auth credentials) or, when they are
    not given, from Application Default Credentials (``google.auth.default``, scope
    cloud-platform), loaded on first use in a worker thread. Before every connection the token
    is refreshed when it is not FRESH (google-auth refreshes 3 min 45 s before expiry): in a
    worker thread (``trio.to_thread``), one refresh at a time (a ``trio.Lock``), over
    :class:`HttpxAuthRequest`. ``project`` defaults to the one ADC names, else
    ``GOOGLE_CLOUD_PROJECT``.

    Express mode: ``VertexAI(api_key="...")`` uses a Vertex API key on the global host, with
    model names ``publishers/google/models/{id}`` and no project.

    ``location``: a region (``us-central1``: host ``us-central1-aiplatform.googleapis.com``),
    ``global`` (``aiplatform.googleapis.com``) or ``us``/``eu`` (the multi-region REP hosts).
    ``api_version``: ``v1beta1`` (default, as the official SDK) or ``v1``. A session's
    ``api_version`` of ``None`` or ``"v1beta"`` (a Gemini API version, the session default)
    means this one.
    """

    def __init__(
        self,
        project: str | None = None,
        location: str = "us-central1",
        *,
        credentials: "Credentials | None" = None,
        api_key: str | Secret | None = None,
        api_version: str = "v1beta1",
        scopes: Sequence[str] = (CLOUD_PLATFORM_SCOPE,),
        request: google.auth.transport.Request | None = None,
    ) -> None:
        if api_version not in VERTEX_API_VERSIONS:
            raise ConfigError(
                f"Vertex AI's Live versions are 'v1' and 'v1beta1', got {api_version!r}"
            )
        if not _LOCATION.fullmatch(location or ""):
            raise ConfigError(f"invalid Vertex AI location {location!r} (e.g. 'us-central1')")
        if project is not None and not _PROJECT.fullmatch(project):
            raise ConfigError(f"invalid Google Cloud project id {project!r}")
        self._api_key = _as_optional_secret(api_key)
        if self._api_key is not None and (credentials is not None or project is not None):
            raise ConfigError(
                "VertexAI(api_key=...) is express mode: it takes no project or credentials"
            )
        self.location = location
        self.api_version = api_version
        self._project = project
        self._scopes = tuple(scopes)
        self._credentials: Credentials | None = None
        if credentials is not None:
            self._credentials = google.auth.credentials.with_scopes_if_required(  # type: ignore[no-untyped-call]
                credentials, list(self._scopes)
            )
        self._request = request or HttpxAuthRequest()
        self._lock = trio.Lock()
        self._loaded = credentials is not None or self._api_key is not None

    def __repr__(self) -> str:
        if self._api_key is not None:
            return f"VertexAI(api_key='***', api_version={self.api_version!r})"
        return (
            f"VertexAI(project={self._project!r}, location={self.location!r}, "
            f"api_version={self.api_version!r})"
        )

    @property
    def express(self) -> bool:
        """True in express mode (a Vertex API key instead of OAuth credentials)."""
        return self._api_key is not None

    @property
    def project(self) -> str | None:
        """The project, once known (given, or found by ADC on first use)."""
        return self._project

    @property
    def credentials(self) -> "Credentials | None":
        """The google-auth credentials in use (``None`` before ADC was loaded, or in express
        mode)."""
        return self._credentials

    def host(self) -> str:
        """The ``https://`` host of this location (express mode: the global host)."""
        return vertex_host("global" if self.express else self.location)

    def _version(self, api_version: str | None) -> str:
        if api_version in (None, "", "v1beta"):
            return self.api_version
        if api_version not in VERTEX_API_VERSIONS:
            raise ConfigError(
                f"Vertex AI's Live versions are 'v1' and 'v1beta1', got {api_version!r}"
            )
        return api_version

    async def _load(self) -> "Credentials":
        """The credentials, loading Application Default Credentials on first use."""
        if not self._loaded:
            try:
                found, project = await trio.to_thread.run_sync(
                    partial(google.auth.default, scopes=list(self._scopes)),
                    abandon_on_cancel=True,
                )
            except google.auth.exceptions.DefaultCredentialsError as exc:
                raise ConfigError(
                    "no Google Cloud credentials for Vertex AI: run `gcloud auth "
                    "application-default login`, set GOOGLE_APPLICATION_CREDENTIALS, or pass "
                    f"VertexAI(credentials=...) ({redact(str(exc))})"
                ) from None
            self._credentials = found
            self._project = self._project or project
            self._loaded = True
        if self._project is None:
            self._project = os.environ.get("GOOGLE_CLOUD_PROJECT") or None
        assert self._credentials is not None
        return self._credentials

    async def access_token(self) -> Secret:
        """A fresh OAuth access token (refreshed off the event loop when needed)."""
        if self._api_key is not None:
            raise ConfigError("express mode (api_key=...) has no OAuth access token")
        async with self._lock:
            credentials = await self._load()
            state = credentials.token_state
            if state is not google.auth.credentials.TokenState.FRESH:
                try:
                    await trio.to_thread.run_sync(
                        credentials.refresh, self._request, abandon_on_cancel=True
                    )
                except google.auth.exceptions.TransportError as exc:
                    raise ConnectError(
                        f"could not reach the Google token endpoint: {redact(str(exc))}"
                    ) from None
                except google.auth.exceptions.RefreshError as exc:
                    message = f"could not refresh the Google access token: {redact(str(exc))}"
                    if getattr(exc, "retryable", False):
                        raise ConnectError(message) from None
                    raise ConfigError(message) from None
                except google.auth.exceptions.GoogleAuthError as exc:
                    raise ConfigError(
                        f"could not refresh the Google access token: {redact(str(exc))}"
                    ) from None
            token = credentials.token
        if not token:
            raise ConfigError("the Google credentials produced no access token")
        return Secret(token)

    async def endpoint(
        self, model: str, *, api_version: str | None, base_url: str | None, allow_insecure: bool
    ) -> Endpoint:
        version = self._version(api_version)
        wss = "wss://" + self.host().removeprefix("https://")
        url = (base_url or wss).rstrip("/") + _VERTEX_PATH.format(version=version)
        _check_transport_security(url, True, allow_insecure)
        if self._api_key is not None:
            return Endpoint(
                url=url,
                headers=[("x-goog-api-key", self._api_key.reveal())],
                model=vertex_model_path(model, project=None, location=None),
                secret=self._api_key,
                vertex=True,
                api_version=version,
            )
        token = await self.access_token()
        if not self._project:
            raise ConfigError(
                "Vertex AI needs a project: pass VertexAI(project=...) or set "
                "GOOGLE_CLOUD_PROJECT (the server would answer 'Permission denied on "
                "resource project None')"
            )
        return Endpoint(
            url=url,
            headers=[("authorization", f"Bearer {token.reveal()}")],
            model=vertex_model_path(model, project=self._project, location=self.location),
            secret=token,
            vertex=True,
            api_version=version,
        )

    async def rest_headers(self) -> list[tuple[str, str]]:
        """Headers for a Vertex AI REST call: the bearer token (and the quota project, if
        the credentials name one), or the express-mode API key."""
        if self._api_key is not None:
            return [("x-goog-api-key", self._api_key.reveal())]
        token = await self.access_token()
        headers = [("authorization", f"Bearer {token.reveal()}")]
        quota = getattr(self._credentials, "quota_project_id", None)
        if quota:
            headers.append(("x-goog-user-project", str(quota)))
        return headers
