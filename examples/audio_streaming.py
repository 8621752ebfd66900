"""Stream a WAV file to the model as if it were a microphone; save the spoken answer as a WAV.

    python -m examples.audio_streaming                      # a generated clip, offline
    python -m examples.audio_streaming question.wav         # your own recording
    python -m examples.audio_streaming question.wav answer.wav

The input WAV can have any common rate, width and channel count: it is converted to the Live
API's 16 kHz mono 16-bit PCM, cut into 100 ms chunks and sent at real-time pace, followed by
``audioStreamEnd`` (the microphone went quiet). Both directions are transcribed. Without a file
the example makes a short 44.1 kHz stereo clip of tones (to show the conversion); a real model
may not answer a hum, so record a question for a real conversation. Without GEMINI_API_KEY it
runs against the bundled emulator.
"""

import math
import sys
import tempfile
from contextlib import aclosing
from pathlib import Path

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    LiveConfig,
    LiveSession,
    ServerContent,
    SpeechConfig,
    audio,
    open_live_session,
)

from ._common import MODEL, connection

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    speech_config=SpeechConfig.voice("Kore"),
    input_audio_transcription=AudioTranscriptionConfig(),
    output_audio_transcription=AudioTranscriptionConfig(),
)
#: How long to wait for the answer after the audio ends.
ANSWER_TIMEOUT = 30.0


def make_clip(path: Path, seconds: float = 1.2, rate: int = 44100) -> None:
    """A stereo 44.1 kHz clip of three rising 'syllables', standing in for a question."""
    frames = bytearray()
    count = int(seconds * rate)
    for i in range(count):
        t = i / rate
        syllable = int(3 * t / seconds)
        pitch = 180.0 * (1 + 0.2 * syllable)
        envelope = math.sin(math.pi * ((3 * t / seconds) % 1.0)) ** 2
        value = int(9000 * envelope * math.sin(2 * math.pi * pitch * t))
        sample = value.to_bytes(2, "little", signed=True)
        frames += sample + sample  # left and right
    audio.write_wav(path, bytes(frames), rate=rate, channels=2)


async def stream_file(session: LiveSession, wav: audio.PcmAudio) -> None:
    """Send the clip in 100 ms chunks at real-time pace, then say the audio stream paused."""
    pcm = wav.to_input()  # 16 kHz mono s16le
    async with aclosing(audio.paced(audio.chunks(pcm, ms=100))) as chunks:
        async for chunk in chunks:
            await session.send_realtime_input(audio=chunk)
    await session.send_realtime_input(audio_stream_end=True)
    print(f"[sent {audio.duration(pcm):.1f} s of audio, then audioStreamEnd]")


async def receive_answer(session: LiveSession, out: audio.WavWriter) -> None:
    """Print both transcriptions as they stream in and write the model's audio, until its
    turn is complete."""
    speaker = None  # whose transcription line is open
    async for event in session.events:
        if not isinstance(event, ServerContent):
            continue
        for who, text in (
            ("User", event.input_transcription_text),
            ("Model", event.output_transcription_text),
        ):
            if text:
                if who != speaker:
                    print(("\n" if speaker else "") + f"{who}: ", end="")
                    speaker = who
                print(text, end="", flush=True)
        out.write(event.audio)  # 24 kHz mono s16le
        if event.turn_complete:
            print()
            return


async def main(source: Path | None, target: Path | None) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        if source is None:
            source = Path(tmp) / "question.wav"
            make_clip(source)
            print(f"[no WAV given: generated {source.name}, 1.2 s, 44.1 kHz stereo]")
        wav = audio.read_wav(source)
        print(
            f"[input: {wav.duration:.1f} s, {wav.rate} Hz, {wav.channels} channel(s), "
            f"{8 * wav.sample_width}-bit -> 16 kHz mono 16-bit]"
        )
        target = target or Path(tmp) / "answer.wav"
        async with (
            connection() as options,
            open_live_session(MODEL, config=CONFIG, **options) as session,
        ):
            with audio.WavWriter(target) as out:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(stream_file, session, wav)
                    with trio.move_on_after(wav.duration + ANSWER_TIMEOUT) as waiting:
                        await receive_answer(session, out)
                    nursery.cancel_scope.cancel()
                if waiting.cancelled_caught:
                    print(f"[no complete answer within {ANSWER_TIMEOUT:g} s after the audio]")
                saved = out.duration
        where = "a temporary file, now deleted" if target.parent == Path(tmp) else target
        print(f"[answer: {saved:.1f} s of 24 kHz audio written to {where}]")


if __name__ == "__main__":
    args = [Path(a) for a in sys.argv[1:3]]
    trio.run(main, args[0] if args else None, args[1] if len(args) > 1 else None)
