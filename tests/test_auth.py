"""Credentials: Vertex AI (google-auth, refreshed off the event loop), express mode, ephemeral
tokens on the client side, the httpx transport for google-auth, and secrets kept out of reprs
and messages.

Offline at three levels (stack-notes.md §4): fixed-token credentials, a counting
``Credentials`` subclass, and end to end with a service-account JSON whose ``token_uri`` is the
emulator's loopback OAuth endpoint (``google.auth.default`` reading
``GOOGLE_APPLICATION_CREDENTIALS``).
No test can reach a metadata server: conftest sets ``NO_GCE_CHECK=true`` and points the
metadata host at loopback, and one test proves no probe arrives there.
"""

import json
import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import google.auth.credentials
import google.auth.exceptions
import google.oauth2.credentials
import google.oauth2.service_account
import httpx
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from gemini_live_trio import (
    ConfigError,
    ConnectError,
    LiveConfig,
    PolicyViolation,
    open_live_session,
)
from gemini_live_trio._auth import (
    CLOUD_PLATFORM_SCOPE,
    ApiKey,
    EphemeralToken,
    HttpxAuthRequest,
    Secret,
    VertexAI,
    redact,
    vertex_host,
    vertex_model_path,
)
from gemini_live_trio.testing import Emulator, EmulatorRest, serve_emulator, serve_emulator_rest

VERTEX_PATH = "/ws/google.cloud.aiplatform.{}.LlmBidiService/BidiGenerateContent"
MODEL = "gemini-live-2.5-flash-native-audio"
AUDIO = LiveConfig(response_modalities=["AUDIO"])
TOKEN = "ya29.a0AfB_fixed-session-token-0123456789"


def utcnow() -> datetime:
    """google-auth's clock: naive UTC."""
    return datetime.now(UTC).replace(tzinfo=None)


class CountingCredentials(google.auth.credentials.Credentials):
    """Refresh sets a new token valid for ``lifetime`` and counts calls (level 2)."""

    def __init__(self, lifetime: timedelta = timedelta(hours=1), delay: float = 0.0) -> None:
        super().__init__()
        self.lifetime = lifetime
        self.delay = delay
        self.refreshes = 0
        self.requests: list[Any] = []

    def refresh(self, request: Any) -> None:
        self.requests.append(request)
        time.sleep(self.delay)  # blocking, like a real token request
        self.refreshes += 1
        self.token = f"ya29.counting-{self.refreshes}-abcdefghijkl"
        self.expiry = utcnow() + self.lifetime


async def start(nursery: trio.Nursery, fn: Any, **kwargs: Any) -> Any:
    return await nursery.start(partial(fn, **kwargs))


# =========================================================================== Vertex endpoints


@pytest.mark.parametrize(
    ("location", "host"),
    [
        ("us-central1", "wss://us-central1-aiplatform.googleapis.com"),
        ("europe-west4", "wss://europe-west4-aiplatform.googleapis.com"),
        ("global", "wss://aiplatform.googleapis.com"),
        ("us", "wss://aiplatform.us.rep.googleapis.com"),
        ("eu", "wss://aiplatform.eu.rep.googleapis.com"),
    ],
)
async def test_vertex_url_per_location(location: str, host: str) -> None:
    creds = google.oauth2.credentials.Credentials(token=TOKEN)
    auth = VertexAI(project="demo-proj", location=location, credentials=creds)
    endpoint = await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    assert endpoint.url == host + VERTEX_PATH.format("v1beta1")
    assert endpoint.vertex and endpoint.api_version == "v1beta1"
    assert list(endpoint.headers) == [("authorization", f"Bearer {TOKEN}")]
    assert endpoint.model == (
        f"projects/demo-proj/locations/{location}/publishers/google/models/{MODEL}"
    )
    assert vertex_host(location) == host.replace("wss://", "https://")
    assert TOKEN not in repr(endpoint) and TOKEN not in endpoint.safe_url


