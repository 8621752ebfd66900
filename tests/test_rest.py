"""REST helpers and the emulator's REST side: model listing (all pages), the model resolver,
ephemeral tokens (request bodies, creation, and their use on the emulator's Live socket: uses,
expiry, resumption, locked fields).

Every REST test runs twice where it matters: over real HTTP on loopback (``http``) and through
the same handlers as an ``httpx.MockTransport`` with the real Google host as base URL (``mock``:
no socket at all).
"""

import json
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

import attrs
import google.oauth2.credentials
import httpx
import pytest
import trio
from _helpers import collect_turn

from gemini_live_trio import (
    AudioTranscriptionConfig,
    ConfigError,
    ConnectError,
    GeminiLiveError,
    LiveConfig,
    PolicyViolation,
    ServerContent,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    open_live_session,
)
from gemini_live_trio._auth import ApiKey, EphemeralToken, VertexAI
from gemini_live_trio._rest import (
    DEFAULT_PAGE_SIZE,
    AuthToken,
    LiveConstraints,
    RestError,
    create_ephemeral_token,
    field_mask,
    field_path,
    list_live_models,
    list_models,
    parse_time,
    resolve_model,
    token_request,
)
from gemini_live_trio._transport import open_websocket
from gemini_live_trio.testing import Emulator, EmulatorRest, serve_emulator, serve_emulator_rest
from gemini_live_trio.testing._rest import OTHER_MODELS
from gemini_live_trio.testing._tokens import (
    TOKEN_EXPIRED,
    TOKEN_NO_NEW_SESSIONS,
    TOKEN_USED_UP,
)

NATIVE = "gemini-2.5-flash-native-audio-preview-12-2025"
LIVE31 = "gemini-3.1-flash-live-preview"
AUDIO = LiveConfig(response_modalities=["AUDIO"])
GOOGLE = "https://generativelanguage.googleapis.com"
CONSTRAINED = (
    "/ws/google.ai.generativelanguage.v1alpha.GenerativeService.BidiGenerateContentConstrained"
)


@attrs.define
class Served:
    emulator: Emulator
    rest: EmulatorRest
    client: httpx.AsyncClient
    #: Where REST helpers point: the loopback server, or Google's host through the mock.
    base_url: str

    @property
    def key(self) -> str:
        return self.emulator.api_key

    async def token(self, **options: Any) -> AuthToken:
        return await create_ephemeral_token(
            self.client, api_key=self.key, base_url=self.base_url, **options
        )

    def session(self, model: str = NATIVE, **options: Any) -> Any:
        options.setdefault("config", AUDIO)
        options.setdefault("api_version", "v1alpha")
        return open_live_session(model, base_url=self.emulator.base_url, **options)


async def serve(nursery: trio.Nursery, mode: str = "http", **emulator_options: Any) -> Served:
    emulator = await nursery.start(partial(serve_emulator, **emulator_options))
    rest = await nursery.start(partial(serve_emulator_rest, emulator))
    if mode == "mock":
        client = httpx.AsyncClient(transport=rest.mock_transport())
        return Served(emulator, rest, client, GOOGLE)
    return Served(emulator, rest, httpx.AsyncClient(), rest.base_url)


@pytest.fixture(params=["http", "mock"])
async def served(request: pytest.FixtureRequest, nursery: trio.Nursery) -> AsyncIterator[Served]:
    result = await serve(nursery, request.param)
    async with result.client:
        yield result


@pytest.fixture
async def http(nursery: trio.Nursery) -> AsyncIterator[Served]:
    result = await serve(nursery)
    async with result.client:
        yield result


def tie_wall_clock(emulator: Emulator) -> None:
    """Token times follow trio's clock (so ``autojump_clock`` moves them), starting now."""
    base = datetime.now(UTC) - timedelta(seconds=trio.current_time())
    emulator.credentials.now = lambda: base + timedelta(seconds=trio.current_time())


async def one_turn(session: Any, text: str = "hello") -> None:
    """A text turn, then wait for the resumption update that follows it (if any is asked)."""
    await session.send_text(text)
    await collect_turn(session.events)
    if session.config.session_resumption is not None or session.options.reconnect.enabled:
        with trio.move_on_after(2):
            await collect_turn(
                session.events, until=lambda e: isinstance(e, SessionResumptionUpdate)
            )


