"""A FIFO lock for the session's writes: ``trio.Lock`` without its owner bookkeeping.

``trio.Lock`` records its owner and registers it so that waiters learn when an owner dies
while holding it; that costs 1.5-2 µs per acquire/release pair, paid on every audio chunk a
session sends. The session's tasks release in ``finally`` blocks (one acquires it in one
place and releases it in another during a handover), so the bookkeeping buys nothing there.
Same semantics otherwise: strict FIFO hand-over, ``acquire`` is a checkpoint, a waiter that is
cancelled never gets the lock.
"""

from types import TracebackType

import trio


class FifoLock:
    """Strict FIFO lock; ``async with lock:`` or ``acquire``/``acquire_nowait``/``release``."""

    __slots__ = ("_held", "_waiters")

    def __init__(self) -> None:
        self._held = False
        self._waiters = trio.lowlevel.ParkingLot()

    def locked(self) -> bool:
        return self._held

    def acquire_nowait(self) -> None:
        """Take the lock, or raise ``trio.WouldBlock``."""
        if self._held:
            raise trio.WouldBlock
        self._held = True

    async def acquire(self) -> None:
        """Take the lock, waiting behind earlier waiters."""
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._held:
            await self._waiters.park()  # woken by release() with the lock handed over
        else:
            self._held = True
            await trio.lowlevel.cancel_shielded_checkpoint()

    def release(self) -> None:
        """Hand the lock to the longest waiter, or free it."""
        if not self._held:
            raise RuntimeError("release of an unlocked FifoLock")
        if self._waiters:
            self._waiters.unpark()  # still held: now by the woken waiter
        else:
            self._held = False

    async def __aenter__(self) -> None:
        await self.acquire()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()
