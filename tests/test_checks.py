"""Checks before connecting: each bad configuration fails with a message naming the fix, and
no socket is opened (the emulator sees no connection)."""

from typing import Any

import pytest

from gemini_live_trio import (
    Behavior,
    ConfigError,
    FunctionDeclaration,
    HistoryConfig,
    LiveConfig,
    ProactivityConfig,
    SessionResumptionConfig,
    Tool,
    TranslationConfig,
    UsageError,
    open_live_session,
)
from gemini_live_trio._checks import check_client_content, check_config
from gemini_live_trio.testing import Emulator

NATIVE = "gemini-2.5-flash-native-audio-preview-12-2025"
LIVE31 = "gemini-3.1-flash-live-preview"
LEGACY = "gemini-live-2.5-flash-preview"
UNKNOWN = "gemini-9.9-flash-live-future"


def gemini(model: str, config: LiveConfig, version: str = "v1beta", **kw: Any) -> None:
    check_config(model, config, api_version=version, vertex=False, **kw)


def vertex(model: str, config: LiveConfig, version: str = "v1beta1", **kw: Any) -> None:
    check_config(model, config, api_version=version, vertex=True, **kw)


def test_a_plain_config_passes_everywhere() -> None:
    for model in (NATIVE, LIVE31, LEGACY, UNKNOWN, f"models/{NATIVE}"):
        gemini(model, LiveConfig(response_modalities=["AUDIO"]))
        gemini(model, LiveConfig(), "v1alpha")
        vertex(model, LiveConfig(response_modalities=["AUDIO"]), "v1")


# --------------------------------------------------------------------------- versions


@pytest.mark.parametrize("version", ["v1", "v1beta1", "v2", ""])
def test_gemini_api_versions(version: str) -> None:
    with pytest.raises(ConfigError, match="'v1alpha' or 'v1beta' on the Gemini API"):
        gemini(NATIVE, LiveConfig(), version)


@pytest.mark.parametrize("version", ["v1beta", "v1alpha", "v3"])
def test_vertex_versions(version: str) -> None:
    with pytest.raises(ConfigError, match="'v1' or 'v1beta1' on Vertex AI"):
        vertex(NATIVE, LiveConfig(), version)


def test_version_message_says_which_backend_a_version_belongs_to() -> None:
    with pytest.raises(ConfigError, match="a Vertex AI version: use auth=VertexAI"):
        gemini(NATIVE, LiveConfig(), "v1beta1")
    with pytest.raises(ConfigError, match="a Gemini API version"):
        vertex(NATIVE, LiveConfig(), "v1beta")


# --------------------------------------------------------------------------- modalities


@pytest.mark.parametrize("modalities", [["AUDIO", "TEXT"], [], ["TEXT", "TEXT"]])
def test_exactly_one_response_modality(modalities: list[str]) -> None:
    with pytest.raises(ConfigError, match="exactly one response modality") as info:
        gemini(UNKNOWN, LiveConfig(response_modalities=modalities))
    assert "output_audio_transcription" in str(info.value)


@pytest.mark.parametrize("model", [NATIVE, LIVE31, f"models/{LIVE31}"])
def test_text_on_an_audio_only_model_says_use_audio_with_transcription(model: str) -> None:
    with pytest.raises(ConfigError) as info:
        gemini(model, LiveConfig(response_modalities=["TEXT"]))
    message = str(info.value)
    assert "answers in AUDIO only, not TEXT" in message
    assert "response_modalities=['AUDIO']" in message
    assert "output_audio_transcription=AudioTranscriptionConfig()" in message
    assert "1011" in message


def test_modality_spelling_is_lenient() -> None:
    from gemini_live_trio import Modality

    gemini(NATIVE, LiveConfig(response_modalities=[Modality.AUDIO]))
    gemini(NATIVE, LiveConfig(response_modalities=["audio"]))
    gemini(LEGACY, LiveConfig(response_modalities=["text"]))


def test_unknown_models_get_the_benefit_of_the_doubt() -> None:
    gemini(UNKNOWN, LiveConfig(response_modalities=["TEXT"]))
    vertex(UNKNOWN, LiveConfig(response_modalities=["TEXT"]))


# --------------------------------------------------------------------------- native-audio extras


AFFECTIVE = LiveConfig(enable_affective_dialog=True)
PROACTIVE = LiveConfig(proactivity=ProactivityConfig(proactive_audio=True))


@pytest.mark.parametrize("config", [AFFECTIVE, PROACTIVE])
def test_native_audio_extras_need_v1alpha_on_the_gemini_api(config: LiveConfig) -> None:
    with pytest.raises(ConfigError, match="needs api_version='v1alpha' on the Gemini API"):
        gemini(NATIVE, config, "v1beta")
    gemini(NATIVE, config, "v1alpha")
    vertex(NATIVE, config, "v1beta1")  # Vertex AI has them on its own versions
    gemini(UNKNOWN, config, "v1alpha")


