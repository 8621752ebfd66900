"""Synthetic PCM for the emulator: a real sine tone the client can play, and PCM arithmetic.

The emulator "speaks" a 440 Hz tone instead of a voice, so audio paths carry genuine s16le
samples whose length a test can predict.
"""

import array
import math
import re
import sys

#: Output audio of the Live API: 24 kHz mono s16le (wire-protocol.md §9).
OUTPUT_RATE = 24000
#: Input audio the Live API expects natively: 16 kHz mono s16le.
INPUT_RATE = 16000

_RATE = re.compile(r"rate=(\d+)")


def tone_pcm(
    duration_s: float,
    rate: int = OUTPUT_RATE,
    *,
    frequency: float = 440.0,
    amplitude: float = 0.25,
) -> bytes:
    """``duration_s`` seconds of a sine tone as mono signed 16-bit little-endian PCM.

    ``round(duration_s * rate)`` samples, starting at phase 0; ``amplitude`` is a fraction of
    full scale.
    """
    count = round(duration_s * rate)
    step = 2 * math.pi * frequency / rate
    peak = amplitude * 32767
    samples = array.array("h", (int(peak * math.sin(step * i)) for i in range(count)))
    if sys.byteorder == "big":  # pragma: no cover - the wire is little-endian
        samples.byteswap()
    return samples.tobytes()


def rate_of(mime_type: str | None, default: int = INPUT_RATE) -> int:
    """The sample rate named in a MIME type such as ``audio/pcm;rate=16000``."""
    found = _RATE.search(mime_type or "")
    return int(found.group(1)) if found else default


def duration_ms(pcm: bytes, rate: int = INPUT_RATE) -> int:
    """Milliseconds of mono s16le ``pcm`` at ``rate`` (16 kHz: 32 bytes per ms)."""
    return len(pcm) * 1000 // (2 * rate)
