"""The benchmark runner behind ``python -m bench`` (see ``bench/__init__.py``)."""

import argparse
import json
import os
import resource
import signal
import subprocess
import sys
import time
from typing import Any

from . import common
from .common import emit

NA = "-"  # a value this run did not measure
CLIENTS = ("ours", "ours_fast", "genai", "raw_ws", "raw_trio", "raw_trio_ws")
#: What ours is compared with in the ratio table.
BASES = ("genai", "raw_ws", "raw_trio", "raw_trio_ws")
LABELS = {
    "ours": "ours (default)",
    "ours_fast": "ours [fast]",
    "genai": "google-genai",
    "raw_ws": "raw websockets",
    "raw_trio": "raw trio-websocket",
    "raw_trio_ws": "raw trio, our transport",
}

FULL = {
    "rounds": 4,
    "single": {
        "down_frames": 4000,
        "up_frames": 4000,
        "repeats": 3,
        "warmup": 200,
        "rtt_samples": 300,
    },
    "sessions": 1000,
    "frames": 50,  # 2 s of 40 ms frames
    "one_session_turns": 40,
    "one_session_repeats": 1,  # per round: as many 1-session runs as 1,000-session runs
    "many_rounds": 3,
}
QUICK = {
    "rounds": 1,
    "single": {
        "down_frames": 1000,
        "up_frames": 1000,
        "repeats": 2,
        "warmup": 50,
        "rtt_samples": 50,
    },
    "sessions": 100,
    "frames": 50,
    "one_session_turns": 10,
    "one_session_repeats": 1,
    "many_rounds": 1,
}


def _pin(cpus: set[int] | None) -> Any:
    """A ``preexec_fn`` that pins the child to ``cpus`` (None: leave it to the scheduler)."""
    if not cpus:
        return None
    return lambda: os.sched_setaffinity(0, cpus)


def plan_cpus(pin: bool) -> tuple[set[int] | None, set[int] | None]:
    """Server on one core, clients on the others, so the two never share a core (on a
    2-core machine a shared core changes how many frames each wake-up finds, which made
    per-frame CPU bimodal between runs)."""
    available = sorted(os.sched_getaffinity(0))
    if not pin or len(available) < 2:
        return None, None
    return {available[0]}, set(available[1:])


class Server:
    """The server process; its CPU is read from /proc while it runs and from wait4 at the end."""

    def __init__(self, cpus: set[int] | None = None, *, tls_pem: str | None = None) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.server", *([tls_pem] if tls_pem else [])],
            stdout=subprocess.PIPE,
            text=True,
            preexec_fn=_pin(cpus),
        )
        assert self.proc.stdout is not None
        hello = json.loads(self.proc.stdout.readline())
        self.port: int = hello["port"]
        self.pid: int = hello["pid"]
        self.started = time.perf_counter()
        self.cpu_s = 0.0
        self.wall_s = 0.0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        _, status, usage = os.wait4(self.proc.pid, 0)
        self.proc.returncode = os.waitstatus_to_exitcode(status)
        self.wall_s = time.perf_counter() - self.started
        self.cpu_s = usage.ru_utime + usage.ru_stime


def run_worker(server: Server, cfg: dict[str, Any], cpus: set[int] | None) -> dict[str, Any]:
    cfg = {**cfg, "port": server.port, "server_pid": server.pid}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "bench.worker", json.dumps(cfg)],
        capture_output=True,
        text=True,
        timeout=600,
        preexec_fn=_pin(cpus),
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"worker {cfg['client']} {cfg['scenario']} failed ({proc.returncode})")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT ") :])
    result["worker_wall_s"] = time.perf_counter() - started
    return result


