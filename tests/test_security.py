"""Security: secrets stay secret, TLS is verified, credentials never travel in the clear.

* API keys, ephemeral tokens (``auth_tokens/...``) and OAuth bearer tokens never appear in a
  repr, a log record at any level of any logger (ours, the root logger, trio-websocket,
  wsproto, httpx, google-auth), an exception message or a formatted traceback. Checked by
  scanning everything captured across sessions with a good key, a bad key, an ephemeral token,
  a bearer token, reconnects and a goAway handover. The secrets are random per run, in the
  real shapes (``AIza...``, ``auth_tokens/...``, ``ya29....``) and in shapes no pattern knows.
* TLS is verified by default: a ``wss://`` emulator with a self-signed (trustme) certificate
  is refused unless its CA is trusted, and a certificate for another host is refused too.
* A credential is never sent over plain ``ws://`` to a host that is not loopback unless
  ``allow_insecure=True``: :class:`ConfigError` before any socket or DNS lookup.
* Frames logged at DEBUG are previews: audio/video payloads and long tokens elided.
"""

import base64
import gc
import logging
import secrets
import socket
import ssl
import traceback
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from typing import Any

import pytest
import trio
import trustme
from _helpers import MODEL, collect_turn, server_context, start_emulator, trusting

from gemini_live_trio import (
    ApiKey,
    AudioTranscriptionConfig,
    ConfigError,
    ConnectError,
    EphemeralToken,
    FunctionCall,
    GoAway,
    LiveConfig,
    PolicyViolation,
    Reconnected,
    ReconnectPolicy,
    Secret,
    SessionClosed,
    SessionOptions,
    ToolCall,
    ToolCallFinished,
    VertexAI,
    open_live_session,
)
from gemini_live_trio._auth import redact
from gemini_live_trio._transport import ServerConnection, TransportClosed, serve_websocket
from gemini_live_trio.testing import ClientGone, EmulatorConnection, default_model, tone_pcm

NO_RECONNECT = SessionOptions(reconnect=ReconnectPolicy.off())
LOGGERS = (
    "gemini_live_trio",
    "gemini_live_trio.tools",
    "trio-websocket",
    "wsproto",
    "httpx",
    "httpcore",
    "google.auth",
    "google_auth_httplib2",
    "urllib3",
)


def google_key() -> str:
    return "AIzaSy" + secrets.token_urlsafe(25)[:33]


def plain_secret() -> str:
    """A secret in no known shape: only the explicit Secret value can redact it."""
    return "sk-" + secrets.token_hex(20)


