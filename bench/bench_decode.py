"""Per-frame decode cost of a server audio frame: the parsing floor versus our full decode.

Run: ``python bench/bench_decode.py`` (no arguments). Prints one JSON object per line: one line
per metric and frame size, then ``ours / floor`` ratio lines. Every metric is the minimum over
several repeats of a timed loop, in microseconds per frame, measured in this one process so the
numbers compare. Nothing is asserted; this is a measurement, not a test.

Frames are what the server sends (wire-protocol.md §5.3, §9): a binary frame holding
``{"serverContent":{"modelTurn":{"parts":[{"inlineData":{"mimeType":"audio/pcm;rate=24000",
"data":"<base64>"}}]}}}``. Two sizes: 40 ms of 24 kHz s16le mono (1,920 bytes of PCM) and the
200 ms frame of stack-notes.md §5 (9,600 bytes).
"""

import base64
import json
import platform
import random
import sys
import timeit
from collections.abc import Callable
from typing import Any

from gemini_live_trio import _wire
from gemini_live_trio._protocol import LiveProtocol, Role

try:
    import orjson
except ImportError:  # pragma: no cover - the ``fast`` extra is optional
    orjson = None  # type: ignore[assignment]
try:
    import pybase64
except ImportError:  # pragma: no cover
    pybase64 = None  # type: ignore[assignment]

SAMPLE_RATE = 24_000
BYTES_PER_SAMPLE = 2
FRAME_MS = (40, 200)
REPEATS = 7
TARGET_SECONDS_PER_REPEAT = 0.05


def pcm(ms: int) -> bytes:
    """Deterministic noise-like PCM (so base64 is not a run of one character)."""
    rng = random.Random(ms)
    return rng.randbytes(SAMPLE_RATE * BYTES_PER_SAMPLE * ms // 1000)


def audio_frame(data: bytes) -> bytes:
    body = {
        "serverContent": {
            "modelTurn": {
                "parts": [
                    {
                        "inlineData": {
                            "mimeType": "audio/pcm;rate=24000",
                            "data": base64.b64encode(data).decode("ascii"),
                        }
                    }
                ]
            }
        }
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _data_of(obj: Any) -> str:
    return obj["serverContent"]["modelTurn"]["parts"][0]["inlineData"]["data"]  # type: ignore[no-any-return]


def measure(fn: Callable[[], object]) -> float:
    """Minimum µs per call over REPEATS timed loops."""
    timer = timeit.Timer(fn)
    number, _ = timer.autorange()
    number = max(1, int(number * TARGET_SECONDS_PER_REPEAT / 0.2))
    return min(timer.repeat(repeat=REPEATS, number=number)) / number * 1e6


def bench(ms: int) -> list[dict[str, Any]]:
    data = pcm(ms)
    frame = audio_frame(data)
    expect = data

    def floor_stdlib() -> bytes:
        return base64.b64decode(_data_of(json.loads(frame)))

    candidates: list[tuple[str, Callable[[], object]]] = [
        ("floor_json_base64", floor_stdlib),
    ]
    if orjson is not None and pybase64 is not None:
        orjson_loads = orjson.loads
        b64 = pybase64.b64decode

        def floor_fast() -> bytes:
            return b64(_data_of(orjson_loads(frame)))

        def floor_fast_validate() -> bytes:
            return b64(_data_of(orjson_loads(frame)), validate=True)

        candidates += [
            ("floor_orjson_pybase64", floor_fast),
            ("floor_orjson_pybase64_validate", floor_fast_validate),
        ]

    proto = LiveProtocol(Role.CLIENT)

    def ours() -> object:
        return proto.receive(frame)

    def ours_decode_only() -> object:
        return _wire.decode_server_frame(frame)

    candidates += [("ours_decode_server_frame", ours_decode_only), ("ours_receive", ours)]

    # Each path must really decode the same audio, or the comparison means nothing.
    for name, fn in candidates:
        result = fn()
        got = result[0].audio if isinstance(result, list) else result
        if got != expect:
            raise SystemExit(f"{name} decoded the wrong bytes")

    rows = []
    for name, fn in candidates:
        rows.append(
            {
                "metric": name,
                "frame_ms": ms,
                "pcm_bytes": len(data),
                "frame_bytes": len(frame),
                "us_per_frame": round(measure(fn), 2),
            }
        )
    return rows


def main() -> None:
    env = {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "orjson": getattr(orjson, "__version__", None),
        "pybase64": getattr(pybase64, "__version__", None),
        "wire_json": _wire._json_loads.__module__,
        "wire_b64": "pybase64" if vars(_wire).get("_b64") is not None else "binascii",
    }
    print(json.dumps({"environment": env}))
    for ms in FRAME_MS:
        rows = bench(ms)
        for row in rows:
            print(json.dumps(row))
        by_name = {row["metric"]: row["us_per_frame"] for row in rows}
        ours = by_name["ours_receive"]
        for floor in ("floor_json_base64", "floor_orjson_pybase64"):
            if floor in by_name:
                print(
                    json.dumps(
                        {
                            "ratio": f"ours / {floor}",
                            "frame_ms": ms,
                            "value": round(ours / by_name[floor], 2),
                        }
                    )
                )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
