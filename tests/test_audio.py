"""Audio helpers: WAV files, conversion, chunking, pacing and the playback buffer (no sockets)."""

import array
import io
import itertools
import math
import struct
import wave
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio
import trio.testing

from gemini_live_trio import (
    Blob,
    Content,
    GeminiLiveError,
    Part,
    ServerContent,
    UsageMetadata,
    audio,
)
from gemini_live_trio.audio import AudioFormatError, PcmAudio, PlaybackBuffer


def s16(*values: int) -> bytes:
    return struct.pack(f"<{len(values)}h", *values)


def samples(pcm: bytes) -> list[int]:
    return list(struct.unpack(f"<{len(pcm) // 2}h", pcm))


def sine(seconds: float, rate: int, frequency: float = 440.0, amplitude: float = 0.5) -> bytes:
    count = round(seconds * rate)
    peak = amplitude * 32767
    return s16(*(round(peak * math.sin(2 * math.pi * frequency * i / rate)) for i in range(count)))


def rising_crossings(pcm: bytes) -> int:
    values = samples(pcm)
    return sum(1 for a, b in itertools.pairwise(values) if a < 0 <= b)


# --------------------------------------------------------------------------- sample formats


def test_to_s16_from_unsigned_8_bit() -> None:
    assert samples(audio.to_s16(bytes([0, 128, 255, 64]), 1)) == [-32768, 0, 32512, -16384]


def test_to_s16_keeps_the_top_16_bits_of_24_and_32_bit_samples() -> None:
    pcm24 = b"".join(v.to_bytes(3, "little", signed=True) for v in (0x123456, -0x123456, -1))
    assert samples(audio.to_s16(pcm24, 3)) == [0x1234, -0x1235, -1]
    pcm32 = struct.pack("<3i", 0x12345678, -(2**31), 2**31 - 1)
    assert samples(audio.to_s16(pcm32, 4)) == [0x1234, -32768, 32767]


def test_to_s16_scales_and_clips_floats() -> None:
    for code, width in (("f", 4), ("d", 8)):
        pcm = array.array(code, [0.0, 0.5, -1.0, 2.0, -3.0]).tobytes()
        assert samples(audio.to_s16(pcm, width, is_float=True)) == [0, 16384, -32767, 32767, -32767]


def test_to_s16_passes_16_bit_through_and_refuses_odd_widths() -> None:
    assert audio.to_s16(s16(1, 2, 3) + b"\x07", 2) == s16(1, 2, 3)
    with pytest.raises(AudioFormatError):
        audio.to_s16(b"\x00" * 10, 5)
    with pytest.raises(AudioFormatError):
        audio.to_s16(b"\x00" * 4, 2, is_float=True)
    assert issubclass(AudioFormatError, GeminiLiveError)
    assert issubclass(AudioFormatError, ValueError)


def test_to_mono_averages_channels() -> None:
    assert audio.to_mono(s16(1, 2, 3), 1) == s16(1, 2, 3)
    assert samples(audio.to_mono(s16(100, 300, -100, -301, 32767, 32767), 2)) == [200, -201, 32767]
    assert samples(audio.to_mono(s16(3, 6, 9, 30, 60, 90), 3)) == [6, 60]
    with pytest.raises(AudioFormatError):
        audio.to_mono(s16(1), 0)


# --------------------------------------------------------------------------- resampling


@pytest.mark.parametrize("rate", [8000, 11025, 16000, 22050, 24000, 32000, 44100, 48000])
def test_resample_to_16_khz_keeps_length_pitch_and_level(rate: int) -> None:
    pcm = sine(1.0, rate, frequency=440.0)
    out = audio.resample(pcm, rate, 16000)
    assert len(out) == 2 * 16000
    assert abs(rising_crossings(out) - 440) <= 1
    rms = math.sqrt(sum(v * v for v in samples(out)) / 16000)
    assert rms == pytest.approx(0.5 * 32767 / math.sqrt(2), rel=0.02)


def test_resample_keeps_a_constant_signal_exactly() -> None:
    for rate in (8000, 22050, 44100, 48000):
        out = audio.resample(s16(*[1234] * rate), rate, 16000)
        assert set(samples(out)) == {1234}


