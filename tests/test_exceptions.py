"""Close-code mapping, the exception tree, credential redaction, endpoints and model names."""

import pytest

from gemini_live_trio import _exceptions as exc
from gemini_live_trio._auth import (
    ApiKey,
    Endpoint,
    EphemeralToken,
    Secret,
    gemini_model_path,
    is_loopback,
    redact,
)
from gemini_live_trio._models import (
    DEFAULT_MODEL,
    REGISTRY,
    TextInput,
    model_info,
    normalise_model_name,
    text_input_for,
)

GEMINI_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"
CONSTRAINED_PATH = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)
API_KEY = "AIzaSyD-fake-key-0123456789abcdefghijk"
TOKEN = "auth_tokens/4969d96d0fake1234567890"

# =========================================================================== close codes


@pytest.mark.parametrize(
    ("code", "reason", "cls", "retry"),
    [
        (1007, "Request contains an invalid argument.", exc.InvalidArgument, "never"),
        (1007, "API key expired. Please renew the API key.", exc.InvalidArgument, "never"),
        (1007, "", exc.InvalidArgument, "never"),
        (1008, "models/x is not found for API version v1beta", exc.PolicyViolation, "never"),
        (1008, "Permission denied on resource project None", exc.PolicyViolation, "never"),
        (1011, "You exceeded your current quota", exc.QuotaExceeded, "backoff"),
        (1011, "Resource exhausted: try later", exc.QuotaExceeded, "backoff"),
        (1011, "RESOURCE_EXHAUSTED", exc.QuotaExceeded, "backoff"),
        (1011, "Internal error encountered.", exc.ConnectionLost, "reconnect"),
        (1011, "Deadline expired", exc.ConnectionLost, "reconnect"),
        (1011, None, exc.ConnectionLost, "reconnect"),
        (1000, "", exc.ConnectionLost, "reconnect"),
        (1000, None, exc.ConnectionLost, "reconnect"),
        (1006, "Abnormal closure.", exc.ConnectionLost, "reconnect"),
        (1001, "going away", exc.ConnectionLost, "reconnect"),
        (4000, "custom", exc.ConnectionLost, "reconnect"),
    ],
)
def test_error_for_close(code: int, reason: str | None, cls: type, retry: str) -> None:
    error = exc.error_for_close(code, reason)
    assert type(error) is cls
    assert isinstance(error, exc.SessionClosed)
    assert error.code == code
    assert error.reason == (reason or "")
    assert error.retry is exc.RetryAdvice(retry)
    assert error.retryable is (retry != "never")
    assert f"code {code}" in str(error)
    if reason:
        assert reason in str(error)


def test_quota_words_do_not_matter_for_other_codes() -> None:
    # 1007/1008 stay fatal whatever the reason says
    assert type(exc.error_for_close(1008, "quota project not set")) is exc.PolicyViolation
    assert type(exc.error_for_close(1007, "quota")) is exc.InvalidArgument
    assert type(exc.error_for_close(1000, "quota")) is exc.ConnectionLost


@pytest.mark.parametrize(
    ("code", "reason", "hint"),
    [
        (1008, "models/x is not found for API version v1beta", "check the model name"),
        (1008, "Vertex requires billing", "billing"),
        (1008, "Permission denied on resource project None", "permissions"),
        (1007, 'Invalid JSON payload received. Unknown name "x"', "api_version='v1alpha'"),
        (1007, "API key expired. Please renew the API key.", "check the API key"),
    ],
)
def test_close_messages_carry_hints(code: int, reason: str, hint: str) -> None:
    assert hint in str(exc.error_for_close(code, reason))


def test_no_hint_for_plain_closes() -> None:
    assert str(exc.error_for_close(1000, "")) == "connection closed by the server with code 1000"
    assert str(exc.error_for_close(1011, "Internal error encountered.")) == (
        "connection closed by the server with code 1011: Internal error encountered."
    )


def test_during_setup_is_said() -> None:
    error = exc.error_for_close(1008, "nope", during_setup=True)
    assert error.during_setup is True
    assert str(error).startswith("connection closed during setup with code 1008: nope")


