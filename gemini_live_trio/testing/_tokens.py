"""The emulator's credentials: API keys, OAuth bearer tokens and the ephemeral tokens it minted.

One :class:`EmulatorCredentials` is shared by the WebSocket side (``serve_emulator``) and the
REST side (``serve_emulator_rest``), so a token minted over REST opens a Live session, and an
access token fetched from the REST side's OAuth endpoint opens a Vertex AI session.

Rules on the socket (wire-protocol.md §1.3, §8; reason texts marked [INF] are this emulator's
own wording, the real service's is not documented):

* API keys: accepted on every path, from any credential source.
* Bearer tokens (``Authorization: Bearer``): accepted until they expire.
* Ephemeral tokens (``auth_tokens/...``): only on ``BidiGenerateContentConstrained`` (elsewhere
  1008 "API key not valid", as reported for the real service). A new session needs a use left
  (``uses`` 0 = unlimited) and ``newSessionExpireTime`` not passed; resuming a session (a
  ``sessionResumption.handle`` the emulator issued) needs neither and uses nothing up. After
  ``expireTime`` the token opens nothing and its sessions are closed with 1008 [INF]. A use
  is counted when the setup is admitted, even if the setup is then refused (unknown model).
* Locked fields replace the client's ``setup`` values: with constraints and no ``fieldMask``
  the constrained setup replaces the client's entirely (model and resumption handle kept when
  the constraints have none); with a ``fieldMask`` each listed path takes the constrained value
  (or is removed when the constraints do not set it).

Times are wall-clock UTC from :attr:`EmulatorCredentials.now`, which tests may replace.
"""

import copy
import secrets
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

import attrs

from .._config import GENERATION_FIELDS, GenerationConfig
from .._events import Setup
from .._models import normalise_model_name
from .._wire import (
    WireError,
    decode_client_frame,
    dumps,
    encode_client_message,
    loads,
    to_camel,
    wire_name,
)
from ._handshake import BAD_KEY, NO_KEY, Refusal, Route

CONSTRAINED = "BidiGenerateContentConstrained"
#: [INF] reasons for ephemeral-token refusals (close 1008).
TOKEN_EXPIRED = "The auth token has expired."
TOKEN_USED_UP = "The auth token has no uses left."
TOKEN_NO_NEW_SESSIONS = "The auth token can no longer start new sessions."
#: Google's standard text for a bad OAuth token (cut to 123 bytes on a close frame).
INVALID_CREDENTIALS = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, login "
    "cookie or other valid authentication credential."
)
#: Defaults and limits of ``POST v1alpha/auth_tokens`` (wire-protocol.md §8.1).
DEFAULT_EXPIRE = timedelta(minutes=30)
DEFAULT_NEW_SESSION_EXPIRE = timedelta(seconds=60)
MAX_LIFETIME = timedelta(hours=20)
#: Lifetime of an access token from the emulator's OAuth endpoint.
ACCESS_TOKEN_LIFETIME = timedelta(hours=1)

_SETUP_FIELDS = {wire_name(Setup, a.name) for a in attrs.fields(Setup)}
_GENERATION_FIELDS = {wire_name(GenerationConfig, n) for n in GENERATION_FIELDS}
_TOKEN_FIELDS = {
    "uses": "uses",
    "expireTime": "expireTime",
    "expire_time": "expireTime",
    "newSessionExpireTime": "newSessionExpireTime",
    "new_session_expire_time": "newSessionExpireTime",
    "bidiGenerateContentSetup": "bidiGenerateContentSetup",
    "bidi_generate_content_setup": "bidiGenerateContentSetup",
    "fieldMask": "fieldMask",
    "field_mask": "fieldMask",
}


def utc_now() -> datetime:
    return datetime.now(UTC)


class TokenRequestError(Exception):
    """``POST auth_tokens`` refused: HTTP ``status_code`` with Google's ``status`` name."""

    def __init__(self, message: str, *, status_code: int = 400, status: str = "INVALID_ARGUMENT"):
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.status = status


@attrs.define(eq=False)
class IssuedToken:
    """An ephemeral token the emulator minted, and what happened to it since."""

    name: str = attrs.field(repr=False)
    #: Sessions it may start; 0 means unlimited.
    uses: int
    expire_time: datetime
    new_session_expire_time: datetime
    #: The constraints (canonical camelCase ``setup`` body), or ``None``.
    setup: dict[str, Any] | None = attrs.field(default=None, repr=False)
    #: Locked paths (camelCase), or ``None`` (no ``fieldMask``).
    field_mask: tuple[str, ...] | None = None
    #: New sessions started (each used one up).
    sessions: int = 0
    #: Sessions resumed with it (free).
    resumptions: int = 0

    def public(self) -> dict[str, Any]:
        """The ``AuthToken`` JSON the REST side returns."""
        return {
            "name": self.name,
            "uses": self.uses,
            "expireTime": _format(self.expire_time),
            "newSessionExpireTime": _format(self.new_session_expire_time),
        }