# =========================================================================== listing


async def test_list_models_follows_every_page(served: Served) -> None:
    served.rest.max_page_size = 3
    models = await list_models(served.client, api_key=served.key, base_url=served.base_url)
    expected = [name for name, _ in served.rest.catalogue()]
    assert [m.name for m in models] == expected
    assert len(expected) > 3 * 4
    requests = served.rest.requests
    assert len(requests) == -(-len(expected) // 3)
    assert all(r.param("pageSize") == "1000" for r in requests)
    assert requests[0].param("pageToken") is None
    assert all(r.param("pageToken") for r in requests[1:])
    assert all(r.headers["x-goog-api-key"] == served.key for r in requests)
    assert all(r.path == "/v1beta/models" and r.method == "GET" for r in requests)


async def test_listed_model_fields(served: Served) -> None:
    models = {
        m.name: m
        for m in await list_models(served.client, api_key=served.key, base_url=served.base_url)
    }
    native = models[NATIVE]
    assert native.resource_name == f"models/{NATIVE}"
    assert native.live and "bidiGenerateContent" in native.supported_methods
    assert native.input_token_limit == 131072 and native.display_name
    assert not models["gemini-2.5-flash"].live
    assert "raw" not in repr(native)


async def test_list_live_models_keeps_bidi_models_only(served: Served) -> None:
    live = await list_live_models(served.client, api_key=served.key, base_url=served.base_url)
    assert [m.name for m in live] == list(served.emulator.models)
    assert not {m.name for m in live} & {name for name, _ in OTHER_MODELS}


async def test_default_page_size_of_the_emulator(http: Served) -> None:
    response = await http.client.get(
        http.base_url + "/v1beta/models", headers={"x-goog-api-key": http.key}
    )
    body = response.json()
    assert len(body["models"]) == min(DEFAULT_PAGE_SIZE, len(http.rest.catalogue()))


async def test_get_one_model(http: Served) -> None:
    url = f"{http.base_url}/v1beta/models/{NATIVE}"
    response = await http.client.get(url, params={"key": http.key})
    assert response.json()["name"] == f"models/{NATIVE}"
    missing = await http.client.get(url + "-nope", params={"key": http.key})
    assert missing.status_code == 404


@pytest.mark.parametrize(
    ("key", "status", "words"),
    [
        ("wrong-key", 400, "API key not valid"),
        ("auth_tokens/whatever", 400, "API key not valid"),
    ],
)
async def test_listing_errors_name_the_fix_without_the_key(
    served: Served, key: str, status: int, words: str
) -> None:
    with pytest.raises(RestError, match=words) as info:
        await list_models(served.client, api_key=key, base_url=served.base_url)
    assert info.value.status_code == status and info.value.status == "INVALID_ARGUMENT"
    assert "(check the API key)" in str(info.value)
    assert key not in str(info.value) and not info.value.retryable


async def test_a_server_echoing_the_key_does_not_leak_it() -> None:
    key = "plain-odd-key-without-a-google-shape"

    def echo(request: httpx.Request) -> httpx.Response:
        header = request.headers["x-goog-api-key"]
        return httpx.Response(403, json={"error": {"message": f"key {header} is banned"}})

    def explode(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"refused for {request.headers['x-goog-api-key']}")

    for handler in (echo, explode):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
            with pytest.raises(GeminiLiveError) as info:
                await list_models(client, api_key=key)
        assert key not in str(info.value) and "***" in str(info.value)


async def test_minted_token_cannot_list_models(served: Served) -> None:
    token = await served.token()
    with pytest.raises(RestError, match="only be used with the Live API") as info:
        await list_models(served.client, api_key=token.name, base_url=served.base_url)
    assert info.value.status_code == 401
    assert token.name.reveal() not in str(info.value)


async def test_listing_without_any_credential() -> None:
    with pytest.raises(ConfigError, match="GEMINI_API_KEY"):
        await list_models(base_url="http://127.0.0.1:9")
    with pytest.raises(ConfigError, match="not both"):
        await list_models(api_key="k", auth=ApiKey(key="k"))


async def test_listing_uses_gemini_api_key_from_the_environment(
    served: Served, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", served.key)
    assert await list_live_models(served.client, base_url=served.base_url)


@pytest.mark.parametrize("base_url", ["http://example.com", "ws://127.0.0.1:1", "ftp://x"])
async def test_listing_refuses_unsafe_base_urls(base_url: str) -> None:
    with pytest.raises(ConfigError):
        await list_models(api_key="AIzaSyD-fake-key-0123456789abcdefghijk", base_url=base_url)


async def test_listing_transport_failure_is_a_connect_error() -> None:
    with pytest.raises(ConnectError) as info:
        await list_models(api_key="k", base_url="http://127.0.0.1:9")
    assert info.value.retryable


async def test_a_server_that_repeats_a_page_token_is_stopped() -> None:
    def forever(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"models": [], "nextPageToken": "same"})

    async with httpx.AsyncClient(transport=httpx.MockTransport(forever)) as client:
        with pytest.raises(RestError, match="repeated a page token"):
            await list_models(client, api_key="k")


async def test_server_errors_are_retryable_and_not_json_is_handled() -> None:
    def broken(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, text="upstream unavailable")

    async with httpx.AsyncClient(transport=httpx.MockTransport(broken)) as client:
        with pytest.raises(RestError, match="HTTP 503: upstream unavailable") as info:
            await list_models(client, api_key="k")
    assert info.value.retryable


async def test_vertex_listing_with_a_bearer_token(nursery: trio.Nursery) -> None:
    token = "ya29.vertex-listing-token-abcdefgh"
    served = await serve(nursery, bearer_tokens=[token])
    async with served.client:
        auth = VertexAI(project="p", credentials=google.oauth2.credentials.Credentials(token=token))
        models = await list_models(served.client, auth=auth, base_url=served.base_url)
        live = [m.name for m in models if m.live]
        assert live == list(served.emulator.models)
        assert models[0].resource_name.startswith("publishers/google/models/")
        (request,) = served.rest.requests
        assert request.path == "/v1beta1/publishers/google/models"
        assert request.headers["authorization"] == f"Bearer {token}"
        wrong = VertexAI(
            project="p", credentials=google.oauth2.credentials.Credentials(token="x" * 12)
        )
        with pytest.raises(RestError, match="invalid authentication credentials") as info:
            await list_models(served.client, auth=wrong, base_url=served.base_url)
        assert info.value.status_code == 401


async def test_vertex_listing_defaults_to_the_location_host() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(
            200, json={"publisherModels": [{"name": "publishers/google/models/gemini-live-x"}]}
        )

    auth = VertexAI(
        project="p",
        location="europe-west4",
        credentials=google.oauth2.credentials.Credentials(token="t"),
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        (model,) = await list_models(client, auth=auth)
    assert seen[0].startswith(
        "https://europe-west4-aiplatform.googleapis.com/v1beta1/publishers/google/models?"
    )
    assert model.live  # Vertex lists no methods: guessed from the name


# =========================================================================== resolver


async def test_resolve_audio_picks_the_best_known_model(served: Served) -> None:
    model = await resolve_model(
        "audio", api_key=served.key, client=served.client, base_url=served.base_url
    )
    assert model == LIVE31


async def test_resolve_follows_what_the_key_can_see(nursery: trio.Nursery) -> None:
    catalogue = {
        "gemini-2.5-flash-native-audio-preview-09-2025": {"AUDIO"},
        "gemini-2.5-flash-native-audio-latest": {"AUDIO"},
        "gemini-2.0-flash-live-001": {"AUDIO", "TEXT"},
    }
    served = await serve(nursery, models=catalogue)
    served.rest.max_page_size = 2
    async with served.client:
        kwargs: dict[str, Any] = {
            "api_key": served.key,
            "client": served.client,
            "base_url": served.base_url,
        }
        assert (
            await resolve_model("audio", **kwargs)
            == "gemini-2.5-flash-native-audio-preview-09-2025"
        )
        assert await resolve_model("TEXT", **kwargs) == "gemini-2.0-flash-live-001"


async def test_resolve_with_available_models_needs_no_network() -> None:
    available = ["models/gemini-2.5-flash", "models/gemini-2.5-flash-native-audio-latest"]
    assert (
        await resolve_model("audio", available_models=available)
        == "gemini-2.5-flash-native-audio-latest"
    )


async def test_resolve_candidates_override_the_registry() -> None:
    available = [NATIVE, LIVE31, "gemini-9-live-future"]
    picked = await resolve_model(
        "audio", candidates=["gemini-9-live-future", LIVE31], available_models=available
    )
    assert picked == "gemini-9-live-future"  # unknown to the registry: kept, user knows best
    # a candidate the registry knows cannot answer in TEXT is dropped
    with pytest.raises(ConfigError, match="no candidate model answers in TEXT"):
        await resolve_model("text", candidates=[LIVE31, NATIVE], available_models=available)


async def test_resolve_falls_back_to_any_known_available_model() -> None:
    picked = await resolve_model(
        "audio", candidates=["gemini-unavailable-live"], available_models=[f"models/{NATIVE}"]
    )
    assert picked == NATIVE


async def test_resolve_when_nothing_matches(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gemini_live_trio")
    available = ["gemini-9-live-future"]
    assert await resolve_model("audio", available_models=available) == LIVE31
    assert "gemini-9-live-future" in caplog.text and f"using {LIVE31}" in caplog.text
    with pytest.raises(ConfigError, match="available Live models: gemini-9-live-future"):
        await resolve_model("audio", available_models=available, strict=True)


async def test_resolve_when_listing_fails(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="gemini_live_trio")
    key = "AIzaSyD-fake-key-0123456789abcdefghijk"
    picked = await resolve_model("audio", api_key=key, base_url="http://127.0.0.1:9")
    assert picked == LIVE31
    assert "could not list models" in caplog.text and key not in caplog.text
    with pytest.raises(ConnectError):
        await resolve_model("audio", api_key=key, base_url="http://127.0.0.1:9", strict=True)


async def test_resolve_text_with_no_text_model_available(served: Served) -> None:
    served.emulator.models = served.rest.live_models = {NATIVE: {"AUDIO"}}
    with pytest.raises(ConfigError, match="answering in TEXT"):
        await resolve_model(
            "text", api_key=served.key, client=served.client, base_url=served.base_url, strict=True
        )


async def test_resolve_on_vertex(nursery: trio.Nursery) -> None:
    token = "ya29.vertex-resolve-token-abcdefgh"
    served = await serve(nursery, bearer_tokens=[token])
    async with served.client:
        auth = VertexAI(project="p", credentials=google.oauth2.credentials.Credentials(token=token))
        picked = await resolve_model(
            "audio", auth=auth, client=served.client, base_url=served.base_url
        )
    assert picked == NATIVE  # 3.1 Flash Live is not a Vertex AI model in the registry


async def test_resolve_with_another_required_method() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        models = [
            {"name": f"models/{LIVE31}", "supportedGenerationMethods": ["bidiGenerateContent"]},
            {"name": f"models/{NATIVE}", "supportedGenerationMethods": ["bidiGenerateContentX"]},
        ]
        return httpx.Response(200, json={"models": models})

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        picked = await resolve_model(
            "audio", api_key="k", client=client, require_method="bidiGenerateContentX"
        )
    assert picked == NATIVE


# =========================================================================== token requests


NOW = datetime(2026, 1, 1, tzinfo=UTC)
CONSTRAINTS = LiveConstraints(
    model="gemini-live-2.5-flash-preview",
    config=LiveConfig(response_modalities=["TEXT"], temperature=0.7),
)
SETUP = {
    "model": "models/gemini-live-2.5-flash-preview",
    "generationConfig": {"responseModalities": ["TEXT"], "temperature": 0.7},
}


def test_token_request_without_constraints() -> None:
    body = token_request(
        expire_time=timedelta(minutes=30), new_session_expire_time=timedelta(minutes=1), now=NOW
    )
    assert body == {
        "uses": 1,
        "expireTime": "2026-01-01T00:30:00Z",
        "newSessionExpireTime": "2026-01-01T00:01:00Z",
    }


def test_token_request_constraints_lock_everything_by_default() -> None:
    assert token_request(uses=2, constraints=CONSTRAINTS, now=NOW) == {
        "uses": 2,
        "bidiGenerateContentSetup": SETUP,
    }


def test_token_request_lock_only_the_fields_set() -> None:
    body = token_request(constraints=CONSTRAINTS, lock_additional_fields=[], now=NOW)
    assert (
        body["fieldMask"]
        == "model,generationConfig.responseModalities,generationConfig.temperature"
    )


def test_token_request_lock_additional_fields() -> None:
    body = token_request(
        constraints=CONSTRAINTS,
        lock_additional_fields=["top_k", "output_audio_transcription", "temperature"],
        now=NOW,
    )
    assert body["fieldMask"] == (
        "model,generationConfig.responseModalities,generationConfig.temperature,"
        "generationConfig.topK,outputAudioTranscription"
    )


def test_token_request_names_without_constraints() -> None:
    body = token_request(lock_additional_fields=["system_instruction", "topP"], now=NOW)
    assert body == {"uses": 1, "fieldMask": "systemInstruction,generationConfig.topP"}
    assert "fieldMask" not in token_request(lock_additional_fields=[], now=NOW)


def test_token_request_constraints_carry_session_fields() -> None:
    constraints = LiveConstraints(
        config=LiveConfig(
            system_instruction="Be brief.",
            session_resumption=SessionResumptionConfig(),
            output_audio_transcription=AudioTranscriptionConfig(),
        )
    )
    setup = token_request(constraints=constraints, now=NOW)["bidiGenerateContentSetup"]
    assert setup == {
        "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
        "sessionResumption": {},
        "outputAudioTranscription": {},
    }


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("temperature", "generationConfig.temperature"),
        ("top_k", "generationConfig.topK"),
        ("generation_config.top_k", "generationConfig.topK"),
        ("outputAudioTranscription", "outputAudioTranscription"),
        ("model", "model"),
        ("session_resumption", "sessionResumption"),
    ],
)
def test_field_path(name: str, path: str) -> None:
    assert field_path(name) == path


@pytest.mark.parametrize("name", ["colour", "generationConfig.colour", "", "."])
def test_field_path_refuses_unknown_names(name: str) -> None:
    with pytest.raises(ConfigError):
        field_path(name)


def test_field_mask_without_duplicates() -> None:
    assert field_mask({"model": "m"}, ["model", "model"]) == "model"


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"uses": -1}, "uses must be an int >= 0"),
        ({"uses": True}, "uses must be an int"),
        ({"expire_time": datetime(2026, 1, 1, 1)}, "timezone-aware"),
        ({"expire_time": NOW - timedelta(seconds=1)}, "in the past"),
        ({"expire_time": timedelta(hours=21)}, "less than 20 hours"),
        ({"new_session_expire_time": timedelta(hours=20, seconds=1)}, "less than 20 hours"),
        (
            {"expire_time": timedelta(minutes=1), "new_session_expire_time": timedelta(minutes=2)},
            "after expire_time",
        ),
        ({"expire_time": 60}, "a datetime or a timedelta"),
        ({"lock_additional_fields": "temperature"}, "a list of field names"),
        (
            {
                "constraints": LiveConstraints(
                    model=NATIVE, config=LiveConfig(response_modalities=["TEXT"])
                )
            },
            "answers in AUDIO only",
        ),
    ],
)
def test_token_request_refuses_bad_arguments(kwargs: dict[str, Any], words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        token_request(now=NOW, **kwargs)


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("2026-01-01T00:30:00Z", datetime(2026, 1, 1, 0, 30, tzinfo=UTC)),
        ("2026-01-01T00:30:00.123456789Z", datetime(2026, 1, 1, 0, 30, 0, 123456, tzinfo=UTC)),
        ("2026-01-01T01:30:00+01:00", datetime(2026, 1, 1, 0, 30, tzinfo=UTC)),
        ("nonsense", None),
        (None, None),
    ],
)
def test_parse_time(text: str | None, value: datetime | None) -> None:
    assert parse_time(text) == value


