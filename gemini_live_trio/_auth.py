"""Credentials and endpoints: where a session connects, with which headers, and the model path.

Secrets (API keys, ephemeral tokens, bearer tokens) live in :class:`Secret`, whose repr and str
never show the value; :func:`redact` scrubs them from URLs and free text before anything is
logged or put in an exception.
"""

import ipaddress
import os
import re
from collections.abc import Sequence
from urllib.parse import urlsplit

import attrs

from ._exceptions import ConfigError

GEMINI_HOST = "wss://generativelanguage.googleapis.com"
_GEMINI_PATH = "/ws/google.ai.generativelanguage.{version}.GenerativeService.{method}"


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


_REDACTIONS = (
    (re.compile(r"(?i)([?&](?:key|access_token|token)=)[^&#\s]+"), r"\1***"),
    (re.compile(r"(?i)(bearer\s+|token\s+)[A-Za-z0-9._~+/=-]{8,}"), r"\1***"),
    (re.compile(r"auth_tokens/[A-Za-z0-9._~+/=-]+"), "auth_tokens/***"),
    (re.compile(r"AIza[0-9A-Za-z_-]{20,}"), "AIza***"),
)


def redact(text: str, *secrets: Secret | None) -> str:
    """``text`` with credentials replaced by ``***``: query keys, bearer/token headers, Google
    API key shapes, ephemeral token names and any of ``secrets`` given explicitly."""
    for secret in secrets:
        if secret is not None:
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

    @property
    def safe_url(self) -> str:
        return redact(self.url, self.secret)


def gemini_model_path(model: str) -> str:
    """``models/{id}`` for the Gemini API (names already under ``models/`` or ``tunedModels/``
    pass through)."""
    if any(bad in model for bad in ("..", "?", "&")):
        raise ConfigError(f"invalid model name {model!r}")
    if model.startswith(("models/", "tunedModels/")):
        return model
    return f"models/{model}"


def _check_transport_security(url: str, secret: Secret | None, allow_insecure: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss"):
        raise ConfigError(f"base_url must start with ws:// or wss://, got {redact(url)!r}")
    if (
        parts.scheme == "ws"
        and secret is not None
        and not is_loopback(parts.hostname or "")
        and not allow_insecure
    ):
        raise ConfigError(
            f"refusing to send a credential over unencrypted ws:// to {parts.hostname}; "
            "use wss:// or pass allow_insecure=True"
        )


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
        self, model: str, *, api_version: str, base_url: str | None, allow_insecure: bool
    ) -> Endpoint:
        url = (base_url or GEMINI_HOST).rstrip("/") + _GEMINI_PATH.format(
            version=api_version, method="BidiGenerateContent"
        )
        _check_transport_security(url, self.key, allow_insecure)
        return Endpoint(
            url=url,
            headers=[("x-goog-api-key", self.key.reveal())],
            model=gemini_model_path(model),
            secret=self.key,
        )


@attrs.frozen(kw_only=True, repr=False)
class EphemeralToken:
    """An ephemeral token (``auth_tokens/...``) minted by your backend; uses the Constrained
    method on v1alpha with ``Authorization: Token ...``."""

    token: Secret = attrs.field(converter=_as_secret)

    def __repr__(self) -> str:
        return "EphemeralToken('***')"

    async def endpoint(
        self, model: str, *, api_version: str, base_url: str | None, allow_insecure: bool
    ) -> Endpoint:
        url = (base_url or GEMINI_HOST).rstrip("/") + _GEMINI_PATH.format(
            version=api_version, method="BidiGenerateContentConstrained"
        )
        _check_transport_security(url, self.token, allow_insecure)
        return Endpoint(
            url=url,
            headers=[("authorization", f"Token {self.token.reveal()}")],
            model=gemini_model_path(model),
            secret=self.token,
        )
