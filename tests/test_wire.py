"""Codec tests for ``_wire.py`` (and the wire classes it serves). No sockets, no clock.

Facts under test come from wire-protocol.md §1.1 (transport), §3 (setup), §4 (client messages),
§5 (server messages) and §6; the JSON examples of that document are copied in below as data.
"""

import base64
import copy
import json
from datetime import timedelta
from typing import Any

import attrs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gemini_live_trio import _config as cf
from gemini_live_trio import _content as c
from gemini_live_trio import _events as ev
from gemini_live_trio import _wire as w
from gemini_live_trio._exceptions import FrameDecodeError, ProtocolError
from gemini_live_trio._protocol import LiveProtocol, Role

# Bytes whose standard base64 uses both "+" and "/" ("+/+/"), so the alphabet is visible.
ALPHABET_BYTES = b"\xfb\xff\xbf"


def roundtrip_client(message: ev.ClientMessage) -> ev.ClientMessage:
    return w.decode_client_frame(w.dumps(w.encode_client_message(message)))


def one(frame: str | bytes) -> ev.ServerEvent:
    events = w.decode_server_frame(frame)
    assert len(events) == 1, events
    return events[0]


def user_turn(text: str) -> c.Content:
    """A user text turn with tuples, as the decoder builds it (``Content.user`` uses a list)."""
    return c.Content(role="user", parts=(c.Part(text=text),))


def keys_everywhere(obj: Any) -> set[str]:
    """Every dict key at every level of a JSON value."""
    found: set[str] = set()
    if isinstance(obj, dict):
        for key, value in obj.items():
            found.add(key)
            found |= keys_everywhere(value)
    elif isinstance(obj, list):
        for value in obj:
            found |= keys_everywhere(value)
    return found


# =========================================================================== setup, encoding

FULL_SETUP = ev.Setup(
    model="models/gemini-2.5-flash-native-audio-preview-12-2025",
    generation_config=cf.GenerationConfig(
        response_modalities=(c.Modality.AUDIO,),
        temperature=0.6,
        top_p=0.95,
        top_k=40,
        max_output_tokens=2048,
        seed=11,
        candidate_count=1,
        presence_penalty=0.25,
        frequency_penalty=0.5,
        media_resolution=cf.MediaResolution.MEDIA_RESOLUTION_LOW,
        speech_config=cf.SpeechConfig(
            voice_config=cf.VoiceConfig(
                prebuilt_voice_config=cf.PrebuiltVoiceConfig(voice_name="Aoede"),
                replicated_voice_config=cf.ReplicatedVoiceConfig(
                    mime_type="audio/wav",
                    voice_sample_audio=ALPHABET_BYTES,
                    consent_audio=b"\x00\x01",
                    voice_consent_signature=cf.VoiceConsentSignature(signature="sig-1"),
                ),
            ),
            language_code="en-US",
        ),
        thinking_config=cf.ThinkingConfig(
            thinking_budget=512, thinking_level=cf.ThinkingLevel.LOW, include_thoughts=False
        ),
        enable_affective_dialog=True,
        translation_config=cf.TranslationConfig(
            target_language_code="fr-FR", echo_target_language=False
        ),
    ),
    system_instruction=user_turn("You are a terse concierge."),
    tools=(
        cf.Tool(
            function_declarations=(
                cf.FunctionDeclaration(
                    name="book_table",
                    description="Reserve a table",
                    parameters={
                        "type": "OBJECT",
                        "properties": {"guests": {"type": "INTEGER"}},
                        "required": ["guests"],
                    },
                    behavior=cf.Behavior.NON_BLOCKING,
                ),
                cf.FunctionDeclaration(
                    name="get_time",
                    parameters_json_schema={"type": "object", "properties": {}},
                    response={"type": "STRING"},
                    response_json_schema={"type": "string"},
                    behavior=cf.Behavior.BLOCKING,
                ),
            )
        ),
        cf.Tool.google_search_tool(),
        cf.Tool.code_execution_tool(),
        cf.Tool(url_context={}),
        cf.Tool(mcp_servers=({"name": "local"},)),
    ),
    realtime_input_config=cf.RealtimeInputConfig(
        automatic_activity_detection=cf.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity=cf.StartSensitivity.START_SENSITIVITY_LOW,
            end_of_speech_sensitivity=cf.EndSensitivity.END_SENSITIVITY_LOW,
            prefix_padding_ms=40,
            silence_duration_ms=600,
        ),
        activity_handling=cf.ActivityHandling.START_OF_ACTIVITY_INTERRUPTS,
        turn_coverage=cf.TurnCoverage.TURN_INCLUDES_ONLY_ACTIVITY,
    ),
    session_resumption=cf.SessionResumptionConfig(handle="previous-handle", transparent=True),
    context_window_compression=cf.ContextWindowCompressionConfig(
        trigger_tokens=25600, sliding_window=cf.SlidingWindow(target_tokens=12800)
    ),
    input_audio_transcription=cf.AudioTranscriptionConfig(),
    output_audio_transcription=cf.AudioTranscriptionConfig(language_codes=("en-US", "fr-FR")),
    proactivity=cf.ProactivityConfig(proactive_audio=True),
    explicit_vad_signal=True,
    history_config=cf.HistoryConfig(initial_history_in_client_content=True),
    safety_settings=(
        cf.SafetySetting(category="HARM_CATEGORY_HARASSMENT", threshold="BLOCK_ONLY_HIGH"),
    ),
    avatar_config={"avatarName": "kai", "audioBitrateBps": 64000},
)

FULL_SETUP_JSON = {
    "setup": {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "temperature": 0.6,
            "topP": 0.95,
            "topK": 40,
            "maxOutputTokens": 2048,
            "seed": 11,
            "candidateCount": 1,
            "presencePenalty": 0.25,
            "frequencyPenalty": 0.5,
            "mediaResolution": "MEDIA_RESOLUTION_LOW",
            "speechConfig": {
                "voiceConfig": {
                    "prebuiltVoiceConfig": {"voiceName": "Aoede"},
                    "replicatedVoiceConfig": {
                        "mimeType": "audio/wav",
                        "voiceSampleAudio": "+/+/",
                        "consentAudio": "AAE=",
                        "voiceConsentSignature": {"signature": "sig-1"},
                    },
                },
                "languageCode": "en-US",
            },
            "thinkingConfig": {
                "thinkingBudget": 512,
                "thinkingLevel": "LOW",
                "includeThoughts": False,
            },
            "enableAffectiveDialog": True,
            "translationConfig": {"targetLanguageCode": "fr-FR", "echoTargetLanguage": False},
        },
        "systemInstruction": {"role": "user", "parts": [{"text": "You are a terse concierge."}]},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "book_table",
                        "description": "Reserve a table",
                        "parameters": {
                            "type": "OBJECT",
                            "properties": {"guests": {"type": "INTEGER"}},
                            "required": ["guests"],
                        },
                        "behavior": "NON_BLOCKING",
                    },
                    {
                        "name": "get_time",
                        "parametersJsonSchema": {"type": "object", "properties": {}},
                        "response": {"type": "STRING"},
                        "responseJsonSchema": {"type": "string"},
                        "behavior": "BLOCKING",
                    },
                ]
            },
            {"googleSearch": {}},
            {"codeExecution": {}},
            {"urlContext": {}},
            {"mcpServers": [{"name": "local"}]},
        ],
        "realtimeInputConfig": {
            "automaticActivityDetection": {
                "disabled": False,
                "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
                "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
                "prefixPaddingMs": 40,
                "silenceDurationMs": 600,
            },
            "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
            "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY",
        },
        "sessionResumption": {"handle": "previous-handle", "transparent": True},
        "contextWindowCompression": {
            "triggerTokens": 25600,
            "slidingWindow": {"targetTokens": 12800},
        },
        "inputAudioTranscription": {},
        "outputAudioTranscription": {"languageCodes": ["en-US", "fr-FR"]},
        "proactivity": {"proactiveAudio": True},
        "explicitVadSignal": True,
        "historyConfig": {"initialHistoryInClientContent": True},
        "safetySettings": [
            {"category": "HARM_CATEGORY_HARASSMENT", "threshold": "BLOCK_ONLY_HIGH"}
        ],
        "avatarConfig": {"avatarName": "kai", "audioBitrateBps": 64000},
    }
}


def test_full_setup_encodes_to_canonical_camel_case() -> None:
    assert w.encode_client_message(FULL_SETUP) == FULL_SETUP_JSON


def test_full_setup_text_is_compact_json() -> None:
    text = w.dumps(w.encode_client_message(FULL_SETUP))
    assert isinstance(text, str)
    assert json.loads(text) == FULL_SETUP_JSON
    assert '", "' not in text and '": ' not in text


def test_full_setup_round_trips_through_the_strict_decoder() -> None:
    decoded = roundtrip_client(FULL_SETUP)
    assert decoded == FULL_SETUP
    # enums come back as members, not bare strings
    assert decoded.generation_config is not None
    assert decoded.generation_config.media_resolution is cf.MediaResolution.MEDIA_RESOLUTION_LOW
    tool = decoded.tools[0] if decoded.tools else None
    assert tool is not None and tool.function_declarations is not None
    assert tool.function_declarations[0].behavior is cf.Behavior.NON_BLOCKING


def test_every_setup_field_is_covered_by_the_full_example() -> None:
    # A new Setup/GenerationConfig field without a test here fails this test.
    for cls, instance in (
        (ev.Setup, FULL_SETUP),
        (cf.GenerationConfig, FULL_SETUP.generation_config),
    ):
        unset = [a.name for a in cls.__attrs_attrs__ if getattr(instance, a.name) is None]
        assert unset == [], f"{cls.__name__} fields not exercised: {unset}"


def test_none_fields_are_omitted() -> None:
    assert w.encode_client_message(ev.Setup(model="models/x")) == {"setup": {"model": "models/x"}}
    assert w.encode_client_message(ev.ClientContent()) == {"clientContent": {}}
    assert w.encode_server_event(ev.ServerContent(turn_complete=True)) == {
        "serverContent": {"turnComplete": True}
    }


def test_false_and_zero_are_not_omitted() -> None:
    msg = ev.Setup(
        model="m",
        generation_config=cf.GenerationConfig(
            temperature=0.0, thinking_config=cf.ThinkingConfig(thinking_budget=0)
        ),
        explicit_vad_signal=False,
    )
    assert w.encode_client_message(msg) == {
        "setup": {
            "model": "m",
            "generationConfig": {"temperature": 0.0, "thinkingConfig": {"thinkingBudget": 0}},
            "explicitVadSignal": False,
        }
    }


