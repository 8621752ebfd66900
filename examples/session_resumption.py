"""Leave a conversation and come back to it later with a resumption handle.

    python -m examples.session_resumption

The first session turns on resumption (``SessionResumptionConfig()``), tells the model a name
and keeps ``session.resumption_handle``, the newest handle the server sent. After that session
has closed, a second one starts with ``resume_handle=`` and asks for the name back: the server
restores the conversation, so the model still knows it. Handles stay valid for a while after a
session ends (about two hours on the Gemini API); every setup field but the model may change on
resumption. Without GEMINI_API_KEY it runs against the bundled emulator.

(Within one ``open_live_session`` you need none of this: the session resumes by itself across
``goAway`` and dropped connections. Handles are for coming back in a new session.)
"""

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    LiveConfig,
    LiveSession,
    SessionResumptionConfig,
    SessionResumptionUpdate,
    open_live_session,
)

from ._common import MODEL, connection, reply_text

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
    session_resumption=SessionResumptionConfig(),
)
#: How long to wait for a resumable handle after the answer.
HANDLE_TIMEOUT = 10.0


async def ask(session: LiveSession, text: str) -> None:
    """Send one line and print the answer's transcription."""
    print(f"you> {text}")
    await session.send_text(text)
    print(f"gemini> {await reply_text(session)}")


async def wait_for_handle(session: LiveSession) -> str | None:
    """The newest resumable handle; the server sends one after each complete turn."""
    with trio.move_on_after(HANDLE_TIMEOUT):
        while session.resumption_handle is None:
            event = await session.events.receive()
            if isinstance(event, SessionResumptionUpdate) and event.resumable:
                print("[the server sent a resumable handle]")
    return session.resumption_handle


async def main() -> None:
    async with connection() as options:
        print("-- first session")
        async with open_live_session(MODEL, config=CONFIG, **options) as session:
            await ask(session, "Remember this: my name is Alice.")
            handle = await wait_for_handle(session)
        if handle is None:
            print(f"[no resumable handle within {HANDLE_TIMEOUT:g} s: cannot resume]")
            return
        print(f"[session closed; saved the handle ({len(handle)} characters)]")

        print("-- later: a new session, resumed from the handle")
        async with open_live_session(
            MODEL, config=CONFIG, resume_handle=handle, **options
        ) as session:
            await ask(session, "What's my name?")


if __name__ == "__main__":
    trio.run(main)
