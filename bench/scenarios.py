"""Scenarios, written once for every client.

A client is an *adapter* with four awaitable operations (each one a complete exchange with the
server) plus a *kit* naming its event loop's primitives. The scenarios only orchestrate and
measure; the per-frame work happens inside each adapter's own idiomatic loop.

Adapter protocol::

    async def turn_audio(n: int, verify: bool) -> tuple[int, int, int]  # frames, bytes, crc
    async def upstream(chunks: list[bytes]) -> str                       # the server's ack text
    async def ping_turn() -> None                                        # text turn round trip
    async def tool_turn() -> None                                        # toolCall round trip
"""

import gc
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from typing import Any

from . import common
from .common import Meter, check

Opener = Callable[[], AbstractAsyncContextManager[Any]]


async def verify_audio_turn(adapter: Any, n: int) -> None:
    """A turn whose every byte is checked (warm-up only: the measured turns count bytes)."""
    frames, nbytes, crc = await adapter.turn_audio(n, True)
    check(frames == n, f"downstream: {frames} frames received, {n} sent")
    check(nbytes == n * common.DOWN_PCM_BYTES, f"downstream: {nbytes} bytes received")
    check(crc == common.expected_crc(common.down_pool(), n), "downstream: audio bytes differ")


async def checked_upstream(adapter: Any, chunks: list[bytes], expect_crc: int) -> None:
    ack = common.parse_ack(await adapter.upstream(chunks))
    check(ack["frames"] == len(chunks), f"upstream: server counted {ack['frames']} frames")
    check(ack["bytes"] == len(chunks) * common.UP_PCM_BYTES, f"upstream: {ack['bytes']} bytes")
    check(ack["crc"] == expect_crc, "upstream: audio bytes differ")


async def single(adapter: Any, cfg: dict[str, Any], server_pid: int | None) -> dict[str, Any]:
    """Downstream and upstream CPU per frame, text and tool round trips, on one session."""
    n_down, n_up, repeats = cfg["down_frames"], cfg["up_frames"], cfg["repeats"]
    up_pool = common.up_pool()
    chunks = [up_pool[i % common.POOL] for i in range(n_up)]
    up_crc = common.expected_crc(up_pool, n_up)
    warm = cfg["warmup"]

    # warm-up (excluded): every path once, with full byte checks
    await verify_audio_turn(adapter, warm)
    await checked_upstream(adapter, chunks[:warm], common.expected_crc(up_pool, warm))
    for _ in range(10):
        await adapter.ping_turn()
        await adapter.tool_turn()

    out: dict[str, Any] = {}
    down = []
    for _ in range(repeats):
        gc.collect()
        with Meter(server_pid) as m:
            frames, nbytes, _ = await adapter.turn_audio(n_down, False)
        check(frames == n_down, f"downstream: {frames} frames received, {n_down} sent")
        check(nbytes == n_down * common.DOWN_PCM_BYTES, f"downstream: {nbytes} bytes received")
        down.append(m)
    out["down"] = _per_frame(down, n_down)

    up = []
    for _ in range(repeats):
        gc.collect()
        with Meter(server_pid) as m:
            await checked_upstream(adapter, chunks, up_crc)
        up.append(m)
    out["up"] = _per_frame(up, n_up)

    for name, op in (("text_rtt", adapter.ping_turn), ("tool_rtt", adapter.tool_turn)):
        samples = []
        with Meter(server_pid) as m:
            for _ in range(cfg["rtt_samples"]):
                t0 = time.perf_counter()
                await op()
                samples.append(time.perf_counter() - t0)
        out[name] = {
            "p50_ms": common.percentile(samples, 50) * 1e3,
            "p99_ms": common.percentile(samples, 99) * 1e3,
            "mean_ms": sum(samples) / len(samples) * 1e3,
            "samples": len(samples),
            "cpu_us_per_rtt": m.cpu / len(samples) * 1e6,
            "server_cpu_share": m.server_cpu / m.wall if m.wall else 0.0,
        }
    return out


