"""Live tests against the real services: excluded by default, skipped without credentials.

These are the only tests that leave 127.0.0.1. They run only when selected by marker **and**
the conftest network guard is switched off (it also strips credentials from the environment
otherwise)::

    GEMINI_LIVE_TRIO_ALLOW_NETWORK=1 GEMINI_API_KEY=... \\
        python -m pytest -m live_gemini tests/test_live.py

    GEMINI_LIVE_TRIO_ALLOW_NETWORK=1 GOOGLE_CLOUD_PROJECT=my-proj \\
        [GOOGLE_CLOUD_LOCATION=us-central1] [GEMINI_LIVE_VERTEX_MODEL=...] \\
        python -m pytest -m live_vertex_ai tests/test_live.py

Vertex AI uses Application Default Credentials (``gcloud auth application-default login`` or
``GOOGLE_APPLICATION_CREDENTIALS``). Each test keeps to one short turn to spend little quota.
Model availability changes per key and project: the Gemini tests pick their model with
``resolve_model`` first.
"""

import os
from typing import Any

import pytest
import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    GeminiLiveError,
    LiveConfig,
    ServerContent,
    open_live_session,
)
from gemini_live_trio._auth import VertexAI
from gemini_live_trio._rest import (
    LiveConstraints,
    create_ephemeral_token,
    list_live_models,
    resolve_model,
)

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    system_instruction="Answer in at most five words.",
)
NETWORK = os.environ.get("GEMINI_LIVE_TRIO_ALLOW_NETWORK") == "1"
HAS_KEY = bool(os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"))
needs_gemini = pytest.mark.skipif(
    not (NETWORK and HAS_KEY), reason="needs GEMINI_LIVE_TRIO_ALLOW_NETWORK=1 and GEMINI_API_KEY"
)
needs_vertex = pytest.mark.skipif(
    not (NETWORK and os.environ.get("GOOGLE_CLOUD_PROJECT")),
    reason="needs GEMINI_LIVE_TRIO_ALLOW_NETWORK=1, GOOGLE_CLOUD_PROJECT and ADC",
)


def gemini_key() -> str:
    key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
    if not NETWORK or not key:
        pytest.skip("needs GEMINI_LIVE_TRIO_ALLOW_NETWORK=1 and GEMINI_API_KEY")
    return key


async def one_turn(session: Any) -> str:
    """Send one text turn; the transcription of the spoken answer."""
    await session.send_text("Say hello.")
    words: list[str] = []
    with trio.fail_after(60):
        async for event in session.events:
            if isinstance(event, ServerContent):
                words.append(event.output_transcription_text or event.text or "")
                if event.turn_complete:
                    break
    return "".join(words)


@pytest.mark.live_gemini
@needs_gemini
async def test_gemini_models_resolver_and_one_turn() -> None:
    key = gemini_key()
    live = await list_live_models(api_key=key)
    assert live and all(m.live for m in live)
    model = await resolve_model("audio", api_key=key, strict=True)
    assert model in {m.name for m in live}
    async with open_live_session(model, config=CONFIG, api_key=key) as session:
        assert await one_turn(session)


@pytest.mark.live_gemini
@needs_gemini
async def test_gemini_ephemeral_token_single_use() -> None:
    key = gemini_key()
    model = await resolve_model("audio", api_key=key, strict=True)
    token = await create_ephemeral_token(
        api_key=key, uses=1, constraints=LiveConstraints(model=model, config=CONFIG)
    )
    assert token.name.reveal().startswith("auth_tokens/")
    async with open_live_session(model, auth=token.auth(), api_version="v1alpha") as session:
        assert await one_turn(session)
    with pytest.raises(GeminiLiveError) as info:
        async with open_live_session(model, auth=token.auth(), api_version="v1alpha"):
            pass
    assert token.name.reveal() not in str(info.value)


@pytest.mark.live_vertex_ai
@needs_vertex
async def test_vertex_ai_adc_one_turn() -> None:
    project = os.environ.get("GOOGLE_CLOUD_PROJECT")
    if not NETWORK or not project:
        pytest.skip("needs GEMINI_LIVE_TRIO_ALLOW_NETWORK=1, GOOGLE_CLOUD_PROJECT and ADC")
    location = os.environ.get("GOOGLE_CLOUD_LOCATION", "us-central1")
    auth = VertexAI(project=project, location=location)
    try:
        await auth.access_token()
    except GeminiLiveError as exc:
        pytest.skip(f"no usable Application Default Credentials: {exc}")
    model = os.environ.get("GEMINI_LIVE_VERTEX_MODEL") or await resolve_model("audio", auth=auth)
    async with open_live_session(model, config=CONFIG, auth=auth, api_version="v1beta1") as session:
        assert await one_turn(session)