@pytest.mark.parametrize(
    ("model", "path"),
    [
        (MODEL, f"projects/p/locations/l/publishers/google/models/{MODEL}"),
        ("acme/m-1", "projects/p/locations/l/publishers/acme/models/m-1"),
        (
            f"publishers/google/models/{MODEL}",
            f"projects/p/locations/l/publishers/google/models/{MODEL}",
        ),
        (
            "projects/q/locations/k/publishers/google/models/x",
            "projects/q/locations/k/publishers/google/models/x",
        ),
        ("models/x", "models/x"),
    ],
)
def test_vertex_model_path_follows_the_sdk(model: str, path: str) -> None:
    assert vertex_model_path(model, project="p", location="l") == path


def test_vertex_model_path_in_express_mode() -> None:
    assert vertex_model_path(MODEL, project=None, location=None) == (
        f"publishers/google/models/{MODEL}"
    )


@pytest.mark.parametrize("bad", ["../x", "a?b", "a&b", "x#y", "", " x"])
def test_vertex_model_path_refuses_url_tricks(bad: str) -> None:
    with pytest.raises(ConfigError, match="invalid model name"):
        vertex_model_path(bad, project="p", location="l")


@pytest.mark.parametrize(
    ("given", "used"), [(None, "v1beta1"), ("v1beta", "v1beta1"), ("v1", "v1")]
)
async def test_vertex_api_version(given: str | None, used: str) -> None:
    auth = VertexAI(project="p", credentials=google.oauth2.credentials.Credentials(token=TOKEN))
    endpoint = await auth.endpoint(MODEL, api_version=given, base_url=None, allow_insecure=False)
    assert endpoint.api_version == used
    assert f".{used}.LlmBidiService/" in endpoint.url


async def test_vertex_refuses_gemini_only_versions() -> None:
    auth = VertexAI(project="p", credentials=google.oauth2.credentials.Credentials(token=TOKEN))
    with pytest.raises(ConfigError, match="'v1' and 'v1beta1'"):
        await auth.endpoint(MODEL, api_version="v1alpha", base_url=None, allow_insecure=False)
    with pytest.raises(ConfigError, match="'v1' and 'v1beta1'"):
        VertexAI(project="p", api_version="v1alpha")


@pytest.mark.parametrize(
    "kwargs",
    [
        {"project": "p", "location": "us-central1/../x"},
        {"project": "p", "location": "US"},
        {"project": "p/../q"},
        {"project": "p", "api_key": "k"},
        {"api_key": "k", "credentials": google.oauth2.credentials.Credentials(token="t")},
    ],
)
def test_vertex_refuses_bad_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ConfigError):
        VertexAI(**kwargs)


async def test_vertex_needs_a_project() -> None:
    auth = VertexAI(credentials=google.oauth2.credentials.Credentials(token=TOKEN))
    with pytest.raises(ConfigError, match="needs a project") as info:
        await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    assert TOKEN not in str(info.value)


async def test_vertex_project_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GOOGLE_CLOUD_PROJECT", "env-proj")
    auth = VertexAI(credentials=google.oauth2.credentials.Credentials(token=TOKEN))
    endpoint = await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    assert endpoint.model.startswith("projects/env-proj/locations/us-central1/")
    assert auth.project == "env-proj"


async def test_express_mode() -> None:
    key = "AIzaSyD-vertex-express-key-0123456789ab"
    auth = VertexAI(api_key=key)
    endpoint = await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    assert endpoint.url == "wss://aiplatform.googleapis.com" + VERTEX_PATH.format("v1beta1")
    assert list(endpoint.headers) == [("x-goog-api-key", key)]
    assert endpoint.model == f"publishers/google/models/{MODEL}"
    assert endpoint.vertex and auth.express
    assert await auth.rest_headers() == [("x-goog-api-key", key)]
    assert key not in repr(auth) and key not in repr(endpoint)
    with pytest.raises(ConfigError, match="express mode"):
        await auth.access_token()


