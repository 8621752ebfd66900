"""What TLS adds per audio frame: ``python -m bench.bench_tls`` (needs ``trustme``).

The bench server (``bench/server.py``) serves ws:// and then wss:// with a throwaway CA; each
client runs in a fresh process, pinned away from the server's core, and reports its CPU per
frame (best of 3 turns of 4,000 frames each way):

* ``ours``: this library as installed (its own TLS stream, ``_transport/_tls.py``);
* ``ours_sslstream``: the same with ``trio.SSLStream(https_compatible=True)`` put back in
  its place (what the library used before);
* ``raw_ws``: websockets asyncio + json + base64, the floor.

Stdlib json and base64 for all (the ``fast`` extra is blocked). Prints one JSON line per
client and a table; nothing is asserted.
"""

import asyncio
import json
import os
import ssl
import subprocess
import sys
import tempfile
import time
from typing import Any

from . import common
from .run import Server, plan_cpus, table

FRAMES = 4000
CLIENTS = ("ours", "ours_sslstream", "raw_ws")


async def _measure(adapter: Any) -> dict[str, float]:
    up = common.up_pool()
    chunks = [up[i % common.POOL] for i in range(FRAMES)]
    await adapter.turn_audio(500, False)  # warm-up
    await adapter.upstream(chunks[:500])
    down = upstream = float("inf")
    for _ in range(3):
        cpu = time.process_time()
        frames, _, _ = await adapter.turn_audio(FRAMES, False)
        common.check(frames == FRAMES, f"{frames} frames of {FRAMES}")
        down = min(down, (time.process_time() - cpu) / FRAMES * 1e6)
        cpu = time.process_time()
        ack = await adapter.upstream(chunks)
        common.check(f"frames={FRAMES}" in ack, f"upstream: {ack!r}")
        upstream = min(upstream, (time.process_time() - cpu) / FRAMES * 1e6)
    return {"down_us": down, "up_us": upstream}


def worker(client: str, port: int, ca_pem: str | None) -> dict[str, float]:
    for name in ("orjson", "pybase64"):
        sys.modules[name] = None  # type: ignore[assignment]
    context = ssl.create_default_context(cafile=ca_pem) if ca_pem else None
    if client == "raw_ws":
        from websockets.asyncio.client import connect

        from .client_raw import MAX_MESSAGE, RawAdapter, _setup, _url

        async def raw() -> dict[str, float]:
            url = _url(port).replace("ws://", "wss://") if ca_pem else _url(port)
            async with connect(url, compression=None, max_size=MAX_MESSAGE, ssl=context) as ws:
                return await _measure(await _setup(RawAdapter(ws.send, ws.recv)))

        return asyncio.run(raw())

    import trio

    import gemini_live_trio as glt

    if client == "ours_sslstream":
        from gemini_live_trio._transport import _tls

        def sslstream(tcp: Any, ctx: ssl.SSLContext, server_hostname: str) -> Any:
            return trio.SSLStream(tcp, ctx, server_hostname=server_hostname, https_compatible=True)

        _tls.TLSStream = sslstream  # type: ignore[assignment,misc]

    from .client_ours import OursAdapter

    async def ours() -> dict[str, float]:
        scheme = "wss" if ca_pem else "ws"
        async with glt.open_live_session(
            common.MODEL,
            api_key="bench-key",
            base_url=f"{scheme}://127.0.0.1:{port}",
            ssl_context=context,
            options=glt.SessionOptions(max_buffered_audio=3600.0),
        ) as session:
            return await _measure(OursAdapter(session, manual_tools=True))

    return trio.run(ours)


def main() -> None:
    if sys.argv[1:2] == ["--worker"]:
        client, port, ca_pem = sys.argv[2], int(sys.argv[3]), sys.argv[4] or None
        print("RESULT " + json.dumps(worker(client, port, ca_pem)), flush=True)
        return
    import trustme

    server_cpus, client_cpus = plan_cpus(True)
    results: dict[tuple[str, str], dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        ca = trustme.CA()
        ca_pem, server_pem = os.path.join(tmp, "ca.pem"), os.path.join(tmp, "server.pem")
        ca.cert_pem.write_to_path(ca_pem)
        ca.issue_cert("127.0.0.1").private_key_and_cert_chain_pem.write_to_path(server_pem)
        for mode, pem in (("ws", None), ("wss", server_pem)):
            server = Server(server_cpus, tls_pem=pem)
            try:
                for client in CLIENTS:
                    if mode == "ws" and client == "ours_sslstream":
                        continue  # the same as ours without TLS
                    pin = (lambda: os.sched_setaffinity(0, client_cpus)) if client_cpus else None
                    proc = subprocess.run(
                        [sys.executable, "-m", "bench.bench_tls", "--worker", client,
                         str(server.port), ca_pem if pem else ""],
                        capture_output=True, text=True, timeout=600, preexec_fn=pin,
                    )  # fmt: skip
                    lines = [x for x in proc.stdout.splitlines() if x.startswith("RESULT ")]
                    if proc.returncode or not lines:
                        raise SystemExit(f"{client} over {mode} failed:\n{proc.stderr[-3000:]}")
                    results[client, mode] = json.loads(lines[-1][7:])
                    print(json.dumps({"client": client, "scheme": mode, **results[client, mode]}))
            finally:
                server.stop()
    rows = []
    for client in CLIENTS:
        plain = results.get((client, "ws")) or results[("ours", "ws")]
        tls = results[(client, "wss")]
        rows.append(
            [
                client,
                *(f"{plain[k]:.1f}" for k in ("down_us", "up_us")),
                *(f"{tls[k]:.1f}" for k in ("down_us", "up_us")),
                *(f"{tls[k] - plain[k]:+.1f}" for k in ("down_us", "up_us")),
            ]
        )
    header = ["client", "ws down µs", "ws up µs", "wss down µs", "wss up µs", "TLS adds down",
              "TLS adds up"]  # fmt: skip
    print()
    print(table(rows, header))


if __name__ == "__main__":
    main()