def test_exception_tree() -> None:
    assert issubclass(exc.ConfigError, exc.GeminiLiveError)
    assert issubclass(exc.ConfigError, ValueError)
    assert issubclass(exc.UsageError, TypeError)
    assert issubclass(exc.FrameDecodeError, exc.ProtocolError)
    for cls in (exc.InvalidArgument, exc.PolicyViolation, exc.QuotaExceeded, exc.ConnectionLost):
        assert issubclass(cls, exc.SessionClosed)
        assert issubclass(cls, exc.GeminiLiveError)
    assert issubclass(exc.ConnectTimeout, exc.ConnectError)
    assert issubclass(exc.HandshakeRejected, exc.ConnectError)
    assert exc.GeminiLiveError("x").retry is exc.RetryAdvice.NEVER
    assert exc.ConnectError("x").retryable
    assert exc.SetupTimeout("x").retry is exc.RetryAdvice.RECONNECT
    assert not exc.InternalError("x").retryable


@pytest.mark.parametrize(
    ("status", "retry"),
    [(429, "backoff"), (503, "backoff"), (401, "never"), (404, "never"), (400, "never")],
)
def test_handshake_rejected_retry(status: int, retry: str) -> None:
    error = exc.HandshakeRejected("no", status_code=status)
    assert error.status_code == status
    assert error.retry is exc.RetryAdvice(retry)


def test_protocol_error_close_fields() -> None:
    error = exc.ProtocolError("bad thing", close_code=1008)
    assert (error.close_code, error.close_reason, str(error)) == (1008, "bad thing", "bad thing")
    assert exc.ProtocolError("x").close_code == 1007
    decode = exc.FrameDecodeError("bad frame", preview='{"a"')
    assert decode.message == "bad frame"
    assert str(decode) == "bad frame; frame starts with '{\"a\"'"
    assert str(exc.FrameDecodeError("bare")) == "bare"


# =========================================================================== redaction


@pytest.mark.parametrize(
    ("text", "secret_part", "kept"),
    [
        (
            f"wss://generativelanguage.googleapis.com{GEMINI_PATH}?key={API_KEY}",
            API_KEY,
            "?key=***",
        ),
        ("wss://h/ws?alt=1&key=sekrit-value-123&x=2", "sekrit-value-123", "&x=2"),
        ("wss://h/ws?KEY=UPPERCASE-secret", "UPPERCASE-secret", "?KEY=***"),
        (
            f"wss://h{CONSTRAINED_PATH}?access_token=auth_tokens%2F4969d96dabc",
            "4969d96dabc",
            "?access_token=***",
        ),
        ("wss://h/ws?token=abcdef0123456789", "abcdef0123456789", "?token=***"),
        ("Authorization: Bearer ya29.a0AfH6SMBx-fake_token", "ya29.a0AfH6SMBx", "Bearer ***"),
        ("authorization: bearer ya29.a0AfH6SMBx-fake_token", "ya29.a0AfH6SMBx", "bearer ***"),
        (f"Authorization: Token {TOKEN}", "4969d96d0fake", "Token ***"),
        (f"token was {TOKEN} sadly", "4969d96d0fake", "sadly"),
        (f"upstream said: API key {API_KEY} not valid", API_KEY, "not valid"),
        (f"x-goog-api-key: {API_KEY}", API_KEY, "x-goog-api-key: "),
    ],
)
def test_redact_removes_credentials(text: str, secret_part: str, kept: str) -> None:
    clean = redact(text)
    assert secret_part not in clean
    assert kept in clean
    assert "***" in clean


def test_redact_removes_explicit_secrets_of_any_shape() -> None:
    secret = Secret("hunter2")
    assert redact("password is hunter2, really hunter2", secret) == "password is ***, really ***"
    assert redact("nothing here", None) == "nothing here"


def test_redact_leaves_ordinary_text_alone() -> None:
    text = f"wss://generativelanguage.googleapis.com{GEMINI_PATH}"
    assert redact(text) == text
    assert redact("the token expired") == "the token expired"
    assert redact("1008 models/x is not found") == "1008 models/x is not found"


def test_secret_never_shows_itself() -> None:
    secret = Secret(f"  {API_KEY}\n")
    assert secret.reveal() == API_KEY  # stripped
    for text in (repr(secret), str(secret), f"{secret}", f"{secret!r}", "%s" % (secret,)):  # noqa: UP031
        assert API_KEY not in text
        assert text == "Secret('***')"
    assert secret == Secret(API_KEY)
    assert secret != Secret("other")
    assert secret != API_KEY
    assert hash(secret) == hash(Secret(API_KEY))
    assert API_KEY not in repr([secret, {"k": secret}])