async def test_vertex_credentials_not_sent_over_plain_ws_to_remote_hosts() -> None:
    creds = CountingCredentials()
    auth = VertexAI(project="p", credentials=creds)
    with pytest.raises(ConfigError, match="refusing"):
        await auth.endpoint(
            MODEL, api_version=None, base_url="ws://example.com", allow_insecure=False
        )
    assert creds.refreshes == 0, "the URL is checked before any token is fetched"


def test_vertex_repr_shows_no_secret() -> None:
    creds = google.oauth2.credentials.Credentials(token=TOKEN)
    auth = VertexAI(project="demo-proj", location="global", credentials=creds)
    assert repr(auth) == "VertexAI(project='demo-proj', location='global', api_version='v1beta1')"
    assert TOKEN not in repr(auth)


# =========================================================================== token refresh


async def test_fixed_token_is_never_refreshed() -> None:
    creds = google.oauth2.credentials.Credentials(token=TOKEN)  # no expiry: FRESH forever
    auth = VertexAI(project="p", credentials=creds)
    for _ in range(3):
        assert (await auth.access_token()).reveal() == TOKEN


async def test_refresh_when_invalid_then_not_while_fresh() -> None:
    creds = CountingCredentials()
    auth = VertexAI(project="p", credentials=creds)
    first = await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    second = await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
    assert creds.refreshes == 1
    assert first.headers == second.headers == [("authorization", f"Bearer {creds.token}")]
    assert isinstance(creds.requests[0], HttpxAuthRequest)


async def test_stale_token_is_refreshed_before_it_expires() -> None:
    creds = CountingCredentials()
    creds.token = "ya29.almost-expired-token"
    creds.expiry = utcnow() + timedelta(minutes=2)  # within google-auth's 3 min 45 s: STALE
    assert creds.token_state is google.auth.credentials.TokenState.STALE
    auth = VertexAI(project="p", credentials=creds)
    token = await auth.access_token()
    assert creds.refreshes == 1 and token.reveal() == creds.token


async def test_expired_token_is_refreshed_on_every_connection() -> None:
    creds = CountingCredentials(lifetime=timedelta(seconds=-1))  # refreshed tokens expire at once
    auth = VertexAI(project="p", credentials=creds)
    for n in range(1, 4):
        await auth.endpoint(MODEL, api_version=None, base_url=None, allow_insecure=False)
        assert creds.refreshes == n


async def test_one_refresh_at_a_time() -> None:
    creds = CountingCredentials(delay=0.05)
    auth = VertexAI(project="p", credentials=creds)
    tokens: list[str] = []

    async def connect() -> None:
        tokens.append((await auth.access_token()).reveal())

    async with trio.open_nursery() as nursery:
        for _ in range(8):
            nursery.start_soon(connect)
    assert creds.refreshes == 1
    assert set(tokens) == {creds.token}


async def test_refresh_does_not_block_the_event_loop() -> None:
    creds = CountingCredentials(delay=0.3)
    auth = VertexAI(project="p", credentials=creds)
    ticks = 0

    async def heartbeat() -> None:
        nonlocal ticks
        while True:
            await trio.sleep(0.01)
            ticks += 1

    async with trio.open_nursery() as nursery:
        nursery.start_soon(heartbeat)
        await auth.access_token()
        nursery.cancel_scope.cancel()
    assert creds.refreshes == 1
    assert ticks >= 10, f"the loop ticked only {ticks} times during a 0.3 s refresh"


async def test_cancelling_a_slow_refresh_returns_promptly() -> None:
    creds = CountingCredentials(delay=1.0)
    auth = VertexAI(project="p", credentials=creds)
    began = time.monotonic()
    with trio.move_on_after(0.05):
        await auth.access_token()
    assert time.monotonic() - began < 0.5


async def test_refresh_error_becomes_config_error_without_secrets() -> None:
    class Refusing(CountingCredentials):
        def refresh(self, request: Any) -> None:
            raise google.auth.exceptions.RefreshError(
                f"invalid_grant: token Bearer {TOKEN} was revoked", {"error": "invalid_grant"}
            )

    auth = VertexAI(project="p", credentials=Refusing())
    with pytest.raises(ConfigError, match="could not refresh") as info:
        await auth.access_token()
    assert TOKEN not in str(info.value)