def test_resample_going_down_averages_away_what_it_cannot_represent() -> None:
    # 20 kHz is above the 8 kHz limit of 16 kHz audio: it must not come out at full level
    high = sine(0.5, 48000, frequency=20000.0, amplitude=0.9)
    out = samples(audio.resample(high, 48000, 16000))
    assert max(abs(v) for v in out) < 0.5 * 0.9 * 32767


def test_resample_edge_cases() -> None:
    assert audio.resample(b"", 44100) == b""
    assert audio.resample(s16(5, 6), 16000, 16000) == s16(5, 6)
    assert samples(audio.resample(s16(0, 100), 8000, 16000)) == [0, 50, 100, 100]
    with pytest.raises(AudioFormatError):
        audio.resample(s16(1), 0, 16000)


def test_convert_any_common_format_to_the_input_format() -> None:
    mono = samples(sine(0.5, 44100))
    stereo24 = b"".join(
        (v * 256).to_bytes(3, "little", signed=True) * 2 for v in mono
    )  # 24-bit, both channels equal
    out = audio.convert(stereo24, rate=44100, channels=2, sample_width=3)
    assert len(out) == 2 * 8000
    assert abs(rising_crossings(out) - 220) <= 1
    assert out == audio.convert(s16(*mono), rate=44100)


# --------------------------------------------------------------------------- WAV files


@pytest.mark.parametrize("width", [1, 2, 3, 4])
def test_wav_round_trip_in_every_integer_width(tmp_path: Path, width: int) -> None:
    path = tmp_path / f"w{width}.wav"
    frames = bytes(range(6 * width))  # 3 stereo frames
    audio.write_wav(path, frames, rate=22050, channels=2, sample_width=width)
    read = audio.read_wav(path)
    assert read == PcmAudio(data=frames, rate=22050, channels=2, sample_width=width)
    assert read.frames == 3
    assert read.duration == pytest.approx(3 / 22050)
    assert "bytes>" in repr(read)


def _riff(fmt: bytes, data: bytes, *, extra: bytes = b"") -> bytes:
    chunks = b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    chunks += b"data" + struct.pack("<I", len(data)) + data + b"\x00" * (len(data) & 1)
    return b"RIFF" + struct.pack("<I", 4 + len(chunks)) + b"WAVE" + chunks


def _fmt(tag: int, channels: int, rate: int, width: int, *, sub: int | None = None) -> bytes:
    base = struct.pack(
        "<HHIIHH", tag, channels, rate, rate * channels * width, channels * width, 8 * width
    )
    if sub is None:
        return base
    guid = struct.pack("<H", sub) + b"\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71"
    return base + struct.pack("<HHI", 22, 8 * width, 3) + guid


def test_read_wav_float_and_extensible_headers_that_stdlib_wave_refuses() -> None:
    floats = array.array("f", [0.0, 0.5, -0.5, 1.0]).tobytes()
    read = audio.read_wav(io.BytesIO(_riff(_fmt(3, 1, 48000, 4), floats)))
    assert (read.rate, read.channels, read.sample_width, read.is_float) == (48000, 1, 4, True)
    assert samples(audio.to_s16(read.data, 4, is_float=True)) == [0, 16384, -16384, 32767]
    assert len(read.to_input()) == 2  # 4 samples at 48 kHz -> 1 at 16 kHz

    pcm24 = b"\x00\x00\x10" * 6  # 3 stereo frames, each sample 0x100000 >> 8 = 0x1000
    blob = _riff(_fmt(0xFFFE, 2, 16000, 3, sub=1), pcm24, extra=b"LIST\x03\x00\x00\x00abc\x00")
    read = audio.read_wav(io.BytesIO(blob))
    assert (read.channels, read.sample_width, read.is_float, read.frames) == (2, 3, False, 3)
    assert samples(read.to_input()) == [0x1000] * 3