def test_live_config_moves_generation_knobs_into_generation_config() -> None:
    config = cf.LiveConfig(
        response_modalities=["AUDIO"],
        temperature=0.7,
        speech_config=cf.SpeechConfig.voice("Kore", language_code="de-DE"),
        thinking_config=cf.ThinkingConfig(thinking_level="MINIMAL"),
        enable_affective_dialog=True,
        system_instruction="Be brief.",
        output_audio_transcription=cf.AudioTranscriptionConfig(),
    )
    gen = config.generation_config()
    assert gen == cf.GenerationConfig(
        response_modalities=["AUDIO"],
        temperature=0.7,
        speech_config=cf.SpeechConfig(
            voice_config=cf.VoiceConfig(
                prebuilt_voice_config=cf.PrebuiltVoiceConfig(voice_name="Kore")
            ),
            language_code="de-DE",
        ),
        thinking_config=cf.ThinkingConfig(thinking_level="MINIMAL"),
        enable_affective_dialog=True,
    )
    assert config.system_content() == c.Content(role="user", parts=(c.Part(text="Be brief."),))
    setup = ev.Setup(
        model="models/m",
        generation_config=gen,
        system_instruction=config.system_content(),
        output_audio_transcription=config.output_audio_transcription,
    )
    assert w.encode_client_message(setup)["setup"] == {
        "model": "models/m",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "temperature": 0.7,
            "speechConfig": {
                "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
                "languageCode": "de-DE",
            },
            "thinkingConfig": {"thinkingLevel": "MINIMAL"},
            "enableAffectiveDialog": True,
        },
        "systemInstruction": {"role": "user", "parts": [{"text": "Be brief."}]},
        "outputAudioTranscription": {},
    }


def test_live_config_without_generation_knobs_has_no_generation_config() -> None:
    config = cf.LiveConfig(system_instruction=c.Content.user("x"), proactivity=None)
    assert config.generation_config() is None
    assert config.system_content() == c.Content.user("x")
    assert cf.LiveConfig().system_content() is None


def test_manual_activity() -> None:
    assert not cf.LiveConfig().manual_activity()
    manual = cf.LiveConfig(
        realtime_input_config=cf.RealtimeInputConfig(
            automatic_activity_detection=cf.AutomaticActivityDetection(disabled=True)
        )
    )
    assert manual.manual_activity()


# =========================================================================== other client messages

CLIENT_MESSAGES: list[tuple[ev.ClientMessage, dict[str, Any]]] = [
    (
        ev.ClientContent(turns=(user_turn("What's on my calendar?"),), turn_complete=True),
        {
            "clientContent": {
                "turns": [{"role": "user", "parts": [{"text": "What's on my calendar?"}]}],
                "turnComplete": True,
            }
        },
    ),
    (ev.ClientContent(turn_complete=True), {"clientContent": {"turnComplete": True}}),
    (
        ev.ClientContent(
            turns=(
                user_turn("hi"),
                c.Content(
                    role="model",
                    parts=(
                        c.Part(text="thinking", thought=True, thought_signature=b"\x01\x02"),
                        c.Part(inline_data=c.Blob(mime_type="image/png", data=ALPHABET_BYTES)),
                        c.Part(file_data=c.FileData(mime_type="image/jpeg", file_uri="gs://b/o")),
                        c.Part(function_call=c.FunctionCall(id="fc-1", name="f", args={"a": 1})),
                        c.Part(
                            function_response=c.FunctionResponse(
                                id="fc-1", name="f", response={"output": 2}
                            )
                        ),
                        c.Part(executable_code=c.ExecutableCode(language="PYTHON", code="1+1")),
                        c.Part(
                            code_execution_result=c.CodeExecutionResult(
                                outcome="OUTCOME_OK", output="2"
                            )
                        ),
                    ),
                ),
            ),
            turn_complete=False,
        ),
        {
            "clientContent": {
                "turns": [
                    {"role": "user", "parts": [{"text": "hi"}]},
                    {
                        "role": "model",
                        "parts": [
                            {"text": "thinking", "thought": True, "thoughtSignature": "AQI="},
                            {"inlineData": {"mimeType": "image/png", "data": "+/+/"}},
                            {"fileData": {"mimeType": "image/jpeg", "fileUri": "gs://b/o"}},
                            {"functionCall": {"id": "fc-1", "name": "f", "args": {"a": 1}}},
                            {
                                "functionResponse": {
                                    "id": "fc-1",
                                    "name": "f",
                                    "response": {"output": 2},
                                }
                            },
                            {"executableCode": {"language": "PYTHON", "code": "1+1"}},
                            {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "2"}},
                        ],
                    },
                ],
                "turnComplete": False,
            }
        },
    ),
    (
        ev.RealtimeInput(audio=c.Blob(mime_type="audio/pcm;rate=16000", data=b"\x00\x00\xff")),
        {"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAD/"}}},
    ),
    (
        ev.RealtimeInput(video=c.Blob(mime_type="image/jpeg", data=b"\xff\xd8\xff")),
        {"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "/9j/"}}},
    ),
    (
        ev.RealtimeInput(text="and make it vegetarian"),
        {"realtimeInput": {"text": "and make it vegetarian"}},
    ),
    (ev.RealtimeInput(activity_start=ev.ActivityStart()), {"realtimeInput": {"activityStart": {}}}),
    (ev.RealtimeInput(activity_end=ev.ActivityEnd()), {"realtimeInput": {"activityEnd": {}}}),
    (ev.RealtimeInput(audio_stream_end=True), {"realtimeInput": {"audioStreamEnd": True}}),
    (
        ev.RealtimeInput(
            media_chunks=(
                c.Blob(mime_type="audio/pcm", data=b"\x01\x02\x03"),
                c.Blob(mime_type="image/jpeg", data=b"\xff\xd8\xff"),
            )
        ),
        {
            "realtimeInput": {
                "mediaChunks": [
                    {"mimeType": "audio/pcm", "data": "AQID"},
                    {"mimeType": "image/jpeg", "data": "/9j/"},
                ]
            }
        },
    ),
    (
        ev.ToolResponse(
            function_responses=(
                c.FunctionResponse(
                    id="fc-7",
                    name="book_table",
                    response={"output": {"confirmation": "A12"}},
                    scheduling=c.FunctionResponseScheduling.WHEN_IDLE,
                    will_continue=False,
                ),
                c.FunctionResponse(
                    id="fc-8",
                    name="stream",
                    response={},
                    scheduling="SILENT",
                    will_continue=True,
                ),
            )
        ),
        {
            "toolResponse": {
                "functionResponses": [
                    {
                        "id": "fc-7",
                        "name": "book_table",
                        "response": {"output": {"confirmation": "A12"}},
                        "scheduling": "WHEN_IDLE",
                        "willContinue": False,
                    },
                    {
                        "id": "fc-8",
                        "name": "stream",
                        "response": {},
                        "scheduling": "SILENT",
                        "willContinue": True,
                    },
                ]
            }
        },
    ),
]


@pytest.mark.parametrize(("message", "expected"), CLIENT_MESSAGES)
def test_client_message_encoding(message: ev.ClientMessage, expected: dict[str, Any]) -> None:
    assert w.encode_client_message(message) == expected


@pytest.mark.parametrize(("message", "expected"), CLIENT_MESSAGES)
def test_client_message_decoding(message: ev.ClientMessage, expected: dict[str, Any]) -> None:
    assert w.decode_client_frame(json.dumps(expected)) == message
    assert roundtrip_client(message) == message


def test_function_call_reply_builds_the_response() -> None:
    call = c.FunctionCall(id="fc-1", name="get_weather", args={"city": "Paris"})
    assert call.reply({"temp": 21}) == c.FunctionResponse(
        id="fc-1", name="get_weather", response={"output": {"temp": 21}}
    )
    failed = call.reply(error="boom", scheduling="INTERRUPT", will_continue=False)
    assert w.encode_client_message(ev.ToolResponse(function_responses=[failed])) == {
        "toolResponse": {
            "functionResponses": [
                {
                    "id": "fc-1",
                    "name": "get_weather",
                    "response": {"error": "boom"},
                    "scheduling": "INTERRUPT",
                    "willContinue": False,
                }
            ]
        }
    }


def test_tool_call_reply_by_id_and_by_name() -> None:
    tool_call = one(
        '{"toolCall": {"functionCalls": [{"id": "a", "name": "f", "args": {}},'
        ' {"id": "b", "name": "g"}]}}'
    )
    assert isinstance(tool_call, ev.ToolCall)
    response = tool_call.reply({"a": 1, "g": 2})
    assert [(r.id, r.name, r.response) for r in response.function_responses] == [
        ("a", "f", {"output": 1}),
        ("b", "g", {"output": 2}),
    ]


# =========================================================================== server events

SERVER_CONTENT_FULL = {
    "serverContent": {
        "modelTurn": {
            "role": "model",
            "parts": [
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAECAw=="}},
                {"text": "Hello"},
                {"text": "(pondering)", "thought": True, "thoughtSignature": "c2ln"},
                {"text": " world"},
                {"executableCode": {"language": "PYTHON", "code": "print(1)"}},
                {"codeExecutionResult": {"outcome": "OUTCOME_OK", "output": "1\n"}},
                {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "BAU="}},
                {"inlineData": {"mimeType": "image/png", "data": "iVBO"}},
            ],
        },
        "generationComplete": True,
        "turnComplete": True,
        "interrupted": False,
        "groundingMetadata": {
            "webSearchQueries": ["paris weather"],
            "groundingChunks": [{"web": {"uri": "https://x", "title": "X", "domain": "x"}}],
        },
        "urlContextMetadata": {"urlMetadata": []},
        "inputTranscription": {
            "text": "what's the weather",
            "finished": True,
            "languageCode": "en-US",
            "speakerLabel": "spk1",
        },
        "outputTranscription": {"text": "Hello world"},
        "interimInputTranscription": {"text": "what's"},
        "turnCompleteReason": "NEED_MORE_INPUT",
        "waitingForInput": True,
        "interactionStatus": "IDLE",
    }
}


