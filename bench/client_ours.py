"""Client (a): this library, ``open_live_session`` with the events channel as consumer.

Imports of ``gemini_live_trio`` happen inside the functions, so the worker can block the
``fast`` extra (orjson, pybase64) first and measure the default install in the same venv.
"""

import os
import zlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import trio

from . import common

TOOL_REPLY = {"temp_c": 21}


async def get_weather(city: str) -> dict[str, Any]:
    """The tool answered by the library's own dispatcher (``tool_mode="auto"``)."""
    return TOOL_REPLY


class OursAdapter:
    def __init__(self, session: Any, *, manual_tools: bool) -> None:
        import gemini_live_trio as glt

        self.session = session
        self.events = session.events
        self.manual_tools = manual_tools
        self.ServerContent = glt.ServerContent
        self.ToolCall = glt.ToolCall

    async def turn_audio(self, n: int, verify: bool) -> tuple[int, int, int]:
        await self.session.send_text(common.FRAMES_COMMAND.format(n=n))
        server_content = self.ServerContent
        frames = nbytes = crc = 0
        async for event in self.events:
            if type(event) is server_content:
                audio = event.audio
                if audio:
                    frames += 1
                    nbytes += len(audio)
                    if verify:
                        crc = zlib.crc32(audio, crc)
                if event.turn_complete:
                    break
        return frames, nbytes, crc

    async def upstream(self, chunks: list[bytes]) -> str:
        send = self.session.send_realtime_input
        for chunk in chunks:
            await send(audio=chunk)
        await send(audio_stream_end=True)
        return await self._text_turn_reply()

    async def _text_turn_reply(self) -> str:
        text = ""
        async for event in self.events:
            if type(event) is self.ServerContent:
                text += event.text or ""
                if event.turn_complete:
                    return text
        raise SystemExit("session ended")

    async def ping_turn(self) -> None:
        await self.session.send_text(common.PING_COMMAND)
        common.check(await self._text_turn_reply() == "pong", "ping: no pong")

    async def tool_turn(self) -> None:
        await self.session.send_text(common.TOOL_COMMAND)
        calls = 0
        async for event in self.events:
            kind = type(event)
            if kind is self.ToolCall:
                calls += 1
                if self.manual_tools:
                    call = event.function_calls[0]
                    await self.session.send_tool_response(call.reply(TOOL_REPLY))
            elif kind is self.ServerContent and event.turn_complete:
                break
        common.check(calls == 1, f"tool turn: {calls} tool calls")


@asynccontextmanager
async def open_ours(port: int, *, tool_mode: str = "manual") -> AsyncIterator[OursAdapter]:
    import gemini_live_trio as glt

    manual = tool_mode == "manual"
    if manual:
        tools: list[Any] = [
            glt.FunctionDeclaration(
                name=common.TOOL_NAME,
                description="Weather in a city.",
                parameters={"type": "OBJECT", "properties": {"city": {"type": "STRING"}}},
            )
        ]
    else:
        tools = [get_weather]
    # The bench floods minutes of audio at once: keep it all (the default drops unread audio
    # beyond 60 s, which is right for a voice agent and wrong for counting frames).
    options = glt.SessionOptions(max_buffered_audio=3600.0)
    transport = os.environ.get("GEMINI_LIVE_TRIO_TRANSPORT")  # compare transports
    if transport:
        options = attrs.evolve(options, transport=transport)
    async with glt.open_live_session(
        common.MODEL,
        api_key="bench-key",
        base_url=f"ws://127.0.0.1:{port}",
        tools=tools,
        options=options,
    ) as session:
        yield OursAdapter(session, manual_tools=manual)


def kit() -> Any:
    from .scenarios import Kit

    return Kit(
        event=trio.Event,
        semaphore=lambda n: trio.Semaphore(n),
        task_group=trio.open_nursery,
        spawn=lambda nursery, fn: nursery.start_soon(fn),
    )
