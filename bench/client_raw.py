"""Clients (c) and (d): the raw floors. JSON dicts, stdlib ``json`` + ``base64``, no types.

(c) ``websockets`` asyncio: the floor the issue quotes (~20 µs per downstream frame).
(d) ``trio-websocket`` with this library's transport settings: separates the transport's cost
    from ours.
(e) this library's own transport (``_transport``, websockets backend) used directly: the floor
    of any trio client on it.
"""

import base64
import json
import zlib
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from . import common

MAX_MESSAGE = 16 * 2**20


def _text_turn(text: str) -> str:
    turn = {"role": "user", "parts": [{"text": text}]}
    return json.dumps({"clientContent": {"turns": [turn], "turnComplete": True}})


SETUP = json.dumps({"setup": {"model": f"models/{common.MODEL}"}})
AUDIO_STREAM_END = json.dumps({"realtimeInput": {"audioStreamEnd": True}})


class RawAdapter:
    def __init__(
        self, send: Callable[[str], Awaitable[None]], recv: Callable[[], Awaitable[Any]]
    ) -> None:
        self.send = send
        self.recv = recv

    async def turn_audio(self, n: int, verify: bool) -> tuple[int, int, int]:
        await self.send(_text_turn(common.FRAMES_COMMAND.format(n=n)))
        recv, loads, b64decode = self.recv, json.loads, base64.b64decode
        frames = nbytes = crc = 0
        while True:
            content = loads(await recv()).get("serverContent")
            if content is None:
                continue
            turn = content.get("modelTurn")
            if turn is not None:
                for part in turn["parts"]:
                    inline = part.get("inlineData")
                    if inline is not None:
                        audio = b64decode(inline["data"])
                        frames += 1
                        nbytes += len(audio)
                        if verify:
                            crc = zlib.crc32(audio, crc)
            if content.get("turnComplete"):
                return frames, nbytes, crc

    async def upstream(self, chunks: list[bytes]) -> str:
        send, dumps, b64encode = self.send, json.dumps, base64.b64encode
        mime = common.UP_MIME
        for chunk in chunks:
            data = b64encode(chunk).decode("ascii")
            await send(dumps({"realtimeInput": {"audio": {"mimeType": mime, "data": data}}}))
        await send(AUDIO_STREAM_END)
        return await self._text_reply()

    async def _text_reply(self) -> str:
        text = ""
        while True:
            content = json.loads(await self.recv()).get("serverContent")
            if content is None:
                continue
            turn = content.get("modelTurn")
            if turn is not None:
                text += "".join(p.get("text", "") for p in turn["parts"])
            if content.get("turnComplete"):
                return text

    async def ping_turn(self) -> None:
        await self.send(_text_turn(common.PING_COMMAND))
        common.check(await self._text_reply() == "pong", "ping: no pong")

    async def tool_turn(self) -> None:
        await self.send(_text_turn(common.TOOL_COMMAND))
        calls = 0
        while True:
            message = json.loads(await self.recv())
            tool_call = message.get("toolCall")
            if tool_call is not None:
                calls += 1
                call = tool_call["functionCalls"][0]
                response = {"id": call["id"], "name": call["name"], "response": {"temp_c": 21}}
                await self.send(json.dumps({"toolResponse": {"functionResponses": [response]}}))
                continue
            content = message.get("serverContent")
            if content is not None and content.get("turnComplete"):
                break
        common.check(calls == 1, f"tool turn: {calls} tool calls")


async def _setup(adapter: RawAdapter) -> RawAdapter:
    await adapter.send(SETUP)
    first = json.loads(await adapter.recv())
    common.check("setupComplete" in first, f"no setupComplete: {first!r}")
    return adapter


def _url(port: int) -> str:
    return f"ws://127.0.0.1:{port}/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


@asynccontextmanager
async def open_raw_ws(port: int) -> AsyncIterator[RawAdapter]:
    from websockets.asyncio.client import connect

    async with connect(_url(port), compression=None, max_size=MAX_MESSAGE) as ws:
        yield await _setup(RawAdapter(ws.send, ws.recv))


@asynccontextmanager
async def open_raw_trio(port: int) -> AsyncIterator[RawAdapter]:
    import trio_websocket

    async with trio_websocket.open_websocket_url(
        _url(port),
        message_queue_size=64,  # the settings of gemini_live_trio._transport
        max_message_size=MAX_MESSAGE,
        receive_buffer_size=None,
    ) as ws:
        yield await _setup(RawAdapter(ws.send_message, ws.get_message))


@asynccontextmanager
async def open_raw_trio_ws(port: int) -> AsyncIterator[RawAdapter]:
    """The floor of a trio client on this library's own transport (websockets' sans-I/O
    protocol, eager writes): one task, no reader task, plain dicts."""
    from gemini_live_trio._transport import open_websocket

    async with open_websocket(_url(port), [], safe_url="bench", backend="websockets") as ws:
        yield await _setup(RawAdapter(ws.send, ws.receive))


def asyncio_kit() -> Any:
    import asyncio

    from .scenarios import Kit

    return Kit(
        event=asyncio.Event,
        semaphore=lambda n: asyncio.Semaphore(n),
        task_group=asyncio.TaskGroup,
        spawn=lambda group, fn: group.create_task(fn()),
    )