def test_server_content_every_field() -> None:
    event = one(json.dumps(SERVER_CONTENT_FULL))
    assert isinstance(event, ev.ServerContent)
    assert event.model_turn is not None and event.model_turn.role == "model"
    parts = event.model_turn.parts
    assert parts is not None and len(parts) == 8
    assert parts[0].inline_data == c.Blob(
        mime_type="audio/pcm;rate=24000", data=b"\x00\x01\x02\x03"
    )
    assert parts[2].thought is True and parts[2].thought_signature == b"sig"
    assert parts[4].executable_code == c.ExecutableCode(language="PYTHON", code="print(1)")
    assert parts[5].code_execution_result == c.CodeExecutionResult(
        outcome="OUTCOME_OK", output="1\n"
    )
    assert event.generation_complete is True
    assert event.turn_complete is True
    assert event.interrupted is False
    assert event.grounding_metadata == SERVER_CONTENT_FULL["serverContent"]["groundingMetadata"]
    assert event.url_context_metadata == {"urlMetadata": []}
    assert event.input_transcription == c.Transcription(
        text="what's the weather", finished=True, language_code="en-US", speaker_label="spk1"
    )
    assert event.interim_input_transcription == c.Transcription(text="what's")
    assert event.turn_complete_reason is ev.TurnCompleteReason.NEED_MORE_INPUT
    assert event.waiting_for_input is True
    assert event.interaction_status is ev.InteractionStatus.IDLE
    assert event.unknown_fields() == {}
    # helpers
    assert event.text == "Hello world"  # thought part left out
    assert event.audio == b"\x00\x01\x02\x03\x04\x05"  # both audio parts, not the image
    assert event.input_transcription_text == "what's the weather"
    assert event.output_transcription_text == "Hello world"


def test_server_content_helpers_when_empty() -> None:
    event = one('{"serverContent": {"turnComplete": true}}')
    assert isinstance(event, ev.ServerContent)
    assert event.text is None
    assert event.audio == b""
    assert event.input_transcription_text is None
    assert event.output_transcription_text is None
    only_thought = one(
        '{"serverContent": {"modelTurn": {"parts": [{"text": "t", "thought": true}]}}}'
    )
    assert isinstance(only_thought, ev.ServerContent)
    assert only_thought.text is None


def test_server_content_single_audio_part_is_returned_as_is() -> None:
    pcm = bytes(range(256)) * 8
    frame = {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(pcm).decode(),
                        }
                    }
                ]
            }
        }
    }
    event = one(json.dumps(frame))
    assert isinstance(event, ev.ServerContent)
    assert event.audio == pcm
    assert event.text is None


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        ("MALFORMED_FUNCTION_CALL", ev.TurnCompleteReason.MALFORMED_FUNCTION_CALL),
        ("GENERATED_AUDIO_SAFETY", ev.TurnCompleteReason.GENERATED_AUDIO_SAFETY),
        ("SOMETHING_NEW_2027", "SOMETHING_NEW_2027"),
    ],
)
def test_turn_complete_reason_known_and_unknown(reason: str, expected: str) -> None:
    event = one(json.dumps({"serverContent": {"turnComplete": True, "turnCompleteReason": reason}}))
    assert isinstance(event, ev.ServerContent)
    assert event.turn_complete_reason == expected
    assert type(event.turn_complete_reason) is type(expected)


def test_unknown_enum_values_stay_strings() -> None:
    events = w.decode_server_frame(
        json.dumps(
            {
                "serverContent": {"interactionStatus": "PONDERING"},
                "voiceActivity": {"type": "ACTIVITY_MAYBE"},
                "voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_HUM"},
                "usageMetadata": {"promptTokensDetails": [{"modality": "SMELL", "tokenCount": 1}]},
            }
        )
    )
    content, activity, signal, usage = events
    assert isinstance(content, ev.ServerContent) and content.interaction_status == "PONDERING"
    assert isinstance(activity, ev.VoiceActivity)
    assert activity.voice_activity_type == "ACTIVITY_MAYBE"
    assert isinstance(signal, ev.VoiceActivityDetectionSignal)
    assert signal.vad_signal_type == "VAD_SIGNAL_TYPE_HUM"
    assert isinstance(usage, ev.UsageMetadata) and usage.prompt_tokens_details is not None
    assert usage.prompt_tokens_details[0].modality == "SMELL"


def test_setup_complete() -> None:
    assert one('{"setupComplete": {}}') == ev.SetupComplete()
    event = one(
        '{"setupComplete": {"sessionId": "sess-1", "voiceConsentSignature": {"signature": "s"}}}'
    )
    assert event == ev.SetupComplete(
        session_id="sess-1", voice_consent_signature=cf.VoiceConsentSignature(signature="s")
    )


def test_tool_call_and_cancellation() -> None:
    call = one(
        '{"toolCall": {"functionCalls": [{"id": "fc-7", "name": "book_table",'
        ' "args": {"guests": 2}}, {"name": "no_id"}]}}'
    )
    assert call == ev.ToolCall(
        function_calls=(
            c.FunctionCall(id="fc-7", name="book_table", args={"guests": 2}),
            c.FunctionCall(name="no_id"),
        )
    )
    assert one('{"toolCallCancellation": {"ids": ["fc-7", "fc-8"]}}') == ev.ToolCallCancellation(
        ids=("fc-7", "fc-8")
    )
    assert one('{"toolCall": {}}') == ev.ToolCall(function_calls=())


@pytest.mark.parametrize(
    ("wire", "expected"),
    [
        ('"50s"', timedelta(seconds=50)),
        ('"10s"', timedelta(seconds=10)),
        ('"1.5s"', timedelta(seconds=1.5)),
        ('"1.250s"', timedelta(seconds=1.25)),
        ('"0.000001s"', timedelta(microseconds=1)),
        ('"0s"', timedelta(0)),
        ("3", timedelta(seconds=3)),
        ("2.5", timedelta(seconds=2.5)),
    ],
)
def test_go_away_durations(wire: str, expected: timedelta) -> None:
    event = one('{"goAway": {"timeLeft": ' + wire + "}}")
    assert event == ev.GoAway(time_left=expected)


@pytest.mark.parametrize("bad", ['"soon"', '"s"', '"1.5m"', "null", "{}", '"nans"', '"1e400s"'])
def test_bad_durations_fail_cleanly(bad: str) -> None:
    frame = '{"goAway": {"timeLeft": ' + bad + "}}"
    if bad == "null":
        assert one(frame) == ev.GoAway()
        return
    with pytest.raises(w.WireError, match="goAway"):
        w.decode_server_frame(frame)


@pytest.mark.parametrize(
    ("index_json", "expected"),
    [
        ('"17"', 17),
        ('"123456789012345"', 123456789012345),
        ("17", 17),
        ('"9223372036854775807"', 2**63 - 1),
    ],
)
def test_session_resumption_update_int64_as_string(index_json: str, expected: int) -> None:
    event = one(
        '{"sessionResumptionUpdate": {"newHandle": "Cr8B", "resumable": true,'
        ' "lastConsumedClientMessageIndex": ' + index_json + "}}"
    )
    assert event == ev.SessionResumptionUpdate(
        new_handle="Cr8B", resumable=True, last_consumed_client_message_index=expected
    )


def test_session_resumption_update_not_resumable() -> None:
    event = one('{"sessionResumptionUpdate": {"resumable": false}}')
    assert event == ev.SessionResumptionUpdate(resumable=False)
    assert isinstance(event, ev.SessionResumptionUpdate) and event.new_handle is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (
            {"type": "ACTIVITY_START", "audioOffset": "1.250s"},
            ev.VoiceActivity(
                voice_activity_type=ev.VoiceActivityType.ACTIVITY_START,
                audio_offset=timedelta(seconds=1.25),
            ),
        ),
        ({"type": "ACTIVITY_END"}, ev.VoiceActivity(voice_activity_type="ACTIVITY_END")),
        ({"type": "TYPE_UNSPECIFIED"}, ev.VoiceActivity(voice_activity_type="TYPE_UNSPECIFIED")),
    ],
)
def test_voice_activity_uses_the_type_wire_key(body: dict[str, Any], expected: Any) -> None:
    event = one(json.dumps({"voiceActivity": body}))
    assert event == expected
    assert event.unknown_fields() == {}  # "type" is known, not left over
    assert w.encode_server_event(event) == {
        "voiceActivity": body | ({"audioOffset": "1.25s"} if "audioOffset" in body else {})
    }


def test_voice_activity_snake_key_is_not_the_wire_key() -> None:
    event = one('{"voiceActivity": {"voiceActivityType": "ACTIVITY_START"}}')
    assert isinstance(event, ev.VoiceActivity)
    assert event.voice_activity_type is None
    assert event.unknown_fields() == {"voiceActivityType": "ACTIVITY_START"}


@pytest.mark.parametrize("signal", ["VAD_SIGNAL_TYPE_SOS", "VAD_SIGNAL_TYPE_EOS"])
def test_voice_activity_detection_signal(signal: str) -> None:
    event = one(json.dumps({"voiceActivityDetectionSignal": {"vadSignalType": signal}}))
    assert event == ev.VoiceActivityDetectionSignal(vad_signal_type=ev.VadSignalType(signal))


USAGE_COMMON = {
    "promptTokenCount": 412,
    "cachedContentTokenCount": 7,
    "toolUsePromptTokenCount": 3,
    "thoughtsTokenCount": 5,
    "totalTokenCount": 508,
    "promptTokensDetails": [
        {"modality": "TEXT", "tokenCount": 380},
        {"modality": "AUDIO", "tokenCount": 32},
    ],
    "cacheTokensDetails": [{"modality": "TEXT", "tokenCount": 7}],
    "toolUsePromptTokensDetails": [{"modality": "TEXT", "tokenCount": 3}],
}
USAGE_EXPECTED = ev.UsageMetadata(
    prompt_token_count=412,
    cached_content_token_count=7,
    response_token_count=96,
    tool_use_prompt_token_count=3,
    thoughts_token_count=5,
    total_token_count=508,
    prompt_tokens_details=(
        c.ModalityTokenCount(modality=c.Modality.TEXT, token_count=380),
        c.ModalityTokenCount(modality=c.Modality.AUDIO, token_count=32),
    ),
    cache_tokens_details=(c.ModalityTokenCount(modality="TEXT", token_count=7),),
    response_tokens_details=(c.ModalityTokenCount(modality="AUDIO", token_count=96),),
    tool_use_prompt_tokens_details=(c.ModalityTokenCount(modality="TEXT", token_count=3),),
)


def test_usage_metadata_gemini_spelling() -> None:
    body = USAGE_COMMON | {
        "responseTokenCount": 96,
        "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 96}],
        "serviceTier": "standard",
    }
    event = one(json.dumps({"usageMetadata": body}))
    assert event == attrs.evolve(USAGE_EXPECTED, service_tier="standard")
    assert event.unknown_fields() == {}
    assert w.encode_server_event(event) == {"usageMetadata": body}


