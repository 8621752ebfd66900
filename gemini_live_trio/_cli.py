"""``python -m gemini_live_trio``: chat with Gemini Live, serve the emulator, list models.

::

    python -m gemini_live_trio chat                      # type a line, read the answer
    echo "Hello" | python -m gemini_live_trio chat       # lines from stdin, exits at EOF
    python -m gemini_live_trio chat --wav question.wav --save reply.wav
    python -m gemini_live_trio chat --audio              # microphone and speaker
    python -m gemini_live_trio emulator --port 8765      # a local Live API for your own tests
    python -m gemini_live_trio models                    # the Live models your key can use

``chat`` uses ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``); without one it runs against the
bundled emulator, offline, and says so. Exit status: 0 done, 1 runtime error (one line, no
traceback), 2 bad command line, 130 interrupted (Ctrl-C).
"""

import argparse
import importlib
import os
import signal
import sys
import threading
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AsyncExitStack, aclosing, asynccontextmanager
from functools import partial
from types import ModuleType
from typing import Any, cast

import trio

from . import audio
from ._auth import ApiKey, is_loopback
from ._config import AudioTranscriptionConfig, LiveConfig, SpeechConfig
from ._events import (
    GoAway,
    Reconnected,
    Reconnecting,
    SendFailed,
    ServerContent,
    ServerEvent,
    UsageMetadata,
    VoiceActivity,
    VoiceActivityType,
)
from ._exceptions import (
    ConfigError,
    ConnectError,
    GeminiLiveError,
    HandshakeRejected,
    InternalError,
    PolicyViolation,
    QuotaExceeded,
    SessionClosed,
)
from ._models import DEFAULT_MODEL, REGISTRY, ModelInfo, model_info
from ._session import LiveSession, open_live_session
from ._version import __version__

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

PROG = "python -m gemini_live_trio"
#: Seconds ``chat`` waits for an answer before it moves on to the next input.
TURN_TIMEOUT = 60.0
#: The ``slow`` scenario's thinking time before each answer.
SLOW_SECONDS = 1.5
#: The ``go-away`` scenario's notice: ``goAway.timeLeft``, then the server closes.
GO_AWAY_SECONDS = 5.0
AUDIO_EXTRA_HINT = "pip install 'gemini-live-trio[audio]'"

SCENARIOS = {
    "default": "a deterministic model: it answers text with a 440 Hz tone plus a transcription "
    '("You said: ..."; it remembers "my name is X"), and audio with "<N ms of audio>"',
    "text-only": "every model answers in TEXT only, like the legacy text Live models "
    "(use chat --text with e.g. gemini-live-2.5-flash-preview; AUDIO is refused with 1011)",
    "go-away": f"after every answer the server sends goAway ({GO_AWAY_SECONDS:g} s left) and "
    "then closes: the client moves to a new connection and the conversation goes on",
    "flaky": "after every answer the connection drops without a close frame (1006): the "
    "client reconnects and resumes",
    "slow": f"every answer starts {SLOW_SECONDS:g} s late (it shows as latency in chat)",
}


class CliError(Exception):
    """A runtime error the command line reports as one line (plus a hint) and exit status 1."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


# --------------------------------------------------------------------------- argument parsing


class _Formatter(argparse.RawDescriptionHelpFormatter):
    def __init__(self, prog: str) -> None:
        super().__init__(prog, max_help_position=30, width=100)


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m gemini_live_trio`` and its three commands."""
    parser = argparse.ArgumentParser(
        prog=PROG,
        formatter_class=_Formatter,
        description="A terminal client for the Gemini Live API (real-time voice and text), "
        "with a local emulator.",
        epilog="""\
quick start:
  python -m gemini_live_trio chat          talk to Gemini (or, without GEMINI_API_KEY, to the
                                           bundled emulator, so this works offline)
  python -m gemini_live_trio chat --help   every chat option
  python -m gemini_live_trio emulator      a local Live API for your own programs and tests

credentials: set GEMINI_API_KEY (or GOOGLE_API_KEY) to an API key from Google AI Studio.
exit status: 0 ok, 1 runtime error, 2 bad command line, 130 interrupted.""",
    )
    parser.add_argument("--version", action="version", version=f"gemini-live-trio {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", title="commands")
    _add_chat(commands)
    _add_emulator(commands)
    _add_models(commands)
    return parser


