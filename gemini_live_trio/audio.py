"""Audio for the Live API: WAV files, conversion, chunking, real-time pacing and playback.

The Live API takes **16 kHz mono signed 16-bit little-endian PCM** in and sends **24 kHz** PCM
of the same kind out (wire-protocol.md §9). Everything here is plain Python (``wave``,
``array``), with no third-party dependency::

    from gemini_live_trio import audio

    pcm = audio.read_wav("question.wav").to_input()        # any common WAV -> 16 kHz mono
    async for chunk in audio.paced(audio.chunks(pcm, ms=100)):
        await session.send_realtime_input(audio=chunk)      # at real-time pace
    await session.send_realtime_input(audio_stream_end=True)

    player = audio.PlaybackBuffer()                         # smooths bursty 24 kHz output
    # reader task:  for each ServerContent event: player.handle(event)
    # speaker task: async for frame in player: write frame to the sound device

The pure functions take and return ``bytes``; only :func:`paced` and :class:`PlaybackBuffer`
use trio (its clock, so ``autojump_clock`` tests run instantly).
"""

import array
import io
import itertools
import math
import os
import struct
import sys
import wave
from collections.abc import AsyncGenerator, AsyncIterable, AsyncIterator, Iterable, Iterator
from typing import IO, Any

import attrs
import trio

from ._events import ServerContent, ServerEvent
from ._exceptions import GeminiLiveError

__all__ = [
    "INPUT_MIME",
    "INPUT_RATE",
    "OUTPUT_MIME",
    "OUTPUT_RATE",
    "AudioFormatError",
    "PcmAudio",
    "PlaybackBuffer",
    "WavWriter",
    "chunks",
    "convert",
    "duration",
    "paced",
    "read_wav",
    "resample",
    "to_mono",
    "to_s16",
    "wav_bytes",
    "write_wav",
]

#: Sample rate the Live API takes natively (Hz).
INPUT_RATE = 16000
#: Sample rate of the audio the Live API sends (Hz).
OUTPUT_RATE = 24000
#: MIME type of input audio chunks (what ``send_realtime_input(audio=bytes)`` uses).
INPUT_MIME = "audio/pcm;rate=16000"
#: MIME type of the model's audio.
OUTPUT_MIME = "audio/pcm;rate=24000"

_BIG_ENDIAN = sys.byteorder == "big"
_WAVE_FORMAT_PCM = 0x0001
_WAVE_FORMAT_IEEE_FLOAT = 0x0003
_WAVE_FORMAT_EXTENSIBLE = 0xFFFE
#: Bytes 0x00..0xFF with the top bit flipped: unsigned 8-bit samples -> signed high bytes.
_FLIP_SIGN = bytes(b ^ 0x80 for b in range(256))

#: A path or an open binary file.
_Source = str | os.PathLike[str] | IO[bytes]


class AudioFormatError(GeminiLiveError, ValueError):
    """Audio this module cannot read or convert; the message says what it got."""


# --------------------------------------------------------------------------- PCM in memory


@attrs.frozen(kw_only=True)
class PcmAudio:
    """Interleaved PCM samples and their format, as read from a WAV file.

    ``sample_width`` is in bytes (1: unsigned 8-bit, 2/3/4: signed little-endian integers;
    4 or 8 with ``is_float``: IEEE float). :meth:`to_input` gives what the Live API takes.
    """

    data: bytes = attrs.field(repr=lambda data: f"<{len(data)} bytes>")
    rate: int
    channels: int = 1
    sample_width: int = 2
    is_float: bool = False

    @property
    def frames(self) -> int:
        """Samples per channel."""
        return len(self.data) // (self.channels * self.sample_width)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.frames / self.rate

    def to_input(self) -> bytes:
        """16 kHz mono s16le: ready for ``send_realtime_input(audio=...)``."""
        return self.convert(INPUT_RATE)

    def convert(self, rate: int) -> bytes:
        """This audio as mono s16le at ``rate`` Hz (see :func:`convert`)."""
        return convert(
            self.data,
            rate=self.rate,
            channels=self.channels,
            sample_width=self.sample_width,
            is_float=self.is_float,
            to_rate=rate,
        )


