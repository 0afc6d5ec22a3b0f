"""asyncio: AsyncInferQueue.infer_async and aimap on the default loop and on uvloop, checked answer by
answer against compiled(inputs); errors, cancellation, closed loops, batching of wake-ups, Ctrl-C, and a
real HTTP service (examples/serve.py) under concurrent clients."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest
import uvloop

import ovfast
from models import add_model, reshape_model

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
LOOPS = {"asyncio": asyncio.run, "uvloop": uvloop.run}


@pytest.fixture(scope="module")
def compiled():
    return ovfast.compile_model(add_model(), "CPU")


def items(n, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 8)).astype(np.float32), rng.standard_normal((n, 8)).astype(np.float32)


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_thousands_of_concurrent_awaits_each_get_their_own_answer(compiled, loop):
    a, b = items(5000, seed=1)
    queue = ovfast.AsyncInferQueue(compiled, 16)
    got = [None] * len(a)

    async def client(first):
        for k in range(first, len(a), 1000):
            got[k] = (await queue.infer_async({"a": a[k], "b": b[k]}))[0]

    async def main():
        await asyncio.gather(*(client(c) for c in range(1000)))

    LOOPS[loop](main())
    np.testing.assert_array_equal(np.stack(got), np.stack([compiled([a[k], b[k]])[0] for k in range(len(a))]))
    assert all(isinstance(g, np.ndarray) and g.flags.owndata for g in got)  # yours to keep


@pytest.mark.parametrize("loop", sorted(LOOPS))
def test_aimap_yields_in_order_from_iterables_and_async_iterables(compiled, loop):
    a, b = items(700, seed=2)
    queue = ovfast.AsyncInferQueue(compiled, 5)

    async def source():
        for k in range(len(a)):
            if k % 50 == 0:
                await asyncio.sleep(0)
            yield {"a": a[k], "b": b[k]}

    async def main():
        from_list = [r[0] async for r in queue.aimap([[a[k], b[k]] for k in range(len(a))])]
        from_async = [r["sum"] async for r in queue.aimap(source())]
        return from_list, from_async

    from_list, from_async = LOOPS[loop](main())
    np.testing.assert_array_equal(np.stack(from_list), a + b)
    np.testing.assert_array_equal(np.stack(from_async), a + b)


def test_aimap_does_not_run_ahead_of_a_slow_consumer(compiled):
    a, b = items(60, seed=3)
    queue = ovfast.AsyncInferQueue(compiled, 4)
    pulled, ahead = [0], []

    async def source():
        for k in range(len(a)):
            pulled[0] += 1
            yield [a[k], b[k]]

    async def main():
        consumed = 0
        async for r in queue.aimap(source()):
            consumed += 1
            ahead.append(pulled[0] - consumed)
            await asyncio.sleep(0.001)
            np.testing.assert_array_equal(r[0], a[consumed - 1] + b[consumed - 1])

    asyncio.run(main())
    assert max(ahead) <= len(queue), ahead


def test_wrong_inputs_raise_in_the_awaiting_task_started_or_queued(compiled):
    a, b = items(400, seed=4)
    queue = ovfast.AsyncInferQueue(compiled, 2)

    async def main():
        # the first call starts at once (its error is raised by the call); the others queue behind busy jobs
        tasks = [asyncio.ensure_future(queue.infer_async([a[k], b[k]] if k % 7 else [a[k][:5], b[k]]))
                 for k in range(len(a))]
        return await asyncio.gather(*tasks, return_exceptions=True)

    results = asyncio.run(main())
    for k, r in enumerate(results):
        if k % 7:
            np.testing.assert_array_equal(r[0], a[k] + b[k])
        else:
            assert isinstance(r, ovfast.exceptions.InputValueError) and isinstance(r, ValueError), r
            assert "input 'a' expects f32[8]" in str(r)


def test_a_failed_inference_raises_in_its_task_and_the_queue_goes_on():
    queue = ovfast.AsyncInferQueue(ovfast.compile_model(reshape_model(), "CPU"), 3)
    x = np.arange(6, dtype=np.float32)

    async def main():
        shapes = [[2, 3], [4, 4], [3, 2], [5, 5], [6, 1]] * 20
        return shapes, await asyncio.gather(*(queue.infer_async({"x": x, "shape": np.array(s, np.int64)})
                                              for s in shapes), return_exceptions=True)

    shapes, results = asyncio.run(main())
    with pytest.raises(RuntimeError) as sync:  # what infer() raises for the same run
        queue[0].infer({"x": x, "shape": np.array([4, 4], np.int64)})
    for s, r in zip(shapes, results):
        if s[0] * s[1] == 6:
            np.testing.assert_array_equal(r[0], x.reshape(s))
        else:
            assert type(r) is type(sync.value) and "conflicts with the reshape pattern" in str(r), r
    queue.wait_all()  # nothing left for the queue to report


def test_cancelled_calls_drop_their_result_and_free_their_job(compiled):
    a, b = items(600, seed=5)
    queue = ovfast.AsyncInferQueue(compiled, 4)

    async def main():
        tasks = [asyncio.ensure_future(queue.infer_async([a[k], b[k]])) for k in range(len(a))]
        await asyncio.sleep(0)
        for t in tasks[1::2]:  # started and queued ones alike
            t.cancel()
        done = await asyncio.gather(*tasks, return_exceptions=True)
        again = await queue.infer_async([a[0], b[0]])
        return done, again

    done, again = asyncio.run(main())
    for k, r in enumerate(done):
        if k % 2:
            assert isinstance(r, asyncio.CancelledError)
        else:
            np.testing.assert_array_equal(r[0], a[k] + b[k])
    np.testing.assert_array_equal(again[0], a[0] + b[0])
    queue.wait_all()
    np.testing.assert_array_equal(queue.map([a, b])[0], a + b)  # every job is back


def test_the_queue_callback_runs_for_infer_async(compiled):
    a, b = items(300, seed=6)
    queue = ovfast.AsyncInferQueue(compiled, 4)
    seen = {}
    queue.set_callback(lambda request, userdata: seen.__setitem__(userdata, request.results[0].copy()))

    async def main():
        return await asyncio.gather(*(queue.infer_async([a[k], b[k]], userdata=k) for k in range(len(a))))

    results = asyncio.run(main())
    assert sorted(seen) == list(range(len(a)))
    for k in range(len(a)):
        np.testing.assert_array_equal(seen[k], a[k] + b[k])
        np.testing.assert_array_equal(results[k][0], a[k] + b[k])


def test_loops_in_several_threads_each_with_its_own_queue(compiled):
    failures = []

    def run(seed):
        try:
            a, b = items(1500, seed=seed)
            queue = ovfast.AsyncInferQueue(compiled, 4)

            async def main():
                return await asyncio.gather(*(queue.infer_async([a[k], b[k]]) for k in range(len(a))))

            results = (uvloop.run if seed % 2 else asyncio.run)(main())
            np.testing.assert_array_equal(np.stack([r[0] for r in results]), a + b)
        except BaseException as e:
            failures.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not failures, failures


def test_one_queue_refuses_a_second_open_loop(compiled):
    queue = ovfast.AsyncInferQueue(compiled, 2)
    x = np.zeros(8, np.float32)

    async def one():
        return await queue.infer_async([x, x])

    first = asyncio.new_event_loop()
    try:
        first.run_until_complete(one())
        with pytest.raises(RuntimeError, match="delivers to another event loop that is still open"):
            asyncio.run(one())
    finally:
        first.close()
    assert asyncio.run(one())[0].tolist() == [0] * 8  # the closed loop's place is free
    with pytest.raises(RuntimeError, match="no running event loop"):
        queue.infer_async([x, x])


def test_a_loop_closed_with_jobs_in_flight_leaves_a_working_queue(compiled):
    a, b = items(200, seed=7)
    queue = ovfast.AsyncInferQueue(compiled, 4)
    loop = asyncio.new_event_loop()

    async def one(k):
        return await queue.infer_async([a[k], b[k]])

    tasks = [loop.create_task(one(k)) for k in range(len(a))]
    loop.run_until_complete(asyncio.sleep(0))  # some started, the rest queued
    for t in tasks:
        t.cancel()
    loop.run_until_complete(asyncio.sleep(0))
    loop.close()
    del tasks
    queue.wait_all()  # the closed loop's jobs come back
    np.testing.assert_array_equal(queue.map([a, b])[0], a + b)

    async def again():
        return await asyncio.wait_for(asyncio.gather(*(queue.infer_async([a[k], b[k]]) for k in range(20))), 60)

    results = asyncio.run(again())
    np.testing.assert_array_equal(np.stack([r[0] for r in results]), (a + b)[:20])


def test_a_queue_freed_after_its_loop_was_cleared_still_closes_its_pool(compiled):
    # In a cycle with its loop, the collector may clear the loop's attributes before it frees the queue
    # (is_closed() then raises AttributeError): the queue's end must still close its pool, not stop at the
    # loop (CI's debug build once counted the pool still alive after test_job_lifecycle).
    import gc
    a, b = items(4, seed=3)
    queue = ovfast.AsyncInferQueue(compiled, 2)
    loop = asyncio.new_event_loop()

    async def one():
        return await queue.infer_async([a[0], b[0]])

    np.testing.assert_array_equal(loop.run_until_complete(one())[0], a[0] + b[0])
    vars(loop).clear()                     # what the collector's tp_clear does to a loop in a cycle
    unraisable = []
    previous, sys.unraisablehook = sys.unraisablehook, unraisable.append
    try:
        del queue
        gc.collect()
    finally:
        sys.unraisablehook = previous
        loop._closed = True                # the loop's own end (__del__ asks is_closed()) stays quiet
    assert unraisable == []


def test_blocking_waits_on_the_loop_thread_raise_instead_of_deadlocking(compiled):
    queue = ovfast.AsyncInferQueue(compiled, 1)
    x = np.zeros(8, np.float32)

    async def main():
        pending = asyncio.ensure_future(queue.infer_async([x, x]))
        await asyncio.sleep(0)
        with pytest.raises(RuntimeError, match="on the event loop's thread would block"):
            queue.wait_all()
        with pytest.raises(RuntimeError, match="on the event loop's thread would block"):
            queue.start_async([x, x])  # no idle job: it would wait for this loop
        return await pending

    assert asyncio.run(main())[0].tolist() == [0] * 8


def test_completions_reach_the_loop_in_batches(compiled):
    """One wake-up of the loop for every completion that arrived while it was busy."""
    queue = ovfast.AsyncInferQueue(compiled, 16)
    a, b = items(16, seed=8)

    async def main():
        await queue.infer_async([a[0], b[0]])  # binds the loop
        before = queue._async_stats()
        futures = [asyncio.ensure_future(queue.infer_async([a[k], b[k]])) for k in range(16)]
        await asyncio.sleep(0)      # all 16 started
        for job in queue:           # the loop's thread blocks until every run is over
            job.wait()
        results = await asyncio.gather(*futures)
        after = queue._async_stats()
        return results, (after[0] - before[0], after[1] - before[1])

    results, (wakeups, completions) = asyncio.run(main())
    assert completions == 16 and wakeups == 1, (wakeups, completions)
    np.testing.assert_array_equal(np.stack([r[0] for r in results]), a + b)


def test_ctrl_c_during_asyncio_run_exits_cleanly(tmp_path):
    script = tmp_path / "spin.py"
    script.write_text(
        "import asyncio, numpy as np, ovfast, sys\n"
        f"sys.path.insert(0, {HERE!r})\n"
        "from models import add_model\n"
        "queue = ovfast.AsyncInferQueue(ovfast.compile_model(add_model(), 'CPU'), 8)\n"
        "x = np.zeros(8, np.float32)\n"
        "async def client():\n"
        "    while True:\n"
        "        await queue.infer_async([x, x])\n"
        "async def main():\n"
        "    tasks = [asyncio.ensure_future(client()) for _ in range(100)]\n"
        "    await asyncio.sleep(0.2)\n"
        "    print('running', flush=True)\n"
        "    await asyncio.gather(*tasks)\n"
        "asyncio.run(main())\n")
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode in (1, -signal.SIGINT, 130), (proc.returncode, err)
    assert "KeyboardInterrupt" in err and "Fatal Python error" not in err and "Segmentation" not in err, err


# --- a real service -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def add_ir(tmp_path_factory):
    import openvino
    path = str(tmp_path_factory.mktemp("serve") / "add.xml")
    openvino.save_model(add_model(), path, compress_to_fp16=False)
    return path


@pytest.mark.parametrize("flags", [[], ["--uvloop"]])
def test_the_example_service_answers_2000_requests_from_64_clients(compiled, add_ir, flags):
    import aiohttp
    proc = subprocess.Popen([sys.executable, os.path.join(ROOT, "examples", "serve.py"), add_ir, "--port", "0",
                             "--jobs", "8"] + flags, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://127.0.0.1:"), (line, proc.stderr.read() if proc.poll() else "")
        url = line.split()[-1]
        a, b = items(2000, seed=9)

        async def clients():
            sem = asyncio.Semaphore(64)
            timeout = aiohttp.ClientTimeout(total=60)
            async with aiohttp.ClientSession(timeout=timeout) as session:
                async def one(k):
                    async with sem:
                        if k % 2:  # JSON
                            async with session.post(url + "/infer", json={"a": a[k].tolist(), "b": b[k].tolist()}) as r:
                                assert r.status == 200, await r.text()
                                return np.array((await r.json())["sum"], np.float32)
                        async with session.post(url + "/infer", data=a[k].tobytes() + b[k].tobytes(),
                                                headers={"Content-Type": "application/octet-stream"}) as r:
                            assert r.status == 200, await r.text()
                            return np.frombuffer(await r.read(), np.float32)
                answers = await asyncio.gather(*(one(k) for k in range(len(a))))
                async with session.post(url + "/infer", data=b"\0" * 10,
                                        headers={"Content-Type": "application/octet-stream"}) as r:
                    bad = (r.status, await r.text())
                return answers, bad

        answers, bad = asyncio.run(asyncio.wait_for(clients(), 300))
        np.testing.assert_array_equal(np.stack(answers), np.stack([compiled([a[k], b[k]])[0] for k in range(len(a))]))
        assert bad == (400, "expected 64 bytes (the inputs back to back), got 10")
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and out.strip() == "stopped", (proc.returncode, out, err)
    finally:
        proc.kill()
        proc.wait()
