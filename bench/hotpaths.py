"""Where our client's time goes: ``python -m bench.hotpaths [--fast] [--pyinstrument]``.

Three views of the same two hot paths (downstream: socket -> decode -> event -> channel ->
application; upstream: ``send_realtime_input`` -> channel -> writer -> encode -> socket):

1. **stages**: each step timed on its own with ``timeit`` (no profiler overhead), in µs per
   frame, beside the end-to-end client CPU per frame against the local server;
2. **cProfile** of the end-to-end run: top functions by own time, and own time summed per
   area (transport, trio scheduling, JSON, base64, cattrs, our modules, ...). cProfile adds
   a fixed cost per Python call, so call-heavy code looks more expensive than it is: read the
   areas as proportions, and the stages for absolute numbers;
3. optionally **pyinstrument** (a sampling profiler; install it in the bench venv only).

Without ``--fast`` the ``fast`` extra (orjson, pybase64) is blocked, as for the default
install.
"""

import argparse
import cProfile
import pstats
import sys
import time
import timeit
from collections import defaultdict
from typing import Any

from . import common

AREAS = (  # first match wins: (area, substring of the file name or function)
    ("trio-websocket + wsproto (transport)", ("trio_websocket", "wsproto", "h11")),
    ("websockets sans-I/O protocol (transport)", ("packages/websockets/",)),
    (  # "site-packages/": our own files are under gemini_live_trio/
        "trio socket I/O",
        ("packages/trio/_socket", "packages/trio/_highlevel_socket", "trio/_core/_io_epoll"),
    ),
    ("trio scheduling + channels", ("packages/trio/", "outcome", "sniffio")),
    ("JSON", ("json/", "orjson", "'loads'", "'dumps'", "encode' of '_json", "scanstring")),
    ("base64", ("base64", "binascii", "pybase64")),
    ("cattrs generated structure/unstructure", ("<cattrs", "cattrs/")),
    ("attrs generated __init__", ("<attrs generated",)),
    ("gemini_live_trio._wire", ("gemini_live_trio/_wire",)),
    ("gemini_live_trio._protocol", ("gemini_live_trio/_protocol",)),
    ("gemini_live_trio._session", ("gemini_live_trio/_session",)),
    ("gemini_live_trio._delivery", ("gemini_live_trio/_delivery",)),
    ("gemini_live_trio._replay", ("gemini_live_trio/_replay",)),
    (
        "gemini_live_trio._connection + _transport",
        ("gemini_live_trio/_connection", "gemini_live_trio/_transport"),
    ),
    (
        "gemini_live_trio._events / _content",
        ("gemini_live_trio/_events", "gemini_live_trio/_content"),
    ),
    ("benchmark loop (bench/)", ("bench/",)),
    ("builtins (len, isinstance, dict ops, ...)", ("~",)),
)


def area_of(key: tuple[str, int, str]) -> str:
    text = f"{key[0]}:{key[2]!r}"
    for area, needles in AREAS:
        if any(n in text for n in needles):
            return area
    return "other"


def report_profile(title: str, prof: cProfile.Profile, frames: int, top: int) -> None:
    stats = pstats.Stats(prof)
    raw: dict[Any, Any] = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values())  # own time
    print(f"\n## cProfile, {title}: {total / frames * 1e6:.1f} µs/frame under the profiler\n")
    per_area: dict[str, float] = defaultdict(float)
    for key, value in raw.items():
        per_area[area_of(key)] += value[2]
    print("| area | own time µs/frame | share |")
    print("|---|---|---|")
    for area, t in sorted(per_area.items(), key=lambda kv: -kv[1]):
        print(f"| {area} | {t / frames * 1e6:.1f} | {t / total:.0%} |")
    print(f"\nTop {top} functions by own time (ncalls per frame, own and cumulative µs/frame):\n")
    print("| function | calls/frame | own µs | cum µs |")
    print("|---|---|---|---|")
    rows = sorted(raw.items(), key=lambda kv: -kv[1][2])[:top]
    for (file, line, func), (_, ncalls, tt, ct, _) in rows:
        short = file.replace(sys.prefix, "").split("site-packages/")[-1]
        print(
            f"| {short}:{line} {func} | {ncalls / frames:.2f} | {tt / frames * 1e6:.2f} "
            f"| {ct / frames * 1e6:.2f} |"
        )