def test_usage_metadata_vertex_spelling_is_normalised() -> None:
    body = USAGE_COMMON | {
        "candidatesTokenCount": 96,
        "candidatesTokensDetails": [{"modality": "AUDIO", "tokenCount": 96}],
        "trafficType": "ON_DEMAND",
    }
    event = one(json.dumps({"usageMetadata": body}))
    assert event == attrs.evolve(USAGE_EXPECTED, traffic_type="ON_DEMAND")
    assert isinstance(event, ev.UsageMetadata) and event.response_token_count == 96
    # encoding back: Gemini spelling by default, Vertex spelling on request
    gemini = w.encode_server_event(event)["usageMetadata"]
    assert gemini["responseTokenCount"] == 96 and "candidatesTokenCount" not in gemini
    assert w.encode_server_event(event, vertex=True) == {"usageMetadata": body}


# =========================================================================== leniency


def test_text_and_binary_frames_decode_alike() -> None:
    text = '{"serverContent": {"outputTranscription": {"text": "h\u00e9llo \U0001f600"}}}'
    from_text = w.decode_server_frame(text)
    from_bytes = w.decode_server_frame(text.encode("utf-8"))
    assert from_text == from_bytes
    assert isinstance(from_bytes[0], ev.ServerContent)
    assert from_bytes[0].output_transcription_text == "h\u00e9llo \U0001f600"


def test_pretty_printed_frame_with_trailing_newline() -> None:
    # the real server's look (wire-protocol.md §1.1)
    assert w.decode_server_frame(b'{\n  "setupComplete": {}\n}\n') == [ev.SetupComplete()]
    pretty = json.dumps(SERVER_CONTENT_FULL, indent=2) + "\n"
    assert w.decode_server_frame(pretty.encode()) == w.decode_server_frame(
        json.dumps(SERVER_CONTENT_FULL, separators=(",", ":"))
    )


@pytest.mark.parametrize(
    "encoded",
    [
        "+/+/AAE=",  # standard, padded
        "+/+/AAE",  # standard, no padding
        "-_-_AAE=",  # URL-safe, padded (what the SDK sends)
        "-_-_AAE",  # URL-safe, no padding
    ],
)
def test_base64_both_alphabets_with_and_without_padding(encoded: str) -> None:
    frame = json.dumps(
        {
            "serverContent": {
                "modelTurn": {"parts": [{"inlineData": {"mimeType": "audio/pcm", "data": encoded}}]}
            }
        }
    )
    event = one(frame)
    assert isinstance(event, ev.ServerContent)
    assert event.audio == ALPHABET_BYTES + b"\x00\x01"
    # and the emulator's strict reader accepts the same
    client = w.decode_client_frame(
        json.dumps({"realtimeInput": {"audio": {"mimeType": "audio/pcm", "data": encoded}}})
    )
    assert client == ev.RealtimeInput(
        audio=c.Blob(mime_type="audio/pcm", data=ALPHABET_BYTES + b"\x00\x01")
    )


def test_base64_is_encoded_with_the_standard_alphabet_and_padding() -> None:
    assert w.encode_b64(ALPHABET_BYTES + b"\x00") == "+/+/AA=="
    frame = w.encode_server_event(
        ev.ServerContent(
            model_turn=c.Content(
                parts=[c.Part(inline_data=c.Blob(mime_type="a", data=ALPHABET_BYTES))]
            )
        )
    )
    assert frame["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"] == "+/+/"


@pytest.mark.parametrize("bad", [123, "\u00e9\u00e9\u00e9\u00e9", ["AAAA"]])
def test_bad_base64_fails_cleanly(bad: Any) -> None:
    with pytest.raises(w.WireError):
        w.decode_b64(bad)


def test_unknown_keys_top_level_become_unknown_server_message() -> None:
    events = w.decode_server_frame(
        b'{"brandNewMessage": {"x": 1}, "setupComplete": {}, "other": [1, 2]}'
    )
    assert events == [
        ev.UnknownServerMessage(key="brandNewMessage", value={"x": 1}),
        ev.SetupComplete(),
        ev.UnknownServerMessage(key="other", value=[1, 2]),
    ]
    assert events[0].raw == {"x": 1}


def test_unknown_keys_in_the_middle_and_at_leaves_are_ignored_but_kept() -> None:
    frame = {
        "serverContent": {
            "turnComplete": True,
            "newFlag": "x",  # top of the message
            "modelTurn": {
                "parts": [
                    {
                        "text": "hi",
                        "partMood": "cheerful",  # leaf object
                        "inlineData": {"mimeType": "audio/pcm", "data": "AAE=", "displayName": "a"},
                    }
                ],
                "contentExtra": {"deep": [1]},  # middle
            },
            "outputTranscription": {"text": "hi", "confidence": 0.9},
        }
    }
    event = one(json.dumps(frame))
    assert isinstance(event, ev.ServerContent)
    assert event.turn_complete is True
    assert event.text == "hi"
    assert event.audio == b"\x00\x01"
    assert event.output_transcription_text == "hi"
    assert event.unknown_fields() == {"newFlag": "x"}
    assert event.raw == frame["serverContent"]
    assert event.raw["modelTurn"]["contentExtra"] == {"deep": [1]}
    assert event.raw["modelTurn"]["parts"][0]["partMood"] == "cheerful"
    # re-encoding emits only what the library models
    again = w.encode_server_event(event)["serverContent"]
    assert "newFlag" not in again
    assert "partMood" not in keys_everywhere(again)


def test_raw_is_not_compared_and_not_shown() -> None:
    a = one('{"goAway": {"timeLeft": "5s", "extra": 1}}')
    b = one('{"goAway": {"timeLeft": "5s"}}')
    assert a == b
    assert a.raw != b.raw
    assert "extra" not in repr(a)
    assert ev.GoAway().unknown_fields() == {}  # raw None


def test_several_keys_yield_one_event_per_key_in_frame_order() -> None:
    frame = (
        '{"usageMetadata": {"totalTokenCount": 3}, "serverContent": {"turnComplete": true},'
        ' "sessionResumptionUpdate": {"resumable": false}, "goAway": {"timeLeft": "1s"}}'
    )
    events = w.decode_server_frame(frame)
    assert [type(e) for e in events] == [
        ev.UsageMetadata,
        ev.ServerContent,
        ev.SessionResumptionUpdate,
        ev.GoAway,
    ]
    reordered = w.decode_server_frame(
        '{"serverContent": {"turnComplete": true}, "usageMetadata": {"totalTokenCount": 3}}'
    )
    assert [type(e) for e in reordered] == [ev.ServerContent, ev.UsageMetadata]
    assert w.decode_server_frame("{}") == []


def test_integral_floats_and_numeric_strings_for_int_fields() -> None:
    event = one('{"usageMetadata": {"promptTokenCount": 40.0, "totalTokenCount": "41"}}')
    assert event == ev.UsageMetadata(prompt_token_count=40, total_token_count=41)
    assert isinstance(event, ev.UsageMetadata) and type(event.prompt_token_count) is int


@pytest.mark.parametrize(
    "frame",
    [
        b"",
        b"not json",
        b"\xff\xfe{}",
        b"[]",
        b'"setupComplete"',
        b"null",
        b'{"setupComplete": []}',
        b'{"setupComplete": null}',
        b'{"serverContent": {"turnComplete": "yes"}}',
        b'{"serverContent": {"modelTurn": {"parts": [{"inlineData": {"data": "AAAA"}}]}}}',
        b'{"serverContent": {"modelTurn": {"parts": {"text": 1}}}}',
        b'{"usageMetadata": {"promptTokenCount": 1.5}}',
        b'{"usageMetadata": {"promptTokenCount": true}}',
        b'{"toolCall": {"functionCalls": [{"id": "x"}]}}',
        b'{"toolCall": {"functionCalls": [{"name": "f", "args": [1]}]}}',
        b'{"sessionResumptionUpdate": {"lastConsumedClientMessageIndex": "x17"}}',
        b'{"voiceActivity": {"type": 3}}',
        b"[" * 5000,
    ],
)
def test_malformed_server_frames_raise_wire_error(frame: bytes) -> None:
    with pytest.raises(w.WireError):
        w.decode_server_frame(frame)
    with pytest.raises(FrameDecodeError):
        LiveProtocol(Role.CLIENT).receive(frame)


def test_deep_nesting_without_orjson_is_a_wire_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(w, "_json_loads", json.loads)
    with pytest.raises(w.WireError):
        w.decode_server_frame("[" * 100_000)


def test_string_where_a_list_belongs_is_rejected() -> None:
    with pytest.raises(w.WireError):
        w.decode_server_frame('{"toolCallCancellation": {"ids": "fc-7"}}')


# =========================================================================== strict client decoding

# wire-protocol.md §3.9: what the official SDK really sends (camelCase at the top and in
# generationConfig, snake_case inside passed-through values).
SDK_SETUP_FRAME = {
    "setup": {
        "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
        "generationConfig": {
            "responseModalities": ["AUDIO"],
            "temperature": 0.7,
            "topK": 40.0,
            "speechConfig": {
                "voice_config": {"prebuilt_voice_config": {"voice_name": "Kore"}},
                "language_code": "en-US",
            },
            "thinkingConfig": {"include_thoughts": True, "thinking_budget": 1024},
            "enableAffectiveDialog": True,
        },
        "systemInstruction": {"parts": [{"text": "Be brief."}], "role": "user"},
        "tools": [
            {
                "functionDeclarations": [
                    {
                        "name": "get_weather",
                        "description": "Weather for a city",
                        "parameters_json_schema": {
                            "type": "object",
                            "properties": {"city": {"type": "string"}},
                            "required": ["city"],
                        },
                        "behavior": "NON_BLOCKING",
                    }
                ]
            }
        ],
        "realtimeInputConfig": {
            "automatic_activity_detection": {
                "disabled": False,
                "start_of_speech_sensitivity": "START_SENSITIVITY_LOW",
                "end_of_speech_sensitivity": "END_SENSITIVITY_HIGH",
                "prefix_padding_ms": 20,
                "silence_duration_ms": 500,
            },
            "activity_handling": "NO_INTERRUPTION",
            "turn_coverage": "TURN_INCLUDES_ALL_INPUT",
        },
        "sessionResumption": {"handle": "Cr8B-handle"},
        "contextWindowCompression": {
            "trigger_tokens": 25600,
            "sliding_window": {"target_tokens": 12800},
        },
        "inputAudioTranscription": {},
        "outputAudioTranscription": {},
        "proactivity": {"proactive_audio": True},
        "historyConfig": {"initial_history_in_client_content": True},
    }
}