def git_state() -> str:
    """The commit measured, and whether the work tree differed from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no", "gemini_live_trio"],
            capture_output=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + (" + uncommitted changes in gemini_live_trio/" if dirty.strip() else "")


def busy_seconds() -> float:
    """CPU seconds all processes of the machine have spent busy since boot (/proc/stat)."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle + iowait
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def own_seconds() -> float:
    """CPU seconds of this process and every child it has waited for (workers, server)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime


def wait_for_quiet(limit_s: float, threshold: float = 0.3) -> float:
    """Wait (up to ``limit_s``) until other processes use less than ``threshold`` cores over a
    2 s window; returns the last measured load of others, in cores."""
    deadline = time.monotonic() + limit_s
    while True:
        busy0, t0 = busy_seconds(), time.monotonic()
        time.sleep(2)
        others = (busy_seconds() - busy0) / (time.monotonic() - t0)
        if others < threshold or time.monotonic() > deadline:
            return others
        print(
            f"# waiting for a quieter machine: others use {others:.2f} cores",
            file=sys.stderr,
            flush=True,
        )


def loadavg() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


# --------------------------------------------------------------------------- aggregation


def aggregate_single(runs: list[dict[str, Any]]) -> dict[str, float]:
    """Across rounds: CPU per frame is the minimum over every timed repeat (the least disturbed
    one on a noisy machine; medians are kept too); round trips pool their samples."""
    out: dict[str, float] = {}
    for key in ("down", "up"):
        parts = [r[key] for r in runs]
        out[f"{key}_cpu_us"] = min(p["cpu_us_min"] for p in parts)
        out[f"{key}_cpu_us_median"] = common.median([p["cpu_us_median"] for p in parts])
        out[f"{key}_wall_us"] = min(p["wall_us_min"] for p in parts)
        out[f"{key}_server_share"] = max(p["server_cpu_share"] for p in parts)
        out[f"{key}_frames"] = parts[0]["frames"]
        out[f"{key}_repeats"] = sum(p["repeats"] for p in parts)
    for key in ("text_rtt", "tool_rtt", "tool_rtt_auto"):
        if key not in runs[0]:
            continue
        # p50/p99 of each round, then the median over rounds (rounds are equal-sized)
        out[f"{key}_p50_ms"] = common.median([r[key]["p50_ms"] for r in runs])
        out[f"{key}_p99_ms"] = common.median([r[key]["p99_ms"] for r in runs])
        out[f"{key}_samples"] = sum(r[key]["samples"] for r in runs)
        if "server_cpu_share" in runs[0][key]:
            out[f"{key}_server_share"] = max(r[key]["server_cpu_share"] for r in runs)
    return out


# --------------------------------------------------------------------------- targets


def targets(
    single: dict[str, dict[str, float]], many: dict[str, dict[str, Any]]
) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def ratio(a: float | None, b: float | None) -> float | None:
        return a / b if a is not None and b else None

    def add(name: str, value: float | None, limit: float, *, le: bool = True) -> None:
        ok = None if value is None else (value <= limit if le else value >= limit)
        rows.append({"target": name, "value": value, "limit": limit, "pass": ok})

    def s(client: str, key: str) -> float | None:
        return single.get(client, {}).get(key)

    for metric, label in (("down_cpu_us", "downstream"), ("up_cpu_us", "upstream")):
        add(
            f"{label} CPU/frame: ours / google-genai <= 0.25",
            ratio(s("ours", metric), s("genai", metric)),
            0.25,
        )
        add(
            f"{label} CPU/frame: ours / raw floor <= 1.5",
            ratio(s("ours", metric), s("raw_ws", metric)),
            1.5,
        )
    add(
        "downstream CPU/frame with [fast]: ours / raw floor <= 1.2",
        ratio(s("ours_fast", "down_cpu_us"), s("raw_ws", "down_cpu_us")),
        1.2,
    )
    for metric, label in (("text_rtt_p50_ms", "text-turn"), ("tool_rtt_p50_ms", "tool-call")):
        add(
            f"{label} round trip p50: ours / raw floor <= 1.3",
            ratio(s("ours", metric), s("raw_ws", metric)),
            1.3,
        )
    for client in ("ours", "ours_fast"):
        m = many.get(client)
        if not m:
            continue
        big, one = m.get("big"), m.get("one")
        label = LABELS[client]
        if big:
            rows.append(
                {
                    "target": f"{label}: {big['sessions']} concurrent sessions complete",
                    "value": big["frames_total"],
                    "limit": big["frames_total"],
                    "pass": True,
                }
            )  # counts are checked by the worker itself
            add(
                f"{label}: RSS per session above baseline (peak) <= 100 KiB",
                big["kib_per_session_peak"],
                100,
            )
            add(
                f"{label}: RSS per session above baseline (all connected, idle) <= 100 KiB",
                big["kib_per_session_idle"],
                100,
            )
        if big and one:
            add(
                f"{label}: CPU/frame at {big['sessions']} sessions / at 1 session <= 1.3",
                big["cpu_us_per_frame"] / one["cpu_us_per_frame"],
                1.3,
            )
    return rows


# --------------------------------------------------------------------------- output


def fmt(value: Any, digits: int = 1) -> str:
    if value is None:
        return NA
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def table(rows: list[list[str]], header: list[str]) -> str:
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"  # noqa: E731
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(header), sep, *(line(r) for r in rows)])


SINGLE_METRICS = (
    ("downstream CPU µs/frame (24 kHz, 40 ms)", "down_cpu_us", 1),
    ("downstream wall µs/frame", "down_wall_us", 1),
    ("upstream CPU µs/frame (16 kHz, 20 ms)", "up_cpu_us", 1),
    ("upstream wall µs/frame", "up_wall_us", 1),
    ("text-turn round trip p50 ms", "text_rtt_p50_ms", 3),
    ("text-turn round trip p99 ms", "text_rtt_p99_ms", 3),
    ("tool-call round trip p50 ms", "tool_rtt_p50_ms", 3),
    ("tool-call round trip p99 ms", "tool_rtt_p99_ms", 3),
    ("tool-call round trip p50 ms, auto-dispatched handler", "tool_rtt_auto_p50_ms", 3),
    ("server CPU share, downstream (max)", "down_server_share", 2),
    ("server CPU share, upstream (max)", "up_server_share", 2),
)
MANY_METRICS = (
    ("{n} sessions: wall s (measured phase)", "big", "wall_s", 2),
    ("{n} sessions: client CPU s", "big", "cpu_s", 2),
    ("{n} sessions: CPU µs/frame", "big", "cpu_us_per_frame", 1),
    ("1 session: CPU µs/frame (same harness)", "one", "cpu_us_per_frame", 1),
    ("CPU/frame {n} vs 1 session", "ratio", "scale", 2),
    ("{n} sessions: peak RSS MiB", "big", "peak_rss_mib", 1),
    ("{n} sessions: baseline RSS MiB", "big", "rss_baseline_mib", 1),
    ("{n} sessions: KiB/session above baseline (peak)", "big", "kib_per_session_peak", 1),
    (
        "{n} sessions: KiB/session above baseline (connected, idle)",
        "big",
        "kib_per_session_idle",
        1,
    ),
    ("{n} sessions: connect + warm-up wall s (excluded)", "big", "connect_wall_s", 2),
    ("{n} sessions: server CPU share", "big", "server_cpu_share", 2),
)


def render(
    clients: list[str],
    single: dict[str, dict[str, float]],
    many: dict[str, dict[str, Any]],
    target_rows: list[dict[str, Any]],
    meta: dict[str, Any],
) -> str:
    n = meta["sessions"]
    header = ["metric", *(LABELS[c] for c in clients)]
    rows = []
    for label, key, digits in SINGLE_METRICS:
        if any(key in single.get(c, {}) for c in clients):
            rows.append([label, *(fmt(single.get(c, {}).get(key), digits) for c in clients)])
    for label, part, key, digits in MANY_METRICS:
        cells = []
        for c in clients:
            m = many.get(c, {})
            if part == "ratio":
                big, one = m.get("big"), m.get("one")
                value = big["cpu_us_per_frame"] / one["cpu_us_per_frame"] if big and one else None
            else:
                value = (m.get(part) or {}).get(key)
            cells.append(fmt(value, digits))
        if any(cell != NA for cell in cells):
            rows.append([label.format(n=n), *cells])
    out = [table(rows, header), ""]

    # ratios: ours (each install) against each comparison client
    ratio_header = [
        "metric",
        *(f"{LABELS[o]} / {LABELS[c]}" for o in ("ours", "ours_fast") for c in BASES),
    ]
    ratio_rows = []
    metrics = [(label, key) for label, key, _ in SINGLE_METRICS if "share" not in key]
    for label, key in metrics:
        cells = []
        for o in ("ours", "ours_fast"):
            for c in BASES:
                a, b = single.get(o, {}).get(key), single.get(c, {}).get(key)
                cells.append(fmt(a / b, 2) if a is not None and b else NA)
        if any(cell != NA for cell in cells):
            ratio_rows.append([label, *cells])
    for label, part, key in (
        ("{n} sessions: CPU µs/frame", "big", "cpu_us_per_frame"),
        ("{n} sessions: KiB/session (peak)", "big", "kib_per_session_peak"),
        ("{n} sessions: wall s", "big", "wall_s"),
    ):
        cells = []
        for o in ("ours", "ours_fast"):
            for c in BASES:
                a = (many.get(o, {}).get(part) or {}).get(key)
                b = (many.get(c, {}).get(part) or {}).get(key)
                cells.append(fmt(a / b, 2) if a is not None and b else NA)
        if any(cell != NA for cell in cells):
            ratio_rows.append([label.format(n=n), *cells])
    out += ["Ratios (lower is better for ours):", "", table(ratio_rows, ratio_header), ""]

    target_table = [
        [
            t["target"],
            fmt(t["value"], 2),
            fmt(t["limit"], 2),
            NA if t["pass"] is None else ("PASS" if t["pass"] else "FAIL"),
        ]
        for t in target_rows
    ]
    out += [
        "Targets of issue 6 (informational, not asserted):",
        "",
        table(target_table, ["target", "measured", "limit", "result"]),
        "",
    ]
    return "\n".join(out)


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    p.add_argument("--quick", action="store_true", help="small counts: a smoke run (< 30 s)")
    p.add_argument(
        "--clients",
        default=",".join(CLIENTS),
        help=f"comma-separated subset of {','.join(CLIENTS)}",
    )
    p.add_argument("--rounds", type=int, help="rounds of the single-session scenarios")
    p.add_argument("--sessions", type=int, help="concurrent sessions (default 1000; quick 100)")
    p.add_argument(
        "--many-clients",
        default=None,
        help="clients of the concurrent-sessions scenario (default: all)",
    )
    p.add_argument("--skip-single", action="store_true")
    p.add_argument("--skip-many", action="store_true")
    p.add_argument(
        "--wait-quiet",
        type=float,
        default=0,
        metavar="SECONDS",
        help="first wait up to SECONDS for other processes to use < 0.3 cores",
    )
    p.add_argument(
        "--no-pin", action="store_true", help="do not pin the server and clients to cores"
    )
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    plan = QUICK if args.quick else FULL
    clients = [c for c in args.clients.split(",") if c]
    for c in clients:
        if c not in CLIENTS:
            raise SystemExit(f"unknown client {c!r}; choose from {', '.join(CLIENTS)}")
    many_clients = [c for c in (args.many_clients or args.clients).split(",") if c]
    rounds = args.rounds or plan["rounds"]
    sessions = args.sessions or plan["sessions"]
    fd_limit = common.raise_fd_limit()
    meta: dict[str, Any] = {
        "mode": "quick" if args.quick else "full",
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
        "fd_limit": fd_limit,
        "loadavg_before": loadavg(),
        "git": git_state(),
        "rounds": rounds,
        "sessions": sessions,
        "single": plan["single"],
    }
    if args.wait_quiet:
        meta["others_cores_at_start"] = wait_for_quiet(args.wait_quiet)
        meta["loadavg_before"] = loadavg()
    server_cpus, client_cpus = plan_cpus(not args.no_pin)
    meta["cpu_pinning"] = {
        "server": sorted(server_cpus) if server_cpus else None,
        "clients": sorted(client_cpus) if client_cpus else None,
    }
    started = time.perf_counter()
    busy0, own0 = busy_seconds(), own_seconds()
    server = Server(server_cpus)
    single_runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    many: dict[str, dict[str, Any]] = {}
    environments: dict[str, Any] = {}

    def log(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    try:
        if not args.skip_single:
            for r in range(rounds):
                order = clients[r % len(clients) :] + clients[: r % len(clients)]  # rotate
                for client in order:
                    cfg = {"client": client, "scenario": "single", **plan["single"]}
                    result = run_worker(server, cfg, client_cpus)
                    environments[client] = result["environment"]
                    single_runs[client].append(result)
                    log(
                        f"# round {r + 1}/{rounds} {client}: "
                        f"down {result['down']['cpu_us_min']:.1f} µs, "
                        f"up {result['up']['cpu_us_min']:.1f} µs, "
                        f"text p50 {result['text_rtt']['p50_ms']:.3f} ms "
                        f"({result['worker_wall_s']:.1f} s)"
                    )
        if not args.skip_many:
            runs: dict[str, dict[str, list[dict[str, Any]]]] = {
                c: {"one": [], "big": []} for c in many_clients
            }
            one_cfg = {
                "scenario": "many",
                "sessions": 1,
                "frames": plan["frames"],
                "turns": plan["one_session_turns"],
            }
            big_cfg = {
                "scenario": "many",
                "sessions": sessions,
                "frames": plan["frames"],
                "turns": 1,
            }
            for r in range(plan["many_rounds"]):
                for client in many_clients:
                    for _ in range(plan["one_session_repeats"]):
                        one = run_worker(server, {**one_cfg, "client": client}, client_cpus)
                        runs[client]["one"].append(one)
                    big = run_worker(server, {**big_cfg, "client": client}, client_cpus)
                    runs[client]["big"].append(big)
                    environments[client] = big["environment"]
                    log(
                        f"# round {r + 1}/{plan['many_rounds']} {sessions} sessions {client}: "
                        f"{big['wall_s']:.2f} s wall, {big['cpu_us_per_frame']:.1f} µs/frame "
                        f"(1 session: {one['cpu_us_per_frame']:.1f}), "
                        f"{big['kib_per_session_peak']:.0f} KiB/session peak "
                        f"({big['worker_wall_s']:.1f} s)"
                    )
            for client, parts in runs.items():
                # the least disturbed run of each: lowest client CPU per frame
                many[client] = {
                    part: min(results, key=lambda x: x["cpu_us_per_frame"])
                    for part, results in parts.items()
                }
    finally:
        server.stop()
    meta["loadavg_after"] = loadavg()
    meta["total_wall_s"] = time.perf_counter() - started
    # CPU the rest of the machine used meanwhile: the noise this run competed with
    meta["others_cores_during_run"] = (busy_seconds() - busy0 - (own_seconds() - own0)) / meta[
        "total_wall_s"
    ]
    meta["server_cpu_s"] = server.cpu_s
    meta["server_wall_s"] = server.wall_s
    meta["server_cpu_share_overall"] = server.cpu_s / server.wall_s
    meta["environments"] = environments
    emit({"environment": meta})

    single = {c: aggregate_single(runs) for c, runs in single_runs.items() if runs}
    units = {"cpu_us": "µs/frame", "wall_us": "µs/frame", "ms": "ms", "share": "core"}
    for client, values in single.items():
        for key, value in values.items():
            unit = next((u for suffix, u in units.items() if key.endswith(suffix)), "")
            emit({"metric": key, "client": client, "value": round(value, 3), "unit": unit})
    for client, parts in many.items():
        for result in parts.values():
            for key, value in result.items():
                if isinstance(value, int | float) and key not in ("turns",):
                    emit(
                        {
                            "metric": f"sessions_{result['sessions']}_{key}",
                            "client": client,
                            "value": round(value, 3),
                        }
                    )
        if "one" in parts and "big" in parts:
            emit(
                {
                    "metric": f"cpu_per_frame_{sessions}_vs_1_sessions",
                    "client": client,
                    "value": round(
                        parts["big"]["cpu_us_per_frame"] / parts["one"]["cpu_us_per_frame"], 3
                    ),
                }
            )
    target_rows = targets(single, many)
    for row in target_rows:
        emit({**row, "value": None if row["value"] is None else round(row["value"], 3)})

    print()
    print(
        f"Benchmark ({meta['mode']}) of {meta['git']}: Python {meta['python']}, "
        f"{meta['cpus']} CPUs, "
        f"load average {meta['loadavg_before']} before, {meta['loadavg_after']} after; "
        f"other processes used {meta['others_cores_during_run']:.2f} of "
        f"{meta['cpus']} cores meanwhile; {rounds} round(s); {meta['total_wall_s']:.0f} s; "
        f"server CPU {server.cpu_s:.1f} s over {server.wall_s:.0f} s."
    )
    print()
    print(render([c for c in CLIENTS if c in single or c in many], single, many, target_rows, meta))
