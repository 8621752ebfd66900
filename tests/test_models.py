"""The model registry: modalities, text input, backends and preference order (no I/O)."""

import pytest

from gemini_live_trio import ConfigError
from gemini_live_trio._models import (
    DEFAULT_MODEL,
    GEMINI_API,
    REGISTRY,
    VERTEX_AI,
    TextInput,
    candidates,
    model_info,
    normalise_modality,
    rank,
)


def test_every_entry_is_consistent() -> None:
    for name, info in REGISTRY.items():
        assert info.name == name
        assert info.response_modalities <= {"AUDIO", "TEXT"}
        assert info.response_modalities, name
        assert info.backends <= {GEMINI_API, VERTEX_AI} and info.backends, name
        if info.native_audio_extras:
            assert info.response_modalities == {"AUDIO"}, name
    assert DEFAULT_MODEL in REGISTRY


def test_current_models_come_before_legacy_ones() -> None:
    legacy = [info.legacy for info in REGISTRY.values()]
    assert legacy == sorted(legacy), "registry order is preference order: current first"


def test_audio_candidates_on_the_gemini_api() -> None:
    assert candidates("audio")[:4] == [
        "gemini-3.1-flash-live-preview",
        "gemini-2.5-flash-native-audio-preview-12-2025",
        "gemini-2.5-flash-native-audio-preview-09-2025",
        "gemini-2.5-flash-native-audio-latest",
    ]
    assert all(GEMINI_API in REGISTRY[n].backends for n in candidates("AUDIO"))


def test_vertex_candidates_are_vertex_models() -> None:
    found = candidates("audio", backend=VERTEX_AI)
    assert "gemini-3.1-flash-live-preview" not in found
    assert "gemini-live-2.5-flash-native-audio" in found
    assert all(VERTEX_AI in REGISTRY[n].backends for n in found)
    assert "gemini-live-2.5-flash" in candidates("text", backend=VERTEX_AI)


def test_text_candidates_are_all_legacy() -> None:
    found = candidates("text")
    assert found
    assert all(REGISTRY[n].legacy and REGISTRY[n].supports("TEXT") for n in found)
    assert not any("native-audio" in n for n in found)


@pytest.mark.parametrize(("given", "value"), [("audio", "AUDIO"), (" Text ", "TEXT")])
def test_normalise_modality(given: str, value: str) -> None:
    assert normalise_modality(given) == value


def test_normalise_modality_accepts_the_enum() -> None:
    from gemini_live_trio import Modality

    assert normalise_modality(Modality.AUDIO) == "AUDIO"


@pytest.mark.parametrize("bad", ["image", "", "audio,text"])
def test_normalise_modality_refuses_others(bad: str) -> None:
    with pytest.raises(ConfigError, match="'audio' or 'text'"):
        normalise_modality(bad)


def test_rank_keeps_known_models_of_the_modality_in_registry_order() -> None:
    names = [
        "models/gemini-2.5-flash-native-audio-latest",
        "gemini-2.5-pro",  # not a Live model
        "models/gemini-3.1-flash-live-preview",
        "gemini-3.1-flash-live-preview",  # duplicate spelling
        "models/gemini-2.0-flash-exp",  # TEXT and AUDIO, legacy
    ]
    assert rank(names, "audio") == [
        "gemini-3.1-flash-live-preview",
        "gemini-2.5-flash-native-audio-latest",
        "gemini-2.0-flash-exp",
    ]
    assert rank(names, "text") == ["gemini-2.0-flash-exp"]
    assert rank([], "audio") == []


def test_model_info_by_any_spelling_and_text_input() -> None:
    vertex = "projects/p/locations/us-central1/publishers/google/models/gemini-live-2.5-flash"
    info = model_info(vertex)
    assert info is not None and info.supports("text") and info.supports("AUDIO")
    live31 = model_info("models/gemini-3.1-flash-live-preview:bidiGenerateContent")
    assert live31 is not None and live31.text_input is TextInput.REALTIME_INPUT
    assert not live31.supports("TEXT")