# =========================================================================== token creation


async def test_create_token(served: Served) -> None:
    token = await served.token(
        uses=3,
        expire_time=timedelta(minutes=10),
        constraints=LiveConstraints(model=NATIVE, config=LiveConfig(temperature=0.2)),
        lock_additional_fields=[],
    )
    name = token.name.reveal()
    assert name.startswith("auth_tokens/")
    assert name not in repr(token) and name not in str(token)
    assert token.uses == 3
    assert token.expire_time is not None and token.new_session_expire_time is not None
    assert token.new_session_expire_time < token.expire_time
    issued = served.emulator.credentials.tokens[name]
    assert issued.uses == 3
    assert issued.field_mask == ("model", "generationConfig.temperature")
    assert issued.setup == {"model": f"models/{NATIVE}", "generationConfig": {"temperature": 0.2}}
    assert name not in repr(issued)
    (request,) = served.rest.requests
    assert request.path == "/v1alpha/auth_tokens" and request.method == "POST"
    assert request.headers["x-goog-api-key"] == served.key
    assert isinstance(token.auth(), EphemeralToken)


async def test_create_token_with_server_defaults(served: Served) -> None:
    token = await served.token()
    assert token.expire_time is not None and token.new_session_expire_time is not None
    lifetime = token.expire_time - token.new_session_expire_time
    assert timedelta(minutes=28) < lifetime < timedelta(minutes=30)


