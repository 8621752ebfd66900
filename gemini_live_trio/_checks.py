"""Checks before connecting: configurations the server would refuse with an opaque close.

Each check raises :class:`ConfigError` with a message that says what to change, before any
socket opens (wire-protocol.md §3.2, §3.6, §4.5, §7). Model-specific rules apply to models the
registry knows (:mod:`._models`); an unknown model is given the benefit of the doubt.

Rules:

* the API version exists on the backend (Gemini API: v1alpha, v1beta; Vertex AI: v1, v1beta1);
* exactly one response modality, and one the model can answer in;
* affective dialog and proactive audio: native-audio models only, and v1alpha on the Gemini API
  (v1beta closes with 1007 "Unknown name");
* Vertex-only fields refused on the Gemini API (``session_resumption.transparent``,
  ``explicit_vad_signal``, the ``retrieval`` and ``enterprise_web_search`` tools), Gemini-only
  ones refused on Vertex AI (``translation_config``, the ``file_search`` tool);
* NON_BLOCKING functions on a model without async function calls (Gemini 3.1 Flash Live).

:func:`check_client_content` is the send-time rule for ``clientContent`` on realtime-text
models.
"""

from collections.abc import Sequence

from ._auth import GEMINI_API_VERSIONS, VERTEX_API_VERSIONS
from ._config import Behavior, LiveConfig, Tool
from ._exceptions import ConfigError, UsageError
from ._models import ModelInfo, TextInput, model_info, normalise_model_name

_TRANSCRIBE = "output_audio_transcription=AudioTranscriptionConfig()"


def check_config(
    model: str,
    config: LiveConfig,
    *,
    api_version: str,
    vertex: bool,
    tools: Sequence[Tool] = (),
) -> None:
    """Problems the server would answer with an opaque close, caught before connecting.

    ``api_version`` is the version actually in the URL (``Endpoint.api_version``); ``tools``
    are the setup's tools (``config.tools`` plus the session's ``tools=``, as declarations).
    """
    backend = "Vertex AI" if vertex else "the Gemini API"
    versions = VERTEX_API_VERSIONS if vertex else GEMINI_API_VERSIONS
    if api_version not in versions:
        hint = (
            " (a Gemini API version: Vertex AI uses v1 or v1beta1)"
            if api_version in GEMINI_API_VERSIONS
            else " (a Vertex AI version: use auth=VertexAI(...) for Vertex)"
            if api_version in VERTEX_API_VERSIONS
            else ""
        )
        raise ConfigError(
            f"api_version must be {' or '.join(repr(v) for v in versions)} on {backend}, "
            f"got {api_version!r}{hint}"
        )
    name = normalise_model_name(model)
    info = model_info(model)
    _check_modality(name, info, config)
    _check_native_audio_extras(name, info, config, api_version=api_version, vertex=vertex)
    _check_backend_fields(config, [*(config.tools or ()), *tools], vertex=vertex)
    if info is not None and not info.non_blocking_tools:
        for tool in [*(config.tools or ()), *tools]:
            for declaration in getattr(tool, "function_declarations", None) or ():
                if str(declaration.behavior or "") == Behavior.NON_BLOCKING:
                    raise ConfigError(
                        f"{name} has no asynchronous function calls: declare "
                        f"{declaration.name!r} without behavior=NON_BLOCKING"
                    )


def _check_modality(name: str, info: ModelInfo | None, config: LiveConfig) -> None:
    modalities = config.response_modalities
    if modalities is None:
        return
    wanted = [str(getattr(m, "value", m)).upper() for m in modalities]
    if len(wanted) != 1:
        raise ConfigError(
            f"a Live session has exactly one response modality, got {wanted}; "
            f"use ['AUDIO'] with {_TRANSCRIBE} for a text UX"
        )
    allowed = info.response_modalities if info is not None else None
    if allowed is not None and wanted[0] not in allowed:
        only = ", ".join(sorted(allowed))
        fix = (
            f"use response_modalities=['AUDIO'] with {_TRANSCRIBE} to get the words as text"
            if wanted[0] == "TEXT" and "AUDIO" in allowed
            else f"use response_modalities={sorted(allowed)[:1]}"
        )
        raise ConfigError(
            f"{name} answers in {only} only, not {wanted[0]} (the server would close with "
            f"1011 'Internal error'); {fix}, or pick a model that answers in {wanted[0]} "
            "(resolve_model)"
        )


def _check_native_audio_extras(
    name: str, info: ModelInfo | None, config: LiveConfig, *, api_version: str, vertex: bool
) -> None:
    used = []
    if config.enable_affective_dialog:
        used.append("enable_affective_dialog")
    if config.proactivity is not None and config.proactivity.proactive_audio:
        used.append("proactivity.proactive_audio")
    if not used:
        return
    what = " and ".join(used)
    if info is not None and not info.native_audio_extras:
        raise ConfigError(
            f"{name} does not support {what}; use a native-audio 2.5 model "
            "(e.g. gemini-2.5-flash-native-audio-preview-12-2025) or leave it unset"
        )
    if not vertex and api_version != "v1alpha":
        raise ConfigError(
            f"{what} needs api_version='v1alpha' on the Gemini API ({api_version} closes "
            "with 1007 'Unknown name')"
        )


def _check_backend_fields(config: LiveConfig, tools: Sequence[Tool], *, vertex: bool) -> None:
    if vertex:
        if config.translation_config is not None:
            raise ConfigError("translation_config is Gemini API only; remove it for Vertex AI")
        if any(getattr(t, "file_search", None) is not None for t in tools):
            raise ConfigError("the file_search tool is Gemini API only; remove it for Vertex AI")
        return
    resumption = config.session_resumption
    if resumption is not None and resumption.transparent:
        raise ConfigError(
            "session_resumption.transparent is Vertex AI only; remove it for the Gemini API "
            "(the session replays unconfirmed messages on its own)"
        )
    if config.explicit_vad_signal:
        raise ConfigError("explicit_vad_signal is Vertex AI only; remove it for the Gemini API")
    for field in ("retrieval", "enterprise_web_search"):
        if any(getattr(t, field, None) is not None for t in tools):
            raise ConfigError(f"the {field} tool is Vertex AI only; remove it for the Gemini API")


def check_client_content(model: str, config: LiveConfig, *, seeding: bool) -> None:
    """Raise :class:`UsageError` when ``clientContent`` is the wrong message for ``model`` now.

    Realtime-text models (Gemini 3.1 Flash Live) take text as ``realtimeInput.text``; they
    accept ``clientContent`` only to seed the initial history, which needs
    ``history_config=HistoryConfig(initial_history_in_client_content=True)`` and happens before
    the first complete turn (``seeding``). Later ``clientContent`` has been closed with 1007
    (wire-protocol.md §4.2, §7.3).
    """
    info = model_info(model)
    if info is None or info.text_input is not TextInput.REALTIME_INPUT:
        return
    history = config.history_config
    if history is not None and history.initial_history_in_client_content and seeding:
        return
    name = normalise_model_name(model)
    if history is None or not history.initial_history_in_client_content:
        raise UsageError(
            f"{name} takes text as realtimeInput.text (use send_text); to seed the initial "
            "history with clientContent, set history_config=HistoryConfig("
            "initial_history_in_client_content=True)"
        )
    raise UsageError(
        f"{name} takes clientContent only as the initial history, before the first "
        "complete turn; send later text with send_text"
    )
