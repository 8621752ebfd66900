"""The public surface: every name in ``__all__`` is pinned, importable and documented."""

import inspect

import gemini_live_trio
import gemini_live_trio.testing

PUBLIC = {
    "DEFAULT_MODEL", "REGISTRY", "ActivityEnd", "ActivityHandling", "ActivityStart", "ApiKey",
    "AudioTranscriptionConfig", "AuthToken", "AutomaticActivityDetection", "Behavior", "Blob",
    "ClientContent", "ClientMessage", "CodeExecutionResult", "ConfigError", "ConnectError",
    "ConnectTimeout", "ConnectionLost", "Content", "ContextWindowCompressionConfig",
    "EndSensitivity", "EphemeralToken", "EventsDropped", "ExecutableCode", "FileData",
    "FrameDecodeError", "FunctionCall", "FunctionDeclaration", "FunctionResponse",
    "FunctionResponseScheduling", "GeminiLiveError", "GenerationConfig", "GoAway",
    "HandshakeRejected", "HistoryConfig", "HttpxAuthRequest", "InteractionStatus",
    "InternalError", "InvalidArgument", "ListedModel", "LiveConfig", "LiveConstraints",
    "LiveProtocol", "LiveSession", "LiveTool", "MalformedFrame", "MediaResolution", "Modality",
    "ModalityTokenCount", "ModelInfo", "Part", "PolicyViolation", "PrebuiltVoiceConfig",
    "ProactivityConfig", "ProtocolError", "QuotaExceeded", "RealtimeInput",
    "RealtimeInputConfig", "ReconnectPolicy", "Reconnected", "Reconnecting", "Recording",
    "ReplicatedVoiceConfig", "RestError", "RetryAdvice", "Role", "SafetySetting", "Secret",
    "SendFailed", "ServerContent", "ServerEvent", "SessionClosed", "SessionOptions",
    "SessionResumptionConfig", "SessionResumptionUpdate", "SessionStats", "Setup",
    "SetupComplete", "SetupTimeout", "SlidingWindow", "SlowConsumer", "SpeechConfig",
    "StartSensitivity", "State", "TextInput", "ThinkingConfig", "ThinkingLevel", "Tool",
    "ToolCall", "ToolCallCancellation", "ToolCallFinished", "ToolResponse", "ToolResult",
    "Transcription", "TranslationConfig", "TurnCompleteReason", "TurnCoverage", "TurnMetrics",
    "UnknownServerMessage", "Usage", "UsageError", "UsageMetadata", "VadSignalType",
    "VertexAI", "VoiceActivity", "VoiceActivityDetectionSignal", "VoiceActivityType",
    "VoiceConfig", "VoiceConsentSignature", "__version__", "backoff", "connect_live_session",
    "create_ephemeral_token", "list_live_models", "list_models", "model_info",
    "open_live_session", "read_recording", "resolve_model", "tool",
}  # fmt: skip


def test_all_is_pinned() -> None:
    assert set(gemini_live_trio.__all__) == PUBLIC
    assert len(gemini_live_trio.__all__) == len(PUBLIC)


def test_every_public_name_is_documented() -> None:
    for module in (gemini_live_trio, gemini_live_trio.testing):
        for name in module.__all__:
            value = getattr(module, name)
            if inspect.isclass(value) or inspect.isfunction(value):
                assert inspect.getdoc(value), f"{module.__name__}.{name} has no docstring"


def test_private_modules_are_not_exported() -> None:
    assert not any(name.startswith("_") and name != "__version__" for name in PUBLIC)
    assert "testing" not in gemini_live_trio.__all__  # opt-in, never imported by the root


def test_the_root_package_does_not_import_the_emulator() -> None:
    import subprocess
    import sys

    code = "import sys, gemini_live_trio; print('gemini_live_trio.testing' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
