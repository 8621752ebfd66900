"""The command line, in process (``_cli.main``) and as ``python -m gemini_live_trio``.

Everything runs against the bundled emulator on 127.0.0.1; nothing needs a real key.
"""

import io
import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import pytest
import trio

from gemini_live_trio import (
    DEFAULT_MODEL,
    AudioTranscriptionConfig,
    LiveConfig,
    Reconnected,
    ServerContent,
    _cli,
    audio,
    open_live_session,
)
from gemini_live_trio.testing import serve_emulator, tone_pcm

ROOT = Path(__file__).resolve().parent.parent


def run(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    *argv: str,
    stdin: str = "",
) -> tuple[int, str, str]:
    """``main(argv)`` with ``stdin`` as (non-terminal) standard input: (status, out, err)."""
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    status = _cli.main(list(argv))
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("GEMINI_API_KEY", "test-key")
    yield "test-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# --------------------------------------------------------------------------- help and usage


def test_help_names_the_commands_and_how_to_start(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, _ = run(capsys, monkeypatch, "--help")
    assert status == 0
    for text in ("chat", "emulator", "models", "GEMINI_API_KEY", "offline", "exit status"):
        assert text in out
    status, out, _ = run(capsys, monkeypatch, "chat", "--help")
    assert status == 0
    for text in (
        "--wav",
        "--save",
        "--audio",
        "--scenario",
        "latency",
        "/quit",
        "gemini-live-trio[audio]",
    ):
        assert text in out
    status, out, _ = run(capsys, monkeypatch, "emulator", "--help")
    assert status == 0
    assert all(name in out for name in _cli.SCENARIOS)
    status, out, _ = run(capsys, monkeypatch, "--version")
    assert status == 0 and out.startswith("gemini-live-trio ")


def test_usage_errors_exit_2_with_a_message(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    status, _, err = run(capsys, monkeypatch)
    assert status == 2 and "chat" in err
    status, _, err = run(capsys, monkeypatch, "frobnicate")
    assert status == 2 and "invalid choice" in err
    status, _, err = run(capsys, monkeypatch, "chat", "--wav", str(tmp_path / "nope.wav"))
    assert status == 2 and "cannot read --wav" in err
    (tmp_path / "notes.wav").write_text("not audio")
    status, _, err = run(capsys, monkeypatch, "chat", "--wav", str(tmp_path / "notes.wav"))
    assert status == 2 and "--wav" in err and "RIFF" in err
    status, _, err = run(capsys, monkeypatch, "chat", "--save", str(tmp_path / "no" / "x.wav"))
    assert status == 2 and "does not exist" in err
    status, _, err = run(capsys, monkeypatch, "chat", "--text")
    assert status == 2 and "audio only" in err
    status, _, err = run(capsys, monkeypatch, "chat", "--base-url", "ws://127.0.0.1:9")
    assert status == 2 and "GEMINI_API_KEY=test-key" in err
    status, _, err = run(capsys, monkeypatch, "emulator", "--port", "70000")
    assert status == 2 and "--port" in err
    status, _, err = run(capsys, monkeypatch, "models", "--base-url", "http://127.0.0.1:9")
    assert status == 2 and "GEMINI_API_KEY" in err


def test_scenario_and_base_url_need_the_right_mode(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    status, _, err = run(capsys, monkeypatch, "chat", "--scenario", "flaky")
    assert status == 2 and "--emulator" in err
    status, _, err = run(
        capsys, monkeypatch, "chat", "--emulator", "--base-url", "ws://127.0.0.1:9"
    )
    assert status == 2 and "exclude" in err


# --------------------------------------------------------------------------- chat


def test_chat_reads_stdin_lines_and_shows_answers_and_status(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "Hello, my name is Alice.\n\n   \nWhat's my name?\n"
    status, out, err = run(capsys, monkeypatch, "chat", stdin=lines)
    assert status == 0, err
    assert out.splitlines() == [
        "you> Hello, my name is Alice.",
        "gemini> Nice to meet you, Alice.",
        "you> What's my name?",
        "gemini> Your name is Alice.",
    ]
    assert "no GEMINI_API_KEY: talking to the bundled emulator at ws://127.0.0.1:" in err
    assert f"connected: {DEFAULT_MODEL}" in err
    assert "turn 1 · first audio " in err and "ms after your input" in err
    assert "turn 2 · " in err and "tokens: " in err and " total (session " in err
    assert "session over · 2 turns" in err
    assert "Traceback" not in err


def test_chat_quiet_and_quit(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(capsys, monkeypatch, "chat", "-q", stdin="hi\n/quit\nnever sent\n")
    assert status == 0
    assert out.splitlines() == ["you> hi", "gemini> You said: hi"]
    assert err == ""


def test_chat_streams_a_wav_file_and_saves_the_reply(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    question = tmp_path / "question.wav"
    audio.write_wav(question, tone_pcm(0.3, 8000), rate=8000)  # converted to 16 kHz
    reply = tmp_path / "reply.wav"
    start = time.monotonic()
    status, out, err = run(
        capsys, monkeypatch, "chat", "--wav", str(question), "--save", str(reply), stdin="ok\n"
    )
    assert status == 0, err
    assert time.monotonic() - start >= 0.2  # real-time pace (the last chunk is not waited for)
    assert out.splitlines() == [
        "you (heard)> <300 ms of audio>",
        "gemini> You said: <300 ms of audio>",
        "you> ok",
        "gemini> You said: ok",
    ]
    assert "streaming " in err and "8000 Hz, 1 ch, 16-bit -> 16 kHz mono" in err
    saved = audio.read_wav(reply)
    assert (saved.rate, saved.channels, saved.sample_width) == (24000, 1, 2)
    expected = (len("You said: <300 ms of audio>") + len("You said: ok")) * 0.060
    assert saved.duration == pytest.approx(expected, abs=0.05)
    assert f"saved {saved.duration:.1f} s of the model's audio" in err


def test_chat_shows_reconnects_in_the_status_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "Hello, my name is Alice.\nWhat's my name?\n"
    status, out, err = run(capsys, monkeypatch, "chat", "--scenario", "flaky", stdin=lines)
    assert status == 0, err
    assert "gemini> Your name is Alice." in out
    assert "connection lost (" in err and "1006" in err
    assert "reconnected after " in err and "conversation resumed" in err
    assert "reconnects: 1]" in err.split("turn 2 · ")[1]
    assert re.search(r"session over · 2 turns · \d+ tokens · reconnects: [12]\]", err)


def test_chat_goes_on_across_a_go_away(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the second line is typed right after goAway, when the client wants to move to a new
    # connection: it must be answered in full (the handover waits for the next quiet moment)
    monkeypatch.setattr(_cli, "TURN_TIMEOUT", 5.0)
    lines = "Hello, my name is Bob.\nWhat's my name?\n"
    status, out, err = run(capsys, monkeypatch, "chat", "--scenario", "go-away", stdin=lines)
    assert status == 0, err
    assert out.splitlines()[-1] == "gemini> Your name is Bob."
    assert "the server will close this connection in 5 s (goAway)" in err
    assert "no answer within" not in err


def test_chat_text_answers_from_a_text_only_emulator(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    argv = ("chat", "--text", "--model", "gemini-live-2.5-flash-preview", "--scenario", "text-only")
    status, out, err = run(capsys, monkeypatch, *argv, stdin="hello\n")
    assert status == 0, err
    assert out.splitlines() == ["you> hello", "gemini> You said: hello"]
    assert "first text " in err


def test_chat_refused_by_the_server_says_what_to_do(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # the text-only emulator refuses an AUDIO session with 1011, as the service does
    argv = ("chat", "--model", "gemini-live-2.5-flash-preview", "--scenario", "text-only")
    status, _, err = run(capsys, monkeypatch, *argv, stdin="hello\n")
    assert status == 1
    assert "error: " in err and "1011" in err and "hint: " in err and "--text" in err
    assert "Traceback" not in err


def test_connection_refused_is_one_line_and_a_hint(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    url = f"ws://127.0.0.1:{free_port()}"
    status, _, err = run(capsys, monkeypatch, "chat", "--base-url", url, stdin="hi\n")
    assert status == 1
    assert err.splitlines()[-2].startswith("error: could not connect to ws://127.0.0.1:")
    assert err.splitlines()[-1].startswith("hint: ") and "emulator" in err
    assert "Traceback" not in err and "test-key" not in err


@contextmanager
def emulator_in_thread(**options: Any) -> Iterator[str]:
    """An emulator served by its own ``trio.run`` in a thread (``main`` needs the main
    thread for its signal handling); yields its base URL."""
    ready: queue.Queue[tuple[str, trio.lowlevel.TrioToken, trio.CancelScope]] = queue.Queue()

    async def serve() -> None:
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                emulator = await nursery.start(partial(serve_emulator, **options))
                ready.put((emulator.base_url, trio.lowlevel.current_trio_token(), scope))

    thread = threading.Thread(target=trio.run, args=(serve,))
    thread.start()
    url, token, scope = ready.get(timeout=20)
    try:
        yield url
    finally:
        trio.from_thread.run_sync(scope.cancel, trio_token=token)
        thread.join(timeout=20)


def test_chat_against_a_separate_emulator_with_a_wrong_key(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GEMINI_API_KEY", "wrong-key")
    with emulator_in_thread() as url:
        status, _, err = run(capsys, monkeypatch, "chat", "--base-url", url, stdin="hi\n")
    assert status == 1
    assert "API key not valid" in err and "hint: check the API key" in err
    assert "wrong-key" not in err and "Traceback" not in err


def test_chat_against_a_separate_emulator(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, key: str
) -> None:
    with emulator_in_thread() as url:
        status, out, err = run(capsys, monkeypatch, "chat", "--base-url", url, stdin="hi\n")
    assert status == 0, err
    assert f"connecting to {url} with the key in GEMINI_API_KEY" in err
    assert out.splitlines() == ["you> hi", "gemini> You said: hi"]


def test_audio_without_the_extra_says_how_to_install_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "sounddevice", None)  # import fails
    status, _, err = run(capsys, monkeypatch, "chat", "--audio")
    assert status == 1
    assert "error: --audio needs the optional audio extra (sounddevice)" in err
    assert "pip install 'gemini-live-trio[audio]'" in err


class FakeStream:
    """Stands in for sounddevice's raw streams: a microphone of silence, a speaker that
    keeps what it plays and presses Ctrl-C once it has played ``stop_after`` bytes."""

    played = bytearray()
    mic_reads = 0
    stop_after = 0
    started = 0
    closed = 0

    def __init__(self, *, samplerate: int, channels: int, dtype: str) -> None:
        assert (channels, dtype) == (1, "int16")
        self.samplerate = samplerate

    def start(self) -> None:
        FakeStream.started += 1

    def close(self) -> None:
        FakeStream.closed += 1

    def read(self, frames: int) -> tuple[bytes, bool]:
        assert self.samplerate == 16000
        time.sleep(0.1)  # the device blocks until the block is recorded
        FakeStream.mic_reads += 1
        return bytes(2 * frames), False

    def write(self, data: bytes) -> None:
        assert self.samplerate == 24000
        FakeStream.played += data
        if len(FakeStream.played) >= FakeStream.stop_after:
            FakeStream.stop_after = 2**62
            signal.raise_signal(signal.SIGINT)


def test_audio_mode_plays_the_answer_and_leaves_on_ctrl_c(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = types.ModuleType("sounddevice")
    fake.RawInputStream = FakeStream  # type: ignore[attr-defined]
    fake.RawOutputStream = FakeStream  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "sounddevice", fake)
    answer_bytes = len("You said: hi") * 60 * 48  # 60 ms a character, 48 bytes a ms
    FakeStream.played = bytearray()
    FakeStream.started = FakeStream.closed = FakeStream.mic_reads = 0
    FakeStream.stop_after = answer_bytes
    status, out, err = run(capsys, monkeypatch, "chat", "--audio", stdin="hi\n")
    assert status == 130, err
    assert "gemini> You said: hi" in out
    assert "microphone on" in err and "playback underruns: 0" in err
    assert len(FakeStream.played) == answer_bytes  # 20 ms frames: the answer divides evenly
    assert FakeStream.mic_reads >= 1
    assert FakeStream.started == FakeStream.closed == 2


def test_go_away_scenario_moves_the_conversation_to_a_new_connection() -> None:
    async def check() -> None:
        async with trio.open_nursery() as nursery:
            emulator = await nursery.start(
                partial(serve_emulator, **_cli.scenario_options("go-away"))
            )
            config = LiveConfig(output_audio_transcription=AudioTranscriptionConfig())
            async with open_live_session(
                DEFAULT_MODEL, config=config, api_key=emulator.api_key, base_url=emulator.base_url
            ) as session:
                await session.send_text("my name is Bob")
                async for event in session.events:
                    if isinstance(event, Reconnected):
                        assert event.resumed and event.planned
                        break
                await session.send_text("what's my name?")
                said = ""
                async for event in session.events:
                    if isinstance(event, ServerContent):
                        said += event.output_transcription_text or ""
                        if event.turn_complete:
                            break
                assert said == "Your name is Bob."
            assert len(emulator.connections) >= 2
            nursery.cancel_scope.cancel()

    trio.run(check)


def test_slow_scenario_delays_each_answer(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_cli, "SLOW_SECONDS", 0.3)
    status, _, err = run(capsys, monkeypatch, "chat", "--scenario", "slow", stdin="hi\n")
    assert status == 0
    latency = err.split("first audio ")[1].split(" ms")[0]
    assert int(latency) >= 300
    with pytest.raises(ValueError, match="unknown scenario"):
        _cli.scenario_options("nope")


# --------------------------------------------------------------------------- models


def test_models_without_a_key_lists_the_known_models(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(capsys, monkeypatch, "models")
    assert status == 0
    assert "no GEMINI_API_KEY" in err
    assert any(line.startswith(DEFAULT_MODEL) and "default" in line for line in out.splitlines())


def test_models_from_the_bundled_emulator(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    status, out, err = run(capsys, monkeypatch, "models", "--emulator")
    assert status == 0, err
    names = [line.split()[0] for line in out.splitlines()]
    assert DEFAULT_MODEL in names
    assert "gemini-2.5-pro" not in names  # not a Live model: filtered out
    assert "asking the bundled emulator" in err


# --------------------------------------------------------------------------- emulator


def test_emulator_port_in_use_is_a_runtime_error(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        status, _, err = run(capsys, monkeypatch, "emulator", "--port", str(port))
    assert status == 1
    assert f"error: cannot listen on 127.0.0.1:{port}" in err
    assert "hint: pick another port" in err


def _environment(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("GEMINI_API_KEY", "GOOGLE_API_KEY")}
    return {**env, "PYTHONUNBUFFERED": "1", **extra}


async def test_emulator_command_serves_until_ctrl_c() -> None:
    command = [sys.executable, "-m", "gemini_live_trio", "emulator", "--port", "0"]
    process = await trio.lowlevel.open_process(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT, env=_environment()
    )
    assert process.stdout is not None and process.stderr is not None
    try:
        text = ""
        with trio.fail_after(20):
            while "try:" not in text:
                chunk = await process.stdout.receive_some()
                assert chunk, "the emulator exited early"
                text += chunk.decode()
        fields = dict(line.strip().split(": ", 1) for line in text.splitlines() if ": " in line)
        url = fields["Live API (WebSocket)"].strip()
        assert fields["API key"].strip() == "test-key"
        config = LiveConfig(output_audio_transcription=AudioTranscriptionConfig())
        async with open_live_session(
            DEFAULT_MODEL, config=config, api_key="test-key", base_url=url
        ) as session:
            await session.send_text("ping")
            said = ""
            async for event in session.events:
                if isinstance(event, ServerContent):
                    said += event.output_transcription_text or ""
                    if event.turn_complete:
                        break
        assert said == "You said: ping"
        process.send_signal(signal.SIGINT)
        with trio.fail_after(20):
            status = await process.wait()
        assert status == 0
        errors = b""
        while chunk := await process.stderr.receive_some():
            errors += chunk
        assert b"emulator stopped" in errors and b"Traceback" not in errors
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
        await process.stdout.aclose()
        await process.stderr.aclose()


def test_module_entry_point_reports_usage_errors_without_a_traceback(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "gemini_live_trio", "chat", "--wav", str(tmp_path / "x.wav")],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=_environment(),
        stdin=subprocess.DEVNULL,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "cannot read --wav" in result.stderr and "Traceback" not in result.stderr


def test_report_maps_errors_to_exit_statuses(capsys: pytest.CaptureFixture[str]) -> None:
    group = BaseExceptionGroup("g", [ExceptionGroup("h", [OSError(2, "No such file")])])
    assert _cli._report(_cli._leaf(group)) == 1
    assert _cli._report(KeyboardInterrupt()) == 130
    _, err = capsys.readouterr()
    assert "error: No such file" in err and "[interrupted]" in err
    with pytest.raises(RuntimeError):
        _cli._report(RuntimeError("a bug"))
    two = ExceptionGroup("two", [ValueError("a"), ValueError("b")])
    assert _cli._leaf(two) is two
