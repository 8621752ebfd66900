"""Shared helpers for session tests: start the emulator with options, count live tasks."""

import functools
import ssl
from collections.abc import Callable
from typing import Any

import trio
import trustme

from gemini_live_trio import LiveConfig, ServerContent, ServerEvent
from gemini_live_trio.testing import Emulator, serve_emulator

MODEL = "gemini-2.5-flash-native-audio-preview-12-2025"
REALTIME_TEXT_MODEL = "gemini-3.1-flash-live-preview"


async def start_emulator(nursery: trio.Nursery, **options: Any) -> Emulator:
    """``nursery.start(serve_emulator, **options)`` (``start`` takes no keyword arguments)."""
    emulator: Emulator = await nursery.start(functools.partial(serve_emulator, **options))
    return emulator


def session_kwargs(emulator: Emulator, **extra: Any) -> dict[str, Any]:
    """Keyword arguments that point ``open_live_session`` at ``emulator``."""
    return {"api_key": emulator.api_key, "base_url": emulator.base_url, **extra}


def all_tasks() -> int:
    """How many trio tasks exist right now (to prove none outlives a session)."""
    count = 0
    stack = [trio.lowlevel.current_root_task()]
    while stack:
        task = stack.pop()
        count += 1
        for nursery in task.child_nurseries:
            stack.extend(nursery.child_tasks)
    return count


async def collect_turn(
    events: trio.MemoryReceiveChannel[ServerEvent],
    *,
    until: Callable[[ServerEvent], bool] = lambda e: (
        isinstance(e, ServerContent) and bool(e.turn_complete)
    ),
) -> list[ServerEvent]:
    """Events up to and including the first one ``until`` accepts (turnComplete by default)."""
    seen: list[ServerEvent] = []
    async for event in events:
        seen.append(event)
        if until(event):
            break
    return seen


AUDIO = LiveConfig(response_modalities=["AUDIO"])


def server_context(ca: trustme.CA, *hosts: str) -> ssl.SSLContext:
    """A TLS server context with a certificate from ``ca`` for ``hosts`` (default loopback)."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert(*(hosts or ("127.0.0.1", "localhost"))).configure_cert(context)
    return context


def trusting(ca: trustme.CA) -> ssl.SSLContext:
    """A TLS client context that trusts ``ca``."""
    context = ssl.create_default_context()
    ca.configure_trust(context)
    return context
