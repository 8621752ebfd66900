"""Reconnect policy and the pure backoff generator it uses. No I/O, no clock.

:class:`ReconnectPolicy` says when a session reconnects by itself and how hard it tries;
:func:`backoff` yields the delays (jittered exponential, capped), like websockets' ``backoff``.
"""

import random
from collections.abc import Iterator

import attrs

from ._exceptions import GeminiLiveError, RetryAdvice


def backoff(
    *,
    initial: float = 0.5,
    factor: float = 2.0,
    maximum: float = 30.0,
    jitter: float = 0.5,
    rng: random.Random | None = None,
) -> Iterator[float]:
    """Delays before successive attempts: ``initial * factor**n`` capped at ``maximum``, each
    multiplied by a random factor in ``[1 - jitter, 1]`` ("equal jitter", so reconnecting
    clients do not stampede). The first delay is 0: the first retry is immediate."""
    draw = (rng or random.Random()).random
    yield 0.0
    delay = initial
    while True:
        yield delay * (1 - jitter * draw())
        delay = min(delay * factor, maximum)


@attrs.frozen(kw_only=True)
class ReconnectPolicy:
    """How a session survives the end of a connection (pass ``ReconnectPolicy.off()`` to
    turn it all off: then any close ends the session with its error).

    A session reconnects on ``goAway`` (before the deadline, at a quiet moment) and after a
    reconnectable close (1000 unexpected, 1006, transient 1011; quota 1011 with a longer
    backoff). It never retries a fatal close (1007, 1008) or a failed first connect.
    """

    enabled: bool = True
    #: Attempts to restore one lost connection before giving up.
    max_attempts: int = 6
    #: Reconnects over the whole session (``None``: unlimited).
    max_reconnects: int | None = 100
    initial_delay: float = 0.5
    max_delay: float = 30.0
    factor: float = 2.0
    jitter: float = 0.5
    #: First delay after a quota/resource-exhausted close.
    quota_delay: float = 5.0
    #: A connection that ends sooner than this after setup keeps the backoff growing
    #: instead of starting again with an immediate retry (no reconnect storms).
    stable_after: float = 10.0
    #: Switch connections on goAway; the new one is opened at a quiet moment, or when this
    #: fraction of ``timeLeft`` is gone, whichever comes first.
    handover: bool = True
    handover_at: float = 0.5
    #: Seconds of unsent-to-the-new-connection input audio replayed after an unplanned drop
    #: when the server gives no ``lastConsumedClientMessageIndex`` (best effort).
    replay_audio_seconds: float = 2.0
    #: Ping the server this often; no pong within ``keepalive_timeout`` means the connection
    #: is dead (treated as 1006). ``None`` turns the keepalive off.
    keepalive_interval: float | None = 20.0
    keepalive_timeout: float = 20.0

    @classmethod
    def off(cls) -> "ReconnectPolicy":
        return cls(enabled=False, handover=False)

    def delays(
        self, error: GeminiLiveError | None, rng: random.Random | None = None
    ) -> Iterator[float]:
        """The backoff for one drop, longer when the server said quota."""
        quota = error is not None and error.retry is RetryAdvice.BACKOFF
        gen = backoff(
            initial=self.quota_delay if quota else self.initial_delay,
            factor=self.factor,
            maximum=self.max_delay,
            jitter=self.jitter,
            rng=rng,
        )
        if quota:
            next(gen)  # no immediate retry when the server asked us to slow down
        return gen

    def should_retry(self, error: BaseException) -> bool:
        """Whether ``error`` (a close or a failed reconnect) is worth another attempt."""
        if not self.enabled or not isinstance(error, GeminiLiveError):
            return False
        return error.retry is not RetryAdvice.NEVER
