"""Shared pieces of the benchmark: audio frames, the server's commands, measurement helpers.

Everything here is plain stdlib so that the server, every client and the runner agree on the
same frames and the same wording without importing each other.
"""

import json
import os
import random
import resource
import time
import zlib
from collections.abc import Sequence
from typing import Any

#: Downstream (server -> client) audio: 40 ms of 24 kHz s16le mono.
DOWN_RATE = 24_000
DOWN_FRAME_MS = 40
DOWN_PCM_BYTES = DOWN_RATE * 2 * DOWN_FRAME_MS // 1000  # 1,920
DOWN_MIME = "audio/pcm;rate=24000"
#: Upstream (client -> server) audio: 20 ms of 16 kHz s16le mono.
UP_RATE = 16_000
UP_FRAME_MS = 20
UP_PCM_BYTES = UP_RATE * 2 * UP_FRAME_MS // 1000  # 640
UP_MIME = "audio/pcm;rate=16000"
#: Distinct PCM chunks; frame ``i`` carries chunk ``i % POOL``.
POOL = 16

MODEL = "bench-model"
#: The text turn that makes the server answer with ``n`` audio frames, then turnComplete.
FRAMES_COMMAND = "frames:{n}"
#: The text turn that makes the server send one toolCall; turnComplete follows the response.
TOOL_COMMAND = "tool"
#: Any other text turn gets one short text part, then turnComplete.
PING_COMMAND = "ping"
TOOL_NAME = "get_weather"
TOOL_ARGS = {"city": "Paris"}
#: The ack the server sends (as model text) after ``audioStreamEnd``.
ACK_PREFIX = "ack "


def pcm_pool(size: int, seed: int) -> list[bytes]:
    """Deterministic noise-like PCM chunks (base64 of noise is not one repeated character)."""
    rng = random.Random(seed)
    return [rng.randbytes(size) for _ in range(POOL)]


def down_pool() -> list[bytes]:
    return pcm_pool(DOWN_PCM_BYTES, 24)


def up_pool() -> list[bytes]:
    return pcm_pool(UP_PCM_BYTES, 16)


def expected_crc(pool: Sequence[bytes], n: int) -> int:
    crc = 0
    for i in range(n):
        crc = zlib.crc32(pool[i % POOL], crc)
    return crc


def format_ack(frames: int, nbytes: int, crc: int) -> str:
    return f"{ACK_PREFIX}frames={frames} bytes={nbytes} crc={crc}"


def parse_ack(text: str) -> dict[str, int]:
    if not text.startswith(ACK_PREFIX):
        raise ValueError(f"not an ack: {text!r}")
    return {k: int(v) for k, v in (item.split("=") for item in text[len(ACK_PREFIX) :].split())}


def check(condition: bool, message: str) -> None:
    """Counts are asserted (never timings); a failed check stops the benchmark loudly."""
    if not condition:
        raise SystemExit(f"benchmark check failed: {message}")


# --------------------------------------------------------------------------- measuring


class Meter:
    """Client CPU (``time.process_time``) and wall time of one measured phase."""

    def __init__(self, server_pid: int | None = None) -> None:
        self.server_pid = server_pid
        self.cpu = self.wall = self.server_cpu = 0.0

    def __enter__(self) -> "Meter":
        self._server0 = proc_cpu(self.server_pid)
        self._cpu0 = time.process_time()
        self._wall0 = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wall = time.perf_counter() - self._wall0
        self.cpu = time.process_time() - self._cpu0
        self.server_cpu = proc_cpu(self.server_pid) - self._server0


_TICK = os.sysconf("SC_CLK_TCK")


def proc_cpu(pid: int | None) -> float:
    """User + system CPU seconds of another process, from /proc (10 ms resolution)."""
    if pid is None:
        return 0.0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime (fields 14, 15)


def rss_bytes() -> int:
    """Current resident set size of this process (VmRSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (ru_maxrss is in KiB on Linux)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def raise_fd_limit() -> int:
    """Raise the soft RLIMIT_NOFILE to the hard limit (1,000 sockets need ~2,100 fds)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65_536)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        soft = target
    return soft


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


def median(values: Sequence[float]) -> float:
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def emit(record: dict[str, Any]) -> None:
    print(json.dumps(record), flush=True)
