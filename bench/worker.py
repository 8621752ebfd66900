"""One client, one scenario, in a fresh process: ``python -m bench.worker '<json config>'``.

A fresh process per measurement keeps clients from sharing caches, allocator state or imports,
and makes ``ru_maxrss`` the peak of exactly one scenario. The last stdout line is
``RESULT <json>``.

Clients: ``ours`` (this library, default install: the ``fast`` extra is blocked by making
``import orjson`` / ``import pybase64`` fail), ``ours_fast`` (orjson + pybase64 present),
``genai``, ``raw_ws``, ``raw_trio`` and ``raw_trio_ws``.
"""

import json
import sys
import time
from typing import Any

from . import common

OURS = ("ours", "ours_fast")
TRIO_CLIENTS = (*OURS, "raw_trio", "raw_trio_ws")


def _block_fast_extra() -> None:
    for name in ("orjson", "pybase64"):
        sys.modules[name] = None  # type: ignore[assignment]  # makes `import name` fail


def _b64_backend(wire: Any) -> str:
    """Which base64 decoder ``_wire`` picked (pybase64 from the fast extra, else binascii)."""
    module = vars(wire).get("_b64")
    return getattr(module, "__name__", "pybase64") if module is not None else "binascii"


def environment(client: str) -> dict[str, Any]:
    env: dict[str, Any] = {"client": client, "python": sys.version.split()[0]}
    if client in OURS:
        import gemini_live_trio
        from gemini_live_trio import _wire

        env["gemini_live_trio"] = gemini_live_trio.__version__
        env["json"] = getattr(_wire._json_loads, "__module__", None) or "json"
        env["base64"] = _b64_backend(_wire)
        env["fast_extra"] = {
            name: getattr(sys.modules.get(name), "__version__", None)
            for name in ("orjson", "pybase64")
        }
    if client in TRIO_CLIENTS:
        import trio
        import trio_websocket

        env["trio"] = trio.__version__
        env["trio_websocket"] = trio_websocket.__version__
    if client in ("genai", "raw_ws"):
        import websockets

        env["websockets"] = websockets.__version__
    if client == "genai":
        from google.genai import version

        env["google_genai"] = version.__version__
    return env


def opener(client: str, port: int, **kwargs: Any) -> Any:
    if client in OURS:
        from .client_ours import open_ours

        return lambda: open_ours(port, **kwargs)
    if client == "raw_trio":
        from .client_raw import open_raw_trio

        return lambda: open_raw_trio(port)
    if client == "raw_trio_ws":
        from .client_raw import open_raw_trio_ws

        return lambda: open_raw_trio_ws(port)
    if client == "raw_ws":
        from .client_raw import open_raw_ws

        return lambda: open_raw_ws(port)
    if client == "genai":
        from .client_genai import open_genai

        return lambda: open_genai(port)
    raise SystemExit(f"unknown client {client!r}")


async def run_single(cfg: dict[str, Any]) -> dict[str, Any]:
    from .scenarios import single

    client, port, pid = cfg["client"], cfg["port"], cfg["server_pid"]
    async with opener(client, port)() as adapter:
        result = await single(adapter, cfg, pid)
    if client in OURS:  # the library's own tool dispatcher answering the call
        auto = {**cfg, "down_frames": 0, "up_frames": 0}
        async with opener(client, port, tool_mode="auto")() as adapter:
            for _ in range(10):
                await adapter.tool_turn()
            samples = []
            for _ in range(auto["rtt_samples"]):
                t0 = time.perf_counter()
                await adapter.tool_turn()
                samples.append(time.perf_counter() - t0)
        result["tool_rtt_auto"] = {
            "p50_ms": common.percentile(samples, 50) * 1e3,
            "p99_ms": common.percentile(samples, 99) * 1e3,
            "samples": len(samples),
        }
    return result


async def run_many(cfg: dict[str, Any]) -> dict[str, Any]:
    from .scenarios import many

    client = cfg["client"]
    if client in TRIO_CLIENTS:
        from .client_ours import kit
    else:
        from .client_raw import asyncio_kit as kit
    return await many(opener(client, cfg["port"]), kit(), cfg, cfg["server_pid"])


def main() -> None:
    cfg = json.loads(sys.argv[1])
    client = cfg["client"]
    if client == "ours":
        _block_fast_extra()
    cfg["fd_limit"] = common.raise_fd_limit()
    if "frames_command" in cfg:  # e.g. paced replies (bench/bench_paced.py)
        common.FRAMES_COMMAND = cfg["frames_command"]
    run = run_single if cfg["scenario"] == "single" else run_many
    if client in TRIO_CLIENTS:
        import trio

        result = trio.run(run, cfg)
    else:
        import asyncio

        result = asyncio.run(run(cfg))
    result["environment"] = environment(client)
    print("RESULT " + json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
