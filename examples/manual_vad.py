"""Push-to-talk: you say when speech starts and ends, instead of the server's voice detection.

    python -m examples.manual_vad                   # two generated utterances, offline
    python -m examples.manual_vad question.wav      # your own recording as one utterance

With automatic activity detection disabled, the client marks each utterance: ``activity_start``
when the talk button goes down, the audio while it is held, ``activity_end`` when it is
released; ``activity_end`` ends the user's turn and the model answers. (``audio_stream_end``
belongs to automatic detection and is not used here.) The audio goes out in 100 ms chunks at
real-time pace, as a microphone would deliver it. Without GEMINI_API_KEY it runs against the
bundled emulator.
"""

import sys
from contextlib import aclosing

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    AutomaticActivityDetection,
    LiveConfig,
    LiveSession,
    RealtimeInputConfig,
    ServerContent,
    audio,
    open_live_session,
)
from gemini_live_trio.testing import tone_pcm

from ._common import MODEL, connection

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    realtime_input_config=RealtimeInputConfig(
        automatic_activity_detection=AutomaticActivityDetection(disabled=True)
    ),
    input_audio_transcription=AudioTranscriptionConfig(),
    output_audio_transcription=AudioTranscriptionConfig(),
)
ANSWER_TIMEOUT = 30.0


async def push_to_talk(session: LiveSession, pcm: bytes) -> None:
    """One press of the talk button: activity start, the audio, activity end."""
    print(f"[button down: activity_start, then {audio.duration(pcm):.1f} s of audio]")
    await session.send_realtime_input(activity_start=True)
    async with aclosing(audio.paced(audio.chunks(pcm, ms=100))) as chunks:
        async for chunk in chunks:
            await session.send_realtime_input(audio=chunk)
    await session.send_realtime_input(activity_end=True)
    print("[button up: activity_end]")


async def answer(session: LiveSession) -> None:
    """Print what the model heard and what it says, until its turn is complete."""
    said = ""
    with trio.move_on_after(ANSWER_TIMEOUT) as waiting:
        async for event in session.events:
            if not isinstance(event, ServerContent):
                continue
            if event.input_transcription_text:
                print(f"(heard: {event.input_transcription_text})")
            said += event.output_transcription_text or event.text or ""
            if event.turn_complete:
                break
    if waiting.cancelled_caught:
        print(f"[no answer within {ANSWER_TIMEOUT:g} s]")
    print(f"gemini> {said.strip()}")


async def main(utterances: list[bytes]) -> None:
    async with (
        connection() as options,
        open_live_session(MODEL, config=CONFIG, **options) as session,
    ):
        for pcm in utterances:
            await push_to_talk(session, pcm)
            await answer(session)


if __name__ == "__main__":
    if len(sys.argv) > 1:
        spoken = [audio.read_wav(sys.argv[1]).to_input()]
    else:  # two short "utterances": tones of different pitch and length at 16 kHz
        spoken = [tone_pcm(0.6, 16000, frequency=220), tone_pcm(0.4, 16000, frequency=330)]
    trio.run(main, spoken)
