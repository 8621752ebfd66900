"""Test rules: loopback only, no real credentials, no metadata-server probes.

Every test runs with Google credentials removed from the environment and with google-auth's
metadata probe pointed at a closed loopback port. A guard refuses any socket connection or
name lookup that is not loopback, so a test that would reach the internet fails loudly.

Sessions use the WebSocket client backend named by ``--transport`` (or the environment variable
``GEMINI_LIVE_TRIO_TRANSPORT``; default: the library's default), so the session test files run
on either: ``pytest --transport=websockets tests/test_session.py``.
"""

import ipaddress
import os
import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
import trio

from gemini_live_trio import _transport
from gemini_live_trio._transport import DEFAULT_TRANSPORT, TRANSPORTS
from gemini_live_trio.testing import Emulator, serve_emulator

_SAFE_ENV = {
    "NO_GCE_CHECK": "true",  # lower case: google-auth compares with "true" exactly
    "GCE_METADATA_IP": "127.0.0.1:9",
    "GCE_METADATA_HOST": "127.0.0.1:9",
}
_REMOVED_ENV = (
    "GEMINI_API_KEY",
    "GOOGLE_API_KEY",
    "GOOGLE_APPLICATION_CREDENTIALS",
    "GOOGLE_CLOUD_PROJECT",
)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--transport",
        choices=TRANSPORTS,
        default=None,
        help="WebSocket client backend for sessions (default: $GEMINI_LIVE_TRIO_TRANSPORT, "
        f"else {DEFAULT_TRANSPORT})",
    )


def chosen_transport(config: pytest.Config) -> str:
    chosen = config.getoption("--transport") or os.environ.get("GEMINI_LIVE_TRIO_TRANSPORT")
    if chosen is None:
        return DEFAULT_TRANSPORT
    if chosen not in TRANSPORTS:
        raise pytest.UsageError(f"GEMINI_LIVE_TRIO_TRANSPORT={chosen!r}: not one of {TRANSPORTS}")
    return str(chosen)


def pytest_configure(config: pytest.Config) -> None:
    chosen_transport(config)  # a bad value stops the run before any test


def pytest_report_header(config: pytest.Config) -> str:
    return f"gemini_live_trio transport: {chosen_transport(config)}"


@pytest.fixture(autouse=True)
def transport(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The backend sessions use: one that asks for the default gets the chosen one instead.

    It wraps the ``open_websocket`` that ``_connection`` calls, so it also reaches sessions
    whose ``SessionOptions`` were made at import time; ``SessionOptions(transport=...)``
    naming a backend other than the default is honoured. The library reads no variable.
    """
    chosen = chosen_transport(request.config)
    if chosen != DEFAULT_TRANSPORT:
        real = _transport.open_websocket

        def open_websocket(*args: Any, backend: str = DEFAULT_TRANSPORT, **kwargs: Any) -> Any:
            backend = chosen if backend == DEFAULT_TRANSPORT else backend
            return real(*args, backend=backend, **kwargs)

        monkeypatch.setattr("gemini_live_trio._connection.open_websocket", open_websocket)
    return chosen


def _loopback(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", "", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _offline(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[None]:
    """Loopback only, and no real credentials, for every test."""
    if os.environ.get("GEMINI_LIVE_TRIO_ALLOW_NETWORK") != "1":
        real_connect = socket.socket.connect
        real_getaddrinfo = socket.getaddrinfo

        def connect(self: socket.socket, address: Any) -> Any:
            if self.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
                raise OSError(f"test guard: refusing to connect to {address[0]}")
            return real_connect(self, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if not _loopback(host):
                raise OSError(f"test guard: refusing to resolve {host}")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
        for name in _REMOVED_ENV:
            monkeypatch.delenv(name, raising=False)
        for name, value in _SAFE_ENV.items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path_factory.mktemp("gcloud")))
    yield


@pytest.fixture
async def emulator(nursery: trio.Nursery) -> AsyncIterator[Emulator]:
    """A default emulator on 127.0.0.1, port chosen by the OS."""
    yield await nursery.start(serve_emulator)