def _add_chat(commands: Any) -> None:
    chat = commands.add_parser(
        "chat",
        formatter_class=_Formatter,
        help="talk to a model: type text, stream a WAV file, or use the microphone",
        description="""\
Talk to a Gemini Live model. Type a line and read the answer as it streams in (the model
speaks; you read the transcription of its audio). Lines can also come from stdin
(`echo hi | ... chat`): chat then exits at the end of the input.

Status lines on stderr show the connection, reconnects, latency (end of your input to the
first audio byte of the answer) and token usage. Type /quit or press Ctrl-D to leave.

Without GEMINI_API_KEY, chat starts the bundled emulator in-process (offline) and says so.""",
        epilog="""\
examples:
  python -m gemini_live_trio chat
  python -m gemini_live_trio chat --system "Answer like a pirate." --voice Puck
  python -m gemini_live_trio chat --wav question.wav --save answer.wav < /dev/null
  python -m gemini_live_trio chat --audio          (use headphones, or it hears itself)
  python -m gemini_live_trio chat --emulator --scenario flaky""",
    )
    chat.add_argument(
        "--model",
        default=os.environ.get("GEMINI_LIVE_MODEL", DEFAULT_MODEL),
        help=f"Live model (default: $GEMINI_LIVE_MODEL or %(default)s); see `{PROG} models`",
    )
    chat.add_argument("--system", metavar="TEXT", help="system instruction for the model")
    chat.add_argument("--voice", metavar="NAME", help="prebuilt voice (Puck, Kore, Charon, ...)")
    chat.add_argument(
        "--text",
        action="store_true",
        help="ask for TEXT answers instead of AUDIO (only legacy models can)",
    )
    chat.add_argument(
        "--wav",
        metavar="FILE",
        help="first stream this WAV file as your voice, at real-time pace (any common rate "
        "and width; converted to 16 kHz mono), then send audioStreamEnd",
    )
    chat.add_argument(
        "--save", metavar="FILE.wav", help="save the model's audio (24 kHz mono) to this file"
    )
    chat.add_argument(
        "--audio",
        action="store_true",
        help=f"microphone in, speaker out (needs the audio extra: {AUDIO_EXTRA_HINT}); "
        "runs until Ctrl-C",
    )
    where = chat.add_argument_group("where to connect")
    where.add_argument(
        "--emulator",
        action="store_true",
        help="use the bundled emulator even when GEMINI_API_KEY is set",
    )
    where.add_argument(
        "--scenario",
        choices=sorted(SCENARIOS),
        help="behaviour of the bundled emulator (see `emulator --help`; default: default)",
    )
    where.add_argument(
        "--base-url",
        metavar="URL",
        help="ws:// or wss:// address of another Live endpoint, e.g. an emulator started with "
        f"`{PROG} emulator` (the key still comes from GEMINI_API_KEY)",
    )
    where.add_argument(
        "--api-version",
        choices=("v1beta", "v1alpha"),
        default="v1beta",
        help="API version (default: %(default)s; v1alpha for native-audio extras)",
    )
    chat.add_argument("-q", "--quiet", action="store_true", help="no status lines on stderr")
    chat.set_defaults(run=_run_chat, parser=chat)


def _add_emulator(commands: Any) -> None:
    scenarios = "\n".join(f"  {name:<10} {text}" for name, text in SCENARIOS.items())
    emulator = commands.add_parser(
        "emulator",
        formatter_class=_Formatter,
        help="serve the local Live API emulator on a port",
        description=f"""\
Serve a local emulator of the Gemini Live API until Ctrl-C: the Live WebSocket (plain ws://)
and the REST side (plain http://: model listing, ephemeral tokens). It speaks the real wire
protocol: point any Live client at it, ours or another.

scenarios (--scenario):
{scenarios}""",
        epilog=f"""\
then, in another terminal:
  export GEMINI_API_KEY=test-key
  {PROG} chat --base-url ws://127.0.0.1:8765
  {PROG} models --base-url http://127.0.0.1:8766""",
    )
    emulator.add_argument(
        "--host", default="127.0.0.1", help="address to listen on (default: %(default)s)"
    )
    emulator.add_argument(
        "--port", type=int, default=8765, help="TCP port, 0 for any free one (default: %(default)s)"
    )
    emulator.add_argument(
        "--rest-port",
        type=int,
        help="TCP port of the REST side (model listing, ephemeral tokens); default: --port + 1, "
        "or any free one with --port 0",
    )
    emulator.add_argument(
        "--api-key",
        default="test-key",
        help="the API key clients must send (default: %(default)s)",
    )
    emulator.add_argument(
        "--scenario", choices=sorted(SCENARIOS), default="default", help="see above"
    )
    emulator.add_argument(
        "--vertex",
        action="store_true",
        help="spell usage metadata the Vertex AI way (candidatesTokenCount)",
    )
    emulator.set_defaults(run=_run_emulator, parser=emulator)