def test_read_wav_refuses_what_it_cannot_decode(tmp_path: Path) -> None:
    with pytest.raises(AudioFormatError, match="not a RIFF"):
        audio.read_wav(io.BytesIO(b"hello, not a wav file at all"))
    alaw = _riff(_fmt(6, 1, 8000, 1), b"\x00" * 8)
    with pytest.raises(AudioFormatError, match="0x0006"):
        audio.read_wav(io.BytesIO(alaw))
    with pytest.raises(AudioFormatError, match="no fmt or data"):
        audio.read_wav(io.BytesIO(b"RIFF\x04\x00\x00\x00WAVE"))
    with pytest.raises(FileNotFoundError):
        audio.read_wav(tmp_path / "missing.wav")


def test_wav_bytes_and_the_incremental_writer(tmp_path: Path) -> None:
    blob = audio.wav_bytes(s16(1, 2, 3))
    with wave.open(io.BytesIO(blob)) as reader:
        assert (reader.getframerate(), reader.getnchannels(), reader.getnframes()) == (24000, 1, 3)
    path = tmp_path / "reply.wav"
    with audio.WavWriter(path) as writer:
        for _ in range(3):
            writer.write(b"\x01\x00" * 24000)  # one second each
        writer.write(b"")
        assert writer.duration == pytest.approx(3.0)
    writer.close()  # idempotent
    read = audio.read_wav(str(path))
    assert (read.rate, read.duration) == (24000, pytest.approx(3.0))


# --------------------------------------------------------------------------- chunks and pacing


def test_chunks_cut_whole_frames_of_the_chosen_duration() -> None:
    pcm = bytes(2 * 16000 * 35 // 100)  # 350 ms at 16 kHz
    assert [len(c) for c in audio.chunks(pcm, ms=100)] == [3200, 3200, 3200, 1600]
    assert b"".join(audio.chunks(pcm, ms=20)) == pcm
    assert [len(c) for c in audio.chunks(bytes(4801), ms=50, rate=24000)] == [2400, 2400]
    stereo = bytes(4 * 441 * 3)
    assert {len(c) for c in audio.chunks(stereo, ms=10, rate=44100, channels=2)} == {4 * 441}
    assert list(audio.chunks(b"", ms=100)) == []
    with pytest.raises(ValueError):
        list(audio.chunks(pcm, ms=0))
    assert audio.duration(pcm) == pytest.approx(0.35)
    assert audio.duration(bytes(96000), 24000) == pytest.approx(2.0)


async def test_paced_releases_chunks_on_schedule_without_drift(
    autojump_clock: trio.testing.MockClock,
) -> None:
    start = trio.current_time()
    times = []
    async for _ in audio.paced([b"x"] * 50, chunk_seconds=0.1):
        times.append(trio.current_time() - start)
        await trio.sleep(0.03)  # the consumer's own work does not push the schedule back
    assert times == pytest.approx([i * 0.1 for i in range(50)], abs=1e-9)


async def test_paced_uses_each_chunk_length_and_catches_up_after_a_stall(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def source() -> AsyncIterator[bytes]:
        for size in (3200, 1600, 3200, 3200):  # 100, 50, 100, 100 ms at 16 kHz
            yield bytes(size)

    start = trio.current_time()
    times = []
    async for _chunk in audio.paced(source()):
        times.append(round(trio.current_time() - start, 6))
        if len(times) == 1:
            await trio.sleep(0.2)  # stalled past the next two deadlines
    assert times == [0.0, 0.2, 0.2, 0.25]


# --------------------------------------------------------------------------- playback buffer

FRAME = 960  # 20 ms at 24 kHz mono s16le


def ms_of_audio(ms: int, value: int = 1000) -> bytes:
    return s16(value) * (24 * ms)


async def collect(player: PlaybackBuffer, into: list[tuple[float, bytes]], start: float) -> None:
    async for frame in player:
        into.append((trio.current_time() - start, frame))


async def test_playback_waits_for_the_prebuffer_then_plays_steady_frames(
    autojump_clock: trio.testing.MockClock,
) -> None:
    player = PlaybackBuffer(prebuffer_ms=100)
    frames: list[tuple[float, bytes]] = []
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect, player, frames, start)
        player.feed(ms_of_audio(60))
        await trio.sleep(1)
        assert frames == [] and not player.playing  # 60 ms < prebuffer: still waiting
        player.feed(ms_of_audio(940))  # a burst: one second in all
        player.end_of_turn()
        await trio.sleep(5)
        player.close()
    assert len(frames) == 50
    assert {len(f) for _, f in frames} == {FRAME}
    times = [t for t, _ in frames]
    assert times == pytest.approx([1 + 0.02 * i for i in range(50)], abs=1e-9)
    assert player.underruns == 0 and player.frames_played == 50
    assert player.buffered_bytes == 0


async def test_playback_pads_the_end_of_a_turn_and_counts_an_underrun_mid_turn(
    autojump_clock: trio.testing.MockClock,
) -> None:
    player = PlaybackBuffer(prebuffer_ms=40)
    frames: list[tuple[float, bytes]] = []
    start = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect, player, frames, start)
        player.feed(ms_of_audio(50))  # 2.5 frames, and the model goes quiet mid-turn
        await trio.sleep(1)
        assert player.underruns == 1 and len(frames) == 2 and not player.playing
        player.feed(ms_of_audio(35))  # the rest of the turn: 10 + 35 ms
        player.end_of_turn()
        await trio.sleep(1)
        player.close()
    assert player.underruns == 1
    assert len(frames) == 5
    last = frames[-1][1]
    assert last == ms_of_audio(5) + bytes(FRAME - 240)  # padded with silence
    # playback resumed right away after the pause: frames are never closer than 20 ms
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(frames)]
    assert min(gaps) >= 0.02 - 1e-9