@pytest.mark.parametrize("bad", ["", "   ", None, 123])
def test_secret_refuses_empty_or_non_strings(bad: object) -> None:
    with pytest.raises(exc.ConfigError):
        Secret(bad)  # type: ignore[arg-type]


def test_api_key_and_token_reprs() -> None:
    key = ApiKey(key=API_KEY)
    assert repr(key) == "ApiKey('***')"
    assert str(key) == "ApiKey('***')"
    assert API_KEY not in f"{key} {key!r} {[key]}"
    assert key.key == Secret(API_KEY)
    assert ApiKey(key=Secret(API_KEY)) == key
    token = EphemeralToken(token=TOKEN)
    assert repr(token) == "EphemeralToken('***')"
    assert TOKEN not in f"{token} {[token]}"
    with pytest.raises(exc.ConfigError):
        ApiKey(key="")


def test_api_key_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GEMINI_API_KEY", raising=False)
    monkeypatch.delenv("GOOGLE_API_KEY", raising=False)
    assert ApiKey.from_env() is None
    monkeypatch.setenv("GOOGLE_API_KEY", "google-key")
    assert ApiKey.from_env() == ApiKey(key="google-key")
    monkeypatch.setenv("GEMINI_API_KEY", "  ")
    assert ApiKey.from_env() == ApiKey(key="google-key")
    monkeypatch.setenv("GEMINI_API_KEY", "gemini-key")
    assert ApiKey.from_env() == ApiKey(key="gemini-key")


# =========================================================================== endpoints


async def test_api_key_endpoint_default() -> None:
    endpoint = await ApiKey(key=API_KEY).endpoint(
        "gemini-2.5-flash-native-audio-preview-12-2025",
        api_version="v1beta",
        base_url=None,
        allow_insecure=False,
    )
    assert endpoint.url == f"wss://generativelanguage.googleapis.com{GEMINI_PATH}"
    assert list(endpoint.headers) == [("x-goog-api-key", API_KEY)]
    assert endpoint.model == "models/gemini-2.5-flash-native-audio-preview-12-2025"
    assert API_KEY not in endpoint.url  # header, not query
    assert API_KEY not in repr(endpoint)
    assert endpoint.safe_url == endpoint.url


async def test_api_key_endpoint_v1alpha_and_base_url() -> None:
    endpoint = await ApiKey(key=API_KEY).endpoint(
        "models/x", api_version="v1alpha", base_url="ws://127.0.0.1:8765/", allow_insecure=False
    )
    assert endpoint.url == (
        "ws://127.0.0.1:8765"
        "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContent"
    )
    assert endpoint.model == "models/x"


async def test_ephemeral_token_endpoint() -> None:
    endpoint = await EphemeralToken(token=TOKEN).endpoint(
        "gemini-3.1-flash-live-preview", api_version="v1alpha", base_url=None, allow_insecure=False
    )
    assert endpoint.url == f"wss://generativelanguage.googleapis.com{CONSTRAINED_PATH}"
    assert list(endpoint.headers) == [("authorization", f"Token {TOKEN}")]
    assert endpoint.model == "models/gemini-3.1-flash-live-preview"
    assert TOKEN not in repr(endpoint)


def test_endpoint_safe_url_redacts() -> None:
    secret = Secret("my-odd-secret")
    endpoint = Endpoint(url="ws://h/ws?key=my-odd-secret&v=my-odd-secret", model="m", secret=secret)
    assert "my-odd-secret" not in endpoint.safe_url
    assert "my-odd-secret" not in repr(Endpoint(url="ws://h/", model="m", secret=secret))


@pytest.mark.parametrize("credential", [ApiKey(key=API_KEY), EphemeralToken(token=TOKEN)])
@pytest.mark.parametrize(
    "base_url", ["ws://example.com", "ws://10.0.0.5:8080", "ws://localhost.evil.com"]
)
async def test_credentials_are_not_sent_over_plain_ws_to_remote_hosts(
    credential: ApiKey | EphemeralToken, base_url: str
) -> None:
    with pytest.raises(exc.ConfigError, match="refusing") as info:
        await credential.endpoint(
            "m", api_version="v1alpha", base_url=base_url, allow_insecure=False
        )
    assert API_KEY not in str(info.value) and TOKEN not in str(info.value)
    endpoint = await credential.endpoint(
        "m", api_version="v1alpha", base_url=base_url, allow_insecure=True
    )
    assert endpoint.url.startswith(base_url)


