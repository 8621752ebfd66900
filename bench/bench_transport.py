"""Micro-benchmark: µs per received 40 ms audio frame, both transports, same process, same run.

    python bench/bench_transport.py          # FRAMES=20000 ROUNDS=5 by default

Server (same process): websockets' sans-I/O ServerProtocol for the upgrade, then one
pre-serialised binary frame (the JSON of 40 ms of 24 kHz PCM, base64) written N times in big
send_all blocks, so the server's share is a few memcpys. Client: ``await ws.receive()`` N times.
Rounds alternate the backends; min of rounds reported. A "raw stream" row reads the same bytes
with ``receive_some(65536)`` and discards them: the floor of socket + trio scheduling.
"""

import base64
import json
import os
import sys
import time
from functools import partial

import trio
from websockets.client import ClientProtocol
from websockets.frames import Frame, Opcode
from websockets.http11 import Request
from websockets.server import ServerProtocol
from websockets.uri import parse_uri

from gemini_live_trio._transport import open_websocket

N = int(os.environ.get("FRAMES", "20000"))
ROUNDS = int(os.environ.get("ROUNDS", "5"))
PCM = bytes(range(256)) * 7 + bytes(128)  # 1920 bytes = 40 ms of 24 kHz s16le
FRAME_JSON = json.dumps(
    {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(PCM).decode(),
                        }
                    }
                ]
            }
        }
    },
    separators=(",", ":"),
).encode()
WIRE = Frame(Opcode.BINARY, FRAME_JSON).serialize(mask=False)
BLOCK = WIRE * 100


async def handler(stream: trio.SocketStream) -> None:
    async with stream:
        protocol = ServerProtocol(max_size=None)
        request = None
        while request is None:
            data = await stream.receive_some(65536)
            if not data:
                return
            protocol.receive_data(data)
            for event in protocol.events_received():
                assert isinstance(event, Request)
                request = event
        protocol.send_response(protocol.accept(request))
        await stream.send_all(b"".join(protocol.data_to_send()))
        # wait for the client's "go", then blast N frames
        protocol.receive_data(await stream.receive_some(65536))
        protocol.events_received()
        for _ in range(N // 100):
            await stream.send_all(BLOCK)
        try:
            while await stream.receive_some(65536):
                pass
        except trio.BrokenResourceError:
            pass


async def run_backend(port: int, backend: str) -> tuple[float, float]:
    url = f"ws://127.0.0.1:{port}/bench"
    async with open_websocket(url, [], safe_url=url, backend=backend) as ws:
        await ws.send("go")
        receive = ws.receive
        t0, c0 = time.perf_counter(), time.process_time()
        total = 0
        for _ in range(N):
            total += len(await receive())
        t1, c1 = time.perf_counter(), time.process_time()
        assert total == N * len(FRAME_JSON), total
        ws.abort()
    return (t1 - t0) / N * 1e6, (c1 - c0) / N * 1e6


async def run_raw(port: int) -> tuple[float, float]:
    """Handshake by hand, then read and discard the same bytes: socket + scheduling floor."""
    protocol_bytes = N * len(WIRE)
    stream = await trio.open_tcp_stream("127.0.0.1", port)
    async with stream:
        client = ClientProtocol(parse_uri(f"ws://127.0.0.1:{port}/raw"))
        client.send_request(client.connect())
        await stream.send_all(b"".join(client.data_to_send()))
        buf = b""
        while b"\r\n\r\n" not in buf:
            buf += await stream.receive_some(65536)
        await stream.send_all(Frame(Opcode.TEXT, b"go").serialize(mask=True))
        got = len(buf) - buf.index(b"\r\n\r\n") - 4
        t0, c0 = time.perf_counter(), time.process_time()
        while got < protocol_bytes:
            got += len(await stream.receive_some(65536))
        t1, c1 = time.perf_counter(), time.process_time()
    return (t1 - t0) / N * 1e6, (c1 - c0) / N * 1e6


async def main() -> None:
    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(partial(trio.serve_tcp, handler, 0, host="127.0.0.1"))
        port = listeners[0].socket.getsockname()[1]
        results: dict[str, list[tuple[float, float]]] = {}
        for _ in range(ROUNDS):
            for name in ("trio-websocket", "websockets", "raw stream"):
                if name == "raw stream":
                    r = await run_raw(port)
                else:
                    r = await run_backend(port, name)
                results.setdefault(name, []).append(r)
        print(f"{N} frames x {len(FRAME_JSON)} B JSON ({len(PCM)} B PCM), {ROUNDS} rounds, min")
        print(f"python {sys.version.split()[0]}, load {os.getloadavg()[0]:.2f}")
        print(f"{'transport':16} {'wall us/frame':>14} {'cpu us/frame':>13}")
        for name, rows in results.items():
            wall = min(r[0] for r in rows)
            cpu = min(r[1] for r in rows)
            print(f"{name:16} {wall:14.2f} {cpu:13.2f}")
        nursery.cancel_scope.cancel()


trio.run(main)
