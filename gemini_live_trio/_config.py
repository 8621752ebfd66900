"""Session configuration: :class:`LiveConfig` and the nested config classes of a ``setup``.

:class:`LiveConfig` is flat, like the official SDK's ``LiveConnectConfig``: generation knobs and
session knobs side by side. The session puts each field where the wire wants it (generation
knobs inside ``generationConfig`` via :meth:`LiveConfig.generation_config`, session knobs at the
top of ``setup``).
"""

from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import attrs

from ._content import Content, Modality, Part, WireObject


class Behavior(StrEnum):
    """Whether the model waits for a function's result (BLOCKING) or keeps talking."""

    BLOCKING = "BLOCKING"
    NON_BLOCKING = "NON_BLOCKING"
    UNSPECIFIED = "UNSPECIFIED"


class StartSensitivity(StrEnum):
    """How readily server VAD decides that speech started."""

    START_SENSITIVITY_HIGH = "START_SENSITIVITY_HIGH"
    START_SENSITIVITY_LOW = "START_SENSITIVITY_LOW"
    START_SENSITIVITY_UNSPECIFIED = "START_SENSITIVITY_UNSPECIFIED"


class EndSensitivity(StrEnum):
    """How readily server VAD decides that speech ended."""

    END_SENSITIVITY_HIGH = "END_SENSITIVITY_HIGH"
    END_SENSITIVITY_LOW = "END_SENSITIVITY_LOW"
    END_SENSITIVITY_UNSPECIFIED = "END_SENSITIVITY_UNSPECIFIED"


class ActivityHandling(StrEnum):
    """Whether user activity interrupts the model (barge-in)."""

    START_OF_ACTIVITY_INTERRUPTS = "START_OF_ACTIVITY_INTERRUPTS"
    NO_INTERRUPTION = "NO_INTERRUPTION"
    ACTIVITY_HANDLING_UNSPECIFIED = "ACTIVITY_HANDLING_UNSPECIFIED"


class TurnCoverage(StrEnum):
    """Which input counts toward a user turn."""

    TURN_INCLUDES_ONLY_ACTIVITY = "TURN_INCLUDES_ONLY_ACTIVITY"
    TURN_INCLUDES_ALL_INPUT = "TURN_INCLUDES_ALL_INPUT"
    TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO = "TURN_INCLUDES_AUDIO_ACTIVITY_AND_ALL_VIDEO"
    TURN_COVERAGE_UNSPECIFIED = "TURN_COVERAGE_UNSPECIFIED"


class MediaResolution(StrEnum):
    """Token budget per image/video frame."""

    MEDIA_RESOLUTION_LOW = "MEDIA_RESOLUTION_LOW"
    MEDIA_RESOLUTION_MEDIUM = "MEDIA_RESOLUTION_MEDIUM"
    MEDIA_RESOLUTION_HIGH = "MEDIA_RESOLUTION_HIGH"
    MEDIA_RESOLUTION_UNSPECIFIED = "MEDIA_RESOLUTION_UNSPECIFIED"


class ThinkingLevel(StrEnum):
    """Thinking depth for Gemini 3.x models (``thinking_level``)."""

    MINIMAL = "MINIMAL"
    LOW = "LOW"
    MEDIUM = "MEDIUM"
    HIGH = "HIGH"


@attrs.frozen(kw_only=True, repr=False)
class PrebuiltVoiceConfig(WireObject):
    """A prebuilt voice by name."""

    voice_name: str


@attrs.frozen(kw_only=True, repr=False)
class VoiceConsentSignature(WireObject):
    """Proof of consent returned by the server for a replicated voice."""

    signature: str


@attrs.frozen(kw_only=True, repr=False)
class ReplicatedVoiceConfig(WireObject):
    """A custom voice from a WAV sample plus consent."""

    mime_type: str | None = None
    voice_sample_audio: bytes | None = attrs.field(default=None, repr=False)
    consent_audio: bytes | None = attrs.field(default=None, repr=False)
    voice_consent_signature: VoiceConsentSignature | None = None


