"""Checks before connecting: configurations the server would refuse with an opaque close.

Each check raises :class:`ConfigError` with a message that says what to change, before any
socket opens (wire-protocol.md §4.5, §7).
"""

from ._config import LiveConfig
from ._exceptions import ConfigError


def check_config(model: str, config: LiveConfig, *, api_version: str, vertex: bool) -> None:
    """Problems the server would answer with an opaque close, caught before connecting."""
    modalities = config.response_modalities
    if modalities is not None and len(modalities) != 1:
        raise ConfigError(
            f"a Live session has exactly one response modality, got {list(modalities)}; "
            "use AUDIO with output_audio_transcription for text UX"
        )
    if api_version not in ("v1alpha", "v1beta"):
        raise ConfigError(f"api_version must be 'v1alpha' or 'v1beta', got {api_version!r}")
    if config.session_resumption and config.session_resumption.transparent and not vertex:
        raise ConfigError("session_resumption.transparent is Vertex AI only")
    if config.explicit_vad_signal and not vertex:
        raise ConfigError("explicit_vad_signal is Vertex AI only")
