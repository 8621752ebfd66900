"""Every example runs against the bundled emulator: ``python -m examples.NAME`` with no key.

The examples start together (one subprocess each, at the first test that needs them) and each
test checks one example's output, so the whole file takes about as long as the slowest example.
"""

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import attrs
import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted(p.stem for p in (ROOT / "examples").glob("*.py") if not p.name.startswith("_"))
TIMEOUT = 60


@attrs.define
class Finished:
    status: int
    out: str
    err: str


def _environment() -> dict[str, str]:
    removed = ("GEMINI_API_KEY", "GOOGLE_API_KEY", "GOOGLE_APPLICATION_CREDENTIALS")
    env = {k: v for k, v in os.environ.items() if k not in removed}
    env.update(
        PYTHONUNBUFFERED="1",
        PYTHONWARNINGS="always::ResourceWarning",
        NO_GCE_CHECK="true",
        GCE_METADATA_IP="127.0.0.1:9",
        GCE_METADATA_HOST="127.0.0.1:9",
    )
    return env


@pytest.fixture(scope="module")
def results() -> Iterator[dict[str, Finished]]:
    """Start every example at once; each result is collected on first use."""
    env = _environment()
    running = {
        name: subprocess.Popen(
            [sys.executable, "-m", f"examples.{name}"],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in EXAMPLES
    }
    finished: dict[str, Finished] = {}

    class Results(dict[str, Finished]):
        def __missing__(self, name: str) -> Finished:
            out, err = running[name].communicate(timeout=TIMEOUT)
            self[name] = Finished(running[name].returncode, out, err)
            return self[name]

    try:
        yield Results(finished)
    finally:
        for process in running.values():
            if process.poll() is None:
                process.kill()
            process.communicate()


def finished(results: dict[str, Finished], name: str) -> Finished:
    result = results[name]
    assert result.status == 0, result.err
    assert "bundled emulator" in result.err  # says that it runs offline
    assert "Traceback" not in result.err and "ResourceWarning" not in result.err
    return result


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_runs_offline(results: dict[str, Finished], name: str) -> None:
    result = finished(results, name)
    assert result.out.strip()
    assert (ROOT / "examples" / f"{name}.py").read_text().startswith('"""')


def test_audio_streaming(results: dict[str, Finished]) -> None:
    out = finished(results, "audio_streaming").out
    assert "generated question.wav, 1.2 s, 44.1 kHz stereo" in out
    assert "44100 Hz, 2 channel(s), 16-bit -> 16 kHz mono 16-bit" in out
    assert "[sent 1.2 s of audio, then audioStreamEnd]" in out
    assert "User: <1200 ms of audio>" in out  # input transcription
    assert "Model: You said: <1200 ms of audio>" in out  # output transcription
    assert "s of 24 kHz audio written to" in out


def test_function_calling(results: dict[str, Finished]) -> None:
    out = finished(results, "function_calling").out
    assert "[the model calls get_stock_price(symbol='Apple'), id fc-1]" in out
    assert "get_stock_price('Apple') returns {'symbol': 'AAPL', 'price': 178.5" in out
    assert "[get_stock_price finished: ok" in out
    stock = '{"symbol": "AAPL", "price": 178.5, "currency": "USD"}'
    assert f"gemini> get_stock_price returned {stock}." in out
    # two calls in one toolCall, run concurrently, both used in the answer (in call order)
    assert "get_weather(location='Paris'), id fc-2]" in out
    assert "get_stock_price(symbol='Microsoft'), id fc-3]" in out
    last = out.strip().splitlines()[-1]
    assert last.startswith('gemini> get_weather returned {"location": "Paris", "temperature": 18')
    assert '; get_stock_price returned {"symbol": "MSFT"' in last


def test_session_resumption(results: dict[str, Finished]) -> None:
    out = finished(results, "session_resumption").out
    first, second = out.split("-- later")
    assert "gemini> Nice to meet you, Alice." in first
    assert "saved the handle" in first
    assert "gemini> Your name is Alice." in second


def test_manual_vad(results: dict[str, Finished]) -> None:
    out = finished(results, "manual_vad").out
    assert out.count("activity_start") == 2 and out.count("activity_end") == 2
    assert "(heard: <600 ms of audio>)" in out and "(heard: <400 ms of audio>)" in out
    assert "gemini> You said: <400 ms of audio>" in out


def test_video_frames(results: dict[str, Finished]) -> None:
    out = finished(results, "video_frames").out
    assert [line.split()[3] for line in out.splitlines() if line.startswith("[sent")] == [
        "red",
        "green",
        "blue",
    ]
    assert "gemini> You said: I just showed you three video frames." in out


def test_the_tiny_jpeg_encoder_makes_well_formed_files() -> None:
    sys.path.insert(0, str(ROOT))
    try:
        from examples.video_frames import solid_jpeg
    finally:
        sys.path.remove(str(ROOT))
    jpeg = solid_jpeg(16, 8, (255, 255, 255))
    assert jpeg.startswith(b"\xff\xd8\xff\xe0") and jpeg.endswith(b"\xff\xd9")
    # the frame header carries the size; every marker segment's length fits the file
    at = jpeg.index(b"\xff\xc0")
    assert jpeg[at + 5 : at + 9] == b"\x00\x08\x00\x10"
    with pytest.raises(ValueError):
        solid_jpeg(10, 8, (0, 0, 0))
    try:
        import PIL.Image  # optional: only where Pillow happens to be installed
    except ImportError:
        return
    import io

    for rgb in ((220, 30, 30), (0, 0, 0), (255, 255, 255)):
        image = PIL.Image.open(io.BytesIO(solid_jpeg(64, 48, rgb)))
        image.load()
        assert image.size == (64, 48)
        pixel = image.getpixel((10, 10))
        assert all(abs(a - b) <= 2 for a, b in zip(pixel, rgb, strict=True))
