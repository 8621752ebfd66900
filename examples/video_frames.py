"""Show the model a few video frames, then ask about them.

    python -m examples.video_frames

Video goes to the Live API as single JPEG (or PNG) frames, each one ``send_realtime_input(
video=jpeg_bytes)``, at a low frame rate (here two a second); the question follows as text. The
frames are made at run time by a tiny JPEG encoder below (solid red, green and blue pictures, no
imaging library needed); a real application would send camera or screen captures. Without
GEMINI_API_KEY it runs against the bundled emulator, which accepts the frames but cannot see
them.
"""

import struct
from contextlib import aclosing

import trio

from gemini_live_trio import (
    AudioTranscriptionConfig,
    LiveConfig,
    audio,
    open_live_session,
)

from ._common import MODEL, connection, reply_text

COLOURS = {"red": (220, 30, 30), "green": (30, 180, 60), "blue": (30, 60, 220)}
QUESTION = "I just showed you three video frames. What colour was each one, in order?"
FRAME_SECONDS = 0.5  # two frames a second: keep video slow, every frame costs tokens

CONFIG = LiveConfig(
    response_modalities=["AUDIO"],
    output_audio_transcription=AudioTranscriptionConfig(),
)


async def main() -> None:
    frames = [solid_jpeg(64, 48, rgb) for rgb in COLOURS.values()]
    async with (
        connection() as options,
        open_live_session(MODEL, config=CONFIG, **options) as session,
    ):
        async with aclosing(audio.paced(frames, chunk_seconds=FRAME_SECONDS)) as paced:
            names = iter(COLOURS)
            async for jpeg in paced:
                await session.send_realtime_input(video=jpeg)
                print(f"[sent a 64x48 {next(names)} frame: {len(jpeg)} bytes of JPEG]")
        print(f"you> {QUESTION}")
        await session.send_text(QUESTION)
        print(f"gemini> {await reply_text(session)}")


# --------------------------------------------------------------------------- a tiny JPEG encoder

# Annex K.3 of the JPEG standard: the usual DC table (code lengths 1..16, then symbols 0..11).
_DC_COUNTS = (0, 1, 5, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0)
_DC_SYMBOLS = tuple(range(12))
# A solid picture has no AC coefficients: each block ends at once, so one AC symbol suffices
# (0x00, end of block), with the one-bit code "0".
_AC_COUNTS = (1,) + (0,) * 15
_AC_SYMBOLS = (0x00,)


def _huffman_codes(counts: tuple[int, ...], symbols: tuple[int, ...]) -> dict[int, tuple[int, int]]:
    """symbol -> (code, length) for a canonical Huffman table (JPEG Annex C)."""
    codes: dict[int, tuple[int, int]] = {}
    code, index = 0, 0
    for length, count in enumerate(counts, start=1):
        for _ in range(count):
            codes[symbols[index]] = (code, length)
            code += 1
            index += 1
        code <<= 1
    return codes


def _segment(marker: int, body: bytes) -> bytes:
    return struct.pack(">HH", 0xFF00 | marker, len(body) + 2) + body


def solid_jpeg(width: int, height: int, rgb: tuple[int, int, int]) -> bytes:
    """A valid baseline JPEG of one colour; ``width`` and ``height`` multiples of 8.

    YCbCr without subsampling, all quantisation steps 1, so each 8x8 block is just its DC
    coefficient (8 x the level-shifted value) followed by end-of-block.
    """
    if width % 8 or height % 8 or not (0 < width <= 65535 and 0 < height <= 65535):
        raise ValueError("width and height must be positive multiples of 8")
    r, g, b = rgb
    ycc = (
        0.299 * r + 0.587 * g + 0.114 * b,
        -0.168736 * r - 0.331264 * g + 0.5 * b + 128,
        0.5 * r - 0.418688 * g - 0.081312 * b + 128,
    )
    dcs = [round(8 * (min(255.0, max(0.0, v)) - 128)) for v in ycc]
    dc_codes = _huffman_codes(_DC_COUNTS, _DC_SYMBOLS)
    eob_code, eob_length = _huffman_codes(_AC_COUNTS, _AC_SYMBOLS)[0x00]

    bits: list[tuple[int, int]] = []  # (value, length) pieces of the entropy-coded data
    previous = [0, 0, 0]
    for _ in range((width // 8) * (height // 8)):
        for component, dc in enumerate(dcs):
            diff, previous[component] = dc - previous[component], dc
            size = abs(diff).bit_length()
            bits.append(dc_codes[size])
            if size:
                bits.append((diff if diff > 0 else diff + (1 << size) - 1, size))
            bits.append((eob_code, eob_length))
    scan = bytearray()
    accumulator, filled = 0, 0
    for value, length in bits:
        accumulator = (accumulator << length) | value
        filled += length
        while filled >= 8:
            filled -= 8
            byte = (accumulator >> filled) & 0xFF
            scan.append(byte)
            if byte == 0xFF:
                scan.append(0x00)  # byte stuffing
    if filled:
        byte = ((accumulator << (8 - filled)) | ((1 << (8 - filled)) - 1)) & 0xFF
        scan.append(byte)
        if byte == 0xFF:
            scan.append(0x00)

    components = bytes([1, 0x11, 0, 2, 0x11, 0, 3, 0x11, 0])
    return b"".join(
        [
            b"\xff\xd8",  # start of image
            _segment(0xE0, b"JFIF\x00\x01\x01\x00\x00\x01\x00\x01\x00\x00"),
            _segment(0xDB, b"\x00" + bytes([1] * 64)),  # quantisation table 0: all ones
            _segment(0xC0, struct.pack(">BHHB", 8, height, width, 3) + components),
            _segment(0xC4, b"\x00" + bytes(_DC_COUNTS) + bytes(_DC_SYMBOLS)),
            _segment(0xC4, b"\x10" + bytes(_AC_COUNTS) + bytes(_AC_SYMBOLS)),
            _segment(0xDA, b"\x03\x01\x00\x02\x00\x03\x00\x00\x3f\x00"),
            bytes(scan),
            b"\xff\xd9",  # end of image
        ]
    )


if __name__ == "__main__":
    trio.run(main)
