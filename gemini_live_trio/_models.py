"""What this library knows about Live models: response modalities and how each takes text.

Availability changes per key and project; :func:`gemini_live_trio.resolve_model` asks the
service. This registry only says how a known model behaves and on which backend it is known to
exist (wire-protocol.md §7). Registry order is preference order: current models first, legacy
ones after, so :func:`candidates` lists the best known model for a modality first.
"""

import enum
from collections.abc import Iterable

import attrs

from ._exceptions import ConfigError


class TextInput(enum.Enum):
    """Which message carries a text turn for a model."""

    CLIENT_CONTENT = "clientContent"
    REALTIME_INPUT = "realtimeInput.text"


#: Backend names used by :attr:`ModelInfo.backends`.
GEMINI_API = "gemini"
VERTEX_AI = "vertex"


@attrs.frozen(kw_only=True)
class ModelInfo:
    """Behaviour of one Live model."""

    name: str
    response_modalities: frozenset[str]
    text_input: TextInput = TextInput.CLIENT_CONTENT
    #: NON_BLOCKING function declarations (async tool calls).
    non_blocking_tools: bool = True
    #: proactivity / affective dialog (native-audio 2.5 only; need v1alpha on the Gemini API).
    native_audio_extras: bool = False
    legacy: bool = False
    #: Where the model is known to exist: ``"gemini"`` (Gemini API), ``"vertex"`` (Vertex AI).
    backends: frozenset[str] = frozenset({GEMINI_API})

    def supports(self, modality: str) -> bool:
        """Whether a Live session of this model may answer in ``modality`` (``AUDIO``/``TEXT``)."""
        return modality.upper() in self.response_modalities


_AUDIO = frozenset({"AUDIO"})
_BOTH = frozenset({"AUDIO", "TEXT"})
_GEMINI = frozenset({GEMINI_API})
_VERTEX = frozenset({VERTEX_AI})
_ANYWHERE = frozenset({GEMINI_API, VERTEX_AI})

#: Known models, most preferred first within each modality (current before legacy).
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
            backends=_ANYWHERE,
        ),
        ModelInfo(
            name="gemini-2.5-flash-native-audio-preview-09-2025",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            backends=_ANYWHERE,
        ),
        ModelInfo(
            name="gemini-2.5-flash-native-audio-latest",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            backends=_ANYWHERE,
        ),
        ModelInfo(
            name="gemini-live-2.5-flash-native-audio",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            backends=_VERTEX,
        ),
        # ---- legacy: still answered by some keys and projects, not in the current catalog
        ModelInfo(
            name="gemini-live-2.5-flash-preview-native-audio-09-2025",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            legacy=True,
            backends=_VERTEX,
        ),
        ModelInfo(
            name="gemini-live-2.5-flash-preview-native-audio",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            legacy=True,
            backends=_VERTEX,
        ),
        ModelInfo(
            name="gemini-2.5-flash-preview-native-audio-dialog",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            legacy=True,
        ),
        ModelInfo(
            name="gemini-2.5-flash-exp-native-audio-thinking-dialog",
            response_modalities=_AUDIO,
            native_audio_extras=True,
            legacy=True,
        ),
        ModelInfo(name="gemini-live-2.5-flash-preview", response_modalities=_BOTH, legacy=True),
        ModelInfo(name="gemini-2.0-flash-live-001", response_modalities=_BOTH, legacy=True),
        ModelInfo(
            name="gemini-live-2.5-flash", response_modalities=_BOTH, legacy=True, backends=_VERTEX
        ),
        ModelInfo(
            name="gemini-2.0-flash-live-preview-04-09",
            response_modalities=_BOTH,
            legacy=True,
            backends=_VERTEX,
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


def normalise_modality(modality: str) -> str:
    """``"audio"`` / ``Modality.AUDIO`` / ``"AUDIO"`` -> ``"AUDIO"``; only AUDIO and TEXT."""
    value = str(getattr(modality, "value", modality)).strip().upper()
    if value not in ("AUDIO", "TEXT"):
        raise ConfigError(f"a Live session answers in 'audio' or 'text', not {modality!r}")
    return value


def candidates(modality: str, *, backend: str = GEMINI_API) -> list[str]:
    """Registry models that answer in ``modality`` on ``backend``, most preferred first."""
    wanted = normalise_modality(modality)
    return [
        info.name
        for info in REGISTRY.values()
        if info.supports(wanted) and backend in info.backends
    ]


def rank(names: Iterable[str], modality: str) -> list[str]:
    """The registry-known models among ``names`` that answer in ``modality``, in registry
    (preference) order, normalised and without duplicates."""
    wanted = normalise_modality(modality)
    present = {normalise_model_name(n) for n in names}
    return [
        info.name for info in REGISTRY.values() if info.name in present and info.supports(wanted)
    ]
