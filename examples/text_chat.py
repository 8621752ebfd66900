"""A terminal chat: type a line, read the model's answer as it streams in.

    python -m examples.text_chat            # interactive when stdin is a terminal
    echo "What is trio?" | python -m examples.text_chat
    python -m examples.text_chat < /dev/null   # a short scripted conversation

The model answers in audio (current Live models are audio-first); the chat shows the output
transcription. Without GEMINI_API_KEY it runs against the bundled emulator.
"""

import sys

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    LiveConfig,
    LiveSession,
    open_live_session,
)

from ._common import MODEL, connection, print_reply

DEMO = ["Hello! My name is Alice.", "What is trio, in one sentence?", "What's my name?"]

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    system_instruction="You are a helpful assistant. Keep answers short.",
)


async def read_prompts(send: trio.MemorySendChannel[str]) -> None:
    """Lines to send: typed interactively, piped in, or the demo script."""
    async with send:
        if not sys.stdin.isatty():
            lines = [line.strip() for line in sys.stdin.read().splitlines() if line.strip()]
            for line in lines or DEMO:
                await send.send(line)
            return
        while True:
            try:
                line = await trio.to_thread.run_sync(input, "you> ", abandon_on_cancel=True)
            except EOFError:
                return
            if line.strip() in ("/quit", "/exit"):
                return
            if line.strip():
                await send.send(line)


async def chat(session: LiveSession, lines: trio.MemoryReceiveChannel[str]) -> None:
    async for line in lines:
        if not sys.stdin.isatty():
            print(f"you> {line}")
        await session.send_text(line)
        await print_reply(session)


async def main() -> None:
    send, lines = trio.open_memory_channel[str](16)
    async with (
        connection() as options,
        open_live_session(MODEL, config=CONFIG, **options) as session,
    ):
        print(f"[connected to {MODEL}, session {session.session_id}]", file=sys.stderr)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(read_prompts, send)
            await chat(session, lines)
            nursery.cancel_scope.cancel()
    print("[bye]", file=sys.stderr)


if __name__ == "__main__":
    trio.run(main)