def _format(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise TokenRequestError(f"Invalid value at '{what}' ({type(value).__name__}).")
    try:
        parsed = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise TokenRequestError(f"Invalid value at '{what}' ({value!r}).") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _canonical_setup(body: Any, *, placeholder_model: bool) -> dict[str, Any]:
    """A client ``setup`` body, validated strictly and spelled canonically (camelCase)."""
    if not isinstance(body, dict):
        raise WireError("Invalid value at 'setup', expected an object.")
    probe = dict(body)
    missing_model = "model" not in probe
    if missing_model and placeholder_model:
        probe["model"] = "models/placeholder"
    message = decode_client_frame(dumps({"setup": probe}))
    assert isinstance(message, Setup)
    canonical: dict[str, Any] = encode_client_message(message)["setup"]
    if missing_model and placeholder_model:
        canonical.pop("model", None)
    return canonical


def _mask_path(path: str) -> str:
    parts = [to_camel(p.strip()) for p in path.split(".") if p.strip()]
    if not parts or parts[0] not in _SETUP_FIELDS:
        raise TokenRequestError(f"Invalid field mask path {path!r}.")
    if parts[0] == "generationConfig" and len(parts) > 1 and parts[1] not in _GENERATION_FIELDS:
        raise TokenRequestError(f"Invalid field mask path {path!r}.")
    return ".".join(parts)


def _get(body: Mapping[str, Any], path: str) -> tuple[bool, Any]:
    holder: Any = body
    for part in path.split("."):
        if not isinstance(holder, Mapping) or part not in holder:
            return False, None
        holder = holder[part]
    return True, holder


def _put(body: dict[str, Any], path: str, present: bool, value: Any) -> None:
    *parents, last = path.split(".")
    holder = body
    for part in parents:
        inner = holder.get(part)
        if not isinstance(inner, dict):
            if not present:
                return
            inner = holder[part] = {}
        holder = inner
    if present:
        holder[last] = copy.deepcopy(value)
    else:
        holder.pop(last, None)


def apply_locks(token: IssuedToken, client: dict[str, Any]) -> dict[str, Any]:
    """The setup a session gets: ``client``'s, with the token's locked fields imposed."""
    if token.setup is not None and token.field_mask is None:
        merged = copy.deepcopy(token.setup)
        if "model" not in merged and "model" in client:
            merged["model"] = client["model"]
        handle = (client.get("sessionResumption") or {}).get("handle")
        if handle:
            merged.setdefault("sessionResumption", {})["handle"] = handle
        return merged
    merged = copy.deepcopy(client)
    for path in token.field_mask or ():
        present, value = _get(token.setup or {}, path)
        _put(merged, path, present, value)
    return merged


@attrs.define(eq=False)
class EmulatorCredentials:
    """Every credential the emulator accepts, shared by its WebSocket and REST sides."""

    api_keys: set[str] = attrs.field(factory=set, repr=False)
    #: Bearer token -> expiry (``None``: never expires).
    bearer_tokens: dict[str, datetime | None] = attrs.field(factory=dict, repr=False)
    #: Ephemeral tokens by name.
    tokens: dict[str, IssuedToken] = attrs.field(factory=dict, repr=False)
    #: The wall clock (UTC) for token times; tests may replace it.
    now: Callable[[], datetime] = attrs.field(default=utc_now, repr=False)
    #: Access tokens issued by the OAuth endpoint (``POST /token``).
    oauth_grants: int = 0

    @classmethod
    def of(
        cls, api_keys: Iterable[str] = (), bearer_tokens: Iterable[str] = ()
    ) -> "EmulatorCredentials":
        return cls(api_keys=set(api_keys), bearer_tokens=dict.fromkeys(bearer_tokens))

    # ------------------------------------------------------------------ kinds

    def is_api_key(self, credential: str | None) -> bool:
        return credential is not None and credential in self.api_keys

    def is_bearer(self, credential: str | None) -> bool:
        if credential is None or credential not in self.bearer_tokens:
            return False
        expiry = self.bearer_tokens[credential]
        return expiry is None or self.now() < expiry

    def token(self, credential: str | None) -> IssuedToken | None:
        return self.tokens.get(credential) if credential else None

    # ------------------------------------------------------------------ the socket

    def check(self, credential: str | None, where: Route) -> Refusal | None:
        """Refuse a WebSocket credential before ``setup``, or ``None``."""
        if credential is None:
            return Refusal(1008, NO_KEY)
        token = self.token(credential)
        if token is not None:
            if where.vertex or where.method != CONSTRAINED:
                return Refusal(1008, BAD_KEY)
            if self.now() >= token.expire_time:
                return Refusal(1008, TOKEN_EXPIRED)
            return None
        if self.is_api_key(credential) or self.is_bearer(credential):
            return None
        if where.vertex or credential in self.bearer_tokens:
            return Refusal(1008, INVALID_CREDENTIALS)
        return Refusal(1008, BAD_KEY)

    def admit(
        self,
        credential: str | None,
        data: str | bytes,
        *,
        resumable: Callable[[str], bool],
    ) -> tuple[str | bytes, Refusal | None]:
        """For a session opened with an ephemeral token: count the use (a resumption is
        free) and impose the locked fields on the setup frame ``data``. Other credentials and
        undecodable frames pass through unchanged."""
        token = self.token(credential)
        if token is None:
            return data, None
        try:
            client = _canonical_setup(_setup_body(data), placeholder_model=False)
        except (WireError, ValueError, TypeError):
            return data, None  # the normal decoding refuses it with the right words
        handle = (client.get("sessionResumption") or {}).get("handle")
        if handle and resumable(handle):
            token.resumptions += 1
        else:
            if self.now() >= token.new_session_expire_time:
                return data, Refusal(1008, TOKEN_NO_NEW_SESSIONS)
            if token.uses and token.sessions >= token.uses:
                return data, Refusal(1008, TOKEN_USED_UP)
            token.sessions += 1
        return dumps({"setup": apply_locks(token, client)}), None

    def session_seconds_left(self, credential: str | None) -> float | None:
        """Seconds until a session opened with ``credential`` must end (token expiry)."""
        token = self.token(credential)
        if token is None:
            return None
        return max(0.0, (token.expire_time - self.now()).total_seconds())

    # ------------------------------------------------------------------ minting

    def mint(self, body: Any, *, known_model: Callable[[str], bool]) -> IssuedToken:
        """Create an ephemeral token from a ``POST v1alpha/auth_tokens`` body."""
        if not isinstance(body, dict):
            raise TokenRequestError("Invalid JSON payload: expected an object.")
        fields: dict[str, Any] = {}
        for key, value in body.items():
            if key not in _TOKEN_FIELDS:
                raise TokenRequestError(
                    f'Invalid JSON payload received. Unknown name "{key}": Cannot find field.'
                )
            fields[_TOKEN_FIELDS[key]] = value
        now = self.now()
        uses = fields.get("uses", 1)
        if isinstance(uses, str) and uses.isdigit():
            uses = int(uses)
        if isinstance(uses, bool) or not isinstance(uses, int) or uses < 0:
            raise TokenRequestError(f"Invalid value at 'uses' ({uses!r}).")
        expire = (
            _parse_time(fields["expireTime"], "expire_time")
            if "expireTime" in fields
            else now + DEFAULT_EXPIRE
        )
        new_session = (
            _parse_time(fields["newSessionExpireTime"], "new_session_expire_time")
            if "newSessionExpireTime" in fields
            else now + DEFAULT_NEW_SESSION_EXPIRE
        )
        for what, when in (("expire_time", expire), ("new_session_expire_time", new_session)):
            if when <= now:
                raise TokenRequestError(f"{what} must be in the future.")
            if when - now > MAX_LIFETIME:
                raise TokenRequestError(f"{what} must be less than 20 hours in the future.")
        setup = None
        if fields.get("bidiGenerateContentSetup") is not None:
            try:
                setup = _canonical_setup(fields["bidiGenerateContentSetup"], placeholder_model=True)
            except WireError as exc:
                message = str(exc).replace("'setup", "'bidi_generate_content_setup")
                raise TokenRequestError(message) from None
            model = setup.get("model")
            if model is not None and not known_model(normalise_model_name(model)):
                raise TokenRequestError(
                    f"{model} is not found, or is not supported for bidiGenerateContent.",
                    status_code=404,
                    status="NOT_FOUND",
                )
        mask = None
        if fields.get("fieldMask") is not None:
            raw = fields["fieldMask"]
            if not isinstance(raw, str):
                raise TokenRequestError("Invalid value at 'field_mask'.")
            mask = tuple(dict.fromkeys(_mask_path(p) for p in raw.split(",") if p.strip()))
        token = IssuedToken(
            name="auth_tokens/" + secrets.token_hex(16),
            uses=uses,
            expire_time=expire,
            new_session_expire_time=new_session,
            setup=setup,
            field_mask=mask,
        )
        self.tokens[token.name] = token
        return token

    def issue_access_token(self, lifetime: timedelta = ACCESS_TOKEN_LIFETIME) -> str:
        """A new OAuth access token, accepted as a bearer token until it expires."""
        token = "ya29.emulator-" + secrets.token_urlsafe(24)
        self.bearer_tokens[token] = self.now() + lifetime
        self.oauth_grants += 1
        return token


def _setup_body(data: str | bytes) -> Any:
    obj = loads(data)
    if not isinstance(obj, dict) or len(obj) != 1 or "setup" not in obj:
        raise ValueError("not a setup frame")
    return obj["setup"]