def _add_models(commands: Any) -> None:
    models = commands.add_parser(
        "models",
        formatter_class=_Formatter,
        help="list the Live models your credentials can use",
        description="""\
List the models that your key can use in a Live session (those that support
bidiGenerateContent), asking the service with the key in GEMINI_API_KEY. Without a key, list
the Live models this library knows (availability varies by key and project).""",
        epilog=f"""\
examples:
  GEMINI_API_KEY=... {PROG} models
  {PROG} models --emulator                 (the bundled emulator's catalogue, offline)""",
    )
    where = models.add_mutually_exclusive_group()
    where.add_argument("--emulator", action="store_true", help="ask the bundled emulator (offline)")
    where.add_argument(
        "--base-url",
        metavar="URL",
        help="http(s) address of another REST endpoint, e.g. the one "
        f"`{PROG} emulator` prints (the key still comes from GEMINI_API_KEY)",
    )
    models.set_defaults(run=_run_models, parser=models)


# --------------------------------------------------------------------------- entry point


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status (2 for usage errors)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse: --help/--version (0) or a usage error (2)
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    if args.command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    run: Callable[[argparse.Namespace], int] = args.run
    try:
        return run(args)
    except SystemExit as exc:  # parser.error() in a command's checks
        return exc.code if isinstance(exc.code, int) else EXIT_USAGE
    except BaseException as exc:
        return _report(_leaf(exc))


def _leaf(exc: BaseException) -> BaseException:
    """The one meaningful exception in a (nested) exception group, else the group."""
    while isinstance(exc, BaseExceptionGroup):
        leaves = [e for e in exc.exceptions if not isinstance(e, trio.Cancelled)]
        if len(leaves) != 1:
            return exc
        exc = leaves[0]
    return exc


def _report(exc: BaseException) -> int:
    if isinstance(exc, KeyboardInterrupt):
        _err("[interrupted]")
        return EXIT_INTERRUPTED
    if isinstance(exc, BrokenPipeError):  # e.g. `... models | head -3`: stop quietly
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_ERROR
    if isinstance(exc, CliError):
        _error(exc.message, exc.hint)
        return EXIT_ERROR
    if isinstance(exc, GeminiLiveError):
        _error(str(exc), _hint_for(exc))
        return EXIT_ERROR
    if isinstance(exc, OSError):
        _error(f"{exc.strerror or exc}" + (f": {exc.filename}" if exc.filename else ""), None)
        return EXIT_ERROR
    raise exc  # a bug: let Python print it


def _hint_for(exc: GeminiLiveError) -> str | None:
    if isinstance(exc, HandshakeRejected):
        return "the address answered but is not a Live API endpoint: check --base-url"
    if isinstance(exc, ConnectError):
        return (
            "is the endpoint running and reachable? (a local emulator: start "
            f"`{PROG} emulator` and pass the address it prints as --base-url)"
        )
    if isinstance(exc, PolicyViolation):
        return (
            f"check the API key and the model name (`{PROG} models` lists the models your key "
            "can use)"
        )
    if isinstance(exc, QuotaExceeded):
        return "quota or rate limit reached: wait a little and try again"
    if isinstance(exc, SessionClosed) and exc.code == 1011:
        return (
            "the server failed; if it happens at once, the model may not support the "
            "chosen response modality (try without --text)"
        )
    if isinstance(exc, ConfigError):
        return None
    if isinstance(exc, InternalError):
        return "this is a bug in gemini-live-trio: please report it"
    return None


def _err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _error(message: str, hint: str | None) -> None:
    _err(f"error: {message}")
    if hint:
        _err(f"hint: {hint}")


# --------------------------------------------------------------------------- emulator scenarios