async def test_retryable_refresh_error_and_transport_error_are_connect_errors() -> None:
    class Flaky(CountingCredentials):
        def refresh(self, request: Any) -> None:
            raise google.auth.exceptions.RefreshError("temporarily unavailable", retryable=True)

    class Offline(CountingCredentials):
        def refresh(self, request: Any) -> None:
            raise google.auth.exceptions.TransportError("connection refused")

    for creds in (Flaky(), Offline()):
        with pytest.raises(ConnectError) as info:
            await VertexAI(project="p", credentials=creds).access_token()
        assert info.value.retryable


async def test_oauth2_credentials_without_refresh_token() -> None:
    creds = google.oauth2.credentials.Credentials(token=None)  # level 1: cannot refresh
    with pytest.raises(ConfigError, match="could not refresh"):
        await VertexAI(project="p", credentials=creds).access_token()


def test_given_credentials_get_the_cloud_platform_scope(private_key_pem: str) -> None:
    info = {
        "client_email": "live@demo-proj.iam.gserviceaccount.com",
        "private_key": private_key_pem,
        "token_uri": "http://127.0.0.1:9/token",
    }
    unscoped = google.oauth2.service_account.Credentials.from_service_account_info(info)
    assert unscoped.requires_scopes
    auth = VertexAI(project="p", credentials=unscoped)
    assert getattr(auth.credentials, "scopes", None) == [CLOUD_PLATFORM_SCOPE]


# =========================================================================== ADC


@pytest.fixture(scope="module")
def private_key_pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def service_account_file(directory: Path, pem: str, token_uri: str) -> Path:
    path = directory / "service-account.json"
    info = {
        "type": "service_account",
        "project_id": "demo-proj",
        "private_key_id": "k1",
        "private_key": pem,
        "client_email": "live@demo-proj.iam.gserviceaccount.com",
        "client_id": "1",
        "token_uri": token_uri,
    }
    path.write_text(json.dumps(info))
    return path


async def test_no_adc_is_a_config_error_and_probes_no_metadata_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    probes: list[trio.SocketStream] = []

    async def metadata_server(stream: trio.SocketStream) -> None:
        probes.append(stream)
        await stream.aclose()

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(
            partial(trio.serve_tcp, metadata_server, 0, host="127.0.0.1")
        )
        port = listeners[0].socket.getsockname()[1]
        monkeypatch.setenv("GCE_METADATA_HOST", f"127.0.0.1:{port}")
        monkeypatch.setenv("GCE_METADATA_IP", f"127.0.0.1:{port}")
        with pytest.raises(ConfigError, match="no Google Cloud credentials for Vertex AI") as info:
            await VertexAI(project="p").endpoint(
                MODEL, api_version=None, base_url=None, allow_insecure=False
            )
        assert "gcloud auth application-default login" in str(info.value)
        await trio.sleep(0.05)
        nursery.cancel_scope.cancel()
    assert probes == [], "google-auth probed the metadata server"


@pytest.fixture
def adc(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, private_key_pem: str) -> Iterator[Any]:
    """Point ADC at a service-account JSON whose token_uri is set later by the test."""

    def configure(token_uri: str) -> None:
        path = service_account_file(tmp_path, private_key_pem, token_uri)
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))

    yield configure


