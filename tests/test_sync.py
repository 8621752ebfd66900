"""The session's write lock: FIFO hand-over, cancellation, checkpoints."""

import pytest
import trio
import trio.testing

from gemini_live_trio._sync import FifoLock


async def test_waiters_get_the_lock_in_arrival_order() -> None:
    lock = FifoLock()
    order: list[int] = []

    async def worker(n: int) -> None:
        async with lock:
            order.append(n)
            await trio.sleep(0.01)

    lock.acquire_nowait()
    async with trio.open_nursery() as nursery:
        for n in range(5):
            nursery.start_soon(worker, n)
            await trio.testing.wait_all_tasks_blocked()
        lock.release()
    assert order == [0, 1, 2, 3, 4]
    assert not lock.locked()


async def test_a_cancelled_waiter_never_gets_the_lock() -> None:
    lock = FifoLock()
    got: list[str] = []

    async def waiter(name: str, scope_out: list[trio.CancelScope]) -> None:
        with trio.CancelScope() as scope:
            scope_out.append(scope)
            async with lock:
                got.append(name)

    lock.acquire_nowait()
    scopes: list[trio.CancelScope] = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter, "a", scopes)
        await trio.testing.wait_all_tasks_blocked()
        nursery.start_soon(waiter, "b", scopes)
        await trio.testing.wait_all_tasks_blocked()
        scopes[0].cancel()
        await trio.testing.wait_all_tasks_blocked()
        lock.release()
    assert got == ["b"]
    assert not lock.locked()


async def test_acquire_is_a_checkpoint_and_nowait_does_not_wait() -> None:
    lock = FifoLock()
    with trio.CancelScope() as scope:
        scope.cancel()
        await lock.acquire()
    assert scope.cancelled_caught and not lock.locked()
    lock.acquire_nowait()
    with pytest.raises(trio.WouldBlock):
        lock.acquire_nowait()
    lock.release()
    with pytest.raises(RuntimeError, match="unlocked"):
        lock.release()


async def test_the_lock_may_be_released_by_another_task() -> None:
    """The session takes it in one place and releases it in another (a handover)."""
    lock = FifoLock()
    await lock.acquire()

    async def release() -> None:
        lock.release()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(release)
    assert not lock.locked()
