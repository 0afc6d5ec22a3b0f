"""asyncio: 1,000 concurrent tasks awaiting AsyncInferQueue.infer_async on the tiny add model with 16 jobs,
against start_async from a plain loop (the same queue, no event loop) and against the run_in_executor
pattern services use today, on openvino and on ovfast. While infer_async runs, a 1 ms timer measures how
late the event loop runs it (p99 in the summary)."""

import asyncio
import statistics
import time

import numpy as np
import pytest
import uvloop

import ovfast

N = 20_000
TASKS = 1000
JOBS = 16
GROUP = f"{TASKS} tasks, {N // 1000}k requests, 16 jobs"
X = np.arange(8, dtype=np.float32)


def timed_tasks(request_one, runner, lateness=None):
    """N requests from TASKS tasks (each awaits its own in turn) on a fresh loop; with lateness, a 1 ms
    timer's delays meanwhile are appended to it."""
    async def client(n):
        for _ in range(n):
            await request_one()

    async def ticker(stop):
        while not stop.is_set():
            t = time.perf_counter()
            await asyncio.sleep(0.001)
            lateness.append(time.perf_counter() - t - 0.001)

    async def main():
        stop = asyncio.Event()
        tick = asyncio.ensure_future(ticker(stop)) if lateness is not None else None
        await asyncio.gather(*(client(N // TASKS) for _ in range(TASKS)))
        stop.set()
        if tick is not None:
            await tick

    runner(main())


def p99_ms(values):
    return 1e3 * statistics.quantiles(values, n=100)[98] if len(values) > 2 else float("nan")


@pytest.fixture(scope="module")
def queue(fast_add):
    return ovfast.AsyncInferQueue(fast_add, JOBS)


def start_async_loop(queue):
    for _ in range(N):
        queue.start_async([X, X])
    queue.wait_all()


@pytest.mark.benchmark(group=GROUP)
def test_baseline_start_async_plain_loop(benchmark, queue):
    benchmark.pedantic(start_async_loop, args=(queue,), rounds=9, warmup_rounds=1, iterations=1)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
@pytest.mark.benchmark(group=GROUP)
def test_ovfast_infer_async(paired, benchmark, queue, loop):
    lateness = []
    runner = asyncio.run if loop == "asyncio" else uvloop.run
    paired(timed_tasks, lambda: start_async_loop(queue), args=(lambda: queue.infer_async([X, X]), runner, lateness),
           rounds=9, against="start_async from a plain loop")
    benchmark.extra_info["timer_p99_ms"] = p99_ms(lateness)


def in_executor(call):
    async def one():
        return await asyncio.get_running_loop().run_in_executor(None, call, [X, X])
    return one


@pytest.mark.benchmark(group=GROUP)
def test_openvino_run_in_executor(benchmark, ov_add):
    benchmark.pedantic(timed_tasks, args=(in_executor(ov_add.infer_new_request), asyncio.run), rounds=3,
                       iterations=1)


@pytest.mark.benchmark(group=GROUP)
def test_ovfast_run_in_executor(benchmark, fast_add):
    benchmark.pedantic(timed_tasks, args=(in_executor(fast_add.infer_new_request), asyncio.run), rounds=3,
                       iterations=1)
