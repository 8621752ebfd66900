"""One frozen attrs class per wire message key, in both directions, plus session-level events.

Client messages (:class:`Setup`, :class:`ClientContent`, :class:`RealtimeInput`,
:class:`ToolResponse`) are what the client sends; server events (:class:`SetupComplete`,
:class:`ServerContent`, :class:`ToolCall`, ...) are what it receives. The emulator uses the same
classes in the other direction. A server frame with several keys yields one event per key.

A server event keeps the JSON object it was decoded from in ``raw`` (not compared, not in the
repr), so fields this version does not know stay reachable: ``event.unknown_fields()``. The
frames of every turn (audio and text parts, ``turnComplete`` and the like) are built without
that step when they hold nothing else; they have nothing unknown to keep, and ``raw`` is
``None``.
"""

from collections.abc import Mapping, Sequence
from datetime import timedelta
from enum import StrEnum
from typing import Any, ClassVar, NewType

import attrs

from ._config import (
    AudioTranscriptionConfig,
    ContextWindowCompressionConfig,
    GenerationConfig,
    HistoryConfig,
    ProactivityConfig,
    RealtimeInputConfig,
    SafetySetting,
    SessionResumptionConfig,
    Tool,
    VoiceConsentSignature,
)
from ._content import (
    Blob,
    Content,
    FunctionCall,
    FunctionResponse,
    ModalityTokenCount,
    Transcription,
    WireObject,
)

#: An int64 field: a JSON string on the wire, an ``int`` in Python.
Int64 = NewType("Int64", int)


class TurnCompleteReason(StrEnum):
    """Why a turn ended (unknown values stay plain strings)."""

    TURN_COMPLETE_REASON_UNSPECIFIED = "TURN_COMPLETE_REASON_UNSPECIFIED"
    MALFORMED_FUNCTION_CALL = "MALFORMED_FUNCTION_CALL"
    RESPONSE_REJECTED = "RESPONSE_REJECTED"
    NEED_MORE_INPUT = "NEED_MORE_INPUT"
    PROHIBITED_INPUT_CONTENT = "PROHIBITED_INPUT_CONTENT"
    IMAGE_PROHIBITED_INPUT_CONTENT = "IMAGE_PROHIBITED_INPUT_CONTENT"
    INPUT_TEXT_CONTAINS_PROHIBITED_CONTENT = "INPUT_TEXT_CONTAINS_PROHIBITED_CONTENT"
    GENERATED_AUDIO_SAFETY = "GENERATED_AUDIO_SAFETY"
    GENERATED_CONTENT_SAFETY = "GENERATED_CONTENT_SAFETY"
    BLOCKLIST = "BLOCKLIST"


class InteractionStatus(StrEnum):
    """Whether the model is working, idle or waiting for the client."""

    IN_PROGRESS = "IN_PROGRESS"
    IDLE = "IDLE"
    REQUIRES_ACTION = "REQUIRES_ACTION"
    INTERACTION_STATUS_UNSPECIFIED = "INTERACTION_STATUS_UNSPECIFIED"


class VadSignalType(StrEnum):
    """Start or end of speech in a ``voiceActivityDetectionSignal``."""

    VAD_SIGNAL_TYPE_SOS = "VAD_SIGNAL_TYPE_SOS"
    VAD_SIGNAL_TYPE_EOS = "VAD_SIGNAL_TYPE_EOS"
    VAD_SIGNAL_TYPE_UNSPECIFIED = "VAD_SIGNAL_TYPE_UNSPECIFIED"


class VoiceActivityType(StrEnum):
    """Start or end of user activity in a ``voiceActivity`` message."""

    ACTIVITY_START = "ACTIVITY_START"
    ACTIVITY_END = "ACTIVITY_END"
    TYPE_UNSPECIFIED = "TYPE_UNSPECIFIED"


# --------------------------------------------------------------------------- client messages


class ClientMessage(WireObject):
    """Base of the four client message kinds."""

    __slots__ = ()


@attrs.frozen(kw_only=True, repr=False)
class Setup(ClientMessage):
    """The first message of every connection: model and configuration."""

    model: str
    generation_config: GenerationConfig | None = None
    system_instruction: Content | None = None
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


@attrs.frozen(kw_only=True, repr=False)
class ClientContent(ClientMessage):
    """Ordered turns added to the history; ``turn_complete`` starts generation."""

    turns: Sequence[Content] | None = None
    turn_complete: bool | None = None