def scenario_options(name: str) -> dict[str, Any]:
    """Keyword arguments for ``serve_emulator`` that make the named scenario."""
    from .testing import EmulatorConnection, default_model

    if name not in SCENARIOS:
        raise ValueError(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
    if name == "default":
        return {}
    if name == "text-only":
        return {"models": {model: {"TEXT"} for model in REGISTRY}}

    async def behaviour(conn: EmulatorConnection) -> None:
        async def before() -> None:
            if name == "slow":
                await trio.sleep(SLOW_SECONDS)

        async def after() -> None:
            if name == "flaky":
                await conn.drop()
            elif name == "go-away":
                await conn.go_away(GO_AWAY_SECONDS)

        hooked = _AroundAnswers(conn, before=before, after=after)
        await default_model(cast(EmulatorConnection, hooked))

    return {"behaviour": behaviour}


class _AroundAnswers:
    """An emulator connection as the default model sees it, with code run around each answer.

    :func:`~gemini_live_trio.testing.default_model` answers through ``reply_to_text`` and
    ``reply_to_audio``; everything else is the real connection's.
    """

    def __init__(
        self,
        conn: Any,
        *,
        before: Callable[[], Any],
        after: Callable[[], Any],
    ) -> None:
        self._conn = conn
        self._before = before
        self._after = after

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)

    async def reply_to_text(self, text: str) -> None:
        await self._before()
        await self._conn.reply_to_text(text)
        await self._after()

    async def reply_to_audio(self, pcm: bytes, rate: int = audio.INPUT_RATE) -> None:
        await self._before()
        await self._conn.reply_to_audio(pcm, rate)
        await self._after()


# --------------------------------------------------------------------------- emulator command


def _run_emulator(args: argparse.Namespace) -> int:
    for option, port in (("--port", args.port), ("--rest-port", args.rest_port)):
        if port is not None and not 0 <= port <= 65535:
            args.parser.error(f"{option} must be between 0 and 65535, got {port}")
    if not args.api_key.strip():
        args.parser.error("--api-key must not be empty")
    if args.rest_port is None:
        args.rest_port = args.port + 1 if args.port else 0
    trio.run(_serve, args)
    return EXIT_OK


async def _listen(nursery: trio.Nursery, serve: Callable[..., Any], host: str, port: int) -> Any:
    """``nursery.start(serve)``, turning "address in use" and friends into a CliError."""
    try:
        return await nursery.start(serve)
    except BaseException as exc:
        leaf = _leaf(exc)
        if isinstance(leaf, OSError):  # e.g. the port is taken
            raise CliError(
                f"cannot listen on {host}:{port}: {leaf.strerror or leaf}",
                "pick another port (--port / --rest-port; 0 picks any free one)",
            ) from None
        raise


async def _serve(args: argparse.Namespace) -> None:
    from .testing import serve_emulator, serve_emulator_rest

    serve = partial(
        serve_emulator,
        host=args.host,
        port=args.port,
        api_keys=(args.api_key,),
        vertex=args.vertex,
        **scenario_options(args.scenario),
    )
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            emulator = await _listen(nursery, serve, args.host, args.port)
            rest_serve = partial(serve_emulator_rest, emulator, host=args.host, port=args.rest_port)
            rest = await _listen(nursery, rest_serve, args.host, args.rest_port)
            lines = [
                f"Gemini Live emulator, scenario {args.scenario}",
                f"  Live API (WebSocket): {emulator.base_url}",
                f"  REST:                 {rest.base_url}",
                f"  API key:              {args.api_key}",
                f"  try: GEMINI_API_KEY={args.api_key} {PROG} chat --base-url {emulator.base_url}",
            ]
            print("\n".join(lines), flush=True)
            if not is_loopback(args.host):
                _err(f"[warning: listening on {args.host}: other machines can reach it]")
            _err("[Ctrl-C to stop]")
            async for _ in signals:
                nursery.cancel_scope.cancel()
                break
    _err("[emulator stopped]")


# --------------------------------------------------------------------------- models command