def duration(
    pcm: bytes, rate: int = INPUT_RATE, *, channels: int = 1, sample_width: int = 2
) -> float:
    """Seconds of audio in ``pcm`` (16 kHz mono s16le by default: 32,000 bytes a second)."""
    return len(pcm) / (rate * channels * sample_width)


# --------------------------------------------------------------------------- WAV files


def read_wav(source: _Source) -> PcmAudio:
    """Read a WAV file (a path or a binary file object) into :class:`PcmAudio`.

    Reads integer PCM of 8, 16, 24 or 32 bits, IEEE float (32/64-bit) and the
    ``WAVE_FORMAT_EXTENSIBLE`` header that many recorders write for those. Anything else raises
    :class:`AudioFormatError`.
    """
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as file:
            return _read_wav_file(file, os.fspath(source))
    return _read_wav_file(source, getattr(source, "name", "<file>"))


def _read_wav_file(file: IO[bytes], name: Any) -> PcmAudio:
    start = file.tell() if file.seekable() else None
    try:
        with wave.open(file, "rb") as reader:
            return PcmAudio(
                data=reader.readframes(reader.getnframes()),
                rate=reader.getframerate(),
                channels=reader.getnchannels(),
                sample_width=reader.getsampwidth(),
            )
    except (wave.Error, EOFError) as exc:
        if start is None:
            raise AudioFormatError(f"{name}: not a readable WAV file ({exc})") from None
        first_error = exc
    # ``wave`` (before Python 3.12) reads only WAVE_FORMAT_PCM: parse the chunks ourselves.
    file.seek(start)
    try:
        return _parse_riff(file.read())
    except AudioFormatError as exc:
        raise AudioFormatError(f"{name}: {exc} ({first_error})") from None


def _parse_riff(blob: bytes) -> PcmAudio:
    if len(blob) < 12 or blob[:4] != b"RIFF" or blob[8:12] != b"WAVE":
        raise AudioFormatError("not a RIFF/WAVE file")
    fmt: bytes | None = None
    data: bytes | None = None
    offset = 12
    while offset + 8 <= len(blob):
        chunk_id = blob[offset : offset + 4]
        (size,) = struct.unpack_from("<I", blob, offset + 4)
        body = blob[offset + 8 : offset + 8 + size]
        if chunk_id == b"fmt ":
            fmt = body
        elif chunk_id == b"data":
            data = body
        offset += 8 + size + (size & 1)
    if fmt is None or len(fmt) < 16 or data is None:
        raise AudioFormatError("no fmt or data chunk")
    tag, channels, rate, _, block_align, bits = struct.unpack_from("<HHIIHH", fmt)
    if tag == _WAVE_FORMAT_EXTENSIBLE and len(fmt) >= 26:
        (tag,) = struct.unpack_from("<H", fmt, 24)  # first two bytes of the SubFormat GUID
    if tag not in (_WAVE_FORMAT_PCM, _WAVE_FORMAT_IEEE_FLOAT):
        raise AudioFormatError(f"unsupported WAV encoding 0x{tag:04x} (PCM or float only)")
    width = block_align // channels if channels else 0
    is_float = tag == _WAVE_FORMAT_IEEE_FLOAT
    if channels < 1 or rate < 1 or width not in ((4, 8) if is_float else (1, 2, 3, 4)):
        raise AudioFormatError(f"unsupported WAV format: {channels} ch, {rate} Hz, {bits}-bit")
    return PcmAudio(
        data=data[: len(data) - len(data) % block_align],
        rate=rate,
        channels=channels,
        sample_width=width,
        is_float=is_float,
    )


def write_wav(
    dest: _Source,
    pcm: bytes,
    *,
    rate: int = OUTPUT_RATE,
    channels: int = 1,
    sample_width: int = 2,
) -> None:
    """Write PCM to a WAV file (default: the model's 24 kHz mono s16le)."""
    with WavWriter(dest, rate=rate, channels=channels, sample_width=sample_width) as writer:
        writer.write(pcm)