@attrs.frozen(kw_only=True, repr=False)
class ActivityStart(WireObject):
    """Marks the start of user activity (manual VAD only)."""


@attrs.frozen(kw_only=True, repr=False)
class ActivityEnd(WireObject):
    """Marks the end of user activity (manual VAD only)."""


@attrs.frozen(kw_only=True, repr=False)
class RealtimeInput(ClientMessage):
    """Streamed input. Send exactly one field per message (the server's rule)."""

    audio: Blob | None = None
    video: Blob | None = None
    text: str | None = None
    activity_start: ActivityStart | None = None
    activity_end: ActivityEnd | None = None
    audio_stream_end: bool | None = None
    media_chunks: Sequence[Blob] | None = None


@attrs.frozen(kw_only=True, repr=False)
class ToolResponse(ClientMessage):
    """Answers to one or more :class:`FunctionCall`."""

    function_responses: Sequence[FunctionResponse]


# --------------------------------------------------------------------------- server events


@attrs.frozen(kw_only=True, repr=False)
class ServerEvent(WireObject):
    """Base of everything that comes out of ``session.events``."""

    #: The decoded JSON object of this event's key, for fields this version does not model.
    raw: Any = attrs.field(default=None, eq=False, repr=False)
    _known: ClassVar[frozenset[str]] = frozenset()

    def unknown_fields(self) -> dict[str, Any]:
        """Wire keys of this message that this library does not model (for debugging)."""
        if not isinstance(self.raw, Mapping):
            return {}
        return {k: v for k, v in self.raw.items() if k not in type(self)._known}


@attrs.frozen(kw_only=True, repr=False)
class SetupComplete(ServerEvent):
    """The server accepted ``setup``; the session is ready."""

    session_id: str | None = None
    voice_consent_signature: VoiceConsentSignature | None = None


def _join(parts: list[bytes]) -> bytes:
    return parts[0] if len(parts) == 1 else b"".join(parts)


@attrs.frozen(kw_only=True, repr=False)
class ServerContent(ServerEvent):
    """Incremental model output and turn signals."""

    model_turn: Content | None = None
    generation_complete: bool | None = None
    turn_complete: bool | None = None
    interrupted: bool | None = None
    grounding_metadata: Mapping[str, Any] | None = None
    url_context_metadata: Mapping[str, Any] | None = None
    input_transcription: Transcription | None = None
    output_transcription: Transcription | None = None
    interim_input_transcription: Transcription | None = None
    turn_complete_reason: TurnCompleteReason | str | None = None
    waiting_for_input: bool | None = None
    interaction_status: InteractionStatus | str | None = None

    @property
    def text(self) -> str | None:
        """The non-thought text parts of ``model_turn`` joined, or ``None`` if there are none."""
        parts = self.model_turn.parts if self.model_turn else None
        texts = [p.text for p in parts or () if p.text is not None and not p.thought]
        return "".join(texts) if texts else None

    @property
    def audio(self) -> bytes:
        """The inline audio bytes of ``model_turn`` (24 kHz s16le PCM), ``b""`` if none."""
        turn = self.model_turn
        parts = turn.parts if turn is not None else None
        if not parts:
            return b""
        if len(parts) == 1:  # the usual frame: one audio part
            blob = parts[0].inline_data
            return blob.data if blob is not None and blob.mime_type.startswith("audio/") else b""
        chunks = [
            p.inline_data.data
            for p in parts
            if p.inline_data is not None and p.inline_data.mime_type.startswith("audio/")
        ]
        return _join(chunks) if chunks else b""

    @property
    def input_transcription_text(self) -> str | None:
        t = self.input_transcription
        return t.text if t else None

    @property
    def output_transcription_text(self) -> str | None:
        t = self.output_transcription
        return t.text if t else None


@attrs.frozen(kw_only=True, repr=False)
class ToolCall(ServerEvent):
    """The model asks the client to run one or more functions."""

    function_calls: Sequence[FunctionCall] = ()

    def reply(self, results: Mapping[str, Any]) -> ToolResponse:
        """Build a :class:`ToolResponse` from ``{call id or name: output}``."""
        responses = []
        for call in self.function_calls:
            key = call.id if call.id is not None and call.id in results else call.name
            responses.append(call.reply(results[key]))
        return ToolResponse(function_responses=tuple(responses))


