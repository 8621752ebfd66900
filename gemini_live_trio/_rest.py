"""REST helpers around the Live API: model listing, the model resolver and ephemeral tokens.

Each helper takes an optional :class:`httpx.AsyncClient` (``client=``); without one it opens
its own for the call (timeout :data:`REST_TIMEOUT`). httpx runs on trio natively
(stack-notes.md §3). Point ``base_url`` at the emulator's REST side
(``gemini_live_trio.testing.serve_emulator_rest``) to work offline.

Errors: an HTTP error status becomes :class:`RestError` (``status_code``, Google's ``status``
and whether a retry can help); a transport failure becomes :class:`ConnectError`; bad arguments
:class:`ConfigError`. No message contains the API key or a token.
"""

import logging
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs
import httpx

from . import _events as ev
from ._auth import (
    ApiKey,
    EphemeralToken,
    Secret,
    VertexAI,
    _as_secret,
    check_rest_url,
    gemini_model_path,
    redact,
)
from ._checks import check_config
from ._config import GENERATION_FIELDS, GenerationConfig, LiveConfig
from ._exceptions import ConfigError, ConnectError, RestError
from ._models import GEMINI_API, VERTEX_AI, model_info, normalise_modality, normalise_model_name
from ._models import candidates as registry_candidates
from ._models import rank as registry_rank
from ._tools import collect_tools
from ._wire import encode_client_message, to_camel, wire_name

logger = logging.getLogger("gemini_live_trio")

#: The Gemini API's REST host.
GEMINI_REST_URL = "https://generativelanguage.googleapis.com"
#: Seconds for one REST call when the helper opens its own client.
REST_TIMEOUT = 30.0
#: Models asked for per page (the server caps it; the helpers follow ``nextPageToken``).
DEFAULT_PAGE_SIZE = 1000
#: Pages followed at most before giving up (a server that never stops paging).
MAX_PAGES = 100
#: The method a model must list to be usable in a Live session.
LIVE_METHOD = "bidiGenerateContent"
#: The service refuses tokens whose expire times are further away than this.
MAX_TOKEN_LIFETIME = timedelta(hours=20)

RestAuth = ApiKey | VertexAI | EphemeralToken


# --------------------------------------------------------------------------- plumbing


def _credentials(api_key: str | Secret | None, auth: RestAuth | None) -> RestAuth:
    if auth is not None:
        if api_key is not None:
            raise ConfigError("pass api_key=... or auth=..., not both")
        return auth
    if api_key is not None:
        return ApiKey(key=_as_secret(api_key))
    found = ApiKey.from_env()
    if found is None:
        raise ConfigError("no credentials: pass api_key=... or auth=..., or set GEMINI_API_KEY")
    return found


@asynccontextmanager
async def _client(client: httpx.AsyncClient | None) -> AsyncIterator[httpx.AsyncClient]:
    if client is not None:
        yield client
        return
    async with httpx.AsyncClient(timeout=REST_TIMEOUT) as own:
        yield own


_HINTS = (
    (re.compile(r"(?i)api key not valid|api_key_invalid"), "check the API key"),
    (re.compile(r"(?i)api key expired"), "renew the API key"),
    (re.compile(r"(?i)unregistered callers"), "no credential reached the server"),
    (re.compile(r"(?i)permission"), "check the project and the credentials' permissions"),
)


async def _call(
    client: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    headers: Sequence[tuple[str, str]],
    params: Mapping[str, str | int] | None = None,
    body: Mapping[str, Any] | None = None,
    secret_headers: Iterable[str] = ("x-goog-api-key", "authorization"),
) -> dict[str, Any]:
    """One JSON call; HTTP errors -> :class:`RestError`, transport errors -> ConnectError.
    The values of ``secret_headers`` are scrubbed from every message."""
    hidden = {name.lower() for name in secret_headers}
    secrets = [
        Secret(value.split(" ", 1)[-1])
        for name, value in headers
        if name.lower() in hidden and value.split(" ", 1)[-1].strip()
    ]
    where = f"{method} {redact(url, *secrets)}"
    try:
        response = await client.request(
            method, url, headers=list(headers), params=dict(params or {}), json=body
        )
    except httpx.HTTPError as exc:
        raise ConnectError(
            f"{where} failed: {type(exc).__name__}: {redact(str(exc), *secrets)}"
        ) from None
    try:
        data = response.json()
    except ValueError:
        data = None
    if response.status_code >= 400:
        error = data.get("error") if isinstance(data, dict) else None
        error = error if isinstance(error, dict) else {}
        message = str(error.get("message") or response.text[:200] or response.reason_phrase)
        status = error.get("status") if isinstance(error.get("status"), str) else None
        text = f"{where} answered HTTP {response.status_code}"
        text += f" {status}" if status else ""
        text += f": {message}"
        for pattern, hint in _HINTS:
            if pattern.search(message):
                text += f" ({hint})"
                break
        if response.status_code == 404 and url.rstrip("/").endswith("auth_tokens"):
            text += " (ephemeral tokens are created on v1alpha only)"
        raise RestError(redact(text, *secrets), status_code=response.status_code, status=status)
    if not isinstance(data, dict):
        raise RestError(
            f"{where} answered HTTP {response.status_code} without a JSON object",
            status_code=response.status_code,
        )
    return data


