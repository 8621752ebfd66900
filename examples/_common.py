"""What every example shares: pick the real API or the in-process emulator, print events."""

import functools
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from gemini_live_trio import DEFAULT_MODEL, ServerContent
from gemini_live_trio.testing import serve_emulator

MODEL = os.environ.get("GEMINI_LIVE_MODEL", DEFAULT_MODEL)


@asynccontextmanager
async def connection(**emulator_options: Any) -> AsyncIterator[dict[str, Any]]:
    """Keyword arguments for ``open_live_session``: the real API with a key, else the emulator."""
    if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"):
        print("[using the Gemini API: GEMINI_API_KEY is set]", file=sys.stderr)
        yield {}
        return
    print(
        "[no GEMINI_API_KEY: running against the bundled emulator on 127.0.0.1 (offline); "
        "set GEMINI_API_KEY to talk to Gemini]",
        file=sys.stderr,
    )
    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(functools.partial(serve_emulator, **emulator_options))
        yield {"api_key": emulator.api_key, "base_url": emulator.base_url}
        nursery.cancel_scope.cancel()


def show(event: ServerContent, *, prefix: str = "") -> None:
    """Print the text a ServerContent carries as it streams in."""
    text = event.output_transcription_text or event.text
    if text:
        print(text, end="" if text.endswith(" ") else " ", flush=True)
    if event.input_transcription_text:
        print(f"\n{prefix}(you said: {event.input_transcription_text})", flush=True)
