"""What every example shares: pick the real API or the in-process emulator, print events."""

import functools
import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import trio

from gemini_live_trio import DEFAULT_MODEL, LiveSession, ServerContent
from gemini_live_trio.testing import serve_emulator

MODEL = os.environ.get("GEMINI_LIVE_MODEL", DEFAULT_MODEL)


def gemini_key() -> str | None:
    """The key for the real API, if the environment has one (the library reads it too)."""
    return os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")


def announce(real: bool) -> None:
    """Say on stderr which service the example talks to."""
    if real:
        print("[using the Gemini API: GEMINI_API_KEY is set]", file=sys.stderr)
    else:
        print(
            "[no GEMINI_API_KEY: running against the bundled emulator on 127.0.0.1 (offline); "
            "set GEMINI_API_KEY to talk to Gemini]",
            file=sys.stderr,
        )


@asynccontextmanager
async def connection(**emulator_options: Any) -> AsyncIterator[dict[str, Any]]:
    """Keyword arguments for ``open_live_session``: the real API with a key, else the emulator."""
    real = gemini_key() is not None
    announce(real)
    if real:
        yield {}
        return
    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(functools.partial(serve_emulator, **emulator_options))
        yield {"api_key": emulator.api_key, "base_url": emulator.base_url}
        nursery.cancel_scope.cancel()


async def print_reply(session: LiveSession) -> None:
    """Print the model's turn as it streams in, until ``turnComplete``."""
    print("gemini> ", end="", flush=True)
    async for event in session.events:
        if isinstance(event, ServerContent):
            show(event)
            if event.turn_complete:
                print()
                return


async def reply_text(session: LiveSession) -> str:
    """The model's whole turn as text (its transcription, for audio models)."""
    answer = ""
    async for event in session.events:
        if isinstance(event, ServerContent):
            answer += event.output_transcription_text or event.text or ""
            if event.turn_complete:
                break
    return answer.strip()


def show(event: ServerContent, *, prefix: str = "") -> None:
    """Print the text a ServerContent carries as it streams in."""
    text = event.output_transcription_text or event.text
    if text:
        print(text, end="" if text.endswith(" ") else " ", flush=True)
    if event.input_transcription_text:
        print(f"\n{prefix}(you said: {event.input_transcription_text})", flush=True)
