"""Developer sessions: ``nox`` runs tests, lint and typecheck; ``nox -s bench`` the benchmarks."""

import nox

nox.options.default_venv_backend = "virtualenv"
nox.options.reuse_venv = "yes"
nox.options.sessions = ["tests", "lint", "typecheck"]


@nox.session(python=False)
def tests(session: nox.Session) -> None:
    """The test suite against the bundled emulator (loopback only), in the current env."""
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def tests_venv(session: nox.Session) -> None:
    """The test suite in a fresh virtualenv with the default (no ``fast``) install."""
    session.install("-e", ".[test]")
    session.run("python", "-m", "pytest", "-q", *session.posargs)


@nox.session
def lint(session: nox.Session) -> None:
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def typecheck(session: nox.Session) -> None:
    session.install("-e", ".[fast,test]", "mypy>=1.10")
    session.run("mypy")


@nox.session
def bench(session: nox.Session) -> None:
    """Client CPU per frame, round trips and 1,000 sessions against a local server, beside
    google-genai and a raw floor client (JSON lines and a table; never asserted)."""
    session.install("-e", ".[fast]", "google-genai", "websockets", "trustme")
    session.run("python", "-m", "bench", *session.posargs)
    if not session.posargs:
        session.run("python", "-m", "bench.bench_tls")  # what TLS adds per frame
        session.run("python", "-m", "bench.bench_paced")  # frames at the speed of speech


@nox.session
def interop(session: nox.Session) -> None:
    """The official google-genai SDK against our emulator over TLS (never a runtime dep)."""
    session.install("-e", ".[test]", "google-genai")
    session.run("python", "-m", "pytest", "-q", "-m", "interop", "tests/interop", *session.posargs)
