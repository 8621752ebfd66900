"""Scripted behaviours: a list of steps played in order, then the default model.

``script(Expect(ClientContent), Reply(), SendGoAway(5), Reply("later"))`` is a behaviour for
:func:`serve_emulator`. Each step is a small attrs class with a ``run`` method that returns True
when it ended the connection. Injections for continuity tests: :class:`SendGoAway` (then a
close at the deadline), :class:`Drop` (1006), :class:`Close` (e.g. 1011), :class:`Stall` (no
pongs, no close), :class:`ResumptionUpdate`; refusals are :meth:`Emulator.refuse_next`.
"""

import math
from collections.abc import Awaitable, Callable
from datetime import timedelta

import attrs
import trio

from .._events import ClientMessage, ServerEvent
from ._connection import ClientGone, EmulatorConnection
from ._model import default_model, last_text

#: ``async def behaviour(conn)``: what the emulator does after a successful setup.
Behaviour = Callable[[EmulatorConnection], Awaitable[None]]


@attrs.frozen
class Expect:
    """Receive the next client message; it must be a ``kind`` within ``timeout`` seconds.

    The wrong kind closes with 1007 naming what was expected; a timeout closes with 1011.
    """

    kind: type[ClientMessage]
    timeout: float = 5

    async def run(self, conn: EmulatorConnection) -> bool:
        name = self.kind.__name__
        with trio.move_on_after(self.timeout):
            message = await conn.receive()
            if isinstance(message, self.kind):
                return False
            await conn.close(1007, f"Script expected {name}, got {type(message).__name__}.")
            return True
        await conn.close(1011, f"Script timed out after {self.timeout:g} s waiting for {name}.")
        return True


@attrs.frozen(init=False)
class Send:
    """Send the given server events together in one frame."""

    events: tuple[ServerEvent, ...]

    def __init__(self, *events: ServerEvent) -> None:
        self.__attrs_init__(events)

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.send(*self.events)
        return False


@attrs.frozen
class Reply:
    """Answer ``text`` (default: the newest user text received) as the default model does;
    pending text turns count as answered."""

    text: str | None = None

    async def run(self, conn: EmulatorConnection) -> bool:
        text = self.text if self.text is not None else last_text(conn.received)
        conn.pending_turns.clear()
        await conn.reply_to_text(text or "")
        return False


@attrs.frozen
class Sleep:
    """Wait (on the trio clock, so ``autojump_clock`` skips it)."""

    seconds: float

    async def run(self, conn: EmulatorConnection) -> bool:
        await trio.sleep(self.seconds)
        return False


@attrs.frozen
class Close:
    """Close the connection with ``code`` and ``reason`` (cut to 123 bytes)."""

    code: int = 1000
    reason: str | None = None

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.close(self.code, self.reason)
        return True


@attrs.frozen
class Drop:
    """Cut the TCP connection without a close frame (the client sees 1006)."""

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.drop()
        return True


@attrs.frozen
class SendGoAway:
    """Send ``goAway {timeLeft}``; the script goes on, and the connection closes with
    ``code`` / ``reason`` when ``time_left`` (seconds) has passed, unless the client left
    first. The real service uses 1000, or 1011 ``"Deadline expired"``.

    (Not named ``GoAway``: that is the event class ``gemini_live_trio.GoAway``.)
    """

    time_left: float | timedelta
    code: int = 1000
    reason: str | None = None

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.go_away(self.time_left, code=self.code, reason=self.reason)
        return False


@attrs.frozen
class Stall:
    """Play dead for ``seconds`` (default: until the connection's end): read nothing, answer
    no ping, send nothing, yet keep the connection open. Then the script goes on."""

    seconds: float = math.inf

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.stall(self.seconds)
        return False


@attrs.frozen
class ResumptionUpdate:
    """Send a ``sessionResumptionUpdate``: resumable with a fresh handle covering everything
    received so far (and the consumed index when enabled), or ``resumable=False``."""

    resumable: bool = True

    async def run(self, conn: EmulatorConnection) -> bool:
        await conn.send(conn.resumption_update(resumable=self.resumable))
        return False


Step = Expect | Send | Reply | Sleep | Close | Drop | SendGoAway | Stall | ResumptionUpdate


def script(*steps: Step) -> Behaviour:
    """A behaviour that plays ``steps`` in order, then continues as :func:`default_model`
    unless a step closed or dropped the connection (or the client went away)."""

    async def behaviour(conn: EmulatorConnection) -> None:
        try:
            for step in steps:
                if await step.run(conn):
                    return
        except ClientGone:
            return
        await default_model(conn)

    return behaviour


def per_connection(*behaviours: Behaviour) -> Behaviour:
    """A behaviour that runs ``behaviours[0]`` on the first connection that gets past setup,
    ``behaviours[1]`` on the second, and so on; later connections get :func:`default_model`.
    (Refused connections do not count.)"""
    started = 0

    async def behaviour(conn: EmulatorConnection) -> None:
        nonlocal started
        index, started = started, started + 1
        await (behaviours[index] if index < len(behaviours) else default_model)(conn)

    return behaviour
