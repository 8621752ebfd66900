"""Client (b): the official SDK, google-genai, pointed at the local server.

Vertex mode with a custom ``base_url`` and no project/location (wire-protocol.md §1.6): the SDK
connects to the URL verbatim, with no credentials and no path appended. It then sends
snake_case top-level keys (``client_content``, ``realtime_input``), which the server accepts,
and decodes frames on its Vertex path (``_LiveServerMessage_from_vertex``).

One shim, on the connect call only: google-genai 3.6 always passes an ``ssl=`` context to
``websockets.asyncio.client.connect`` (``BaseApiClient._ensure_websocket_ssl_ctx`` fills one in
even when none is configured), and websockets >= 14 refuses that for a ``ws://`` URL
(``ValueError: ssl argument is incompatible with a ws:// URI``). So plain ws:// no longer works
out of the box; :func:`client` clears the private ``_websocket_ssl_ctx`` dict of the SDK's API
client, which only feeds that connect call. Every per-frame code path is the SDK's own.
"""

import os
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from . import common

# No credentials are needed or looked for; keep google-auth away from any metadata server.
for _name in ("GOOGLE_API_KEY", "GEMINI_API_KEY", "GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
    os.environ.pop(_name, None)
os.environ.setdefault("NO_GCE_CHECK", "true")
os.environ.setdefault("GCE_METADATA_IP", "127.0.0.1:9")
os.environ.setdefault("GCE_METADATA_HOST", "127.0.0.1:9")

from google import genai  # noqa: E402
from google.genai import types  # noqa: E402

_clients: dict[int, Any] = {}


def client(port: int) -> Any:
    if port not in _clients:
        sdk = genai.Client(
            vertexai=True, http_options=types.HttpOptions(base_url=f"ws://127.0.0.1:{port}/genai")
        )
        api_client = sdk._api_client
        if not hasattr(api_client, "_websocket_ssl_ctx"):
            raise SystemExit(
                "google-genai changed: no _websocket_ssl_ctx to clear for a plain ws:// URL"
            )
        api_client._websocket_ssl_ctx = {}  # see the module docstring
        _clients[port] = sdk
    return _clients[port]


def _user(text: str) -> Any:
    return types.Content(role="user", parts=[types.Part(text=text)])


class GenaiAdapter:
    def __init__(self, session: Any) -> None:
        self.session = session

    async def turn_audio(self, n: int, verify: bool) -> tuple[int, int, int]:
        await self.session.send_client_content(
            turns=_user(common.FRAMES_COMMAND.format(n=n)), turn_complete=True
        )
        frames = nbytes = crc = 0
        async for message in self.session.receive():  # ends after turnComplete
            content = message.server_content
            if content is not None and content.model_turn is not None:
                for part in content.model_turn.parts or ():
                    if part.inline_data is not None and part.inline_data.data:
                        audio = part.inline_data.data
                        frames += 1
                        nbytes += len(audio)
                        if verify:
                            crc = zlib.crc32(audio, crc)
        return frames, nbytes, crc

    async def upstream(self, chunks: list[bytes]) -> str:
        send = self.session.send_realtime_input
        blob, mime = types.Blob, common.UP_MIME
        for chunk in chunks:
            await send(audio=blob(data=chunk, mime_type=mime))
        await send(audio_stream_end=True)
        return await self._text_reply()

    async def _text_reply(self) -> str:
        text = ""
        async for message in self.session.receive():
            content = message.server_content
            if content is not None and content.model_turn is not None:
                text += "".join(p.text or "" for p in content.model_turn.parts or ())
        return text

    async def ping_turn(self) -> None:
        await self.session.send_client_content(turns=_user(common.PING_COMMAND), turn_complete=True)
        common.check(await self._text_reply() == "pong", "ping: no pong")

    async def tool_turn(self) -> None:
        await self.session.send_client_content(turns=_user(common.TOOL_COMMAND), turn_complete=True)
        calls = 0
        async for message in self.session.receive():
            if message.tool_call is not None:
                calls += 1
                call = message.tool_call.function_calls[0]
                await self.session.send_tool_response(
                    function_responses=[
                        types.FunctionResponse(id=call.id, name=call.name, response={"temp_c": 21})
                    ]
                )
        common.check(calls == 1, f"tool turn: {calls} tool calls")


CONFIG = types.LiveConnectConfig(
    response_modalities=[types.Modality.AUDIO],
    tools=[
        types.Tool(
            function_declarations=[
                types.FunctionDeclaration(
                    name=common.TOOL_NAME,
                    description="Weather in a city.",
                    parameters=types.Schema(
                        type=types.Type.OBJECT, properties={"city": types.Schema(type="STRING")}
                    ),
                )
            ]
        )
    ],
)


@asynccontextmanager
async def open_genai(port: int) -> AsyncIterator[GenaiAdapter]:
    async with client(port).aio.live.connect(model=common.MODEL, config=CONFIG) as session:
        yield GenaiAdapter(session)
