"""The exception tree. Everything the library raises derives from :class:`GeminiLiveError`::

    GeminiLiveError
    ├── ConfigError (also ValueError)       bad configuration, caught before any socket opens
    ├── UsageError (also TypeError)         API misuse: two realtime fields, send before ready...
    ├── ProtocolError                       the peer broke the protocol
    │   └── FrameDecodeError                a server frame that does not decode
    ├── ConnectError                        could not open the socket or finish the handshake
    │   ├── ConnectTimeout                  DNS + TCP + TLS + upgrade took too long
    │   └── HandshakeRejected               HTTP status instead of an upgrade (.status_code)
    ├── SetupTimeout                        no ``setupComplete`` in time
    ├── SessionClosed                       the connection ended (.code, .reason, .retry)
    │   ├── InvalidArgument                 1007: payload, field or key problem - fix, don't retry
    │   ├── PolicyViolation                 1008: model, version, auth, billing - fix, don't retry
    │   ├── QuotaExceeded                   1011 with quota/resource exhausted - back off
    │   └── ConnectionLost                  1000/1006/other 1011 and the rest - reconnect
    ├── RestError                           an HTTP error from a REST call (.status_code)
    └── InternalError                       a bug in this library: please report it

``retry`` says whether trying again can help (:class:`RetryAdvice`). Messages never contain
API keys, tokens or bearer headers: URLs are redacted before they reach an exception.
"""

import enum


class RetryAdvice(enum.Enum):
    """What a retry can achieve after an error."""

    #: The same request will fail again; change configuration or credentials first.
    NEVER = "never"
    #: Transient, but caused by load or quota: retry after a growing delay.
    BACKOFF = "backoff"
    #: Transient: reconnect (with a resumption handle if there is one).
    RECONNECT = "reconnect"


class GeminiLiveError(Exception):
    """Base of every error raised by gemini_live_trio."""

    retry: RetryAdvice = RetryAdvice.NEVER

    @property
    def retryable(self) -> bool:
        return self.retry is not RetryAdvice.NEVER


class ConfigError(GeminiLiveError, ValueError):
    """The configuration cannot work; the message says what to change."""


class UsageError(GeminiLiveError, TypeError):
    """The library was called in a way the protocol does not allow."""


class ProtocolError(GeminiLiveError):
    """The peer sent something the protocol does not allow.

    ``close_code`` and ``close_reason`` are what a server closes the connection with for it.
    """

    def __init__(self, message: str, *, close_code: int = 1007) -> None:
        super().__init__(message)
        self.close_code = close_code
        self.close_reason = message


class FrameDecodeError(ProtocolError):
    """A frame that is not a valid Live API message."""

    def __init__(self, message: str, *, preview: str = "") -> None:
        super().__init__(f"{message}; frame starts with {preview!r}" if preview else message)
        self.message = message
        self.preview = preview


class ConnectError(GeminiLiveError):
    """The WebSocket could not be opened (DNS, TCP, TLS or HTTP upgrade)."""

    retry = RetryAdvice.RECONNECT


class ConnectTimeout(ConnectError):
    """Opening the WebSocket took longer than ``connect_timeout``."""


class HandshakeRejected(ConnectError):
    """The server answered the upgrade with an HTTP status instead of a WebSocket."""

    def __init__(self, message: str, *, status_code: int) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.retry = RetryAdvice.BACKOFF if status_code in (429, 503) else RetryAdvice.NEVER


class SetupTimeout(GeminiLiveError):
    """The server did not answer ``setup`` with ``setupComplete`` in time."""

    retry = RetryAdvice.RECONNECT


class SessionClosed(GeminiLiveError):
    """The connection closed. ``code`` is the WebSocket close code (1006: no close frame)."""

    retry = RetryAdvice.RECONNECT

    def __init__(self, code: int, reason: str | None, *, during_setup: bool = False) -> None:
        self.code = code
        self.reason = reason or ""
        self.during_setup = during_setup
        where = "during setup" if during_setup else "by the server"
        text = f"connection closed {where} with code {code}"
        if self.reason:
            text += f": {self.reason}"
        hint = _hint(code, self.reason, during_setup)
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class InvalidArgument(SessionClosed):
    """1007: the server rejected a payload, a field or the key. Retrying unchanged fails again."""

    retry = RetryAdvice.NEVER


class PolicyViolation(SessionClosed):
    """1008: model not found or not Live-capable, wrong API version, permission, billing."""

    retry = RetryAdvice.NEVER


class QuotaExceeded(SessionClosed):
    """1011 naming quota or resource exhaustion: back off before reconnecting."""

    retry = RetryAdvice.BACKOFF


class ConnectionLost(SessionClosed):
    """A close a reconnect can heal: 1000 mid-session, 1006 (no close frame), transient 1011."""

    retry = RetryAdvice.RECONNECT


class RestError(GeminiLiveError):
    """A REST call answered with an HTTP error. ``status_code`` is the HTTP status, ``status``
    Google's status name (``INVALID_ARGUMENT``, ``PERMISSION_DENIED``...) when given."""

    def __init__(self, message: str, *, status_code: int, status: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.status = status
        transient = status_code == 429 or status_code >= 500
        self.retry = RetryAdvice.BACKOFF if transient else RetryAdvice.NEVER


class InternalError(GeminiLiveError):
    """Something this library did not expect; please report it with the traceback."""


def _hint(code: int, reason: str, during_setup: bool) -> str:
    low = reason.lower()
    if code == 1008 and "publisher model" in low:
        return (
            "Vertex AI model names differ from the Gemini API's; "
            "see list_live_models(auth=VertexAI(...))"
        )
    if code == 1008 and "project none" in low:
        return "set the Google Cloud project (VertexAI(project=...)) and check its permissions"
    if code == 1008 and "unregistered callers" in low:
        return "no credential reached the server: pass api_key=... or set GEMINI_API_KEY"
    if code == 1008 and "api key not valid" in low:
        return "check the API key (in a browser, use an EphemeralToken instead)"
    if code == 1008 and "auth token" in low:
        return "the ephemeral token is used up or expired: mint a new one"
    if code == 1008 and "not found" in low:
        return "check the model name and API version; list Live models with resolve_model()"
    if code == 1008 and ("billing" in low or "permission" in low):
        return "check the project, its billing and the credentials' permissions"
    if code == 1007 and "unknown name" in low:
        return "a setup field is not known to this API version; try api_version='v1alpha'"
    if code == 1007 and ("api key" in low or "expired" in low):
        return "check the API key"
    if code == 1011 and during_setup and "internal error" in low:
        return "check that response_modalities is one the model supports"
    return ""


_QUOTA_WORDS = ("quota", "resource exhausted", "resource_exhausted", "rate limit")


def error_for_close(code: int, reason: str | None, *, during_setup: bool = False) -> SessionClosed:
    """Map a close code and reason to the matching :class:`SessionClosed` subclass."""
    cls: type[SessionClosed]
    if code == 1007:
        cls = InvalidArgument
    elif code == 1008:
        cls = PolicyViolation
    elif code == 1011 and any(w in (reason or "").lower() for w in _QUOTA_WORDS):
        cls = QuotaExceeded
    else:
        cls = ConnectionLost
    return cls(code, reason, during_setup=during_setup)