async def test_create_token_with_a_bad_key(served: Served) -> None:
    with pytest.raises(RestError, match="API key not valid") as info:
        await create_ephemeral_token(served.client, api_key="bad-key", base_url=served.base_url)
    assert info.value.status_code == 400 and "bad-key" not in str(info.value)


async def test_token_creation_is_v1alpha_only(http: Served) -> None:
    response = await http.client.post(
        http.base_url + "/v1beta/auth_tokens", headers={"x-goog-api-key": http.key}, json={}
    )
    assert response.status_code == 404
    assert response.json()["error"]["status"] == "NOT_FOUND"


async def test_create_token_404_names_the_fix() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"error": {"code": 404, "message": "Not found", "status": "NOT_FOUND"}}
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as client:
        with pytest.raises(RestError, match="created on v1alpha only"):
            await create_ephemeral_token(client, api_key="k")


@pytest.mark.parametrize(
    ("body", "status", "words"),
    [
        ({"colour": "red"}, 400, 'Unknown name "colour"'),
        ({"uses": -2}, 400, "Invalid value at 'uses'"),
        ({"expireTime": "2001-01-01T00:00:00Z"}, 400, "must be in the future"),
        ({"newSessionExpireTime": "2999-01-01T00:00:00Z"}, 400, "less than 20 hours"),
        ({"bidiGenerateContentSetup": {"model": "models/gemini-9-nope"}}, 404, "is not found"),
        ({"bidiGenerateContentSetup": {"generationConfig": {"colour": 1}}}, 400, "Unknown name"),
        ({"fieldMask": "model,colour"}, 400, "Invalid field mask path"),
    ],
)
async def test_emulator_validates_token_requests(
    served: Served, body: dict[str, Any], status: int, words: str
) -> None:
    response = await served.client.post(
        served.base_url + "/v1alpha/auth_tokens", headers={"x-goog-api-key": served.key}, json=body
    )
    assert response.status_code == status
    assert words in response.json()["error"]["message"]
    assert not served.emulator.credentials.tokens