def _run_models(args: argparse.Namespace) -> int:
    key = ApiKey.from_env()
    if args.base_url and key is None:
        args.parser.error(
            "--base-url needs a key in GEMINI_API_KEY (the emulator's default is test-key)"
        )
    if key is None and not args.emulator:
        _err(
            "[no GEMINI_API_KEY: these are the Live models this library knows; set "
            "GEMINI_API_KEY to see the ones your key can use, or pass --emulator]"
        )
        for name, info in REGISTRY.items():
            print(_describe(name, info))
        return EXIT_OK
    names = trio.run(partial(_list_models, args, key))
    for name in names:
        print(_describe(name, model_info(name)))
    if not names:
        _err("[no model that supports bidiGenerateContent is available with this key]")
    return EXIT_OK


async def _list_models(args: argparse.Namespace, key: ApiKey | None) -> list[str]:
    from ._rest import list_live_models

    if not args.emulator:
        assert key is not None
        listed = await list_live_models(auth=key, base_url=args.base_url)
        return [m.name for m in listed]
    from .testing import serve_emulator, serve_emulator_rest

    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(serve_emulator)
        rest = await nursery.start(partial(serve_emulator_rest, emulator))
        _err(f"[asking the bundled emulator at {rest.base_url} (offline)]")
        listed = await list_live_models(api_key=emulator.api_key, base_url=rest.base_url)
        nursery.cancel_scope.cancel()
    return [m.name for m in listed]


def _describe(name: str, info: ModelInfo | None) -> str:
    if info is None:
        return name
    notes = ["/".join(sorted(info.response_modalities))]
    if info.text_input.name == "REALTIME_INPUT":
        notes.append("text as realtimeInput")
    if info.legacy:
        notes.append("legacy")
    if name == DEFAULT_MODEL:
        notes.append("default")
    return f"{name:<50} {', '.join(notes)}"


# --------------------------------------------------------------------------- chat command


def _run_chat(args: argparse.Namespace) -> int:
    parser: argparse.ArgumentParser = args.parser
    key = ApiKey.from_env()
    if args.base_url and args.emulator:
        parser.error("--base-url and --emulator exclude each other: pick one")
    if args.base_url and key is None:
        parser.error(
            "--base-url needs a key in GEMINI_API_KEY (the emulator's default is test-key): "
            f"GEMINI_API_KEY=test-key {PROG} chat --base-url {args.base_url}"
        )
    use_emulator = args.emulator or (key is None and not args.base_url)
    if args.scenario and not use_emulator:
        parser.error(
            "--scenario is for the bundled emulator: add --emulator, or serve one with "
            f"`{PROG} emulator --scenario {args.scenario}` and pass its --base-url"
        )
    info = model_info(args.model)
    if args.text and info is not None and "TEXT" not in info.response_modalities:
        parser.error(
            f"{args.model} answers in audio only, so --text cannot work; drop --text (you "
            "still read a transcription) or pick a model that can, e.g. "
            "gemini-live-2.5-flash-preview (legacy)"
        )
    wav: audio.PcmAudio | None = None
    if args.wav:
        try:
            wav = audio.read_wav(args.wav)
        except OSError as exc:
            parser.error(f"cannot read --wav {args.wav}: {exc.strerror or exc}")
        except audio.AudioFormatError as exc:
            parser.error(f"--wav: {exc}")
        if wav.frames == 0:
            parser.error(f"--wav {args.wav} holds no audio")
    if args.save:
        folder = os.path.dirname(os.path.abspath(args.save))
        if not os.path.isdir(folder):
            parser.error(f"--save {args.save}: the folder {folder} does not exist")
    sounddevice = _load_sounddevice() if args.audio else None
    return trio.run(
        partial(_chat, args, wav=wav, sounddevice=sounddevice, use_emulator=use_emulator)
    )


def _load_sounddevice() -> ModuleType:
    """``sounddevice``, imported only for ``--audio``."""
    try:
        return importlib.import_module("sounddevice")
    except ImportError:
        raise CliError(
            "--audio needs the optional audio extra (sounddevice), which is not installed",
            f"{AUDIO_EXTRA_HINT}   (or leave out --audio: type, or stream a file with --wav)",
        ) from None
    except OSError as exc:  # sounddevice is there but PortAudio is not
        raise CliError(
            f"sounddevice cannot load the PortAudio library: {exc}",
            "install PortAudio (Debian/Ubuntu: apt install libportaudio2; macOS: brew install "
            "portaudio)",
        ) from None