async def test_clear_on_interrupted_drops_everything_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    player = PlaybackBuffer()
    frames: list[tuple[float, bytes]] = []
    start = trio.current_time()
    blob = Blob(mime_type=audio.OUTPUT_MIME, data=ms_of_audio(2000))
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect, player, frames, start)
        player.handle(ServerContent(model_turn=Content(parts=[Part(inline_data=blob)])))
        assert player.buffered_seconds == pytest.approx(2.0)
        await trio.sleep(0.51)  # frames at 0, 0.02, ..., 0.5 s
        played = len(frames)
        assert played == 26
        player.handle(ServerContent(interrupted=True))
        assert player.buffered_bytes == 0 and not player.playing
        assert player.cleared_bytes == 96000 - 26 * FRAME
        await trio.sleep(1)
        assert len(frames) == played
        player.handle(UsageMetadata(total_token_count=5))  # not audio: ignored
        player.handle(ServerContent(model_turn=Content(parts=[Part(inline_data=blob)])))
        player.handle(ServerContent(generation_complete=True))
        await trio.sleep(3)
        player.close()
    assert len(frames) == played + 100
    assert player.underruns == 0


async def test_close_ends_iteration_after_the_buffered_audio(
    autojump_clock: trio.testing.MockClock,
) -> None:
    player = PlaybackBuffer(prebuffer_ms=500)
    player.feed(ms_of_audio(30) + b"\x01")  # a trailing half sample waits for its other half
    player.close()
    with pytest.raises(trio.ClosedResourceError):
        player.feed(b"\x00\x00")
    frames = [frame async for frame in player]
    assert frames == [ms_of_audio(20), ms_of_audio(10) + bytes(480)]
    assert [frame async for frame in player] == []
    assert "closed" in repr(player) and player.closed


async def test_too_much_waiting_audio_drops_the_oldest(
    autojump_clock: trio.testing.MockClock,
) -> None:
    player = PlaybackBuffer(max_seconds=1.0)
    player.feed(ms_of_audio(800, value=1))
    player.feed(ms_of_audio(500, value=2))
    assert player.buffered_seconds == pytest.approx(1.0)
    assert player.dropped_bytes == 24 * 300 * 2
    player.close()
    first = await player.__anext__()
    assert samples(first)[0] == 1
    assert sum(len(f) for f in [first] + [f async for f in player]) == 48000


def test_playback_buffer_refuses_nonsense_settings() -> None:
    with pytest.raises(ValueError):
        PlaybackBuffer(frame_ms=0)
    with pytest.raises(ValueError):
        PlaybackBuffer(prebuffer_ms=-1)
    small = PlaybackBuffer(rate=16000, frame_ms=10, channels=2)
    assert (small.frame_bytes, small.frame_seconds) == (640, 0.01)
    assert "waiting" in repr(small)