SDK_SETUP_EXPECTED = ev.Setup(
    model="models/gemini-2.5-flash-native-audio-preview-12-2025",
    generation_config=cf.GenerationConfig(
        response_modalities=("AUDIO",),
        temperature=0.7,
        top_k=40,
        speech_config=cf.SpeechConfig.voice("Kore", language_code="en-US"),
        thinking_config=cf.ThinkingConfig(include_thoughts=True, thinking_budget=1024),
        enable_affective_dialog=True,
    ),
    system_instruction=c.Content(role="user", parts=(c.Part(text="Be brief."),)),
    tools=(
        cf.Tool(
            function_declarations=(
                cf.FunctionDeclaration(
                    name="get_weather",
                    description="Weather for a city",
                    parameters_json_schema={
                        "type": "object",
                        "properties": {"city": {"type": "string"}},
                        "required": ["city"],
                    },
                    behavior="NON_BLOCKING",
                ),
            )
        ),
    ),
    realtime_input_config=cf.RealtimeInputConfig(
        automatic_activity_detection=cf.AutomaticActivityDetection(
            disabled=False,
            start_of_speech_sensitivity="START_SENSITIVITY_LOW",
            end_of_speech_sensitivity="END_SENSITIVITY_HIGH",
            prefix_padding_ms=20,
            silence_duration_ms=500,
        ),
        activity_handling="NO_INTERRUPTION",
        turn_coverage="TURN_INCLUDES_ALL_INPUT",
    ),
    session_resumption=cf.SessionResumptionConfig(handle="Cr8B-handle"),
    context_window_compression=cf.ContextWindowCompressionConfig(
        trigger_tokens=25600, sliding_window=cf.SlidingWindow(target_tokens=12800)
    ),
    input_audio_transcription=cf.AudioTranscriptionConfig(),
    output_audio_transcription=cf.AudioTranscriptionConfig(),
    proactivity=cf.ProactivityConfig(proactive_audio=True),
    history_config=cf.HistoryConfig(initial_history_in_client_content=True),
)


def test_official_sdk_mixed_casing_setup_is_accepted() -> None:
    decoded = w.decode_client_frame(json.dumps(SDK_SETUP_FRAME))
    assert decoded == SDK_SETUP_EXPECTED
    assert isinstance(decoded, ev.Setup) and decoded.generation_config is not None
    assert type(decoded.generation_config.top_k) is int  # topK 40.0 -> 40
    # re-encoded, it is pure camelCase
    canonical = w.encode_client_message(decoded)
    assert all("_" not in key for key in keys_everywhere(canonical["setup"]) - {"get_weather"})
    assert canonical["setup"]["generationConfig"]["speechConfig"] == {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Kore"}},
        "languageCode": "en-US",
    }
    assert (
        canonical["setup"]["tools"][0]["functionDeclarations"][0]["parametersJsonSchema"]
        == (
            SDK_SETUP_FRAME["setup"]["tools"][0]["functionDeclarations"][0][
                "parameters_json_schema"
            ]
        )
    )


def test_official_sdk_vertex_voice_casing_is_accepted() -> None:
    frame = {
        "setup": {
            "model": "projects/p/locations/l/publishers/google/models/gemini-live-2.5-flash",
            "generationConfig": {
                "responseModalities": ["AUDIO"],
                "speechConfig": {"voiceConfig": {"prebuiltVoiceConfig": {"voice_name": "Puck"}}},
            },
            "sessionResumption": {"transparent": True},
            "explicitVadSignal": True,
        }
    }
    decoded = w.decode_client_frame(json.dumps(frame))
    assert isinstance(decoded, ev.Setup) and decoded.generation_config is not None
    assert decoded.generation_config.speech_config == cf.SpeechConfig.voice("Puck")
    assert decoded.session_resumption == cf.SessionResumptionConfig(transparent=True)
    assert decoded.explicit_vad_signal is True


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (
            {
                "client_content": {
                    "turns": [{"parts": [{"text": "hi"}], "role": "user"}],
                    "turn_complete": True,
                }
            },
            ev.ClientContent(
                turns=(c.Content(role="user", parts=(c.Part(text="hi"),)),), turn_complete=True
            ),
        ),
        ({"client_content": {"turn_complete": True}}, ev.ClientContent(turn_complete=True)),
        (
            {"realtime_input": {"audio": {"data": "AAD/", "mime_type": "audio/pcm;rate=16000"}}},
            ev.RealtimeInput(audio=c.Blob(mime_type="audio/pcm;rate=16000", data=b"\x00\x00\xff")),
        ),
        (
            {"realtime_input": {"media_chunks": [{"mime_type": "audio/pcm", "data": "-_-_"}]}},
            ev.RealtimeInput(media_chunks=(c.Blob(mime_type="audio/pcm", data=ALPHABET_BYTES),)),
        ),
        (
            {"realtime_input": {"activity_start": {}}},
            ev.RealtimeInput(activity_start=ev.ActivityStart()),
        ),
        ({"realtime_input": {"activity_end": {}}}, ev.RealtimeInput(activity_end=ev.ActivityEnd())),
        ({"realtime_input": {"audio_stream_end": True}}, ev.RealtimeInput(audio_stream_end=True)),
        (
            {
                "tool_response": {
                    "function_responses": [
                        {
                            "id": "fc-1",
                            "name": "f",
                            "response": {"output": 1},
                            "will_continue": False,
                            "scheduling": "SILENT",
                        }
                    ]
                }
            },
            ev.ToolResponse(
                function_responses=(
                    c.FunctionResponse(
                        id="fc-1",
                        name="f",
                        response={"output": 1},
                        will_continue=False,
                        scheduling="SILENT",
                    ),
                )
            ),
        ),
        (
            {
                "client_content": {
                    "turns": [
                        {
                            "role": "model",
                            "parts": [
                                {"inline_data": {"mime_type": "image/png", "data": "AAE"}},
                                {"function_call": {"name": "f", "args": {"snake_key": 1}}},
                                {"thought_signature": "AQI", "thought": True, "text": "t"},
                            ],
                        }
                    ]
                }
            },
            ev.ClientContent(
                turns=(
                    c.Content(
                        role="model",
                        parts=(
                            c.Part(inline_data=c.Blob(mime_type="image/png", data=b"\x00\x01")),
                            c.Part(function_call=c.FunctionCall(name="f", args={"snake_key": 1})),
                            c.Part(text="t", thought=True, thought_signature=b"\x01\x02"),
                        ),
                    ),
                )
            ),
        ),
    ],
)
def test_snake_case_client_messages_at_every_level(frame: dict[str, Any], expected: Any) -> None:
    assert w.decode_client_frame(json.dumps(frame)) == expected
    assert w.decode_client_frame(json.dumps(frame).encode()) == expected  # binary frame too


@pytest.mark.parametrize(
    ("frame", "path", "name"),
    [
        ({"setup": {"model": "m", "generationConfig": {"x": 1}}}, "setup.generationConfig", "x"),
        ({"setup": {"model": "m", "generation_config": {"x": 1}}}, "setup.generationConfig", "x"),
        (
            {"setup": {"model": "m", "enableAffectiveDialog": True}},
            "setup",
            "enableAffectiveDialog",
        ),
        (
            {
                "setup": {
                    "model": "m",
                    "generationConfig": {"speechConfig": {"voice_config": {"voiceNme": "K"}}},
                }
            },
            "setup.generationConfig.speechConfig.voiceConfig",
            "voiceNme",
        ),
        (
            {
                "setup": {
                    "model": "m",
                    "tools": [
                        {"googleSearch": {}},
                        {"functionDeclarations": [{"name": "f", "behaviour": "X"}]},
                    ],
                }
            },
            "setup.tools[1].functionDeclarations[0]",
            "behaviour",
        ),
        ({"clientContent": {"turnsComplete": True}}, "clientContent", "turnsComplete"),
        (
            {"realtimeInput": {"audio": {"mimeType": "a", "data": "", "rate": 1}}},
            "realtimeInput.audio",
            "rate",
        ),
        (
            {"toolResponse": {"functionResponses": [{"name": "f", "willcontinue": True}]}},
            "toolResponse.functionResponses[0]",
            "willcontinue",
        ),
        ({"realtimeInput": {"Text": "hi"}}, "realtimeInput", "Text"),
    ],
)
def test_unknown_client_fields_are_rejected_with_the_servers_wording(
    frame: dict[str, Any], path: str, name: str
) -> None:
    with pytest.raises(w.WireError) as info:
        w.decode_client_frame(json.dumps(frame))
    assert str(info.value) == (
        f"Invalid JSON payload received. Unknown name \"{name}\" at '{path}': Cannot find field."
    )


def test_unknown_top_level_client_key_is_rejected() -> None:
    with pytest.raises(w.WireError, match='Unknown name "hello"'):
        w.decode_client_frame('{"hello": {}}')
    with pytest.raises(w.WireError, match='Unknown name "setupComplete"'):
        w.decode_client_frame('{"setupComplete": {}}')


@pytest.mark.parametrize("key", ["setup_", "client__content", "realtime_Input"])
def test_misspelt_top_level_client_key_is_rejected(key: str) -> None:
    with pytest.raises(w.WireError, match="Unknown name"):
        w.decode_client_frame(json.dumps({key: {"model": "m"} if key == "setup_" else {}}))


def test_client_string_where_a_list_belongs_is_rejected() -> None:
    with pytest.raises(w.WireError):
        w.decode_client_frame(
            '{"setup": {"model": "m", "generationConfig": {"responseModalities": "AUDIO"}}}'
        )


@pytest.mark.parametrize(
    "frame",
    [
        "{}",
        '{"setup": {"model": "m"}, "clientContent": {}}',
        '{"clientContent": {}, "realtimeInput": {"text": "x"}}',
        "[]",
        '"setup"',
        "not json",
    ],
)
def test_zero_or_several_top_level_keys_are_rejected(frame: str) -> None:
    with pytest.raises(w.WireError):
        w.decode_client_frame(frame)


def test_zero_or_two_keys_message_wording() -> None:
    with pytest.raises(w.WireError, match="exactly one message field"):
        w.decode_client_frame('{"setup": {"model": "m"}, "clientContent": {}}')


@pytest.mark.parametrize(("top_k", "expected"), [(40.0, 40), (40, 40), ("40", 40), (0.0, 0)])
def test_integral_floats_for_int_fields(top_k: Any, expected: int) -> None:
    decoded = w.decode_client_frame(
        json.dumps({"setup": {"model": "m", "generationConfig": {"topK": top_k}}})
    )
    assert isinstance(decoded, ev.Setup) and decoded.generation_config is not None
    assert decoded.generation_config.top_k == expected
    assert type(decoded.generation_config.top_k) is int