def stages(fast: bool) -> list[tuple[str, float]]:
    """Each step of the hot paths on its own, µs per call (min of 5 timed loops)."""
    import base64
    import binascii
    import json

    import trio
    import trio.lowlevel

    import gemini_live_trio as glt
    from gemini_live_trio import _wire
    from gemini_live_trio._events import RealtimeInput
    from gemini_live_trio._protocol import LiveProtocol, State

    from .server import AUDIO_FRAMES

    frame = AUDIO_FRAMES[0]
    obj = json.loads(frame)
    body = obj["serverContent"]
    b64 = body["modelTurn"]["parts"][0]["inlineData"]["data"]
    structure = _wire._SERVER_STRUCTURERS["serverContent"]
    proto = LiveProtocol()
    event = proto.receive(frame)[0]
    pcm_up = common.up_pool()[0]
    client = LiveProtocol()
    client.state = State.OPEN
    blob = glt.Blob(mime_type=common.UP_MIME, data=pcm_up)
    message = RealtimeInput(audio=blob)
    raw_up = {"realtimeInput": {"audio": {"mimeType": common.UP_MIME, "data": ""}}}

    def t(fn: Any) -> float:
        timer = timeit.Timer(fn)
        number, _ = timer.autorange()
        number = max(1, number // 4)
        return min(timer.repeat(5, number)) / number * 1e6

    out = [
        ("down: json.loads(frame) [floor]", t(lambda: json.loads(frame))),
        ("down: base64.b64decode(data) [floor]", t(lambda: base64.b64decode(b64))),
        ("down: binascii.a2b_base64(data)", t(lambda: binascii.a2b_base64(b64))),
        (
            "down: _wire.loads(frame) (ours: " + _wire._json_loads.__module__ + ")",
            t(lambda: _wire.loads(frame)),
        ),
        ("down: _wire.decode_b64(data)", t(lambda: _wire.decode_b64(b64))),
        (
            "down: cattrs structure of serverContent (incl. base64)",
            t(lambda: structure(body, glt.ServerContent)),
        ),
        ("down: _wire.decode_server_frame(frame)", t(lambda: _wire.decode_server_frame(frame))),
        ("down: LiveProtocol.receive(frame)", t(lambda: proto.receive(frame))),
        ("down: ServerContent.audio", t(lambda: event.audio)),
        (
            "up: floor json.dumps + b64encode",
            t(
                lambda: json.dumps(
                    {
                        "realtimeInput": {
                            "audio": {
                                "mimeType": common.UP_MIME,
                                "data": base64.b64encode(pcm_up).decode(),
                            }
                        }
                    }
                )
            ),
        ),
        (
            "up: Blob(...) + RealtimeInput(...)",
            t(lambda: RealtimeInput(audio=glt.Blob(mime_type=common.UP_MIME, data=pcm_up))),
        ),
        (
            "up: _wire.encode_client_message(message)",
            t(lambda: _wire.encode_client_message(message)),
        ),
        ("up: LiveProtocol.send(message) (encode + dumps)", t(lambda: client.send(message))),
        ("up: _wire.dumps(dict) only", t(lambda: _wire.dumps(raw_up))),
    ]

    async def channel_handoff() -> float:
        send, recv = trio.open_memory_channel[Any](512)
        n = 20_000
        t0 = time.perf_counter()
        for _ in range(n):
            send.send_nowait(event)
            recv.receive_nowait()
        return (time.perf_counter() - t0) / n * 1e6

    async def channel_pingpong() -> float:
        """A send + await receive across two tasks: one full wake-up and task switch."""
        send, recv = trio.open_memory_channel[Any](0)
        n = 20_000

        async def consumer() -> None:
            async for _ in recv:
                pass

        async with trio.open_nursery() as nursery:
            nursery.start_soon(consumer)
            await trio.lowlevel.checkpoint()
            t0 = time.perf_counter()
            for _ in range(n):
                await send.send(event)
            elapsed = time.perf_counter() - t0
            send.close()
        return elapsed / n * 1e6

    from gemini_live_trio._replay import ReplayBuffer

    for remembered in (10, 5000):
        replay = ReplayBuffer()
        for i in range(remembered):
            replay.record(1, i + 1, message)
        out.append(
            (
                f"down: ReplayBuffer.model_output() with {remembered} remembered messages "
                "(_session._on_frame calls it per audio frame)",
                t(replay.model_output),
            )
        )
    out.append(("hand-off: memory channel send_nowait + receive_nowait", trio.run(channel_handoff)))
    out.append(
        (
            "hand-off: unbuffered channel send -> other task (task switch)",
            trio.run(channel_pingpong),
        )
    )
    del fast
    return out


def memory() -> list[tuple[str, float]]:
    """Bytes kept per queued downstream audio frame (what a slow reader costs per frame)."""
    import json
    import tracemalloc

    from gemini_live_trio._protocol import LiveProtocol

    from .server import AUDIO_FRAMES

    proto = LiveProtocol()
    n = 2000
    frames = [bytes(AUDIO_FRAMES[i % common.POOL]) for i in range(n)]

    def per_item(make: Any) -> float:
        tracemalloc.start()
        before = tracemalloc.get_traced_memory()[0]
        kept = [make(f) for f in frames]
        after = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        return (after - before) / n

    return [
        ("the frame as received (bytes; what trio-websocket queues)", float(len(frames[0]) + 33)),
        (
            "json.loads(frame) (the dict kept as event.raw, incl. its base64 str)",
            per_item(json.loads),
        ),
        ("LiveProtocol.receive(frame) (events incl. raw dict and PCM)", per_item(proto.receive)),
    ]


def main() -> None:
    p = argparse.ArgumentParser(prog="python -m bench.hotpaths", description=__doc__)
    p.add_argument("--fast", action="store_true", help="keep orjson/pybase64 (the fast extra)")
    p.add_argument("--frames", type=int, default=5000)
    p.add_argument("--top", type=int, default=25)
    p.add_argument("--pyinstrument", action="store_true")
    args = p.parse_args()
    if not args.fast:
        for name in ("orjson", "pybase64"):
            sys.modules[name] = None  # type: ignore[assignment]
    common.raise_fd_limit()

    import trio
    import trio.lowlevel

    from .client_ours import open_ours
    from .run import Server

    install = "[fast]" if args.fast else "default install"
    print(f"# Hot paths of gemini_live_trio ({install}), {args.frames} frames per direction")
    print("\n## Stages, timed one by one (µs per frame)\n")
    print("| stage | µs |")
    print("|---|---|")
    for name, us in stages(args.fast):
        print(f"| {name} | {us:.2f} |")

    print("\n## Memory per queued audio frame (tracemalloc, bytes)\n")
    print("| what | bytes |")
    print("|---|---|")
    for name, size in memory():
        print(f"| {name} | {size:.0f} |")

    server = Server()
    n = args.frames
    up_pool = common.up_pool()
    chunks = [up_pool[i % common.POOL] for i in range(n)]
    results: dict[str, Any] = {}

    async def run() -> None:
        async with open_ours(server.port) as adapter:
            await adapter.turn_audio(500, False)  # warm-up
            await adapter.upstream(chunks[:500])
            for label, op in (
                ("downstream", lambda: adapter.turn_audio(n, False)),
                ("upstream", lambda: adapter.upstream(chunks)),
            ):
                cpu0 = time.process_time()
                await op()
                results[f"{label}_plain"] = (time.process_time() - cpu0) / n * 1e6
                prof = cProfile.Profile()
                prof.enable()
                await op()
                prof.disable()
                results[label] = prof
                if args.pyinstrument:
                    import pyinstrument

                    profiler = pyinstrument.Profiler(interval=0.0002, async_mode="disabled")
                    profiler.start()
                    await op()
                    profiler.stop()
                    results[f"{label}_pyinstrument"] = profiler.output_text(
                        unicode=True, color=False, show_all=False
                    )

    try:
        trio.run(run)
    finally:
        server.stop()
    for label in ("downstream", "upstream"):
        print(
            f"\nEnd to end, {label}: {results[f'{label}_plain']:.1f} µs/frame client CPU "
            "(no profiler)"
        )
        report_profile(label, results[label], n, args.top)
        if f"{label}_pyinstrument" in results:
            print(f"\n## pyinstrument, {label}\n\n```")
            print(results[f"{label}_pyinstrument"])
            print("```")


if __name__ == "__main__":
    main()