def wav_bytes(
    pcm: bytes, *, rate: int = OUTPUT_RATE, channels: int = 1, sample_width: int = 2
) -> bytes:
    """A complete WAV file in memory."""
    buffer = io.BytesIO()
    write_wav(buffer, pcm, rate=rate, channels=channels, sample_width=sample_width)
    return buffer.getvalue()


class WavWriter:
    """A WAV file written piece by piece, e.g. reply audio as it arrives.

    ::

        with WavWriter("reply.wav") as wav:     # 24 kHz mono s16le by default
            wav.write(event.audio)

    The header is finished on :meth:`close` (or leaving the ``with``); writes are small and
    synchronous, so calling :meth:`write` from a trio task is fine.
    """

    def __init__(
        self, dest: _Source, *, rate: int = OUTPUT_RATE, channels: int = 1, sample_width: int = 2
    ) -> None:
        self.rate = rate
        self.channels = channels
        self.sample_width = sample_width
        self._bytes = 0
        target = os.fspath(dest) if isinstance(dest, os.PathLike) else dest
        self._wave = wave.open(target, "wb")
        self._wave.setnchannels(channels)
        self._wave.setsampwidth(sample_width)
        self._wave.setframerate(rate)

    def write(self, pcm: bytes) -> None:
        """Append PCM in this writer's format."""
        if pcm:
            self._wave.writeframes(pcm)
            self._bytes += len(pcm)

    @property
    def duration(self) -> float:
        """Seconds written so far."""
        return self._bytes / (self.rate * self.channels * self.sample_width)

    def close(self) -> None:
        """Finish the header and close the file. Idempotent."""
        self._wave.close()

    def __enter__(self) -> "WavWriter":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# --------------------------------------------------------------------------- conversion


def _samples(pcm: bytes) -> "array.array[int]":
    """s16le bytes as native-order signed 16-bit samples."""
    samples = array.array("h")
    samples.frombytes(pcm[: len(pcm) - len(pcm) % 2])
    if _BIG_ENDIAN:  # pragma: no cover - the wire is little-endian
        samples.byteswap()
    return samples


def _s16_bytes(samples: "array.array[int]") -> bytes:
    if _BIG_ENDIAN:  # pragma: no cover
        samples.byteswap()
    return samples.tobytes()


def to_s16(pcm: bytes, sample_width: int, *, is_float: bool = False) -> bytes:
    """Samples of ``sample_width`` bytes (any channel layout) as signed 16-bit little-endian.

    8-bit WAV samples are unsigned; 24/32-bit integers keep their top 16 bits; floats are
    clipped to [-1, 1] and scaled.
    """
    if is_float:
        if sample_width not in (4, 8):
            raise AudioFormatError(f"float samples are 4 or 8 bytes wide, not {sample_width}")
        values = array.array("f" if sample_width == 4 else "d")
        values.frombytes(pcm[: len(pcm) - len(pcm) % sample_width])
        if _BIG_ENDIAN:  # pragma: no cover
            values.byteswap()
        return _s16_bytes(array.array("h", (round(32767 * max(-1.0, min(1.0, v))) for v in values)))
    if sample_width == 2:
        return pcm[: len(pcm) - len(pcm) % 2]
    if sample_width not in (1, 3, 4):
        raise AudioFormatError(f"unsupported sample width: {sample_width} bytes")
    count = len(pcm) // sample_width
    out = bytearray(2 * count)
    if sample_width == 1:  # unsigned: the flipped byte is the signed high byte
        out[1::2] = pcm[:count].translate(_FLIP_SIGN)
    else:  # little-endian: the two most significant bytes are the last two of each sample
        top = pcm[: count * sample_width]
        out[0::2] = top[sample_width - 2 :: sample_width]
        out[1::2] = top[sample_width - 1 :: sample_width]
    return bytes(out)