async def test_adc_service_account_end_to_end(nursery: trio.Nursery, adc: Any) -> None:
    """google.auth.default -> service-account JWT grant over HttpxAuthRequest to the
    emulator's loopback OAuth endpoint -> bearer token accepted on the Vertex socket."""
    emulator: Emulator = await start(nursery, serve_emulator, vertex=True)
    rest: EmulatorRest = await start(nursery, serve_emulator_rest, emulator=emulator)
    adc(rest.base_url + "/token")
    auth = VertexAI(location="us-central1")
    for _ in range(2):  # the second connection reuses the fresh token
        async with open_live_session(
            MODEL, auth=auth, base_url=emulator.base_url, api_version="v1beta1", config=AUDIO
        ) as session:
            assert session.session_id
    assert auth.project == "demo-proj"
    assert emulator.credentials.oauth_grants == 1
    grant = [r for r in rest.requests if r.path == "/token"]
    assert len(grant) == 1 and b"jwt-bearer" in grant[0].body
    first, second = emulator.connections
    assert first.path == VERTEX_PATH.format("v1beta1")
    assert (
        first.setup.model
        == f"projects/demo-proj/locations/us-central1/publishers/google/models/{MODEL}"
    )
    assert first.headers["authorization"] == second.headers["authorization"]
    assert first.headers["authorization"].startswith("Bearer ya29.emulator-")
    assert auth.credentials is not None and auth.credentials.token_state.name == "FRESH"


async def test_adc_token_endpoint_refusal(nursery: trio.Nursery, adc: Any) -> None:
    rest: EmulatorRest = await start(nursery, serve_emulator_rest)
    adc(rest.base_url + "/not-a-token-endpoint")
    with pytest.raises(ConfigError, match="could not refresh"):
        await VertexAI().access_token()


# =========================================================================== Vertex sessions


async def test_vertex_session_with_a_configured_bearer_token(nursery: trio.Nursery) -> None:
    emulator: Emulator = await start(nursery, serve_emulator, vertex=True, bearer_tokens=[TOKEN])
    auth = VertexAI(
        project="demo-proj", credentials=google.oauth2.credentials.Credentials(token=TOKEN)
    )
    async with open_live_session(
        MODEL, auth=auth, base_url=emulator.base_url, api_version="v1beta1", config=AUDIO
    ) as session:
        await session.send_text("hello")
        assert TOKEN not in repr(session)
    (conn,) = emulator.connections
    assert conn.credential == TOKEN
    assert conn.vertex and conn.api_version == "v1beta1"
    assert conn.setup.model.startswith("projects/demo-proj/locations/us-central1/")


async def test_vertex_session_with_an_unknown_bearer_token(
    nursery: trio.Nursery, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    emulator: Emulator = await start(nursery, serve_emulator, vertex=True, bearer_tokens=["other"])
    auth = VertexAI(project="p", credentials=google.oauth2.credentials.Credentials(token=TOKEN))
    with pytest.raises(PolicyViolation, match="invalid authentication credentials") as info:
        async with open_live_session(
            MODEL, auth=auth, base_url=emulator.base_url, api_version="v1", config=AUDIO
        ):
            pytest.fail("must be refused")
    assert info.value.code == 1008
    assert TOKEN not in str(info.value) and TOKEN not in caplog.text


async def test_vertex_express_session(nursery: trio.Nursery) -> None:
    emulator: Emulator = await start(nursery, serve_emulator, vertex=True, api_keys=["vx-key"])
    auth = VertexAI(api_key="vx-key")
    async with open_live_session(
        MODEL, auth=auth, base_url=emulator.base_url, api_version="v1beta1", config=AUDIO
    ):
        pass
    (conn,) = emulator.connections
    assert conn.headers["x-goog-api-key"] == "vx-key"
    assert conn.setup.model == f"publishers/google/models/{MODEL}"


# =========================================================================== ephemeral tokens


EPHEMERAL = "auth_tokens/4969d96d0fake1234567890abcdef"
CONSTRAINED = "GenerativeService.BidiGenerateContentConstrained"


async def test_ephemeral_token_defaults_to_v1alpha() -> None:
    endpoint = await EphemeralToken(token=EPHEMERAL).endpoint(
        "m", api_version=None, base_url=None, allow_insecure=False
    )
    assert f"v1alpha.{CONSTRAINED}" in endpoint.url
    assert endpoint.api_version == "v1alpha"
    assert list(endpoint.headers) == [("authorization", f"Token {EPHEMERAL}")]


async def test_ephemeral_token_on_v1beta_warns_but_works() -> None:
    with pytest.warns(UserWarning, match="v1alpha"):
        endpoint = await EphemeralToken(token=EPHEMERAL).endpoint(
            "m", api_version="v1beta", base_url=None, allow_insecure=False
        )
    assert f"v1beta.{CONSTRAINED}" in endpoint.url


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v2"])
async def test_ephemeral_token_refuses_other_versions(version: str) -> None:
    with pytest.raises(ConfigError, match="'v1alpha' and 'v1beta'"):
        await EphemeralToken(token=EPHEMERAL).endpoint(
            "m", api_version=version, base_url=None, allow_insecure=False
        )


async def test_ephemeral_token_cannot_authenticate_rest_calls() -> None:
    with pytest.raises(ConfigError, match="only be used with the Live API"):
        await EphemeralToken(token=EPHEMERAL).rest_headers()


async def test_api_key_defaults() -> None:
    key = ApiKey(key="k")
    endpoint = await key.endpoint("m", api_version=None, base_url=None, allow_insecure=False)
    assert (
        endpoint.api_version == "v1beta"
        and "v1beta.GenerativeService.BidiGenerateContent" in endpoint.url
    )
    assert await key.rest_headers() == [("x-goog-api-key", "k")]


# =========================================================================== httpx transport


def test_httpx_auth_request_maps_the_response() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"access_token": "x"}, headers={"x-test": "1"})

    request = HttpxAuthRequest(transport=httpx.MockTransport(handler))
    response = request(
        "https://oauth2.example/token",
        method="POST",
        body=b"grant_type=x",
        headers={"content-type": "application/x-www-form-urlencoded"},
        timeout=5,
    )
    assert response.status == 200
    assert response.headers["x-test"] == "1"
    assert json.loads(response.data) == {"access_token": "x"}
    assert seen[0].method == "POST" and seen[0].content == b"grant_type=x"