@pytest.mark.parametrize(
    "body",
    [
        {"model": "m", "generationConfig": {"topK": 40.5}},
        {"model": "m", "generationConfig": {"topK": True}},
        {"model": "m", "generationConfig": {"temperature": "hot"}},
        {"model": 5},
        {"generationConfig": {}},  # model missing
        {"model": "m", "generationConfig": []},
        {"model": "m", "tools": {"googleSearch": {}}},
        {"model": "m", "explicitVadSignal": "true"},
    ],
)
def test_invalid_setup_values_are_rejected(body: dict[str, Any]) -> None:
    with pytest.raises(w.WireError):
        w.decode_client_frame(json.dumps({"setup": body}))


def test_tool_response_without_function_responses_is_rejected() -> None:
    with pytest.raises(w.WireError, match="invalid argument"):
        w.decode_client_frame('{"toolResponse": {}}')


# ============================================================== the document's examples

# Client frames, copied from wire-protocol.md (§3.1, §3.8, §4.2, §4.3, §4.4).
DOC_CLIENT_FRAMES = [
    """{
  "setup": {
    "model": "models/gemini-2.5-flash-native-audio-preview-12-2025",
    "generationConfig": {
      "responseModalities": ["AUDIO"],
      "temperature": 0.6,
      "topP": 0.95,
      "topK": 40,
      "maxOutputTokens": 2048,
      "seed": 11,
      "mediaResolution": "MEDIA_RESOLUTION_LOW",
      "speechConfig": {
        "voiceConfig": {"prebuiltVoiceConfig": {"voiceName": "Aoede"}},
        "languageCode": "en-US"
      },
      "thinkingConfig": {"thinkingBudget": 512, "includeThoughts": false},
      "enableAffectiveDialog": true
    },
    "systemInstruction": {"role": "user", "parts": [{"text": "You are a terse concierge."}]},
    "tools": [
      {"functionDeclarations": [{
        "name": "book_table",
        "description": "Reserve a table",
        "parameters": {"type": "OBJECT",
                       "properties": {"guests": {"type": "INTEGER"}},
                       "required": ["guests"]},
        "behavior": "NON_BLOCKING"}]},
      {"googleSearch": {}},
      {"codeExecution": {}}
    ],
    "realtimeInputConfig": {
      "automaticActivityDetection": {
        "disabled": false,
        "startOfSpeechSensitivity": "START_SENSITIVITY_LOW",
        "endOfSpeechSensitivity": "END_SENSITIVITY_LOW",
        "prefixPaddingMs": 40,
        "silenceDurationMs": 600
      },
      "activityHandling": "START_OF_ACTIVITY_INTERRUPTS",
      "turnCoverage": "TURN_INCLUDES_ONLY_ACTIVITY"
    },
    "sessionResumption": {"handle": "previous-handle-if-any"},
    "contextWindowCompression": {"triggerTokens": 25600, "slidingWindow": {"targetTokens": 12800}},
    "inputAudioTranscription": {},
    "outputAudioTranscription": {},
    "proactivity": {"proactiveAudio": true}
  }
}""",
    '{"setup": {"model": "models/X"}}',
    '{"setup": {"model": "projects/p/locations/l/publishers/google/models/X",'
    ' "generationConfig": {"responseModalities": ["AUDIO"]}}}',
    '{"setup": {"model": "models/X", "generationConfig": {"responseModalities": ["AUDIO"]},'
    ' "outputAudioTranscription": {}}}',
    """{"clientContent": {"turns": [{"role": "user", "parts": [{"text": "What's on my calendar?"}]}],
                   "turnComplete": true}}""",  # noqa: E501
    '{"clientContent": {"turnComplete": true}}',
    '{"client_content": {"turn_complete": true}}',
    # the document elides payloads as "AAD/..."; strict base64 needs real data in their place
    '{"realtimeInput": {"audio": {"mimeType": "audio/pcm;rate=16000", "data": "AAD/AAA="}}}',
    '{"realtimeInput": {"video": {"mimeType": "image/jpeg", "data": "/9j/4AAQ"}}}',
    '{"realtimeInput": {"text": "and make it vegetarian"}}',
    '{"realtimeInput": {"activityStart": {}}}',
    '{"realtimeInput": {"activityEnd": {}}}',
    '{"realtimeInput": {"audioStreamEnd": true}}',
    '{"realtimeInput": {"mediaChunks": [{"mimeType": "audio/pcm", "data": "AAAA"}]}}',
    """{"toolResponse": {"functionResponses": [
  {"id": "fc-7", "name": "book_table", "response": {"output": {"confirmation": "A12"}},
   "scheduling": "WHEN_IDLE", "willContinue": false}
]}}""",
]

# Server frames, copied from wire-protocol.md (§1.1, §5.2, §5.4-§5.8).
DOC_SERVER_FRAMES = [
    '{\n  "setupComplete": {}\n}\n',
    '{"setupComplete": {}}',
    '{"setupComplete": {"sessionId": "abc", "voiceConsentSignature": {"signature": "..."}}}',
    '{"toolCall": {"functionCalls": [{"id": "fc-7", "name": "book_table", "args": {"guests": 2}}]}}',  # noqa: E501
    '{"toolCallCancellation": {"ids": ["fc-7"]}}',
    '{"goAway": {"timeLeft": "50s"}}',
    '{"sessionResumptionUpdate": {"newHandle": "Cr8B...", "resumable": true,'
    ' "lastConsumedClientMessageIndex": "17"}}',
    '{"voiceActivityDetectionSignal": {"vadSignalType": "VAD_SIGNAL_TYPE_SOS"}}',
    '{"voiceActivity": {"type": "ACTIVITY_START", "audioOffset": "1.250s"}}',
    """{"serverContent": {"turnComplete": true},
 "usageMetadata": {"promptTokenCount": 412, "responseTokenCount": 96, "totalTokenCount": 508,
   "promptTokensDetails": [{"modality": "TEXT", "tokenCount": 380}, {"modality": "AUDIO", "tokenCount": 32}],
   "responseTokensDetails": [{"modality": "AUDIO", "tokenCount": 96}]}}""",  # noqa: E501
]


@pytest.mark.parametrize("frame", DOC_CLIENT_FRAMES)
def test_every_document_client_frame_decodes(frame: str) -> None:
    message = w.decode_client_frame(frame)
    (key,) = json.loads(frame)
    assert w.CLIENT_KEYS[w.to_camel(key)] is type(message)
    # and survives our own encoder unchanged
    assert roundtrip_client(message) == message


@pytest.mark.parametrize("frame", DOC_SERVER_FRAMES)
def test_every_document_server_frame_decodes(frame: str) -> None:
    events = w.decode_server_frame(frame.encode())
    assert [type(e) for e in events] == [w.SERVER_KEYS[k] for k in json.loads(frame)]
    assert all(e.unknown_fields() == {} for e in events)


def test_document_examples_decode_to_the_right_values() -> None:
    setup = w.decode_client_frame(DOC_CLIENT_FRAMES[0])
    assert isinstance(setup, ev.Setup)
    assert setup.session_resumption == cf.SessionResumptionConfig(handle="previous-handle-if-any")
    assert setup.tools is not None and setup.tools[1] == cf.Tool(google_search={})
    update = one(DOC_SERVER_FRAMES[6])
    assert update == ev.SessionResumptionUpdate(
        new_handle="Cr8B...", resumable=True, last_consumed_client_message_index=17
    )
    content, usage = w.decode_server_frame(DOC_SERVER_FRAMES[-1])
    assert content == ev.ServerContent(turn_complete=True)
    assert isinstance(usage, ev.UsageMetadata)
    assert (usage.prompt_token_count, usage.response_token_count, usage.total_token_count) == (
        412,
        96,
        508,
    )


# =========================================================================== server-side encoding


def test_server_events_encode_int64_as_string_and_durations_as_seconds() -> None:
    assert w.encode_server_event(
        ev.SessionResumptionUpdate(
            new_handle="h", resumable=True, last_consumed_client_message_index=123456789
        )
    ) == {
        "sessionResumptionUpdate": {
            "newHandle": "h",
            "resumable": True,
            "lastConsumedClientMessageIndex": "123456789",
        }
    }
    assert w.encode_server_event(ev.GoAway(time_left=timedelta(seconds=50))) == {
        "goAway": {"timeLeft": "50s"}
    }
    assert w.encode_server_event(
        ev.VoiceActivity(
            voice_activity_type="ACTIVITY_END", audio_offset=timedelta(milliseconds=1250)
        )
    ) == {"voiceActivity": {"type": "ACTIVITY_END", "audioOffset": "1.25s"}}


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(seconds=10), "10s"),
        (timedelta(seconds=1.5), "1.5s"),
        (timedelta(0), "0s"),
        (timedelta(microseconds=1), "0.000001s"),
        (timedelta(minutes=2), "120s"),
        (timedelta(seconds=-1.5), "-1.5s"),
    ],
)
def test_format_duration(delta: timedelta, text: str) -> None:
    assert w.format_duration(delta) == text
    assert w.parse_duration(text) == delta


def test_to_camel_and_wire_name() -> None:
    assert w.to_camel("response_token_count") == "responseTokenCount"
    assert w.to_camel("text") == "text"
    assert w.wire_name(ev.VoiceActivity, "voice_activity_type") == "type"
    assert w.wire_name(ev.VoiceActivity, "audio_offset") == "audioOffset"


def test_session_events_are_not_wire_messages() -> None:
    for event in (
        ev.UnknownServerMessage(key="x"),
        ev.MalformedFrame(error="e", preview="p"),
        ev.EventsDropped(count=1, audio_bytes=2),
    ):
        with pytest.raises(KeyError):
            w.encode_server_event(event)


# =========================================================================== reprs


def test_blob_repr_elides_bytes() -> None:
    pcm = b"SECRETPCM" * 100
    blob = c.Blob(mime_type="audio/pcm", data=pcm)
    assert repr(blob) == "Blob(mime_type='audio/pcm', data=<900 bytes>)"
    assert "SECRETPCM" not in repr(blob)


def test_server_content_repr_never_contains_audio() -> None:
    pcm = b"\x7fAUDIO-BYTES" * 50
    event = one(
        json.dumps(
            {
                "serverContent": {
                    "modelTurn": {
                        "parts": [
                            {
                                "inlineData": {
                                    "mimeType": "audio/pcm;rate=24000",
                                    "data": base64.b64encode(pcm).decode(),
                                }
                            },
                            {
                                "text": "hi",
                                "thoughtSignature": base64.b64encode(b"SIGBYTES").decode(),
                            },
                        ]
                    }
                }
            }
        )
    )
    text = repr(event)
    assert "AUDIO-BYTES" not in text and "SIGBYTES" not in text
    assert base64.b64encode(pcm).decode()[:20] not in text  # nor its base64 (raw is hidden)
    assert "<600 bytes>" in text and "<8 bytes>" in text
    assert "text='hi'" in text