async def test_emulator_accepts_snake_case_token_fields(served: Served) -> None:
    body = {
        "uses": 2,
        "bidi_generate_content_setup": {
            "model": f"models/{NATIVE}",
            "generation_config": {"top_k": 3},
        },
        "field_mask": "generation_config.top_k",
    }
    response = await served.client.post(
        served.base_url + "/v1alpha/auth_tokens", headers={"x-goog-api-key": served.key}, json=body
    )
    assert response.status_code == 200
    (issued,) = served.emulator.credentials.tokens.values()
    assert issued.field_mask == ("generationConfig.topK",)
    assert issued.setup == {"model": f"models/{NATIVE}", "generationConfig": {"topK": 3}}


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("DELETE", "/v1alpha/auth_tokens", 405), ("GET", "/v9/else", 404), ("GET", "/token", 405)],
)
async def test_emulator_unknown_routes(http: Served, method: str, path: str, status: int) -> None:
    response = await http.client.request(method, http.base_url + path)
    assert response.status_code == status
    assert response.json()["error"]["code"] == status


async def test_emulator_http_survives_garbage(http: Served) -> None:
    host, port = http.base_url.removeprefix("http://").split(":")
    stream = await trio.open_tcp_stream(host, int(port))
    async with stream:
        await stream.send_all(b"NOT HTTP AT ALL\r\n\r\n")
        reply = await stream.receive_some(4096)
    assert reply.startswith(b"HTTP/1.1 400")
    assert (
        await http.client.get(http.base_url + "/v1beta/models", params={"key": http.key})
    ).status_code == 200