@pytest.mark.parametrize(
    "base_url",
    ["ws://localhost:1234", "ws://127.0.0.1:9", "ws://127.1.2.3", "ws://[::1]:8080", "wss://x.com"],
)
async def test_loopback_and_tls_are_allowed(base_url: str) -> None:
    endpoint = await ApiKey(key=API_KEY).endpoint(
        "m", api_version="v1beta", base_url=base_url, allow_insecure=False
    )
    assert endpoint.url.startswith(base_url)


@pytest.mark.parametrize("base_url", ["http://127.0.0.1", "https://x.com", "ftp://x"])
async def test_non_websocket_schemes_are_refused(base_url: str) -> None:
    with pytest.raises(exc.ConfigError, match="ws://") as info:
        await ApiKey(key=API_KEY).endpoint(
            "m", api_version="v1beta", base_url=base_url + "/?key=leak-me", allow_insecure=True
        )
    assert "leak-me" not in str(info.value)


def test_is_loopback() -> None:
    assert is_loopback("localhost")
    assert is_loopback("127.0.0.1")
    assert is_loopback("::1")
    assert is_loopback("[::1]")
    assert not is_loopback("example.com")
    assert not is_loopback("10.0.0.1")
    assert not is_loopback("")


# =========================================================================== model names


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("gemini-2.0-flash-exp", "models/gemini-2.0-flash-exp"),
        ("models/gemini-2.0-flash-exp", "models/gemini-2.0-flash-exp"),
        ("tunedModels/my-tune", "tunedModels/my-tune"),
    ],
)
def test_gemini_model_path(name: str, path: str) -> None:
    assert gemini_model_path(name) == path


@pytest.mark.parametrize("bad", ["../etc", "models/a..b", "m?key=x", "a&b"])
def test_gemini_model_path_refuses_url_tricks(bad: str) -> None:
    with pytest.raises(exc.ConfigError):
        gemini_model_path(bad)


@pytest.mark.parametrize(
    ("name", "normal"),
    [
        ("gemini-3.1-flash-live-preview", "gemini-3.1-flash-live-preview"),
        ("models/gemini-3.1-flash-live-preview", "gemini-3.1-flash-live-preview"),
        ("publishers/google/models/gemini-live-2.5-flash", "gemini-live-2.5-flash"),
        (
            "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash",
            "gemini-live-2.5-flash",
        ),
        ("models/gemini-2.0-flash-exp:bidiGenerateContent", "gemini-2.0-flash-exp"),
        ("gemini-2.0-flash-exp:streamGenerateContent", "gemini-2.0-flash-exp"),
    ],
)
def test_normalise_model_name(name: str, normal: str) -> None:
    assert normalise_model_name(name) == normal


@pytest.mark.parametrize(
    ("name", "method"),
    [
        ("gemini-3.1-flash-live-preview", TextInput.REALTIME_INPUT),
        ("models/gemini-3.1-flash-live-preview", TextInput.REALTIME_INPUT),
        (
            "projects/p/locations/global/publishers/google/models/gemini-3.1-flash-live-preview",
            TextInput.REALTIME_INPUT,
        ),
        ("gemini-2.5-flash-native-audio-preview-12-2025", TextInput.CLIENT_CONTENT),
        ("models/gemini-live-2.5-flash-preview", TextInput.CLIENT_CONTENT),
        ("gemini-9.9-unknown-live", TextInput.CLIENT_CONTENT),
        ("", TextInput.CLIENT_CONTENT),
    ],
)
def test_text_input_for(name: str, method: TextInput) -> None:
    assert text_input_for(name) is method


def test_model_registry_facts() -> None:
    live31 = model_info("models/gemini-3.1-flash-live-preview")
    assert live31 is not None
    assert live31.response_modalities == frozenset({"AUDIO"})
    assert live31.non_blocking_tools is False
    assert live31.native_audio_extras is False
    native = model_info("gemini-2.5-flash-native-audio-preview-12-2025")
    assert native is not None and native.native_audio_extras and native.non_blocking_tools
    assert model_info("nope") is None
    assert DEFAULT_MODEL in REGISTRY
    assert TextInput.REALTIME_INPUT.value == "realtimeInput.text"
    # no text-capable model is current (wire-protocol.md §7.2): all TEXT models are legacy
    assert all(m.legacy for m in REGISTRY.values() if "TEXT" in m.response_modalities)