@attrs.frozen(kw_only=True, repr=False)
class ToolCallCancellation(ServerEvent):
    """The server no longer wants these calls (usually the user interrupted)."""

    ids: Sequence[str] = ()


@attrs.frozen(kw_only=True, repr=False)
class GoAway(ServerEvent):
    """The server will end this connection in ``time_left``."""

    time_left: timedelta | None = None


@attrs.frozen(kw_only=True, repr=False)
class SessionResumptionUpdate(ServerEvent):
    """A new resumption handle; usable only when ``resumable`` is true."""

    new_handle: str | None = attrs.field(default=None, repr=False)
    resumable: bool | None = None
    last_consumed_client_message_index: Int64 | None = None


@attrs.frozen(kw_only=True, repr=False)
class VoiceActivityDetectionSignal(ServerEvent):
    """Server VAD start/end-of-speech signal (Vertex ``explicitVadSignal``)."""

    vad_signal_type: VadSignalType | str | None = None


@attrs.frozen(kw_only=True, repr=False)
class VoiceActivity(ServerEvent):
    """Server VAD start/end, with the offset into the input audio (wire key ``type``)."""

    voice_activity_type: VoiceActivityType | str | None = None
    audio_offset: timedelta | None = None


@attrs.frozen(kw_only=True, repr=False)
class UsageMetadata(ServerEvent):
    """Token usage, normalised across backends.

    The Gemini API says ``responseTokenCount`` and Vertex AI ``candidatesTokenCount``; both land
    in :attr:`response_token_count` (likewise for the per-modality details).
    """

    prompt_token_count: int | None = None
    cached_content_token_count: int | None = None
    response_token_count: int | None = None
    tool_use_prompt_token_count: int | None = None
    thoughts_token_count: int | None = None
    total_token_count: int | None = None
    prompt_tokens_details: Sequence[ModalityTokenCount] | None = None
    cache_tokens_details: Sequence[ModalityTokenCount] | None = None
    response_tokens_details: Sequence[ModalityTokenCount] | None = None
    tool_use_prompt_tokens_details: Sequence[ModalityTokenCount] | None = None
    service_tier: str | None = None
    traffic_type: str | None = None


@attrs.frozen(kw_only=True, repr=False)
class UnknownServerMessage(ServerEvent):
    """A top-level key this version does not know; the session keeps going."""

    key: str
    value: Any = None


# --------------------------------------------------------------------------- session events
# Not wire messages: the session itself tells the user about these.


@attrs.frozen(kw_only=True, repr=False)
class MalformedFrame(ServerEvent):
    """A server frame that could not be decoded; the session keeps going."""

    error: str
    preview: str


@attrs.frozen(kw_only=True, repr=False)
class EventsDropped(ServerEvent):
    """The application read events more slowly than audio arrived, so old audio was dropped.

    Only audio-only :class:`ServerContent` events are ever dropped (see ``slow_consumer``).
    """

    count: int
    audio_bytes: int


@attrs.frozen(kw_only=True, repr=False)
class SendFailed(ServerEvent):
    """A message put on ``session.outgoing`` could not be encoded, so it was not sent."""

    message: Any
    error: str


@attrs.frozen(kw_only=True, repr=False)
class ToolCallFinished(ServerEvent):
    """A registered handler finished one call (the response, if any, is already queued).

    ``outcome`` is ``ok``, ``error``, ``invalid_arguments``, ``unknown``, ``timeout`` or
    ``cancelled`` (no response is sent for a cancelled call); ``duration`` is in seconds.
    """

    id: str | None
    name: str
    outcome: str
    detail: str | None = None
    duration: float


@attrs.frozen(kw_only=True, repr=False)
class Reconnecting(ServerEvent):
    """The session is about to open a new connection (``planned``: after ``goAway``)."""

    attempt: int
    delay: float
    reason: str
    planned: bool


@attrs.frozen(kw_only=True, repr=False)
class Reconnected(ServerEvent):
    """The conversation continues on a new connection.

    ``resumed``: the server restored the conversation from a handle; ``gap``: seconds since
    the old connection was lost (or the handover began); ``replayed``: client messages sent
    again on the new connection; ``lost``: messages that could not safely be replayed.
    """

    resumed: bool
    gap: float
    attempts: int
    replayed: int
    lost: int
    planned: bool