# =========================================================================== tokens on the socket


async def test_token_opens_a_constrained_session(served: Served) -> None:
    token = await served.token()
    async with served.session(auth=token.auth()) as session:
        await one_turn(session)
        assert token.name.reveal() not in repr(session)
    (conn,) = served.emulator.connections
    assert conn.method == "BidiGenerateContentConstrained" and conn.api_version == "v1alpha"
    assert conn.credential == token.name.reveal()
    assert conn.headers["authorization"] == f"Token {token.name.reveal()}"
    assert served.emulator.credentials.tokens[conn.credential].sessions == 1


async def test_token_in_the_access_token_query(http: Served) -> None:
    token = await http.token()
    url = f"{http.emulator.base_url}{CONSTRAINED}?access_token={token.name.reveal()}"
    async with open_websocket(url, [], safe_url="(redacted)") as ws:
        await ws.send(json.dumps({"setup": {"model": f"models/{NATIVE}"}}))
        reply = await ws.receive()
    assert b"setupComplete" in (reply if isinstance(reply, bytes) else reply.encode())
    assert http.emulator.connections[0].credential == token.name.reveal()


async def test_token_is_refused_on_the_normal_method(
    http: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await http.token()
    secret = token.name.reveal()
    with pytest.raises(PolicyViolation, match="API key not valid") as info:
        async with http.session(api_key=secret, api_version="v1beta"):
            pytest.fail("must be refused")
    assert secret not in str(info.value) and secret not in caplog.text
    assert http.emulator.credentials.tokens[secret].sessions == 0


async def test_unknown_token_is_refused(http: Served) -> None:
    with pytest.raises(PolicyViolation, match="API key not valid"):
        async with http.session(auth=EphemeralToken(token="auth_tokens/forged0123456789")):
            pytest.fail("must be refused")


async def test_uses_are_counted(http: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = await http.token(uses=2)
    for _ in range(2):
        async with http.session(auth=token.auth()):
            pass
    with pytest.raises(PolicyViolation) as info:
        async with http.session(auth=token.auth()):
            pytest.fail("the token is used up")
    assert info.value.reason == TOKEN_USED_UP and info.value.code == 1008
    assert token.name.reveal() not in caplog.text + str(info.value)


async def test_zero_uses_means_unlimited(http: Served) -> None:
    token = await http.token(uses=0)
    for _ in range(4):
        async with http.session(auth=token.auth()):
            pass
    assert http.emulator.credentials.tokens[token.name.reveal()].sessions == 4


async def test_resuming_does_not_use_up_the_token(http: Served) -> None:
    token = await http.token(uses=1)
    async with http.session(auth=token.auth()) as session:
        await one_turn(session, "My name is Alice.")
        handle = session.resumption_handle
    assert handle is not None
    async with http.session(auth=token.auth(), resume_handle=handle) as session:
        await one_turn(session, "What's my name?")
    issued = http.emulator.credentials.tokens[token.name.reveal()]
    assert (issued.sessions, issued.resumptions) == (1, 1)
    assert http.emulator.connections[1].resumed
    with pytest.raises(PolicyViolation, match="no uses left"):
        async with http.session(auth=token.auth()):
            pytest.fail("a new session needs a use")


async def test_new_session_expire_time(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    served = await serve(nursery)
    tie_wall_clock(served.emulator)
    async with served.client:
        token = await served.token(uses=0, new_session_expire_time=timedelta(seconds=60))
    async with served.session(auth=token.auth()) as session:
        await one_turn(session)
        handle = session.resumption_handle
    await trio.sleep(61)
    with pytest.raises(PolicyViolation) as info:
        async with served.session(auth=token.auth()):
            pytest.fail("no new sessions after newSessionExpireTime")
    assert info.value.reason == TOKEN_NO_NEW_SESSIONS
    async with served.session(auth=token.auth(), resume_handle=handle):
        pass  # resuming is still allowed


async def test_expire_time_ends_the_session(
    nursery: trio.Nursery, autojump_clock: trio.testing.MockClock
) -> None:
    served = await serve(nursery)
    tie_wall_clock(served.emulator)
    async with served.client:
        token = await served.token(expire_time=timedelta(minutes=5))
    began = trio.current_time()
    with pytest.raises(PolicyViolation) as info:
        async with served.session(auth=token.auth()) as session:
            await one_turn(session)
            async for _ in session.events:
                pass  # until the server ends the session
    assert info.value.reason == TOKEN_EXPIRED and not info.value.retryable
    assert 299 < trio.current_time() - began < 302
    with pytest.raises(PolicyViolation, match="expired"):
        async with served.session(auth=token.auth()):
            pytest.fail("an expired token opens nothing")


async def test_whole_constrained_setup_is_locked(http: Served) -> None:
    constraints = LiveConstraints(
        model=NATIVE,
        config=LiveConfig(
            response_modalities=["AUDIO"], temperature=0.1, system_instruction="Locked."
        ),
    )
    token = await http.token(constraints=constraints)
    mine = LiveConfig(
        response_modalities=["AUDIO"],
        temperature=0.9,
        output_audio_transcription=AudioTranscriptionConfig(),
    )
    async with http.session("gemini-2.5-flash-native-audio-latest", auth=token.auth(), config=mine):
        pass
    setup = http.emulator.connections[0].setup
    assert setup.model == f"models/{NATIVE}"
    assert setup.generation_config is not None and setup.generation_config.temperature == 0.1
    assert setup.system_instruction is not None
    assert setup.output_audio_transcription is None  # not in the constraints: ignored


async def test_only_masked_fields_are_locked(http: Served) -> None:
    constraints = LiveConstraints(model=NATIVE, config=LiveConfig(temperature=0.1))
    token = await http.token(constraints=constraints, lock_additional_fields=["top_p"])
    mine = LiveConfig(
        response_modalities=["AUDIO"],
        temperature=0.9,
        top_p=0.5,
        top_k=7,
        output_audio_transcription=AudioTranscriptionConfig(),
    )
    async with http.session(auth=token.auth(), config=mine) as session:
        await one_turn(session)
        handle = session.resumption_handle
    setup = http.emulator.connections[0].setup
    gc = setup.generation_config
    assert gc is not None
    assert (gc.temperature, gc.top_p, gc.top_k) == (0.1, None, 7)  # locked, locked-unset, free
    assert [str(m) for m in gc.response_modalities or ()] == ["AUDIO"]
    assert setup.output_audio_transcription is not None
    assert handle is not None  # the client's sessionResumption was not locked away


async def test_locked_names_without_constraints(http: Served) -> None:
    token = await http.token(lock_additional_fields=["system_instruction"])
    config = LiveConfig(response_modalities=["AUDIO"], system_instruction="Ignore the rules.")
    async with http.session(auth=token.auth(), config=config):
        pass
    assert http.emulator.connections[0].setup.system_instruction is None


async def test_whole_lock_keeps_the_resumption_handle(http: Served) -> None:
    constraints = LiveConstraints(
        model=NATIVE, config=LiveConfig(session_resumption=SessionResumptionConfig())
    )
    token = await http.token(uses=1, constraints=constraints)
    async with http.session(auth=token.auth()) as session:
        await one_turn(session, "My name is Bob.")
        handle = session.resumption_handle
    assert handle is not None
    async with http.session(auth=token.auth(), resume_handle=handle) as session:
        await session.send_text("What's my name?")
        turn = await collect_turn(session.events)
    assert http.emulator.connections[1].resumed
    assert any(isinstance(e, ServerContent) for e in turn)


async def test_tokens_never_leak_into_errors(
    http: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    token = await http.token(uses=1)
    secret = token.name.reveal()
    async with http.session(auth=token.auth()):
        pass
    errors: list[GeminiLiveError] = []
    for attempt in (
        http.session(auth=token.auth()),
        http.session(api_key=secret, api_version="v1beta"),
    ):
        with pytest.raises(GeminiLiveError) as info:
            async with attempt:
                pass
        errors.append(info.value)
    assert all(secret not in str(e) and secret not in repr(e) for e in errors)
    assert secret not in caplog.text
