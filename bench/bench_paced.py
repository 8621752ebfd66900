"""Audio at the speed of speech: ``python -m bench.bench_paced [--sessions N]``.

The main bench floods frames, so a read brings in many at once and per-read costs (waking a
task, a system call, a scheduler pass) are shared by several frames. A live voice agent gets
one 40 ms frame per session every 40 ms: each frame then pays them alone. Here ``N`` sessions
(default 200) each receive a reply of 50 frames paced at 40 ms (2 s of speech) at the same
moment, with the server (``bench/server.py``, ``paced:50:40``) in its own process; the CPU the
client process spends in that phase is divided by the frames. Each client runs in a fresh
process, twice, and the lower figure is kept. Counts and bytes are checked; nothing is
asserted. Clients: this library (default install), raw websockets on asyncio (the floor), raw
trio on this library's transport, and google-genai when it is installed.
"""

import argparse
import importlib.util
import json

from .run import Server, plan_cpus, run_worker, table

FRAMES, INTERVAL_MS = 50, 40


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_paced", description=__doc__)
    parser.add_argument("--sessions", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    clients = ["ours", "raw_ws", "raw_trio_ws"]
    if importlib.util.find_spec("google.genai") is not None:
        clients.append("genai")
    server_cpus, client_cpus = plan_cpus(True)
    server = Server(server_cpus)
    cfg = {
        "scenario": "many",
        "sessions": args.sessions,
        "frames": FRAMES,
        "turns": 1,
        "frames_command": f"paced:{{n}}:{INTERVAL_MS}",
    }
    best: dict[str, dict[str, float]] = {}
    try:
        for _ in range(args.repeats):
            for client in clients:
                result = run_worker(server, {**cfg, "client": client}, client_cpus)
                if client not in best or result["cpu_us_per_frame"] < best[client]["cpu_us"]:
                    best[client] = {
                        "cpu_us": result["cpu_us_per_frame"],
                        "wall_s": result["wall_s"],
                        "cpu_share": result["cpu_s"] / result["wall_s"],
                        "kib_peak": result["kib_per_session_peak"],
                    }
    finally:
        server.stop()
    for client, values in best.items():
        print(json.dumps({"paced": f"{args.sessions}x{FRAMES}@{INTERVAL_MS}ms", "client": client,
                          **values}))  # fmt: skip
    floor = best["raw_ws"]["cpu_us"]
    rows = [
        [
            client,
            f"{v['cpu_us']:.1f}",
            f"{v['cpu_us'] / floor:.2f}",
            f"{v['cpu_share']:.2f}",
            f"{v['wall_s']:.2f}",
            f"{v['kib_peak']:.0f}",
        ]
        for client, v in best.items()
    ]
    header = ["client", "CPU µs/frame", "/ raw websockets", "client CPU share", "wall s",
              "KiB/session peak"]  # fmt: skip
    print()
    print(f"{args.sessions} sessions, each {FRAMES} frames paced at {INTERVAL_MS} ms:")
    print(table(rows, header))


if __name__ == "__main__":
    main()