class _Screen:
    """What chat prints: the conversation on stdout, status lines on stderr."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self._line: str | None = None  # which kind of line is open on stdout

    def status(self, text: str) -> None:
        if not self.quiet:
            self.end_line()
            _err(f"[{text}]")

    def warn(self, text: str) -> None:
        self.end_line()
        _err(f"[warning: {text}]")

    def say(self, kind: str, prefix: str, text: str) -> None:
        """Stream ``text`` on a line of ``kind`` (a new line when the kind changes)."""
        if self._line != kind:
            self.end_line()
            print(prefix, end="", flush=True)
            self._line = kind
        print(text, end="", flush=True)

    def line(self, text: str) -> None:
        self.end_line()
        print(text, flush=True)

    def end_line(self) -> None:
        if self._line is not None:
            print(flush=True)
            self._line = None


class _Turns:
    """Per-turn latency and token usage, for the status line."""

    def __init__(self, screen: _Screen) -> None:
        self._screen = screen
        self.count = 0
        self.session_tokens = 0
        self.reconnects = 0
        self._input_end: float | None = None
        self._first_output: float | None = None
        self._output_kind = "audio"
        self._done = trio.Event()
        self._pending = False
        self._usage: UsageMetadata | None = None

    def input_started(self) -> None:
        """A new user input begins: the next turn_complete answers it."""
        self._done = trio.Event()

    def input_ended(self) -> None:
        self._input_end = trio.current_time()
        self._first_output = None

    def output(self, kind: str) -> None:
        if self._first_output is None:
            self._first_output = trio.current_time()
            self._output_kind = kind

    async def wait_done(self) -> None:
        """Until the turn answering the latest input is over."""
        await self._done.wait()

    def complete(self) -> None:
        self.count += 1
        self._pending = True

    def usage(self, usage: UsageMetadata) -> None:
        self.session_tokens += usage.total_token_count or 0
        self._usage = usage
        self.flush()

    def flush(self) -> None:
        """Print the finished turn's status line (once) and release the input."""
        if not self._pending:
            if self._usage is not None:  # usage on its own, later
                self._screen.status(f"tokens: {_tokens(self._usage, self.session_tokens)}")
                self._usage = None
            return
        parts = [f"turn {self.count}"]
        if self._input_end is not None and self._first_output is not None:
            ms = (self._first_output - self._input_end) * 1000
            parts.append(f"first {self._output_kind} {ms:.0f} ms after your input")
        if self._input_end is not None:
            parts.append(f"done in {trio.current_time() - self._input_end:.2f} s")
        if self._usage is not None:
            parts.append(f"tokens: {_tokens(self._usage, self.session_tokens)}")
        if self.reconnects:
            parts.append(f"reconnects: {self.reconnects}")
        self._screen.status(" · ".join(parts))
        self._pending = False
        self._usage = None
        self._input_end = None
        self._done.set()


def _tokens(usage: UsageMetadata, session_total: int) -> str:
    return (
        f"{usage.prompt_token_count or 0} in, {usage.response_token_count or 0} out, "
        f"{usage.total_token_count or 0} total (session {session_total})"
    )


@asynccontextmanager
async def _endpoint(
    args: argparse.Namespace, *, use_emulator: bool, screen: _Screen
) -> AsyncIterator[dict[str, Any]]:
    """``open_live_session`` keyword arguments: the bundled emulator, --base-url or Google."""
    if not use_emulator:
        where = args.base_url or "the Gemini API"
        screen.status(f"connecting to {where} with the key in GEMINI_API_KEY")
        yield {"base_url": args.base_url} if args.base_url else {}
        return
    from .testing import serve_emulator

    scenario = args.scenario or "default"
    async with trio.open_nursery() as nursery:
        emulator = await nursery.start(partial(serve_emulator, **scenario_options(scenario)))
        why = "--emulator" if args.emulator else "no GEMINI_API_KEY"
        screen.status(
            f"{why}: talking to the bundled emulator at {emulator.base_url} "
            f"(offline, scenario {scenario}); set GEMINI_API_KEY to talk to Gemini"
        )
        try:
            yield {"api_key": emulator.api_key, "base_url": emulator.base_url}
        finally:
            nursery.cancel_scope.cancel()


def _config(args: argparse.Namespace) -> LiveConfig:
    return LiveConfig(
        response_modalities=["TEXT"] if args.text else ["AUDIO"],
        output_audio_transcription=None if args.text else AudioTranscriptionConfig(),
        input_audio_transcription=AudioTranscriptionConfig(),
        system_instruction=args.system,
        speech_config=SpeechConfig.voice(args.voice) if args.voice else None,
    )