class Scanner:
    """Everything a secret could leak into during a test, scanned at the end."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self.caplog = caplog
        self.texts: list[tuple[str, str]] = []

    def add(self, where: str, *objects: Any) -> None:
        for obj in objects:
            self.texts.append((where, repr(obj)))
            self.texts.append((where, str(obj)))

    def add_exception(self, exc: BaseException) -> None:
        self.texts.append(("exception", "".join(traceback.format_exception(exc))))
        self.add("exception", exc)

    def leaks(self, *secret_values: str) -> list[tuple[str, str]]:
        """(where, secret prefix) for every place a secret was seen."""
        return [
            (where, secret[:6] + "...") for where, secret in self.leaks_with_text(*secret_values)
        ]

    def leaks_with_text(self, *secret_values: str) -> list[tuple[str, str]]:
        found = []
        sources = [*self.texts]
        for record in self.caplog.records:
            text = record.getMessage()
            if record.exc_info and record.exc_info[1] is not None:
                text += "".join(traceback.format_exception(record.exc_info[1]))
            sources.append((f"log {record.name}:{record.levelname}", text))
        sources.append(("log text", self.caplog.text))
        for secret in secret_values:
            for where, text in sources:
                if secret in text:
                    found.append((where, secret))
        return found


@pytest.fixture
def scanner(caplog: pytest.LogCaptureFixture) -> Iterator[Scanner]:
    caplog.set_level(logging.DEBUG)  # the root logger
    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        scan = Scanner(caplog)
        yield scan
        for warning in caught:
            scan.add("warning", warning.message)


# ----------------------------------------------------------------------------- secrets


def lifecycle_behaviour() -> Any:
    """First connection: a turn, a tool call, then an abrupt drop; second: goAway; then the
    default model (so a session sees a reconnect and a planned handover)."""

    async def behaviour(conn: EmulatorConnection) -> None:
        number = conn.memory.setdefault("connection", 0)
        try:
            if conn.setup.session_resumption and conn.setup.session_resumption.handle:
                number = 1 if not conn.memory.get("went_away") else 2
            if number == 0:
                await conn.receive()
                call = FunctionCall(id="t1", name="lookup", args={"what": "x"})
                await conn.send(ToolCall(function_calls=[call]))
                await conn.receive()
                await conn.say("hello")
                await conn.drop()
                return
            if number == 1:
                conn.memory["went_away"] = True
                await conn.send(conn.resumption_update())
                await conn.send(GoAway(time_left=timedelta(seconds=10)))
            await default_model(conn)
        except ClientGone:
            pass

    return behaviour


async def lookup(what: str) -> str:
    """Look something up."""
    return what


async def run_lifecycle(session: Any, scan: Scanner) -> None:
    await session.send_text("hi")
    events = await collect_turn(session.events)
    reconnects = 0
    async for event in session.events:
        events.append(event)
        if isinstance(event, Reconnected):
            reconnects += 1
            if reconnects == 2:
                break
    await session.send_text("again")
    events += await collect_turn(session.events)
    assert any(isinstance(e, ToolCallFinished) for e in events)
    scan.add("event", *events)
    scan.add("session", session, session._endpoint)


async def test_api_keys_never_leak(nursery: trio.Nursery, scanner: Scanner) -> None:
    good, bad, plain = google_key(), google_key(), plain_secret()
    emulator = await start_emulator(
        nursery, api_keys=[good, plain], behaviour=lifecycle_behaviour()
    )
    base = {"base_url": emulator.base_url}
    for key in (good, plain):
        async with open_live_session(MODEL, api_key=key, tools=[lookup], **base) as session:
            await run_lifecycle(session, scanner)
        assert session.reconnects == 2
    for key in (bad, plain_secret()):
        with pytest.raises(PolicyViolation) as caught:
            async with open_live_session(MODEL, api_key=key, **base):
                pytest.fail("a bad key must not get a session")
        scanner.add_exception(caught.value)
        assert "API key not valid" in str(caught.value)
    # a fatal close is never retried with the same bad key
    assert len(emulator.connections) == 2 * 3 + 2
    scanner.add("objects", ApiKey(key=good), Secret(good), emulator, *emulator.connections)
    assert scanner.leaks(good, bad, plain) == []


async def test_ephemeral_tokens_never_leak(nursery: trio.Nursery, scanner: Scanner) -> None:
    emulator = await start_emulator(nursery, behaviour=lifecycle_behaviour())
    token = emulator.credentials.mint({"uses": 0}, known_model=lambda name: True).name
    assert token.startswith("auth_tokens/")
    auth = EphemeralToken(token=token)
    async with open_live_session(
        MODEL, auth=auth, api_version="v1alpha", base_url=emulator.base_url, tools=[lookup]
    ) as session:
        await run_lifecycle(session, scanner)
    unknown = f"auth_tokens/{secrets.token_hex(16)}"
    with pytest.raises(PolicyViolation) as caught:
        async with open_live_session(
            MODEL,
            auth=EphemeralToken(token=unknown),
            api_version="v1alpha",
            base_url=emulator.base_url,
        ):
            pytest.fail("an unknown token must not get a session")
    scanner.add_exception(caught.value)
    scanner.add("objects", auth, EphemeralToken(token=unknown))
    assert scanner.leaks(token, unknown, token.removeprefix("auth_tokens/")) == []


async def test_bearer_tokens_never_leak(nursery: trio.Nursery, scanner: Scanner) -> None:
    from google.oauth2.credentials import Credentials

    good, bad = "ya29." + secrets.token_urlsafe(40), "ya29." + secrets.token_urlsafe(40)
    emulator = await start_emulator(nursery, vertex=True, bearer_tokens=[good])
    for token, works in ((good, True), (bad, False)):
        auth = VertexAI(project="demo-proj", credentials=Credentials(token=token))
        try:
            async with open_live_session(
                MODEL, auth=auth, api_version="v1beta1", base_url=emulator.base_url
            ) as session:
                assert works
                await session.send_text("hi")
                scanner.add("event", *(await collect_turn(session.events)))
                scanner.add("session", session, session._endpoint, auth)
        except SessionClosed as exc:
            assert not works, exc
            scanner.add_exception(exc)
    assert [c.closed_with[0] for c in emulator.connections] == [1000, 1008]  # type: ignore[index]
    assert scanner.leaks(good, bad, good.removeprefix("ya29."), bad.removeprefix("ya29.")) == []


@pytest.mark.parametrize("shape", ["google key", "plain"])
async def test_a_close_reason_echoing_the_key_is_redacted(
    nursery: trio.Nursery, scanner: Scanner, shape: str
) -> None:
    key = google_key() if shape == "google key" else plain_secret()

    async def echo(ws: ServerConnection) -> None:
        await ws.accept()
        try:
            await ws.receive()
            await ws._conn.aclose(1008, f"API key {key} not valid.")  # type: ignore[attr-defined]
        except TransportClosed:
            pass

    port = await nursery.start(partial(serve_websocket, echo, "127.0.0.1", 0))
    with pytest.raises(PolicyViolation) as caught:
        async with open_live_session(MODEL, api_key=key, base_url=f"ws://127.0.0.1:{port}"):
            pytest.fail("refused")
    scanner.add_exception(caught.value)
    # our exceptions and our log records; trio-websocket's own DEBUG record of the close
    # ("websocket closed CloseReason<...>") repeats whatever the server sent, verbatim
    ours = [
        (where, text)
        for where, text in scanner.leaks_with_text(key)
        if not where.startswith(("log trio-websocket", "log text"))
    ]
    assert ours == []


# ----------------------------------------------------------------------------- TLS


@pytest.fixture(scope="module")
def ca() -> trustme.CA:
    return trustme.CA()


@contextmanager
def leaked_sockets() -> Iterator[list[str]]:
    """ResourceWarnings for sockets left open inside the block (after a full GC), so a leak
    is reported here instead of failing some later test at garbage collection."""
    found: list[str] = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield found
        gc.collect()
    found.extend(str(w.message) for w in caught if issubclass(w.category, ResourceWarning))


async def refused(base_url: str, key: str, ssl_context: ssl.SSLContext | None) -> tuple[str, str]:
    """Open a session that must fail with ConnectError: its message and formatted traceback.
    (No reference to the exception survives, so a leaked socket can be collected.)"""
    try:
        async with open_live_session(
            MODEL, api_key=key, base_url=base_url, ssl_context=ssl_context
        ):
            pytest.fail("the TLS handshake must fail")
    except ConnectError as exc:
        return str(exc), "".join(traceback.format_exception(exc))
    raise AssertionError("unreachable")


async def test_tls_is_verified_by_default(
    nursery: trio.Nursery, ca: trustme.CA, scanner: Scanner
) -> None:
    key = google_key()
    emulator = await start_emulator(nursery, api_keys=[key], ssl_context=server_context(ca))
    assert emulator.base_url.startswith("wss://")
    with leaked_sockets():  # see test_a_refused_certificate_leaks_no_socket
        scanner.texts.append(("exception", (await refused(emulator.base_url, key, None))[1]))
    assert emulator.connections == []  # the upgrade (and the key header) never went out
    # trusting the test CA explicitly is the way in
    async with open_live_session(
        MODEL, api_key=key, base_url=emulator.base_url, ssl_context=trusting(ca)
    ) as session:
        assert session.session_id
    assert scanner.leaks(key) == []


async def test_a_certificate_for_another_host_is_refused(
    nursery: trio.Nursery, ca: trustme.CA
) -> None:
    emulator = await start_emulator(nursery, ssl_context=server_context(ca, "gemini.example.test"))
    with leaked_sockets():
        await refused(emulator.base_url, emulator.api_key, trusting(ca))
    assert emulator.connections == []


TLS_CASES = pytest.mark.parametrize(
    ("hosts", "trusted", "words"),
    [
        ((), False, "certificate verify failed"),
        (("gemini.example.test",), True, "certificate verify failed: IP address mismatch"),
    ],
    ids=["self-signed", "other host"],
)


@TLS_CASES
async def test_a_tls_failure_says_certificate_verification_failed(
    nursery: trio.Nursery, ca: trustme.CA, hosts: tuple[str, ...], trusted: bool, words: str
) -> None:
    emulator = await start_emulator(nursery, ssl_context=server_context(ca, *hosts))
    with leaked_sockets():
        message, _ = await refused(
            emulator.base_url, emulator.api_key, trusting(ca) if trusted else None
        )
    assert words in message


@TLS_CASES
async def test_a_refused_certificate_leaks_no_socket(
    nursery: trio.Nursery, ca: trustme.CA, hosts: tuple[str, ...], trusted: bool, words: str
) -> None:
    emulator = await start_emulator(nursery, ssl_context=server_context(ca, *hosts))
    with leaked_sockets() as leaks:
        await refused(emulator.base_url, emulator.api_key, trusting(ca) if trusted else None)
    assert leaks == []


# ----------------------------------------------------------------------------- plain ws://


@contextmanager
def no_network_calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Any]]:
    calls: list[Any] = []
    real_connect, real_getaddrinfo = socket.socket.connect, socket.getaddrinfo

    def connect(self: socket.socket, address: Any) -> Any:
        calls.append(("connect", address))
        return real_connect(self, address)

    def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(("getaddrinfo", host))
        return real_getaddrinfo(host, *args, **kwargs)

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    yield calls


NOT_LOOPBACK = [
    "ws://example.com",
    "ws://10.1.2.3:8080",
    "ws://192.0.2.1",
    "ws://0.0.0.0:9000",
    "ws://localhost.example.com",
    "ws://127.0.0.1.nip.io",
    "ws://[2001:db8::1]:80",
]


def auth_kinds(secret: str) -> dict[str, Any]:
    return {
        "api key": ApiKey(key=secret),
        "ephemeral token": EphemeralToken(token=f"auth_tokens/{secret}"),
        "vertex express key": VertexAI(api_key=secret),
    }


@pytest.mark.parametrize("url", NOT_LOOPBACK)
@pytest.mark.parametrize("kind", ["api key", "ephemeral token", "vertex express key"])
async def test_no_credential_over_plain_ws_to_other_hosts(
    monkeypatch: pytest.MonkeyPatch, url: str, kind: str
) -> None:
    secret = plain_secret()
    auth = auth_kinds(secret)[kind]
    with no_network_calls(monkeypatch) as calls:
        with pytest.raises(ConfigError, match="unencrypted") as caught:
            async with open_live_session(MODEL, auth=auth, base_url=url):
                pytest.fail("refused before connecting")
    assert calls == []
    assert secret not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize("url", ["ws://127.0.0.1:9", "ws://localhost:9", "ws://[::1]:9"])
async def test_plain_ws_to_loopback_is_fine(url: str) -> None:
    endpoint = await ApiKey(key="k").endpoint(
        MODEL, api_version="v1beta", base_url=url, allow_insecure=False
    )
    assert endpoint.url.startswith(url)


async def test_allow_insecure_is_an_explicit_opt_in(monkeypatch: pytest.MonkeyPatch) -> None:
    with no_network_calls(monkeypatch) as calls:
        with pytest.raises(ConnectError):  # the test guard refuses the (non-loopback) connect
            async with open_live_session(
                MODEL,
                api_key=plain_secret(),
                base_url="ws://192.0.2.1:9",
                options=SessionOptions(allow_insecure=True, connect_timeout=2),
            ):
                pytest.fail("the guard refuses non-loopback sockets")
    assert ("getaddrinfo", "192.0.2.1") in calls  # it did try to connect


# ----------------------------------------------------------------------------- frame logging


async def test_debug_frame_logs_elide_payloads_and_secrets(
    nursery: trio.Nursery, scanner: Scanner
) -> None:
    key = google_key()
    pcm = tone_pcm(0.1, 16000)  # 100 ms of input audio
    jpeg = b"\xff\xd8\xff\xe0" + secrets.token_bytes(3000)
    emulator = await start_emulator(nursery, api_keys=[key])
    config = LiveConfig(
        response_modalities=["AUDIO"], output_audio_transcription=AudioTranscriptionConfig()
    )
    async with open_live_session(
        MODEL, config=config, api_key=key, base_url=emulator.base_url, options=NO_RECONNECT
    ) as session:
        await session.send_realtime_input(video=jpeg)
        await session.send_realtime_input(audio=pcm)
        await session.send_realtime_input(audio_stream_end=True)
        events = await collect_turn(session.events)
    audio_out = b"".join(e.audio for e in events if getattr(e, "audio", None))
    assert audio_out
    frames = [
        r.getMessage()
        for r in scanner.caplog.records
        if r.name.startswith("gemini_live_trio") and r.levelno == logging.DEBUG
    ]
    sent = [f for f in frames if f.startswith("send ")]
    received = [f for f in frames if f.startswith("recv ")]
    # every frame is logged, both ways (setup itself is sent before the writer runs)
    assert sum('"realtimeInput"' in f for f in sent) == 3
    assert any('"setupComplete"' in f for f in received)
    assert sum('"inlineData"' in f for f in received) >= 2
    # as a short preview, with payloads elided
    assert max(len(f) for f in frames) <= 200
    payloads = [
        base64.b64encode(pcm).decode()[:40],
        base64.b64encode(jpeg).decode()[:40],
        base64.b64encode(audio_out[:1920]).decode()[:40],
    ]
    for payload in payloads:
        assert not [f for f in frames if payload in f]
    assert scanner.leaks(key) == []


def test_redact_knows_every_credential_shape() -> None:
    key, token, bearer = google_key(), f"auth_tokens/{secrets.token_hex(8)}", "ya29.abcDEF123456"
    text = (
        f"wss://h/ws?key={key}&access_token={token} x-goog-api-key: {key} "
        f"Authorization: Bearer {bearer} Authorization: Token {token}"
    )
    cleaned = redact(text)
    for secret in (key, token, bearer, token.removeprefix("auth_tokens/")):
        assert secret not in cleaned
    plain = plain_secret()
    assert plain not in redact(f"reason: {plain}", Secret(plain))