@attrs.frozen(kw_only=True, repr=False)
class VoiceConfig(WireObject):
    """Which voice speaks: prebuilt or replicated."""

    prebuilt_voice_config: PrebuiltVoiceConfig | None = None
    replicated_voice_config: ReplicatedVoiceConfig | None = None


@attrs.frozen(kw_only=True, repr=False)
class SpeechConfig(WireObject):
    """Voice and speech language. ``SpeechConfig.voice("Kore")`` is the common case."""

    voice_config: VoiceConfig | None = None
    language_code: str | None = None

    @classmethod
    def voice(cls, name: str, *, language_code: str | None = None) -> "SpeechConfig":
        """A prebuilt voice by name (``Puck``, ``Charon``, ``Kore``, ``Fenrir``, ``Aoede``...)."""
        return cls(
            voice_config=VoiceConfig(prebuilt_voice_config=PrebuiltVoiceConfig(voice_name=name)),
            language_code=language_code,
        )


@attrs.frozen(kw_only=True, repr=False)
class ThinkingConfig(WireObject):
    """``thinking_budget`` for 2.5 models (0 off, -1 automatic), ``thinking_level`` for 3.x."""

    thinking_budget: int | None = None
    thinking_level: ThinkingLevel | str | None = None
    include_thoughts: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class TranslationConfig(WireObject):
    """Speech-to-speech translation target (Gemini API only)."""

    target_language_code: str | None = None
    echo_target_language: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class GenerationConfig(WireObject):
    """The ``setup.generationConfig`` object."""

    response_modalities: Sequence[Modality | str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    seed: int | None = None
    candidate_count: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    media_resolution: MediaResolution | str | None = None
    speech_config: SpeechConfig | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None
    translation_config: TranslationConfig | None = None


@attrs.frozen(kw_only=True, repr=False)
class AutomaticActivityDetection(WireObject):
    """Server-side voice activity detection; ``disabled=True`` means push-to-talk."""

    disabled: bool | None = None
    start_of_speech_sensitivity: StartSensitivity | str | None = None
    end_of_speech_sensitivity: EndSensitivity | str | None = None
    prefix_padding_ms: int | None = None
    silence_duration_ms: int | None = None


@attrs.frozen(kw_only=True, repr=False)
class RealtimeInputConfig(WireObject):
    """Voice activity detection, barge-in and turn coverage."""

    automatic_activity_detection: AutomaticActivityDetection | None = None
    activity_handling: ActivityHandling | str | None = None
    turn_coverage: TurnCoverage | str | None = None


@attrs.frozen(kw_only=True, repr=False)
class SessionResumptionConfig(WireObject):
    """``{}`` switches handle updates on; ``handle`` resumes; ``transparent`` is Vertex only."""

    handle: str | None = attrs.field(default=None, repr=False)
    transparent: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class SlidingWindow(WireObject):
    """Compression target: tokens kept after a compression."""

    target_tokens: int | None = None


@attrs.frozen(kw_only=True, repr=False)
class ContextWindowCompressionConfig(WireObject):
    """Drop old context once ``trigger_tokens`` is reached, down to the sliding window target."""

    trigger_tokens: int | None = None
    sliding_window: SlidingWindow | None = None


@attrs.frozen(kw_only=True, repr=False)
class AudioTranscriptionConfig(WireObject):
    """``AudioTranscriptionConfig()`` (wire ``{}``) switches transcription on."""

    language_codes: Sequence[str] | None = None


@attrs.frozen(kw_only=True, repr=False)
class ProactivityConfig(WireObject):
    """Let the model stay silent on irrelevant input (native audio, v1alpha)."""

    proactive_audio: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class HistoryConfig(WireObject):
    """Seed the initial history with ``clientContent`` before realtime input."""

    initial_history_in_client_content: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class SafetySetting(WireObject):
    """A safety filter category and its threshold."""

    category: str
    threshold: str


@attrs.frozen(kw_only=True, repr=False)
class FunctionDeclaration(WireObject):
    """A function the model may call. ``parameters`` is an OpenAPI-style schema (UPPER types);
    ``parameters_json_schema`` is plain JSON Schema."""

    name: str
    description: str | None = None
    parameters: Mapping[str, Any] | None = None
    parameters_json_schema: Mapping[str, Any] | None = None
    response: Mapping[str, Any] | None = None
    response_json_schema: Mapping[str, Any] | None = None
    behavior: Behavior | str | None = None


@attrs.frozen(kw_only=True, repr=False)
class Tool(WireObject):
    """One element of ``setup.tools``: function declarations or a built-in tool."""

    function_declarations: Sequence[FunctionDeclaration] | None = None
    google_search: Mapping[str, Any] | None = None
    code_execution: Mapping[str, Any] | None = None
    url_context: Mapping[str, Any] | None = None
    google_maps: Mapping[str, Any] | None = None
    google_search_retrieval: Mapping[str, Any] | None = None
    computer_use: Mapping[str, Any] | None = None
    file_search: Mapping[str, Any] | None = None
    mcp_servers: Sequence[Mapping[str, Any]] | None = None
    retrieval: Mapping[str, Any] | None = None
    enterprise_web_search: Mapping[str, Any] | None = None

    @classmethod
    def google_search_tool(cls) -> "Tool":
        return cls(google_search={})

    @classmethod
    def code_execution_tool(cls) -> "Tool":
        return cls(code_execution={})


#: Generation knobs of :class:`LiveConfig` that move into ``setup.generationConfig``.
GENERATION_FIELDS = tuple(a.name for a in attrs.fields(GenerationConfig))


@attrs.frozen(kw_only=True, repr=False)
class LiveConfig(WireObject):
    """Everything about a session but the model, flat. ``None`` means "server default".

    Example::

        LiveConfig(response_modalities=["AUDIO"],
                   speech_config=SpeechConfig.voice("Kore"),
                   output_audio_transcription=AudioTranscriptionConfig(),
                   system_instruction="You are a terse concierge.")
    """

    # generationConfig
    response_modalities: Sequence[Modality | str] | None = None
    temperature: float | None = None
    top_p: float | None = None
    top_k: int | None = None
    max_output_tokens: int | None = None
    seed: int | None = None
    candidate_count: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None
    media_resolution: MediaResolution | str | None = None
    speech_config: SpeechConfig | None = None
    thinking_config: ThinkingConfig | None = None
    enable_affective_dialog: bool | None = None
    translation_config: TranslationConfig | None = None
    # top of setup
    system_instruction: str | Content | None = None
    tools: Sequence[Tool] | None = None
    realtime_input_config: RealtimeInputConfig | None = None
    session_resumption: SessionResumptionConfig | None = None
    context_window_compression: ContextWindowCompressionConfig | None = None
    input_audio_transcription: AudioTranscriptionConfig | None = None
    output_audio_transcription: AudioTranscriptionConfig | None = None
    proactivity: ProactivityConfig | None = None
    explicit_vad_signal: bool | None = None
    history_config: HistoryConfig | None = None
    safety_settings: Sequence[SafetySetting] | None = None
    avatar_config: Mapping[str, Any] | None = None

    def generation_config(self) -> GenerationConfig | None:
        """The ``generationConfig`` part, or ``None`` when no generation knob is set."""
        values = {name: getattr(self, name) for name in GENERATION_FIELDS}
        if all(v is None for v in values.values()):
            return None
        return GenerationConfig(**values)

    def system_content(self) -> Content | None:
        """``system_instruction`` as a :class:`Content` (a string becomes one user text part)."""
        if self.system_instruction is None or isinstance(self.system_instruction, Content):
            return self.system_instruction
        return Content(role="user", parts=(Part(text=self.system_instruction),))

    def manual_activity(self) -> bool:
        """True when automatic activity detection is disabled (push-to-talk)."""
        rc = self.realtime_input_config
        aad = rc.automatic_activity_detection if rc else None
        return bool(aad and aad.disabled)