async def _chat(
    args: argparse.Namespace,
    *,
    wav: audio.PcmAudio | None,
    sounddevice: ModuleType | None,
    use_emulator: bool,
) -> int:
    screen = _Screen(quiet=args.quiet)
    turns = _Turns(screen)
    interactive = sys.stdin.isatty()
    player = audio.PlaybackBuffer() if sounddevice is not None else None
    async with AsyncExitStack() as stack:
        saver = stack.enter_context(audio.WavWriter(args.save)) if args.save else None
        devices = _open_devices(sounddevice) if sounddevice is not None else None
        for device in devices or ():
            stack.callback(device.close)
        options = await stack.enter_async_context(
            _endpoint(args, use_emulator=use_emulator, screen=screen)
        )
        session = await stack.enter_async_context(
            open_live_session(
                args.model,
                config=_config(args),
                api_version=args.api_version,
                **options,
            )
        )
        screen.status(f"connected: {args.model}, session {session.session_id or '-'}")
        interrupted = False
        async with trio.open_nursery() as nursery:

            async def receive() -> None:
                await _receive(session, screen, turns, saver=saver, player=player)
                nursery.cancel_scope.cancel()  # the session ended: stop reading input

            async def leave_on_ctrl_c() -> None:
                nonlocal interrupted
                with trio.open_signal_receiver(signal.SIGINT) as signals:
                    async for _ in signals:
                        interrupted = True
                        nursery.cancel_scope.cancel()
                        return

            nursery.start_soon(receive)
            if threading.current_thread() is threading.main_thread():
                nursery.start_soon(leave_on_ctrl_c)
            if devices is not None and player is not None:
                nursery.start_soon(_microphone, devices[0], session)
                nursery.start_soon(_speaker, devices[1], player)
            if wav is not None:
                await _send_wav(session, wav, args.wav, screen, turns)
            await _send_lines(session, screen, turns, interactive=interactive)
            if sounddevice is not None:
                screen.status("microphone on: speak, or Ctrl-C to leave")
                if use_emulator:
                    screen.status(
                        "the emulator has no voice detection: it answers typed lines and "
                        "--wav files, not the microphone"
                    )
                await trio.sleep_forever()
            nursery.cancel_scope.cancel()
        turns.flush()
        summary = f"session over · {turns.count} turns · {turns.session_tokens} tokens"
        if turns.reconnects:
            summary += f" · reconnects: {turns.reconnects}"
        if player is not None:
            summary += f" · playback underruns: {player.underruns}"
        screen.status(summary)
        if saver is not None:
            screen.status(f"saved {saver.duration:.1f} s of the model's audio to {args.save}")
    return EXIT_INTERRUPTED if interrupted else EXIT_OK


