"""The benchmark's Live server: just enough of ``BidiGenerateContent``, and fast.

Run by the runner as its own process (``python -m bench.server``); it prints one JSON line
``{"port": ..., "pid": ...}`` once listening and serves until SIGTERM/SIGINT. Built on the
``websockets`` asyncio server (no compression, like a raw socket) and pre-encoded frames so
that the server is never the bottleneck; every frame goes out as a **binary** frame, as the
real service sends them (wire-protocol.md §1.1, §5.1).

Protocol (camelCase or snake_case keys, as the real server accepts):

* ``setup`` -> ``setupComplete``.
* a text turn (``clientContent`` or ``realtimeInput.text``):
  ``frames:N`` -> N audio frames (40 ms of 24 kHz PCM, frame ``i`` = chunk ``i % 16`` of
  :func:`bench.common.down_pool`) then ``turnComplete``; ``paced:N:MS`` -> the same N frames,
  one every MS ms in real time; ``tool`` -> one ``toolCall``, and
  ``turnComplete`` once the ``toolResponse`` arrives; anything else -> one short text part,
  then ``turnComplete``.
* ``realtimeInput.audio`` frames are decoded and counted (frames, bytes, CRC-32);
  ``audioStreamEnd`` answers with the text ``ack frames=.. bytes=.. crc=..`` then
  ``turnComplete`` and resets the counters.
* like the real service (wire-protocol.md §5.9), a client whose ``setup`` asked for session
  resumption gets a resumable ``sessionResumptionUpdate`` after every ``turnComplete``
  (this library asks by default; the other clients do not).
"""

import asyncio
import binascii
import json
import os
import signal
import sys
import zlib

from websockets.asyncio.server import ServerConnection, serve

from . import common

SETUP_COMPLETE = b'{"setupComplete":{}}'
TURN_COMPLETE = b'{"serverContent":{"turnComplete":true}}'
TEXT_REPLY = b'{"serverContent":{"modelTurn":{"role":"model","parts":[{"text":"pong"}]}}}'
AUDIO_FRAMES = [
    json.dumps(
        {
            "serverContent": {
                "modelTurn": {
                    "role": "model",
                    "parts": [
                        {
                            "inlineData": {
                                "mimeType": common.DOWN_MIME,
                                "data": binascii.b2a_base64(pcm, newline=False).decode(),
                            }
                        }
                    ],
                }
            }
        },
        separators=(",", ":"),
    ).encode()
    for pcm in common.down_pool()
]


def tool_call(number: int) -> bytes:
    call = {"id": f"call-{number}", "name": common.TOOL_NAME, "args": common.TOOL_ARGS}
    return json.dumps({"toolCall": {"functionCalls": [call]}}, separators=(",", ":")).encode()


def text_reply(text: str) -> bytes:
    part = {"text": text}
    body = {"serverContent": {"modelTurn": {"role": "model", "parts": [part]}}}
    return json.dumps(body, separators=(",", ":")).encode()


def _get(body: dict, camel: str, snake: str) -> object:
    value = body.get(camel)
    return body.get(snake) if value is None else value


_URLSAFE = str.maketrans("-_", "+/")


def _b64decode(text: str) -> bytes:
    """Both alphabets, padding optional, as the real server (google-genai sends URL-safe)."""
    if "-" in text or "_" in text:
        text = text.translate(_URLSAFE)
    if len(text) % 4:
        text += "=" * (-len(text) % 4)
    return binascii.a2b_base64(text, strict_mode=True)