def test_httpx_auth_request_maps_errors_to_transport_error_without_secrets() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot reach {request.url}")

    request = HttpxAuthRequest(transport=httpx.MockTransport(handler))
    with pytest.raises(google.auth.exceptions.TransportError) as info:
        request("https://metadata.example/token?access_token=ya29.leaked-secret-value")
    assert "ya29.leaked" not in str(info.value) and "ConnectError" in str(info.value)


def test_httpx_auth_request_against_a_loopback_server() -> None:
    """The real (threaded, blocking) path google-auth uses, against a loopback server."""
    rest = EmulatorRest()

    async def main() -> int:
        async with trio.open_nursery() as nursery:
            served: EmulatorRest = await nursery.start(partial(serve_emulator_rest, rest=rest))
            response = await trio.to_thread.run_sync(
                partial(
                    HttpxAuthRequest(),
                    served.base_url + "/token",
                    method="POST",
                    body=b"grant_type=refresh_token&refresh_token=r",
                    headers={"content-type": "application/x-www-form-urlencoded"},
                )
            )
            nursery.cancel_scope.cancel()
        assert json.loads(response.data)["token_type"] == "Bearer"
        return int(response.status)

    assert trio.run(main) == 200


# =========================================================================== redaction


@pytest.mark.parametrize(
    "text",
    [
        f"Authorization: Bearer {TOKEN}",
        f"token {TOKEN} expired",
        "wss://x/ws?access_token=auth_tokens/abcdef123456&x=1",
        "header x-goog-api-key: AIzaSyD-fake-key-0123456789abcdefghijk",
        f"refresh failed for {TOKEN[:-3]}",
    ],
)
def test_redact_scrubs_token_shapes(text: str) -> None:
    out = redact(text)
    assert "***" in out
    for secret in (TOKEN[8:], "abcdef123456", "0123456789abcdefghijk"):
        assert secret not in out


def test_redact_explicit_secret() -> None:
    assert redact("my odd secret s3cr3t!", Secret("s3cr3t!")) == "my odd secret ***"


def test_scope_constant() -> None:
    assert CLOUD_PLATFORM_SCOPE == "https://www.googleapis.com/auth/cloud-platform"