def to_mono(pcm: bytes, channels: int) -> bytes:
    """Interleaved s16le with ``channels`` channels mixed down to mono (the average)."""
    if channels == 1:
        return pcm
    if channels < 1:
        raise AudioFormatError(f"channels must be at least 1, got {channels}")
    samples = _samples(pcm)
    frames = len(samples) // channels
    columns = [samples[c : frames * channels : channels] for c in range(channels)]
    if channels == 2:
        mixed = array.array("h", [(a + b) >> 1 for a, b in zip(*columns, strict=True)])
    else:
        mixed = array.array("h", [sum(frame) // channels for frame in zip(*columns, strict=True)])
    return _s16_bytes(mixed)


def resample(pcm: bytes, from_rate: int, to_rate: int = INPUT_RATE) -> bytes:
    """Mono s16le from ``from_rate`` to ``to_rate`` Hz.

    Going down, each output sample is the average of the input it spans (an area-averaging
    filter, which keeps most aliasing out of speech); going up, linear interpolation. Meant for
    whole clips: resampling a stream chunk by chunk can leave a sample of error per chunk.
    """
    if from_rate <= 0 or to_rate <= 0:
        raise AudioFormatError(f"sample rates must be positive, got {from_rate} -> {to_rate}")
    if from_rate == to_rate or not pcm:
        return pcm
    src = _samples(pcm)
    n = len(src)
    out_n = n * to_rate // from_rate
    if from_rate % to_rate == 0:  # 32k, 48k -> 16k: a plain block average
        k = from_rate // to_rate
        blocks = zip(*(src[i : out_n * k : k] for i in range(k)), strict=True)
        return _s16_bytes(array.array("h", [round(sum(b) / k) for b in blocks]))
    step = from_rate / to_rate
    if step > 1:
        prefix = [0, *itertools.accumulate(src)]

        def area(x: float) -> float:  # integral of the step-function signal over [0, x)
            i = int(x)
            return prefix[i] + (x - i) * src[i] if i < n else prefix[n]

        edges = [area(k * step) for k in range(out_n + 1)]
        out = [round((edges[k + 1] - edges[k]) / step) for k in range(out_n)]
    else:
        last = n - 1
        out = []
        for k in range(out_n):
            t = k * step
            i = int(t)
            a = src[i]
            b = src[i + 1] if i < last else a
            out.append(round(a + (b - a) * (t - i)))
    return _s16_bytes(array.array("h", out))


def convert(
    pcm: bytes,
    *,
    rate: int,
    channels: int = 1,
    sample_width: int = 2,
    is_float: bool = False,
    to_rate: int = INPUT_RATE,
) -> bytes:
    """Any common PCM (8-32 bit, float, any channels, any rate) as mono s16le at ``to_rate``.

    The default target is the Live API's input format, 16 kHz.
    """
    s16 = to_s16(pcm, sample_width, is_float=is_float)
    return resample(to_mono(s16, channels), rate, to_rate)


# --------------------------------------------------------------------------- streaming


def chunks(
    pcm: bytes,
    ms: int = 100,
    rate: int = INPUT_RATE,
    *,
    channels: int = 1,
    sample_width: int = 2,
) -> Iterator[bytes]:
    """``pcm`` in pieces of ``ms`` milliseconds (the last may be shorter).

    100 ms of 16 kHz mono s16le is 3,200 bytes. Every piece holds whole sample frames.
    """
    if ms <= 0:
        raise ValueError(f"ms must be positive, got {ms}")
    frame = channels * sample_width
    size = max(1, rate * ms // 1000) * frame
    for start in range(0, len(pcm) - len(pcm) % frame, size):
        yield pcm[start : start + size]


async def paced(
    chunks: Iterable[bytes] | AsyncIterable[bytes],
    *,
    chunk_seconds: float | None = None,
    rate: int = INPUT_RATE,
    channels: int = 1,
    sample_width: int = 2,
) -> AsyncGenerator[bytes, None]:
    """Yield ``chunks`` at real-time pace, as a microphone would deliver them.

    Chunk *i* is released at ``start + i * chunk_seconds``; without ``chunk_seconds`` each
    chunk's length in bytes says how long it lasts (16 kHz mono s16le by default). Deadlines
    are computed from the start on the trio clock, so the pace never drifts; a consumer that
    falls behind gets the late chunks at once until it has caught up.
    """
    bytes_per_second = rate * channels * sample_width
    start = trio.current_time()
    sent_bytes = 0
    index = 0
    stream: AsyncIterator[bytes] = _aiter(chunks)
    async for chunk in stream:
        offset = (
            index * chunk_seconds if chunk_seconds is not None else sent_bytes / bytes_per_second
        )
        await trio.sleep_until(start + offset)
        yield chunk
        index += 1
        sent_bytes += len(chunk)


async def _aiter(items: Iterable[bytes] | AsyncIterable[bytes]) -> AsyncIterator[bytes]:
    if isinstance(items, AsyncIterable):
        async for item in items:
            yield item
    else:
        for item in items:
            yield item


# --------------------------------------------------------------------------- playback


class PlaybackBuffer:
    """A jitter buffer that turns the model's bursty audio into a steady stream of frames.

    The Live API sends audio faster than real time, in bursts. Feed what arrives with
    :meth:`feed` (or :meth:`handle` for a whole ``ServerContent`` event) and iterate the buffer
    to get fixed-size frames at real-time pace::

        player = PlaybackBuffer()            # 24 kHz mono s16le, 20 ms frames
        async for frame in player:           # in a speaker task
            await trio.to_thread.run_sync(device.write, frame)

    Playback starts once ``prebuffer_ms`` of audio is waiting (or the turn's audio is
    complete, see :meth:`end_of_turn`), then yields one frame every ``frame_ms`` on the trio
    clock, scheduled from the start so it never drifts. If audio runs out mid-turn that is an
    *underrun* (counted in :attr:`underruns`); playback pauses and prebuffers again. At the end
    of a turn the last partial frame is padded with silence. :meth:`clear` drops everything
    at once (call it on ``interrupted``). :meth:`close` ends the iteration once the buffered
    audio has played. More than ``max_seconds`` waiting drops the oldest audio
    (:attr:`dropped_bytes`). Call the methods from trio tasks, not from other threads; one
    task at a time may iterate.
    """

    def __init__(
        self,
        *,
        rate: int = OUTPUT_RATE,
        frame_ms: int = 20,
        prebuffer_ms: int = 120,
        max_seconds: float = 120.0,
        channels: int = 1,
        sample_width: int = 2,
    ) -> None:
        if frame_ms <= 0 or prebuffer_ms < 0 or max_seconds <= 0:
            raise ValueError("frame_ms and max_seconds must be positive, prebuffer_ms >= 0")
        self.rate = rate
        self._align = channels * sample_width
        samples = max(1, rate * frame_ms // 1000)
        #: Bytes in every frame this buffer yields.
        self.frame_bytes = samples * self._align
        #: Seconds of audio in one frame.
        self.frame_seconds = samples / rate
        self._bytes_per_second = rate * self._align
        self._prebuffer = rate * prebuffer_ms // 1000 * self._align
        self._max = max(self.frame_bytes, int(max_seconds * rate) * self._align)
        self._data = bytearray()
        self._read = 0  # bytes of _data already played (compacted now and then)
        self._partial = b""
        self._wake = trio.Event()
        self._turn_ended = False
        self._closed = False
        self._playing = False
        self._epoch = 0
        self._t0 = 0.0
        self._next = 0
        self._free_at = -math.inf
        #: Times audio ran out in the middle of a turn.
        self.underruns = 0
        #: Bytes thrown away by :meth:`clear`.
        self.cleared_bytes = 0
        #: Bytes dropped because more than ``max_seconds`` was waiting.
        self.dropped_bytes = 0
        #: Frames yielded so far.
        self.frames_played = 0

    def __repr__(self) -> str:
        state = "playing" if self._playing else "closed" if self._closed else "waiting"
        return (
            f"<PlaybackBuffer {state} buffered={self.buffered_seconds:.3f}s "
            f"underruns={self.underruns}>"
        )

    @property
    def buffered_bytes(self) -> int:
        """Bytes of audio waiting to be played."""
        return len(self._data) - self._read

    @property
    def buffered_seconds(self) -> float:
        """Seconds of audio waiting to be played."""
        return self.buffered_bytes / self._bytes_per_second

    @property
    def playing(self) -> bool:
        """True between the start of playback and the next pause (underrun, end, clear)."""
        return self._playing

    @property
    def closed(self) -> bool:
        """True after :meth:`close`."""
        return self._closed

    def feed(self, pcm: bytes) -> None:
        """Add audio (any length; a trailing partial sample waits for the next piece)."""
        if self._closed:
            raise trio.ClosedResourceError("feed() after close()")
        if self._partial:
            pcm = self._partial + pcm
        cut = len(pcm) - len(pcm) % self._align
        self._partial = pcm[cut:]
        if not cut:
            return
        self._data += memoryview(pcm)[:cut]
        self._turn_ended = False
        excess = self.buffered_bytes - self._max
        if excess > 0:
            excess += -excess % self._align
            self._read += excess
            self.dropped_bytes += excess
        self._compact()
        self._notify()

    def end_of_turn(self) -> None:
        """All audio of the current turn is in: play the rest without waiting to prebuffer."""
        self._turn_ended = True
        self._notify()

    def clear(self) -> int:
        """Drop all waiting audio now (the user interrupted); returns the bytes dropped."""
        dropped = self.buffered_bytes
        self._data.clear()
        self._read = 0
        self._partial = b""
        self.cleared_bytes += dropped
        self._playing = False
        self._turn_ended = False
        self._epoch += 1
        self._notify()
        return dropped

    def close(self) -> None:
        """No more audio: iteration ends after the waiting audio has played."""
        self._closed = True
        self._notify()

    def handle(self, event: ServerEvent) -> None:
        """Apply one event from ``session.events``: on a :class:`ServerContent`, clear on
        ``interrupted``, feed its audio, and mark the end of the turn on
        ``generationComplete`` / ``turnComplete``. Other events are ignored."""
        if not isinstance(event, ServerContent):
            return
        if event.interrupted:
            self.clear()
        pcm = event.audio
        if pcm:
            self.feed(pcm)
        if event.generation_complete or event.turn_complete:
            self.end_of_turn()

    def _notify(self) -> None:
        self._wake.set()
        self._wake = trio.Event()

    def _compact(self) -> None:
        if self._read >= 65536 and self._read * 2 >= len(self._data):
            del self._data[: self._read]
            self._read = 0

    def _ready(self) -> bool:
        waiting = self.buffered_bytes
        return waiting > 0 and (waiting >= self._prebuffer or self._turn_ended or self._closed)

    def __aiter__(self) -> "PlaybackBuffer":
        return self

    async def __anext__(self) -> bytes:
        """The next frame, at its time; ``StopAsyncIteration`` after :meth:`close`."""
        while True:
            if not self._playing:
                while not self._ready():
                    if self._closed:
                        raise StopAsyncIteration
                    await self._wake.wait()
                self._playing = True
                # not before the previous frame has had its time (no two frames at once)
                self._t0 = max(trio.current_time(), self._free_at)
                self._next = 0
            epoch = self._epoch
            await trio.sleep_until(self._t0 + self._next * self.frame_seconds)
            if epoch != self._epoch or not self._playing:
                continue  # cleared while waiting: prebuffer again
            size = self.frame_bytes
            waiting = self.buffered_bytes
            start = self._read
            if waiting >= size:
                frame = bytes(self._data[start : start + size])
                self._read += size
                self._compact()
            elif waiting and (self._turn_ended or self._closed):
                frame = bytes(self._data[start:]) + bytes(size - waiting)
                self._data.clear()
                self._read = 0
                self._playing = False
                self._turn_ended = False
            else:
                if not (self._turn_ended or self._closed):
                    self.underruns += 1
                self._playing = False
                self._turn_ended = False
                continue
            self._free_at = self._t0 + (self._next + 1) * self.frame_seconds
            self._next += 1
            self.frames_played += 1
            return frame