def test_session_resumption_update_repr_hides_the_handle() -> None:
    event = one(
        '{"sessionResumptionUpdate": {"newHandle": "TOP-SECRET-HANDLE", "resumable": true}}'
    )
    assert "TOP-SECRET-HANDLE" not in repr(event)
    assert "TOP-SECRET-HANDLE" not in str(event)
    assert repr(event) == "SessionResumptionUpdate(resumable=True)"
    assert "TOP-SECRET-HANDLE" not in repr(
        ev.Setup(
            model="m", session_resumption=cf.SessionResumptionConfig(handle="TOP-SECRET-HANDLE")
        )
    )


def test_repr_leaves_out_unset_fields() -> None:
    assert repr(ev.ServerContent(turn_complete=True)) == "ServerContent(turn_complete=True)"
    assert repr(ev.SetupComplete()) == "SetupComplete()"


# =========================================================================== hypothesis

FAST = settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
json_objects = st.dictionaries(st.text(max_size=6), json_values, max_size=3)
texts = st.text(max_size=12)
ints = st.integers(-(2**31), 2**31 - 1)
floats = st.floats(allow_nan=False, allow_infinity=False)
booleans = st.booleans()
binaries = st.binary(max_size=48)
durations = st.timedeltas(min_value=timedelta(days=-1), max_value=timedelta(days=1))