def _per_frame(meters: list[Meter], n: int) -> dict[str, Any]:
    cpu = [m.cpu / n * 1e6 for m in meters]
    wall = [m.wall / n * 1e6 for m in meters]
    return {
        "frames": n,
        "repeats": len(meters),
        "cpu_us_min": min(cpu),
        "cpu_us_median": common.median(cpu),
        "wall_us_min": min(wall),
        "wall_us_median": common.median(wall),
        # server CPU seconds per wall second while the client was measured (1.0 = one core)
        "server_cpu_share": max(m.server_cpu / m.wall for m in meters),
        "client_cpu_share": max(m.cpu / m.wall for m in meters),
    }


class Kit:
    """An event loop's primitives, so :func:`many` runs under trio and asyncio alike."""

    def __init__(
        self,
        *,
        event: Callable[[], Any],
        semaphore: Callable[[int], Any],
        task_group: Callable[[], Any],
        spawn: Callable[[Any, Any], None],
    ) -> None:
        self.event = event
        self.semaphore = semaphore
        self.task_group = task_group
        self.spawn = spawn  # spawn(group, coroutine_function)


async def many(
    open_adapter: Opener, kit: Kit, cfg: dict[str, Any], server_pid: int | None
) -> dict[str, Any]:
    """``sessions`` concurrent sessions, each receiving ``turns`` replies of ``frames`` frames.

    Connect and a small verified warm-up turn are excluded; the measured phase starts when
    every session is ready and ends when every session has its last ``turnComplete``.
    """
    n, frames, turns = cfg["sessions"], cfg["frames"], cfg["turns"]
    # process baseline: everything imported and one session's code paths warmed up
    async with open_adapter() as adapter:
        await verify_audio_turn(adapter, 4)
    gc.collect()
    rss_base = common.rss_bytes()

    ready, go, done, close = kit.event(), kit.event(), kit.event(), kit.event()
    counts = {"ready": 0, "done": 0, "frames": 0, "bytes": 0}
    limiter = kit.semaphore(cfg.get("connect_concurrency", 100))
    t_connect = time.perf_counter()

    async def one() -> None:
        async with AsyncExitStack() as stack:
            async with limiter:
                adapter = await stack.enter_async_context(open_adapter())
                await verify_audio_turn(adapter, 2)
            counts["ready"] += 1
            if counts["ready"] == n:
                ready.set()
            await go.wait()
            for _ in range(turns):
                got, nbytes, _ = await adapter.turn_audio(frames, False)
                counts["frames"] += got
                counts["bytes"] += nbytes
            counts["done"] += 1
            if counts["done"] == n:
                done.set()
            await close.wait()

    result: dict[str, Any] = {"sessions": n, "frames_per_turn": frames, "turns": turns}
    async with kit.task_group() as group:
        for _ in range(n):
            kit.spawn(group, one)
        await ready.wait()
        result["connect_wall_s"] = time.perf_counter() - t_connect
        gc.collect()
        rss_connected = common.rss_bytes()
        with Meter(server_pid) as m:
            go.set()
            await done.wait()
        rss_end = common.rss_bytes()
        peak = common.peak_rss_bytes()
        close.set()
    total = n * frames * turns
    check(counts["frames"] == total, f"many: {counts['frames']} frames received, {total} sent")
    check(counts["bytes"] == total * common.DOWN_PCM_BYTES, f"many: {counts['bytes']} bytes")
    result.update(
        wall_s=m.wall,
        cpu_s=m.cpu,
        cpu_us_per_frame=m.cpu / total * 1e6,
        server_cpu_s=m.server_cpu,
        server_cpu_share=m.server_cpu / m.wall if m.wall else 0.0,
        frames_total=total,
        rss_baseline_mib=rss_base / 2**20,
        rss_connected_mib=rss_connected / 2**20,
        rss_end_mib=rss_end / 2**20,
        peak_rss_mib=peak / 2**20,
        kib_per_session_idle=(rss_connected - rss_base) / n / 1024,
        kib_per_session_peak=(peak - rss_base) / n / 1024,
    )
    return result