@pytest.mark.parametrize("config", [AFFECTIVE, PROACTIVE])
@pytest.mark.parametrize("model", [LIVE31, LEGACY])
def test_native_audio_extras_only_on_native_audio_models(config: LiveConfig, model: str) -> None:
    with pytest.raises(ConfigError, match="does not support") as info:
        gemini(model, config, "v1alpha")
    assert "native-audio" in str(info.value)


def test_extras_switched_off_are_not_checked() -> None:
    config = LiveConfig(
        enable_affective_dialog=False, proactivity=ProactivityConfig(proactive_audio=False)
    )
    gemini(LIVE31, config, "v1beta")


# --------------------------------------------------------------------------- backend-only fields


@pytest.mark.parametrize(
    ("config", "tools", "words"),
    [
        (
            LiveConfig(session_resumption=SessionResumptionConfig(transparent=True)),
            [],
            "session_resumption.transparent is Vertex AI only",
        ),
        (LiveConfig(explicit_vad_signal=True), [], "explicit_vad_signal is Vertex AI only"),
        (LiveConfig(tools=[Tool(retrieval={})]), [], "retrieval tool is Vertex AI only"),
        (LiveConfig(), [Tool(enterprise_web_search={})], "enterprise_web_search tool is Vertex"),
    ],
)
def test_vertex_only_fields_are_refused_on_the_gemini_api(
    config: LiveConfig, tools: list[Tool], words: str
) -> None:
    with pytest.raises(ConfigError, match=words) as info:
        gemini(NATIVE, config, tools=tools)
    assert "remove it for the Gemini API" in str(info.value)
    vertex(NATIVE, config, tools=tools)


@pytest.mark.parametrize(
    ("config", "words"),
    [
        (
            LiveConfig(translation_config=TranslationConfig(target_language_code="fr")),
            "translation_config is Gemini API only",
        ),
        (LiveConfig(tools=[Tool(file_search={})]), "file_search tool is Gemini API only"),
    ],
)
def test_gemini_only_fields_are_refused_on_vertex(config: LiveConfig, words: str) -> None:
    with pytest.raises(ConfigError, match=words):
        vertex(NATIVE, config)
    gemini(NATIVE, config)


def test_non_blocking_functions_on_a_model_without_async_calls() -> None:
    slow = FunctionDeclaration(name="slow_lookup", behavior=Behavior.NON_BLOCKING)
    tools = [Tool(function_declarations=[slow])]
    with pytest.raises(ConfigError, match="'slow_lookup' without behavior=NON_BLOCKING"):
        gemini(LIVE31, LiveConfig(), tools=tools)
    with pytest.raises(ConfigError, match="no asynchronous function calls"):
        gemini(LIVE31, LiveConfig(tools=tools))
    gemini(NATIVE, LiveConfig(), tools=tools)
    blocking = Tool(function_declarations=[FunctionDeclaration(name="f", behavior="BLOCKING")])
    gemini(LIVE31, LiveConfig(), tools=[blocking])


# --------------------------------------------------------------------------- clientContent


SEEDED = LiveConfig(history_config=HistoryConfig(initial_history_in_client_content=True))


def test_client_content_is_fine_on_client_content_models() -> None:
    for model in (NATIVE, LEGACY, UNKNOWN):
        check_client_content(model, LiveConfig(), seeding=False)


def test_client_content_on_a_realtime_text_model_needs_history_config() -> None:
    with pytest.raises(UsageError, match="initial_history_in_client_content=True") as info:
        check_client_content(LIVE31, LiveConfig(), seeding=True)
    assert "send_text" in str(info.value)
    check_client_content(LIVE31, SEEDED, seeding=True)


def test_client_content_on_a_realtime_text_model_only_while_seeding() -> None:
    with pytest.raises(UsageError, match="only as the initial history"):
        check_client_content(LIVE31, SEEDED, seeding=False)


# --------------------------------------------------------------------------- before the socket


@pytest.mark.parametrize(
    ("model", "config", "version"),
    [
        (NATIVE, LiveConfig(response_modalities=["TEXT"]), "v1beta"),
        (NATIVE, AFFECTIVE, "v1beta"),
        (NATIVE, LiveConfig(explicit_vad_signal=True), "v1alpha"),
        (NATIVE, LiveConfig(), "v1beta1"),
        (LIVE31, PROACTIVE, "v1alpha"),
    ],
)
async def test_checks_fail_before_any_connection(
    emulator: Emulator, model: str, config: LiveConfig, version: str
) -> None:
    with pytest.raises(ConfigError):
        async with open_live_session(
            model,
            config=config,
            api_key=emulator.api_key,
            base_url=emulator.base_url,
            api_version=version,
        ):
            pytest.fail("must not connect")
    assert emulator.connections == []