def opt(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def tup(strategy: st.SearchStrategy[Any], size: int = 3) -> st.SearchStrategy[Any]:
    return st.lists(strategy, max_size=size).map(tuple)


def lenient(enum_cls: Any) -> st.SearchStrategy[Any]:
    return st.sampled_from(list(enum_cls)) | st.text(max_size=10)


blobs = st.builds(c.Blob, mime_type=texts, data=binaries)
function_calls = st.builds(c.FunctionCall, id=opt(texts), name=texts, args=opt(json_objects))
function_responses = st.builds(
    c.FunctionResponse,
    id=opt(texts),
    name=texts,
    response=opt(json_objects),
    scheduling=opt(lenient(c.FunctionResponseScheduling)),
    will_continue=opt(booleans),
)
parts = st.builds(
    c.Part,
    text=opt(texts),
    inline_data=opt(blobs),
    file_data=opt(st.builds(c.FileData, mime_type=opt(texts), file_uri=texts)),
    function_call=opt(function_calls),
    function_response=opt(function_responses),
    executable_code=opt(st.builds(c.ExecutableCode, language=opt(texts), code=opt(texts))),
    code_execution_result=opt(
        st.builds(c.CodeExecutionResult, outcome=opt(texts), output=opt(texts))
    ),
    thought=opt(booleans),
    thought_signature=opt(binaries),
)
contents = st.builds(c.Content, role=opt(st.sampled_from(["user", "model"])), parts=opt(tup(parts)))
transcriptions = st.builds(
    c.Transcription,
    text=opt(texts),
    finished=opt(booleans),
    language_code=opt(texts),
    speaker_label=opt(texts),
)
token_counts = st.builds(
    c.ModalityTokenCount, modality=opt(lenient(c.Modality)), token_count=opt(ints)
)
counts = opt(st.integers(0, 2**31 - 1))

server_events = st.one_of(
    st.builds(
        ev.SetupComplete,
        session_id=opt(texts),
        voice_consent_signature=opt(st.builds(cf.VoiceConsentSignature, signature=texts)),
    ),
    st.builds(
        ev.ServerContent,
        model_turn=opt(contents),
        generation_complete=opt(booleans),
        turn_complete=opt(booleans),
        interrupted=opt(booleans),
        grounding_metadata=opt(json_objects),
        url_context_metadata=opt(json_objects),
        input_transcription=opt(transcriptions),
        output_transcription=opt(transcriptions),
        interim_input_transcription=opt(transcriptions),
        turn_complete_reason=opt(lenient(ev.TurnCompleteReason)),
        waiting_for_input=opt(booleans),
        interaction_status=opt(lenient(ev.InteractionStatus)),
    ),
    st.builds(ev.ToolCall, function_calls=tup(function_calls)),
    st.builds(ev.ToolCallCancellation, ids=tup(texts)),
    st.builds(ev.GoAway, time_left=opt(durations)),
    st.builds(
        ev.SessionResumptionUpdate,
        new_handle=opt(texts),
        resumable=opt(booleans),
        last_consumed_client_message_index=opt(st.integers(0, 2**63 - 1)),
    ),
    st.builds(ev.VoiceActivityDetectionSignal, vad_signal_type=opt(lenient(ev.VadSignalType))),
    st.builds(
        ev.VoiceActivity,
        voice_activity_type=opt(lenient(ev.VoiceActivityType)),
        audio_offset=opt(durations),
    ),
    st.builds(
        ev.UsageMetadata,
        prompt_token_count=counts,
        cached_content_token_count=counts,
        response_token_count=counts,
        tool_use_prompt_token_count=counts,
        thoughts_token_count=counts,
        total_token_count=counts,
        prompt_tokens_details=opt(tup(token_counts)),
        cache_tokens_details=opt(tup(token_counts)),
        response_tokens_details=opt(tup(token_counts)),
        tool_use_prompt_tokens_details=opt(tup(token_counts)),
        service_tier=opt(texts),
        traffic_type=opt(texts),
    ),
)

speech_configs = st.builds(
    cf.SpeechConfig,
    voice_config=opt(
        st.builds(
            cf.VoiceConfig,
            prebuilt_voice_config=opt(st.builds(cf.PrebuiltVoiceConfig, voice_name=texts)),
            replicated_voice_config=opt(
                st.builds(
                    cf.ReplicatedVoiceConfig,
                    mime_type=opt(texts),
                    voice_sample_audio=opt(binaries),
                    consent_audio=opt(binaries),
                    voice_consent_signature=opt(
                        st.builds(cf.VoiceConsentSignature, signature=texts)
                    ),
                )
            ),
        )
    ),
    language_code=opt(texts),
)
generation_configs = st.builds(
    cf.GenerationConfig,
    response_modalities=opt(tup(lenient(c.Modality), 2)),
    temperature=opt(floats),
    top_p=opt(floats),
    top_k=opt(ints),
    max_output_tokens=opt(ints),
    seed=opt(ints),
    candidate_count=opt(ints),
    presence_penalty=opt(floats),
    frequency_penalty=opt(floats),
    media_resolution=opt(lenient(cf.MediaResolution)),
    speech_config=opt(speech_configs),
    thinking_config=opt(
        st.builds(
            cf.ThinkingConfig,
            thinking_budget=opt(ints),
            thinking_level=opt(lenient(cf.ThinkingLevel)),
            include_thoughts=opt(booleans),
        )
    ),
    enable_affective_dialog=opt(booleans),
    translation_config=opt(
        st.builds(
            cf.TranslationConfig,
            target_language_code=opt(texts),
            echo_target_language=opt(booleans),
        )
    ),
)
function_declarations = st.builds(
    cf.FunctionDeclaration,
    name=texts,
    description=opt(texts),
    parameters=opt(json_objects),
    parameters_json_schema=opt(json_objects),
    response=opt(json_objects),
    response_json_schema=opt(json_objects),
    behavior=opt(lenient(cf.Behavior)),
)
tools = st.builds(
    cf.Tool,
    function_declarations=opt(tup(function_declarations, 2)),
    google_search=opt(json_objects),
    code_execution=opt(json_objects),
    url_context=opt(json_objects),
    google_maps=opt(json_objects),
    google_search_retrieval=opt(json_objects),
    computer_use=opt(json_objects),
    file_search=opt(json_objects),
    mcp_servers=opt(tup(json_objects, 2)),
    retrieval=opt(json_objects),
    enterprise_web_search=opt(json_objects),
)
setups = st.builds(
    ev.Setup,
    model=texts,
    generation_config=opt(generation_configs),
    system_instruction=opt(contents),
    tools=opt(tup(tools, 2)),
    realtime_input_config=opt(
        st.builds(
            cf.RealtimeInputConfig,
            automatic_activity_detection=opt(
                st.builds(
                    cf.AutomaticActivityDetection,
                    disabled=opt(booleans),
                    start_of_speech_sensitivity=opt(lenient(cf.StartSensitivity)),
                    end_of_speech_sensitivity=opt(lenient(cf.EndSensitivity)),
                    prefix_padding_ms=opt(ints),
                    silence_duration_ms=opt(ints),
                )
            ),
            activity_handling=opt(lenient(cf.ActivityHandling)),
            turn_coverage=opt(lenient(cf.TurnCoverage)),
        )
    ),
    session_resumption=opt(
        st.builds(cf.SessionResumptionConfig, handle=opt(texts), transparent=opt(booleans))
    ),
    context_window_compression=opt(
        st.builds(
            cf.ContextWindowCompressionConfig,
            trigger_tokens=opt(ints),
            sliding_window=opt(st.builds(cf.SlidingWindow, target_tokens=opt(ints))),
        )
    ),
    input_audio_transcription=opt(
        st.builds(cf.AudioTranscriptionConfig, language_codes=opt(tup(texts, 2)))
    ),
    output_audio_transcription=opt(
        st.builds(cf.AudioTranscriptionConfig, language_codes=opt(tup(texts, 2)))
    ),
    proactivity=opt(st.builds(cf.ProactivityConfig, proactive_audio=opt(booleans))),
    explicit_vad_signal=opt(booleans),
    history_config=opt(
        st.builds(cf.HistoryConfig, initial_history_in_client_content=opt(booleans))
    ),
    safety_settings=opt(tup(st.builds(cf.SafetySetting, category=texts, threshold=texts), 2)),
    avatar_config=opt(json_objects),
)
client_messages = st.one_of(
    setups,
    st.builds(ev.ClientContent, turns=opt(tup(contents, 2)), turn_complete=opt(booleans)),
    st.builds(
        ev.RealtimeInput,
        audio=opt(blobs),
        video=opt(blobs),
        text=opt(texts),
        activity_start=opt(st.just(ev.ActivityStart())),
        activity_end=opt(st.just(ev.ActivityEnd())),
        audio_stream_end=opt(booleans),
        media_chunks=opt(tup(blobs)),
    ),
    st.builds(ev.ToolResponse, function_responses=tup(function_responses)),
)


@FAST
@given(event=server_events)
def test_server_event_round_trip(event: ev.ServerEvent) -> None:
    frame = w.dumps(w.encode_server_event(event))
    assert w.decode_server_frame(frame) == [event]
    assert w.decode_server_frame(frame.encode()) == [event]


@FAST
@given(event=server_events)
def test_server_event_round_trip_vertex_spelling(event: ev.ServerEvent) -> None:
    frame = w.encode_server_event(event, vertex=True)
    if isinstance(event, ev.UsageMetadata):
        assert "responseTokenCount" not in frame["usageMetadata"]
        assert "responseTokensDetails" not in frame["usageMetadata"]
    assert w.decode_server_frame(w.dumps(frame)) == [event]


@FAST
@given(events=st.lists(server_events, min_size=1, max_size=4, unique_by=type))
def test_server_frame_with_several_events_round_trips_in_order(events: list[Any]) -> None:
    server = LiveProtocol(Role.SERVER)
    frame = server.send_frame(events)
    assert isinstance(frame, bytes)
    assert LiveProtocol(Role.CLIENT).receive(frame) == events


@FAST
@given(message=client_messages)
def test_client_message_round_trip(message: ev.ClientMessage) -> None:
    assert roundtrip_client(message) == message


def _assert_canonical(cls: type, body: dict[str, Any]) -> None:
    """Every key is the camelCase wire name and no value is null, down through nested classes
    (free-form JSON fields such as ``args`` are the user's and are not checked)."""
    schema = w._schema(cls)
    for key, value in body.items():
        camel, nested, is_seq = schema[key]
        assert key == camel
        assert value is not None
        if nested is not None:
            for item in value if is_seq else [value]:
                _assert_canonical(nested, item)


@FAST
@given(message=client_messages)
def test_client_message_encoding_is_canonical(message: ev.ClientMessage) -> None:
    ((key, body),) = w.encode_client_message(message).items()
    _assert_canonical(w.CLIENT_KEYS[key], body)


# ---------------------------------------------------------------- fuzzing the decoders


def _paths(obj: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(obj, dict):
        for key, value in obj.items():
            found += _paths(value, (*prefix, key))
    elif isinstance(obj, list):
        for index, value in enumerate(obj):
            found += _paths(value, (*prefix, index))
    return found


def _replace(obj: Any, path: tuple[Any, ...], new: Any, *, delete: bool = False) -> Any:
    if not path:
        return new
    obj = copy.deepcopy(obj)
    target = obj
    for step in path[:-1]:
        target = target[step]
    if delete:
        del target[path[-1]]
    else:
        target[path[-1]] = new
    return obj


def _client_receives(frame: str | bytes) -> None:
    try:
        events = LiveProtocol(Role.CLIENT).receive(frame)
    except FrameDecodeError:
        return
    assert isinstance(events, list)
    assert all(isinstance(e, ev.ServerEvent) for e in events)


def _server_receives(frame: str | bytes) -> None:
    server = LiveProtocol(Role.SERVER)
    server.receive('{"setup": {"model": "models/m"}}')
    try:
        messages = server.receive(frame)
    except ProtocolError as exc:
        assert exc.close_code == 1007
        return
    assert len(messages) == 1 and isinstance(messages[0], ev.ClientMessage)


@FAST
@given(value=json_values)
def test_fuzz_client_role_arbitrary_json(value: Any) -> None:
    _client_receives(json.dumps(value))
    _client_receives(json.dumps({"serverContent": value, "toolCall": value}).encode())


@FAST
@given(data=st.binary(max_size=200) | st.text(max_size=100))
def test_fuzz_client_role_arbitrary_bytes(data: bytes | str) -> None:
    _client_receives(data)


@FAST
@given(event=server_events, data=st.data())
def test_fuzz_client_role_truncated_and_mutated_frames(event: Any, data: st.DataObject) -> None:
    frame = w.encode_server_event(event)
    raw = w.dumps(frame).encode()
    _client_receives(raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")])
    path = data.draw(st.sampled_from(_paths(frame)), label="path")
    _client_receives(json.dumps(_replace(frame, path, data.draw(json_values, label="new"))))
    if path:
        _client_receives(json.dumps(_replace(frame, path, None, delete=True)))


@FAST
@given(value=json_values)
def test_fuzz_server_role_arbitrary_json(value: Any) -> None:
    _server_receives(json.dumps(value))
    for key in ("setup", "clientContent", "realtime_input", "toolResponse"):
        _server_receives(json.dumps({key: value}))


@FAST
@given(data=st.binary(max_size=200) | st.text(max_size=100))
def test_fuzz_server_role_arbitrary_bytes(data: bytes | str) -> None:
    _server_receives(data)


@FAST
@given(message=client_messages, data=st.data())
def test_fuzz_server_role_truncated_and_mutated_frames(message: Any, data: st.DataObject) -> None:
    frame = w.encode_client_message(message)
    raw = w.dumps(frame)
    _server_receives(raw[: data.draw(st.integers(0, len(raw) - 1), label="cut")])
    path = data.draw(st.sampled_from(_paths(frame)), label="path")
    _server_receives(json.dumps(_replace(frame, path, data.draw(json_values, label="new"))))
    if path:
        _server_receives(json.dumps(_replace(frame, path, None, delete=True)))


_AUDIO_PART = {"inlineData": {"mimeType": "audio/pcm;rate=24000", "data": "AAECAw=="}}
_TEXT_PART = {"text": "Hello"}


@pytest.mark.parametrize(
    ("content", "fast"),
    [
        ({"modelTurn": {"parts": [_AUDIO_PART]}}, True),
        ({"modelTurn": {"role": "model", "parts": [_AUDIO_PART]}}, True),  # as the service
        ({"modelTurn": {"parts": [_AUDIO_PART, _TEXT_PART], "role": "model"}}, True),
        ({"modelTurn": {"role": "model", "parts": [_TEXT_PART]}}, True),
        ({"turnComplete": True}, True),
        ({"generationComplete": True}, True),
        ({"interrupted": True}, True),
        ({"modelTurn": {"parts": [_TEXT_PART]}, "turnComplete": True}, True),
        ({"turnComplete": False, "generationComplete": True, "interrupted": False}, True),
        ({}, False),
        ({"turnComplete": "yes"}, False),
        ({"turnComplete": True, "turnCompleteReason": "x"}, False),
        ({"turnComplete": True, "brandNew": 1}, False),
        ({"modelTurn": {"role": None, "parts": [_AUDIO_PART]}}, False),
        ({"modelTurn": {"role": 7, "parts": [_AUDIO_PART]}}, False),
        ({"modelTurn": {"role": "model", "parts": [_AUDIO_PART], "extra": 1}}, False),
        ({"modelTurn": {"parts": [{"text": "hi", "thought": True}]}}, False),
        ({"modelTurn": {"parts": [{"text": 5}]}}, False),
        ({"modelTurn": {"parts": [{"functionCall": {"name": "f"}}]}}, False),
        ({"modelTurn": {"parts": [{"inlineData": {"data": "AAAA"}}]}}, False),
        ({"modelTurn": {"parts": [{"inlineData": {"mimeType": "a", "data": "!!"}}]}}, False),
        ({"modelTurn": {"role": "model", "parts": []}}, False),
        ({"modelTurn": None, "turnComplete": True}, False),
    ],
)
def test_the_fast_path_gives_the_generic_result(
    content: dict[str, Any], fast: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    frame = json.dumps({"serverContent": content})
    try:
        fast_event = w._fast_server_content(copy.deepcopy(content))
    except w.WireError:
        fast_event = None  # bad base64: an error either way
    assert (fast_event is not None) is fast
    try:
        event: Any = one(frame)
    except w.WireError:
        event = None
    with monkeypatch.context() as patch:
        patch.setattr(w, "_fast_server_content", lambda value: None)
        try:
            generic: Any = one(frame)
        except w.WireError:  # the generic path rejects it: so must the fast one
            assert event is None
            return
    assert event == generic
    # only the fast path leaves raw empty (it has nothing unknown to keep)
    assert (event.raw is None) is fast


@pytest.mark.parametrize(
    "mime", ["audio/pcm;rate=16000", "audio/pcm;rate=8000", 'odd "quoted"\\mime\u00e9\n']
)
@pytest.mark.parametrize("data", [b"", b"\x00\x01\xff" * 7, bytes(range(256))])
def test_the_spelled_out_audio_frame_is_the_generic_json(mime: str, data: bytes) -> None:
    message = ev.RealtimeInput(audio=c.Blob(mime_type=mime, data=data))
    frame = w.encode_client_frame(message)
    assert frame == w.dumps(w.encode_client_message(message))
    assert json.loads(frame) == {
        "realtimeInput": {"audio": {"mimeType": mime, "data": base64.b64encode(data).decode()}}
    }
    # the strict server side reads it back as the same message
    assert w.decode_client_frame(frame) == message


def test_realtime_input_with_more_than_audio_takes_the_generic_encoding() -> None:
    blob = c.Blob(mime_type="audio/pcm;rate=16000", data=b"\x01\x02")
    message = ev.RealtimeInput(audio=blob, text="and text")
    assert json.loads(w.encode_client_frame(message)) == {
        "realtimeInput": {"audio": {"mimeType": blob.mime_type, "data": "AQI="}, "text": "and text"}
    }


@pytest.mark.parametrize(
    "data",
    [
        b'{"a":1}',
        '{"a":"\u00e9"}',
        b' {"a":1}',
        b'{"a":1}  \n',
        b'\xef\xbb\xbf{"a":1}',  # UTF-8 BOM
        '{"a":1}'.encode("utf-16"),
        '{"a":1}'.encode("utf-32-le"),
        b'{"a":1} x',
        '{"a":1}\u00a0',  # not JSON whitespace
        b'{"a":',
        b"",
        b"\xff",
        b"NaN",
        b"[1,2]",
        b'"s"',
        b'{"a": "\\ud800"}',
        b'{"a": 1, "a": 2}',
    ],
)
def test_stdlib_loads_is_json_loads(data: str | bytes) -> None:
    """The shortcut past ``json.loads``'s overhead gives its results and its errors."""
    try:
        expected: Any = ("ok", json.loads(data))
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError
        expected = ("error", type(exc), str(exc))
    try:
        got: Any = ("ok", w._stdlib_loads(data))
    except ValueError as exc:
        got = ("error", type(exc), str(exc))
    if expected[0] == "ok" and expected[1] != expected[1]:  # NaN
        assert got[0] == "ok" and got[1] != got[1]
    else:
        assert got == expected