# --------------------------------------------------------------------------- models


@attrs.frozen(kw_only=True)
class ListedModel:
    """One model from a models listing."""

    #: The bare model id (``gemini-2.5-flash-native-audio-preview-12-2025``).
    name: str
    #: The resource name as listed (``models/...`` or ``publishers/google/models/...``).
    resource_name: str
    display_name: str | None = None
    #: ``supportedGenerationMethods`` (empty when the listing gives none, as Vertex AI's).
    supported_methods: tuple[str, ...] = ()
    input_token_limit: int | None = None
    output_token_limit: int | None = None
    #: Usable in a Live session: lists ``bidiGenerateContent``; or lists no methods and (on
    #: Vertex AI, which never lists them) is a known Live model or has ``live`` or
    #: ``native-audio`` in its name (wire-protocol.md §7.4-7.5).
    live: bool = False
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)


def _int(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _listed(entry: Mapping[str, Any], *, vertex: bool) -> ListedModel | None:
    resource = entry.get("name")
    if not isinstance(resource, str) or not resource:
        return None
    name = normalise_model_name(resource)
    methods = entry.get("supportedGenerationMethods") or entry.get("supportedActions") or ()
    methods = tuple(m for m in methods if isinstance(m, str)) if isinstance(methods, list) else ()
    if methods:
        live = LIVE_METHOD in methods
    elif vertex:
        live = model_info(name) is not None or "live" in name or "native-audio" in name
    else:
        live = True
    display = entry.get("displayName")
    return ListedModel(
        name=name,
        resource_name=resource,
        display_name=display if isinstance(display, str) else None,
        supported_methods=methods,
        input_token_limit=_int(entry.get("inputTokenLimit")),
        output_token_limit=_int(entry.get("outputTokenLimit")),
        live=live,
        raw=dict(entry),
    )


async def list_models(
    client: httpx.AsyncClient | None = None,
    *,
    api_key: str | Secret | None = None,
    auth: RestAuth | None = None,
    base_url: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    allow_insecure: bool = False,
) -> list[ListedModel]:
    """Every model the credentials can see, all pages.

    Gemini API (``api_key=`` or ``auth=ApiKey(...)``; default ``GEMINI_API_KEY``):
    ``GET {base_url}/v1beta/models?pageSize=...&pageToken=...`` with ``x-goog-api-key``.
    Vertex AI (``auth=VertexAI(...)``): ``GET {base_url}/v1beta1/publishers/google/models``
    with the bearer token (``base_url`` defaults to the location's host).
    """
    credentials = _credentials(api_key, auth)
    if page_size < 1:
        raise ConfigError(f"page_size must be positive, got {page_size}")
    vertex = isinstance(credentials, VertexAI)
    if vertex:
        assert isinstance(credentials, VertexAI)
        base = base_url or credentials.host()
        path, key = "/v1beta1/publishers/google/models", "publisherModels"
    else:
        base = base_url or GEMINI_REST_URL
        path, key = "/v1beta/models", "models"
    check_rest_url(base, allow_insecure=allow_insecure)
    url = base.rstrip("/") + path
    headers = await credentials.rest_headers()
    models: list[ListedModel] = []
    token: str | None = None
    seen: set[str] = set()
    async with _client(client) as http:
        for _ in range(MAX_PAGES):
            params: dict[str, str | int] = {"pageSize": page_size}
            if token:
                params["pageToken"] = token
            page = await _call(http, "GET", url, headers=headers, params=params)
            for entry in page.get(key) or ():
                if isinstance(entry, dict):
                    listed = _listed(entry, vertex=vertex)
                    if listed is not None:
                        models.append(listed)
            next_token = page.get("nextPageToken")
            token = next_token if isinstance(next_token, str) and next_token else None
            if token is None:
                return models
            if token in seen:
                raise RestError(f"GET {url} repeated a page token", status_code=200)
            seen.add(token)
    raise RestError(f"GET {url} returned more than {MAX_PAGES} pages", status_code=200)


async def list_live_models(
    client: httpx.AsyncClient | None = None,
    *,
    api_key: str | Secret | None = None,
    auth: RestAuth | None = None,
    base_url: str | None = None,
    page_size: int = DEFAULT_PAGE_SIZE,
    allow_insecure: bool = False,
) -> list[ListedModel]:
    """The models usable in a Live session (:attr:`ListedModel.live`), all pages."""
    models = await list_models(
        client,
        api_key=api_key,
        auth=auth,
        base_url=base_url,
        page_size=page_size,
        allow_insecure=allow_insecure,
    )
    return [m for m in models if m.live]


def _dedupe(names: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for name in names:
        seen.setdefault(normalise_model_name(name), None)
    return list(seen)


async def resolve_model(
    modality: str,
    *,
    api_key: str | Secret | None = None,
    auth: RestAuth | None = None,
    client: httpx.AsyncClient | None = None,
    candidates: Sequence[str] | None = None,
    available_models: Iterable[str] | None = None,
    base_url: str | None = None,
    require_method: str = LIVE_METHOD,
    strict: bool = False,
    allow_insecure: bool = False,
) -> str:
    """The best Live model for ``modality`` (``"audio"`` or ``"text"``) these credentials can
    use (wire-protocol.md §7.4). Returns a bare model id.

    1. **Candidates**: ``candidates`` if given (names the registry knows to lack the modality
       are dropped), else the registry's models for the modality and backend, current before
       legacy (audio on the Gemini API: 3.1 Flash Live, then the 2.5 native-audio models).
    2. **Availability**: ``available_models`` if given (no network), else one listing of all
       pages (:func:`list_models`) keeping models that list ``require_method``.
    3. **Pick**: the first available candidate; else any available model the registry says
       answers in ``modality``, in registry order.
    4. **Fallback**: when the listing fails or nothing matches, log a warning and return the
       first candidate (``strict=True`` raises :class:`ConfigError` instead, and listing errors
       propagate). With no candidates at all, raise :class:`ConfigError`.

    No text-capable Live model is current (§7.2): ``"text"`` only finds legacy models; for a
    text UX use ``"audio"`` with output transcription.
    """
    wanted = normalise_modality(modality)
    backend = VERTEX_AI if isinstance(auth, VertexAI) else GEMINI_API
    if candidates is not None:
        listed = _dedupe(candidates)
        names = [n for n in listed if (info := model_info(n)) is None or info.supports(wanted)]
    else:
        names = registry_candidates(wanted, backend=backend)
    if not names:
        raise ConfigError(
            f"no candidate model answers in {wanted}"
            + (f" (given: {', '.join(candidates)})" if candidates else "")
            + (
                "; Live models answer in AUDIO: use 'audio' with output transcription"
                if wanted == "TEXT"
                else ""
            )
        )
    if available_models is not None:
        available = _dedupe(available_models)
    else:
        try:
            models = await list_models(
                client,
                api_key=api_key,
                auth=auth,
                base_url=base_url,
                allow_insecure=allow_insecure,
            )
        except (RestError, ConnectError) as exc:
            if strict:
                raise
            logger.warning("could not list models (%s); using %s", exc, names[0])
            return names[0]
        available = [
            m.name
            for m in models
            if require_method in m.supported_methods or (not m.supported_methods and m.live)
        ]
    present = set(available)
    for name in names:
        if name in present:
            return name
    ranked = registry_rank(available, wanted)
    if ranked:
        return ranked[0]
    message = (
        f"none of the models available to these credentials is a known Live model answering "
        f"in {wanted} (available Live models: {', '.join(available) or 'none'})"
    )
    if strict:
        raise ConfigError(message + "; pass one of them as the model, or candidates=[...]")
    logger.warning("%s; using %s", message, names[0])
    return names[0]


# --------------------------------------------------------------------------- ephemeral tokens


@attrs.frozen(kw_only=True)
class LiveConstraints:
    """What an ephemeral token pins: the model and a :class:`LiveConfig` (the official SDK's
    ``LiveConnectConstraints``). Sent as ``bidiGenerateContentSetup``; sessions using the token
    get these values whatever their own ``setup`` says, for the fields that are locked."""

    model: str | None = None
    config: LiveConfig | None = None


@attrs.frozen(kw_only=True)
class AuthToken:
    """An ephemeral token as the service returned it. ``name`` (``auth_tokens/...``) is the
    credential: hand it to the client, which connects with ``auth=EphemeralToken(name)``."""

    name: Secret
    expire_time: datetime | None = None
    new_session_expire_time: datetime | None = None
    uses: int | None = None
    raw: Mapping[str, Any] = attrs.field(factory=dict, repr=False, eq=False)

    def auth(self) -> EphemeralToken:
        """``EphemeralToken(token=self.name)``, for ``open_live_session(auth=...)``."""
        return EphemeralToken(token=self.name)


def format_time(value: datetime) -> str:
    """An aware datetime as RFC 3339 in UTC (``2026-01-01T00:30:00Z``)."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """An RFC 3339 timestamp (nanoseconds allowed) as an aware datetime, else ``None``."""
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(_FRACTION.sub(r"\1", value.replace("z", "Z")))
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _when(value: datetime | timedelta | None, what: str, now: datetime) -> datetime | None:
    if value is None:
        return None
    if isinstance(value, timedelta):
        value = now + value
    elif not isinstance(value, datetime):
        raise ConfigError(f"{what} takes a datetime or a timedelta, not {type(value).__name__}")
    if value.tzinfo is None:
        raise ConfigError(f"{what} must be timezone-aware (e.g. datetime.now(UTC) + ...)")
    if value <= now:
        raise ConfigError(f"{what} is in the past: {format_time(value)}")
    if value - now > MAX_TOKEN_LIFETIME:
        raise ConfigError(f"{what} must be less than 20 hours away, got {value - now}")
    return value


_SETUP_FIELDS = {wire_name(ev.Setup, a.name): a.name for a in attrs.fields(ev.Setup)}
_GENERATION_FIELDS = {wire_name(GenerationConfig, n): n for n in GENERATION_FIELDS}


def field_path(name: str) -> str:
    """A setup field name, as users write it, as a ``fieldMask`` path (camelCase):
    ``"temperature"`` -> ``"generationConfig.temperature"``, ``"output_audio_transcription"``
    -> ``"outputAudioTranscription"``, ``"generation_config.top_k"`` ->
    ``"generationConfig.topK"``."""
    parts = [to_camel(p) for p in name.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"empty field name {name!r}")
    if parts[0] in _GENERATION_FIELDS and len(parts) == 1:
        parts = ["generationConfig", *parts]
    if parts[0] not in _SETUP_FIELDS:
        known = sorted({*_SETUP_FIELDS, *_GENERATION_FIELDS})
        raise ConfigError(f"{name!r} is not a setup field; known: {', '.join(known)}")
    if parts[0] == "generationConfig" and len(parts) > 1 and parts[1] not in _GENERATION_FIELDS:
        raise ConfigError(f"{name!r} is not a generation config field")
    return ".".join(parts)


def constraint_setup(constraints: LiveConstraints) -> dict[str, Any]:
    """The ``bidiGenerateContentSetup`` object (camelCase) for ``constraints``."""
    config = constraints.config or LiveConfig()
    tools, _ = collect_tools(config.tools)
    values: dict[str, Any] = {
        name: getattr(config, name, None)
        for name in _SETUP_FIELDS.values()
        if name not in ("model", "generation_config", "system_instruction", "tools")
    }
    setup = ev.Setup(
        model=gemini_model_path(constraints.model) if constraints.model else "",
        generation_config=config.generation_config(),
        system_instruction=config.system_content(),
        tools=tools or None,
        **values,
    )
    body: dict[str, Any] = encode_client_message(setup)["setup"]
    if not constraints.model:
        body.pop("model", None)
    return body


def field_mask(setup: Mapping[str, Any] | None, lock_additional_fields: Sequence[str]) -> str:
    """The ``fieldMask`` for a token (wire-protocol.md §8.1): the paths of the fields set in
    ``setup`` (top-level names, ``generationConfig.x`` one level down), then the additional
    names, without duplicates."""
    paths: list[str] = []
    for key, value in (setup or {}).items():
        if key == "generationConfig" and isinstance(value, Mapping):
            paths.extend(f"generationConfig.{inner}" for inner in value)
        else:
            paths.append(key)
    paths.extend(field_path(name) for name in lock_additional_fields)
    return ",".join(dict.fromkeys(paths))


def token_request(
    *,
    uses: int = 1,
    expire_time: datetime | timedelta | None = None,
    new_session_expire_time: datetime | timedelta | None = None,
    constraints: LiveConstraints | None = None,
    lock_additional_fields: Sequence[str] | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The JSON body of ``POST v1alpha/auth_tokens`` (see :func:`create_ephemeral_token`)."""
    if isinstance(uses, bool) or not isinstance(uses, int) or uses < 0:
        raise ConfigError(f"uses must be an int >= 0 (0: unlimited), got {uses!r}")
    if isinstance(lock_additional_fields, str):
        raise ConfigError("lock_additional_fields takes a list of field names, not a str")
    now = now or datetime.now(UTC)
    expire = _when(expire_time, "expire_time", now)
    new_session = _when(new_session_expire_time, "new_session_expire_time", now)
    if expire is not None and new_session is not None and new_session > expire:
        raise ConfigError("new_session_expire_time is after expire_time")
    body: dict[str, Any] = {"uses": uses}
    if expire is not None:
        body["expireTime"] = format_time(expire)
    if new_session is not None:
        body["newSessionExpireTime"] = format_time(new_session)
    setup = None
    if constraints is not None:
        if constraints.model:
            check_config(
                constraints.model,
                constraints.config or LiveConfig(),
                api_version="v1alpha",
                vertex=False,
            )
        setup = constraint_setup(constraints)
        body["bidiGenerateContentSetup"] = setup
    if lock_additional_fields is not None and (setup is not None or lock_additional_fields):
        body["fieldMask"] = field_mask(setup, lock_additional_fields)
    return body


async def create_ephemeral_token(
    client: httpx.AsyncClient | None = None,
    *,
    api_key: str | Secret | None = None,
    uses: int = 1,
    expire_time: datetime | timedelta | None = None,
    new_session_expire_time: datetime | timedelta | None = None,
    constraints: LiveConstraints | None = None,
    lock_additional_fields: Sequence[str] | None = None,
    base_url: str | None = None,
    allow_insecure: bool = False,
) -> AuthToken:
    """Mint an ephemeral token on your backend (``POST v1alpha/auth_tokens``, §8.1) for a
    client that must not see your API key; the client connects with
    ``auth=token.auth()`` (``EphemeralToken``) on v1alpha.

    ``api_key``: your real key (default ``GEMINI_API_KEY``). ``uses``: sessions the token may
    start (0: unlimited; resuming a session does not count). ``expire_time``: after it,
    sessions using the token end (server default 30 min). ``new_session_expire_time``: no new
    session after it (server default 60 s). Both take an aware datetime or a timedelta from now,
    under 20 hours. ``constraints``: the model and config sessions get; with
    ``lock_additional_fields`` unset the whole constrained setup is locked, with ``[]`` only
    the fields set in ``constraints``, with names those plus the named fields (``"temperature"``,
    ``"output_audio_transcription"``...). Tokens exist on the Gemini API only (not Vertex AI).
    """
    body = token_request(
        uses=uses,
        expire_time=expire_time,
        new_session_expire_time=new_session_expire_time,
        constraints=constraints,
        lock_additional_fields=lock_additional_fields,
    )
    credentials = _credentials(api_key, None)
    base = base_url or GEMINI_REST_URL
    check_rest_url(base, allow_insecure=allow_insecure)
    url = base.rstrip("/") + "/v1alpha/auth_tokens"
    headers = await credentials.rest_headers()
    async with _client(client) as http:
        data = await _call(http, "POST", url, headers=headers, body=body)
    name = data.get("name")
    if not isinstance(name, str) or not name:
        raise RestError(f"POST {url} answered without a token name", status_code=200)
    uses_back = data.get("uses")
    return AuthToken(
        name=Secret(name),
        expire_time=parse_time(data.get("expireTime")),
        new_session_expire_time=parse_time(data.get("newSessionExpireTime")),
        uses=uses_back if isinstance(uses_back, int) else _int(uses_back),
        raw={k: v for k, v in data.items() if k != "name"},
    )
