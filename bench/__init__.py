"""Benchmarks of gemini_live_trio against google-genai and raw floor clients (issue 6).

Run ``nox -s bench`` (it installs ``-e .[fast]``, ``google-genai`` and ``websockets`` in its own
venv and runs ``python -m bench``), or in any venv that has them:

``python -m bench``
    the full run (about 3-4 minutes on 2 cores): JSON lines, one per metric, then tables;
``python -m bench --quick``
    a smoke run with small counts (< 30 s);
``python -m bench.hotpaths [--fast] [--pyinstrument]``
    where our client's time goes (stage timings, cProfile by area);
``python bench/bench_decode.py``
    per-frame decode cost only, no sockets.

Layout: :mod:`bench.server` (the local Live server, its own process), :mod:`bench.worker` (one
client and scenario per fresh process), :mod:`bench.scenarios` (the measurements, written
once), ``client_*.py`` (one adapter per client), :mod:`bench.run` (orchestration, tables).
Nothing here asserts a timing; counts and bytes are checked and a mismatch stops the run.
"""