async def _receive(
    session: LiveSession,
    screen: _Screen,
    turns: _Turns,
    *,
    saver: audio.WavWriter | None,
    player: audio.PlaybackBuffer | None,
) -> None:
    """Print, save and play what the model sends, and keep the status line up to date."""

    def handle(event: ServerEvent) -> None:
        if not isinstance(event, UsageMetadata):
            turns.flush()
        if isinstance(event, ServerContent):
            if player is not None:
                player.handle(event)
            if event.input_transcription_text:
                screen.say("heard", "you (heard)> ", event.input_transcription_text)
            pcm = event.audio
            if pcm:
                turns.output("audio")
                if saver is not None:
                    saver.write(pcm)
            text = event.output_transcription_text or event.text
            if text:
                if event.text:
                    turns.output("text")
                screen.say("model", "gemini> ", text)
            if event.interrupted:
                screen.status("interrupted")
            if event.turn_complete:
                screen.end_line()
                turns.complete()
        elif isinstance(event, UsageMetadata):
            turns.usage(event)
        elif isinstance(event, VoiceActivity):
            if event.voice_activity_type == VoiceActivityType.ACTIVITY_END:
                turns.input_ended()
        elif isinstance(event, GoAway):
            left = event.time_left.total_seconds() if event.time_left else 0.0
            screen.status(f"the server will close this connection in {left:g} s (goAway)")
        elif isinstance(event, Reconnecting):
            what = "moving to a new connection" if event.planned else "connection lost"
            screen.status(
                f"{what} ({event.reason}): reconnecting, attempt {event.attempt}"
                + (f" in {event.delay:.1f} s" if event.delay else "")
            )
        elif isinstance(event, Reconnected):
            turns.reconnects += 1
            how = "conversation resumed" if event.resumed else "a NEW conversation (no handle)"
            if event.replayed:
                how += f", {event.replayed} message(s) sent again"
            if event.lost:
                how += f", {event.lost} message(s) could not be sent again"
            screen.status(f"reconnected after {event.gap:.2f} s: {how}")
        elif isinstance(event, SendFailed):
            screen.warn(f"a message could not be sent: {event.error}")

    async for event in session.events:
        handle(event)
        if isinstance(event, ServerContent) and event.turn_complete:
            # usage travels in the same frame as turnComplete: take it with this turn
            try:
                handle(session.events.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                pass
            turns.flush()
    if player is not None:
        player.close()


async def _send_wav(
    session: LiveSession, wav: audio.PcmAudio, name: str, screen: _Screen, turns: _Turns
) -> None:
    pcm = wav.to_input()
    kind = "float" if wav.is_float else f"{8 * wav.sample_width}-bit"
    screen.status(
        f"streaming {name}: {wav.duration:.1f} s, {wav.rate} Hz, {wav.channels} ch, {kind} -> "
        "16 kHz mono, at real-time pace"
    )
    turns.input_started()
    async with aclosing(audio.paced(audio.chunks(pcm, ms=100))) as stream:
        async for chunk in stream:
            await session.send_realtime_input(audio=chunk)
    await session.send_realtime_input(audio_stream_end=True)
    turns.input_ended()
    await _wait_for_answer(turns, screen)


async def _wait_for_answer(turns: _Turns, screen: _Screen) -> None:
    with trio.move_on_after(TURN_TIMEOUT) as waiting:
        await turns.wait_done()
    if waiting.cancelled_caught:
        screen.status(f"no answer within {TURN_TIMEOUT:g} s; going on")


async def _read_line(interactive: bool) -> str | None:
    """A line typed at the terminal (with a prompt) or read from stdin; ``None`` at EOF."""
    if interactive:
        try:
            line = await trio.to_thread.run_sync(input, "you> ", abandon_on_cancel=True)
        except EOFError:
            print(flush=True)
            return None
        return line.strip()
    line = await trio.to_thread.run_sync(sys.stdin.readline, abandon_on_cancel=True)
    return line.strip() if line else None


async def _send_lines(
    session: LiveSession, screen: _Screen, turns: _Turns, *, interactive: bool
) -> None:
    while (line := await _read_line(interactive)) is not None:
        if not line:
            continue
        if line in ("/quit", "/exit", "/q"):
            return
        if not interactive:
            screen.line(f"you> {line}")
        turns.input_started()
        await session.send_text(line)
        turns.input_ended()
        await _wait_for_answer(turns, screen)


def _open_devices(sd: ModuleType) -> tuple[Any, Any]:
    """The default microphone (16 kHz) and speaker (24 kHz) as raw mono s16le streams."""
    opened = []
    for what, make, rate in (
        ("microphone", sd.RawInputStream, audio.INPUT_RATE),
        ("speaker", sd.RawOutputStream, audio.OUTPUT_RATE),
    ):
        try:
            opened.append(make(samplerate=rate, channels=1, dtype="int16"))
        except Exception as exc:  # sounddevice.PortAudioError and friends
            for stream in opened:
                stream.close()
            raise CliError(
                f"cannot open the {what}: {exc}",
                "`python -m sounddevice` lists the audio devices",
            ) from None
    return opened[0], opened[1]


async def _microphone(stream: Any, session: LiveSession) -> None:
    """Stream the microphone to the session in 100 ms blocks (``_chat`` closes the stream)."""
    block = audio.INPUT_RATE // 10
    stream.start()
    while True:
        data, _overflowed = await trio.to_thread.run_sync(stream.read, block)
        await session.send_realtime_input(audio=bytes(data))


async def _speaker(stream: Any, player: audio.PlaybackBuffer) -> None:
    """Play the model's audio as the playback buffer releases it (``_chat`` closes it)."""
    stream.start()
    async for frame in player:
        await trio.to_thread.run_sync(stream.write, frame)