class Handler:
    """One connection's state."""

    def __init__(self, ws: ServerConnection) -> None:
        self.ws = ws
        self.frames = self.bytes = self.crc = 0
        self.tool_calls = 0
        self.open_call: str | None = None
        self.resumption = False
        self.handles = 0

    async def run(self) -> None:
        ws = self.ws
        first = json.loads(await ws.recv())
        if "setup" not in first:
            await ws.close(1007, "The first message must be setup.")
            return
        self.resumption = (
            _get(first["setup"], "sessionResumption", "session_resumption") is not None
        )
        await ws.send(SETUP_COMPLETE)
        async for raw in ws:
            message = json.loads(raw)
            for key, body in message.items():
                if key in ("realtimeInput", "realtime_input"):
                    await self.realtime(body)
                elif key in ("clientContent", "client_content"):
                    turns = body.get("turns") or ()
                    text = turns[-1]["parts"][-1]["text"] if turns else ""
                    await self.text_turn(text)
                elif key in ("toolResponse", "tool_response"):
                    responses = _get(body, "functionResponses", "function_responses") or ()
                    if self.open_call is None or not responses:
                        await ws.close(1007, "unexpected toolResponse")
                        return
                    self.open_call = None
                    await self.turn_complete()
                else:
                    await ws.close(1007, f"unknown message {key!r}")
                    return

    async def realtime(self, body: dict) -> None:
        audio = body.get("audio")
        if audio is not None:
            data = _b64decode(audio["data"])
            self.frames += 1
            self.bytes += len(data)
            self.crc = zlib.crc32(data, self.crc)
        elif _get(body, "audioStreamEnd", "audio_stream_end"):
            ack = common.format_ack(self.frames, self.bytes, self.crc)
            self.frames = self.bytes = self.crc = 0
            await self.ws.send(text_reply(ack))
            await self.turn_complete()
        elif body.get("text") is not None:
            await self.text_turn(body["text"])

    async def text_turn(self, text: str) -> None:
        ws = self.ws
        if text.startswith("frames:"):
            n = int(text.split(":", 1)[1])
            pool = AUDIO_FRAMES
            for i in range(n):
                await ws.send(pool[i % common.POOL])
            await self.turn_complete()
        elif text.startswith("paced:"):  # paced:N:MS -> N frames, one every MS ms (real time)
            _, n_text, ms_text = text.split(":")
            interval = int(ms_text) / 1000
            start = asyncio.get_running_loop().time()
            for i in range(int(n_text)):
                await asyncio.sleep(
                    max(0.0, start + i * interval - asyncio.get_running_loop().time())
                )
                await ws.send(AUDIO_FRAMES[i % common.POOL])
            await self.turn_complete()
        elif text == common.TOOL_COMMAND:
            self.tool_calls += 1
            self.open_call = f"call-{self.tool_calls}"
            await ws.send(tool_call(self.tool_calls))
        else:
            await ws.send(TEXT_REPLY)
            await self.turn_complete()

    async def turn_complete(self) -> None:
        """``turnComplete``, then a resumable handle if the client asked for them (§5.9)."""
        await self.ws.send(TURN_COMPLETE)
        if self.resumption:
            self.handles += 1
            update = {"newHandle": f"bench-handle-{self.handles}", "resumable": True}
            await self.ws.send(json.dumps({"sessionResumptionUpdate": update}).encode())


async def handle(ws: ServerConnection) -> None:
    try:
        await Handler(ws).run()
    except Exception as exc:  # a client went away mid-turn: not the server's business
        if not type(exc).__name__.startswith("ConnectionClosed"):
            print(f"bench server: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


async def main() -> None:
    """``python -m bench.server [CERT_AND_KEY.pem]``: with a PEM file, serve wss:// (TLS)."""
    common.raise_fd_limit()
    tls = None
    if len(sys.argv) > 1:
        import ssl

        tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tls.load_cert_chain(sys.argv[1])
    stop = asyncio.get_running_loop().create_future()
    for sig in (signal.SIGTERM, signal.SIGINT):
        asyncio.get_running_loop().add_signal_handler(sig, stop.set_result, None)
    async with serve(
        handle,
        "127.0.0.1",
        0,
        compression=None,
        max_size=16 * 2**20,
        max_queue=64,
        ping_interval=None,
        backlog=4096,
        ssl=tls,
    ) as server:
        port = next(iter(server.sockets)).getsockname()[1]
        print(json.dumps({"port": port, "pid": os.getpid()}), flush=True)
        await stop


if __name__ == "__main__":
    asyncio.run(main())
