import gc, time, trio
from _helpers import MODEL, session_kwargs, start_emulator
from test_faults import lifecycle, lifecycle_behaviour, closed_by_client, nothing_leaks

async def test_timing(nursery):
    emulator = await start_emulator(nursery, behaviour=lifecycle_behaviour())
    await lifecycle(emulator, [])
    for d in (0.005, 0.01, 0.02):
        before = len(emulator.connections)
        t0 = time.perf_counter()
        phase = []
        with trio.move_on_after(d):
            await lifecycle(emulator, phase)
        t1 = time.perf_counter()
        for conn in emulator.connections[before:]:
            await closed_by_client(conn)
        t2 = time.perf_counter()
        gc.collect()
        t3 = time.perf_counter()
        print(d, phase[-1], f"life {t1-t0:.3f} close {t2-t1:.3f} gc {t3-t2:.3f}")
