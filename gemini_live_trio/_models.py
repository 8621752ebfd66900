"""What this library knows about Live models: response modalities and how each takes text.

Availability changes per key and project; :func:`gemini_live_trio.resolve_model` asks the
service. This registry only says how a known model behaves (wire-protocol.md §7).
"""

import enum

import attrs


class TextInput(enum.Enum):
    """Which message carries a text turn for a model."""

    CLIENT_CONTENT = "clientContent"
    REALTIME_INPUT = "realtimeInput.text"


@attrs.frozen(kw_only=True)
class ModelInfo:
    """Behaviour of one Live model."""

    name: str
    response_modalities: frozenset[str]
    text_input: TextInput = TextInput.CLIENT_CONTENT
    #: NON_BLOCKING function declarations (async tool calls).
    non_blocking_tools: bool = True
    #: proactivity / affective dialog (native-audio 2.5 only; need v1alpha).
    native_audio_extras: bool = False
    legacy: bool = False


_AUDIO = frozenset({"AUDIO"})
_BOTH = frozenset({"AUDIO", "TEXT"})

#: Known models, most preferred first within each modality.
REGISTRY: dict[str, ModelInfo] = {
    m.name: m
    for m in (
        ModelInfo(
            name="gemini-3.1-flash-live-preview",
            response_modalities=_AUDIO,
            text_input=TextInput.REALTIME_INPUT,
            non_blocking_tools=False,
        ),
        ModelInfo(
            name="gemini-2.5-flash-native-audio-preview-12-2025",
            response_modalities=_AUDIO,
            native_audio_extras=True,
        ),
        ModelInfo(
            name="gemini-2.5-flash-native-audio-preview-09-2025",
            response_modalities=_AUDIO,
            native_audio_extras=True,
        ),
        ModelInfo(
            name="gemini-2.5-flash-native-audio-latest",
            response_modalities=_AUDIO,
            native_audio_extras=True,
        ),
        ModelInfo(name="gemini-live-2.5-flash-preview", response_modalities=_BOTH, legacy=True),
        ModelInfo(name="gemini-2.0-flash-live-001", response_modalities=_BOTH, legacy=True),
        ModelInfo(name="gemini-live-2.5-flash", response_modalities=_BOTH, legacy=True),
        ModelInfo(
            name="gemini-2.0-flash-live-preview-04-09", response_modalities=_BOTH, legacy=True
        ),
        ModelInfo(name="gemini-2.0-flash-exp", response_modalities=_BOTH, legacy=True),
    )
}

#: The model examples and the command line use when none is given.
DEFAULT_MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"


def normalise_model_name(name: str) -> str:
    """Strip ``models/``, ``publishers/google/models/``, any ``.../models/`` prefix and a
    ``:method`` suffix: ``projects/p/.../models/x:bidi`` -> ``x``."""
    name = name.split(":", 1)[0]
    return name.rsplit("models/", 1)[-1]


def model_info(name: str) -> ModelInfo | None:
    """The registry entry for a model name in any of its spellings, or ``None``."""
    return REGISTRY.get(normalise_model_name(name))


def text_input_for(name: str) -> TextInput:
    """How ``send_text`` carries text for this model; unknown models get ``clientContent``."""
    info = model_info(name)
    return info.text_input if info else TextInput.CLIENT_CONTENT
