"""AsyncInferQueue on both modules where they share behaviour, and ovfast's map/imap against infer()."""

import asyncio
import gc
import threading
import time
import tracemalloc

import numpy as np
import openvino
import pytest

import ovfast
from models import (add_model, dynamic_model, heavy_model, mixed_size_model, reshape_model, slow_compiled,
                    two_output_model)

X = np.arange(8, dtype=np.float32)


@pytest.fixture
def add(ov):
    return ov.compile_model(add_model(), "CPU")


@pytest.fixture(scope="module")
def fast_add():
    return ovfast.compile_model(add_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})


def test_jobs_len_items_iteration(ov, add):
    queue = ov.AsyncInferQueue(add, 3)
    assert len(queue) == 3
    assert queue[1] is queue[1] or ov is openvino   # openvino wraps a new object each time
    assert len(list(queue)) == 3
    optimal = ov.AsyncInferQueue(add).__len__()
    assert optimal == add.get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    if ov is ovfast:  # openvino's queue[3] here is a segmentation fault
        with pytest.raises(IndexError, match="job 3 out of range"):
            queue[3]


def test_results_userdata_and_callbacks_match_inputs(ov, add):
    queue = ov.AsyncInferQueue(add, 4)
    seen, latencies = {}, []

    def callback(request, userdata):
        seen[userdata] = request.get_output_tensor().data.copy()
        latencies.append(request.latency)   # the run just finished: its latency is known

    queue.set_callback(callback)
    for i in range(2000):
        queue.start_async({0: X + i, 1: X}, userdata=i)
    queue.wait_all()
    assert sorted(seen) == list(range(2000))
    assert len(latencies) == 2000 and min(latencies) > 0
    for i, out in seen.items():
        np.testing.assert_array_equal(out, 2 * X + i)
    assert len(queue.userdata) == 4 and set(queue.userdata) <= set(range(2000))
    for job in queue:  # after wait_all every job's tensors are readable
        assert job.get_output_tensor().data.shape == (8,)


def test_without_callback(ov, add):
    queue = ov.AsyncInferQueue(add, 2)
    queue.start_async([X, X])
    queue.wait_all()
    assert any(np.array_equal(job.get_output_tensor().data, 2 * X) for job in queue)
    assert queue.is_ready()
    assert 0 <= queue.get_idle_request_id() < 2


def test_is_ready_false_while_all_jobs_run():
    compiled = ovfast.compile_model(heavy_model(), "CPU", {"INFERENCE_NUM_THREADS": 1})
    queue = ovfast.AsyncInferQueue(compiled, 1)
    queue.start_async(np.ones((384, 384), np.float32))
    assert queue.is_ready() is False
    assert queue.get_idle_request_id() == 0   # waits for it
    queue.wait_all()
    assert queue.is_ready() is True


def test_callback_runs_before_job_is_reused():
    compiled = ovfast.compile_model(add_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    active = set()
    clashes = []

    def callback(request, userdata):
        if id(request) in active:
            clashes.append(userdata)
        active.add(id(request))
        time.sleep(0.0005)
        active.discard(id(request))

    queue.set_callback(callback)
    for i in range(300):
        queue.start_async([X, X], i)
    queue.wait_all()
    assert not clashes


def test_callback_error_is_raised_once_then_cleared(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    calls, raised = [], []

    def callback(request, userdata):
        calls.append(userdata)
        if userdata == 5:
            raise ValueError("bad item 5")

    queue.set_callback(callback)
    accepted = []
    for i in range(10):
        try:
            queue.start_async([X, X], i)
            accepted.append(i)
        except ValueError as e:             # the call that reports the error submits nothing
            raised.append(str(e))
    try:
        queue.wait_all()
    except ValueError as e:
        raised.append(str(e))
    assert raised == ["bad item 5"]        # once, from whichever call came next
    queue.wait_all()                        # cleared
    queue.start_async([X, X], 99)
    queue.wait_all()
    assert sorted(calls) == accepted + [99]


def test_callback_error_surfaces_from_wait_all(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 2)
    queue.set_callback(lambda r, u: 1 / 0)
    queue.start_async([X, X])
    with pytest.raises(ZeroDivisionError):
        queue.wait_all()
    queue.wait_all()


def test_a_failed_run_reads_as_openvinos_words_then_the_job_wherever_it_is_found():
    """A run that fails while running is reported once, worded as every failed OpenVINO call is (OpenVINO's
    text, then "(job N failed)"), whether wait_all finds it, a later start_async, or asyncio's infer_async."""
    compiled = ovfast.compile_model(reshape_model(), "CPU")
    x = np.arange(6, dtype=np.float32)
    bad, good = np.array([4, 4], np.int64), np.array([2, 3], np.int64)
    pattern = r"conflicts with the reshape pattern.*\(job 0 failed\)$"
    queue = ovfast.AsyncInferQueue(compiled, 1)
    queue.start_async({"x": x, "shape": bad})
    with pytest.raises(RuntimeError, match=pattern):
        queue.wait_all()
    queue.wait_all()     # reported once
    queue.start_async({"x": x, "shape": bad})
    with pytest.raises(RuntimeError, match=pattern):
        queue.start_async({"x": x, "shape": good})   # it takes job 0 again and finds the failure
    queue.start_async({"x": x, "shape": good})
    queue.wait_all()

    async def run():
        return await queue.infer_async({"x": x, "shape": bad})
    with pytest.raises(RuntimeError, match=r"conflicts with the reshape pattern.*\(infer_async: job 0 failed\)$"):
        asyncio.run(run())


def test_bad_inputs_fail_before_the_job_starts(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 2)
    req = fast_add.create_infer_request()
    for bad, exc in (([X[:3], X], ValueError), ({"zzz": X}, KeyError), ([X], ValueError),
                     ([np.array(list("abcdefgh")), X], TypeError)):
        with pytest.raises(exc) as from_queue:
            queue.start_async(bad)
        with pytest.raises(exc) as from_infer:
            req.infer(bad)
        assert str(from_queue.value) == str(from_infer.value)
    assert queue.is_ready() and len({queue.get_idle_request_id() for _ in range(4)}) >= 1
    queue.start_async([X, X])
    queue.wait_all()


def test_negative_jobs():
    with pytest.raises(ValueError, match="jobs must be >= 0"):
        ovfast.AsyncInferQueue(ovfast.compile_model(add_model(), "CPU"), -1)


def test_dropping_a_queue_with_jobs_in_flight():
    compiled = ovfast.compile_model(heavy_model(n=128, depth=4), "CPU")
    x = np.ones((128, 128), np.float32)
    for with_callback in (False, True):
        for _ in range(20):
            queue = ovfast.AsyncInferQueue(compiled, 4)
            if with_callback:
                queue.set_callback(lambda r, u: None)
            for _ in range(6):
                queue.start_async(x)
            del queue
            gc.collect()


def test_threads_submitting_at_once(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 8)
    seen = {}
    lock = threading.Lock()

    def callback(request, userdata):
        with lock:
            seen[userdata] = request.get_output_tensor().data.copy()

    queue.set_callback(callback)

    def submit(t):
        for i in range(500):
            queue.start_async([X + t * 1000 + i, X], (t, i))

    threads = [threading.Thread(target=submit, args=(t,)) for t in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    queue.wait_all()
    assert len(seen) == 2000
    for (t, i), out in seen.items():
        np.testing.assert_array_equal(out, 2 * X + t * 1000 + i)


def test_callbacks_run_one_at_a_time_whichever_thread_runs_them(fast_add):
    """ovfast runs a batch of callbacks on a submitting thread that would otherwise wait for an idle job, or
    on the queue's dispatcher: never two at once, as on openvino's one callback thread. (openvino's queue
    takes one submitting thread: from several, its start_async fails with "Infer Request is busy".)"""
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    running, overlaps, seen = [0], [], {}

    def callback(request, userdata):
        running[0] += 1
        if running[0] > 1:
            overlaps.append(userdata)
        time.sleep(0.0002)   # another thread gets the GIL meanwhile
        seen[userdata] = request.get_output_tensor().data.copy()
        running[0] -= 1

    queue.set_callback(callback)

    def submit(t):
        for i in range(150):
            queue.start_async({0: X + 1000 * t + i, 1: X}, userdata=(t, i))

    threads = [threading.Thread(target=submit, args=(t,)) for t in range(3)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    queue.wait_all()
    assert not overlaps
    assert sorted(seen) == [(t, i) for t in range(3) for i in range(150)]
    for (t, i), out in seen.items():
        np.testing.assert_array_equal(out, 2 * X + 1000 * t + i)


def test_a_callback_run_by_a_waiting_submitter_may_not_wait_for_the_queue(fast_add):
    """With one job every start_async after the first waits, and may run the finished job's callback
    itself: a wait for the queue from that callback raises, as it does on the dispatcher."""
    queue = ovfast.AsyncInferQueue(fast_add, 1)
    calls, raised, accepted = [], [], []

    def callback(request, userdata):
        calls.append(userdata)
        if userdata == 3:
            queue.wait_all()

    queue.set_callback(callback)

    def run():
        for i in range(10):
            try:
                queue.start_async([X, X], i)
                accepted.append(i)
            except RuntimeError as e:   # the call that reports the callback's error submits nothing
                raised.append(str(e))
        try:
            queue.wait_all()
        except RuntimeError as e:
            raised.append(str(e))

    worker = threading.Thread(target=run, daemon=True)
    worker.start()
    worker.join(60)
    assert not worker.is_alive(), "deadlock: a callback waited for its own queue"
    assert len(raised) == 1 and "from a callback" in raised[0]
    queue.wait_all()
    assert sorted(calls) == accepted and 3 in calls


def test_wait_all_can_be_interrupted():
    import _thread

    compiled, x, one = slow_compiled(ovfast, 0.5)
    queue = ovfast.AsyncInferQueue(compiled, 1)
    queue.start_async(x)
    threading.Timer(0.05, _thread.interrupt_main).start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        queue.wait_all()
    assert time.perf_counter() - t0 < one / 2
    queue.wait_all()


# --- map / imap -----------------------------------------------------------------------------------------


def sequential(compiled, items):
    req = compiled.create_infer_request()
    return [req.infer(item) for item in items]


def test_map_matches_sequential_infer(fast_add):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((1000, 8)).astype(np.float32), rng.standard_normal((1000, 8)).astype(np.float32)
    a_before = a.copy()
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    expected = np.stack([r[0] for r in sequential(fast_add, [[a[i], b[i]] for i in range(1000)])])
    for inputs in ([a, b], {"a": a, "b": b}, {0: a, fast_add.inputs[1]: b}):
        res = queue.map(inputs)
        assert res[0].shape == (1000, 8)
        np.testing.assert_array_equal(res[0], expected)
        np.testing.assert_array_equal(res["sum"], expected)
    np.testing.assert_array_equal(a, a_before)


def test_map_noncontiguous_converted_and_caller_outputs(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 3)
    base = np.arange(400 * 16, dtype=np.float64).reshape(400, 16)
    a = base[:, ::2]                     # strided, float64
    b = np.asfortranarray(base[:, 8:])   # Fortran order
    out = np.zeros((400, 8), np.float32)
    res = queue.map([a, b], outputs={"sum": out})
    np.testing.assert_array_equal(out, (a + b).astype(np.float32))
    assert res[0] is out or np.shares_memory(res[0], out)


def test_map_big_ports_bound_small_ports_copied_and_caller_arrays_untouched():
    # map binds ports over 16 KiB zero-copy and copies smaller ones through tensors of its own: both
    # kinds in one model, against sequential infer
    compiled = ovfast.compile_model(mixed_size_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 3)
    rng = np.random.default_rng(5)
    # every job first shares a caller's arrays, which map must then leave alone
    shared = [(rng.standard_normal((64, 128)).astype(np.float32), rng.standard_normal(128).astype(np.float32))
              for _ in range(3)]
    for img, bias in shared:
        queue.start_async([img, bias], share_inputs=True)
    queue.wait_all()
    shared_before = [(img.copy(), bias.copy()) for img, bias in shared]
    images = rng.standard_normal((20, 64, 128)).astype(np.float32)
    biases = rng.standard_normal((20, 128)).astype(np.float32)
    res = queue.map({"image": images, "bias": biases})
    expected = sequential(compiled, [[images[i], biases[i]] for i in range(20)])
    np.testing.assert_array_equal(res["shifted"], np.stack([r["shifted"] for r in expected]))
    np.testing.assert_array_equal(res["rowsum"], np.stack([r["rowsum"] for r in expected]))
    for (img, bias), (img0, bias0) in zip(shared, shared_before):
        np.testing.assert_array_equal(img, img0)
        np.testing.assert_array_equal(bias, bias0)
    # and the jobs are back on their own tensors: new work does not touch map's inputs or results
    kept = res["rowsum"].copy()
    for i in range(6):
        queue.start_async([images[0] + i, biases[0]])
    queue.wait_all()
    np.testing.assert_array_equal(res["rowsum"], kept)


def test_map_reads_big_read_only_inputs_in_place():
    # a read-only input (Ray's zero-copy columns) of over 16 KiB an item is accepted and read item by item
    # into the jobs' own tensors: map allocates nothing near its size (numpy reports to tracemalloc)
    compiled = ovfast.compile_model(mixed_size_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    rng = np.random.default_rng(6)
    images = rng.standard_normal((200, 64, 128)).astype(np.float32)   # 32 KiB an item, 6.4 MiB in all
    biases = rng.standard_normal((200, 128)).astype(np.float32)
    images.flags.writeable = biases.flags.writeable = False
    first = queue.map({"image": images, "bias": biases})
    outputs = {"shifted": np.empty_like(first["shifted"]), "rowsum": np.empty_like(first["rowsum"])}
    tracemalloc.start()
    try:
        queue.map({"image": images, "bias": biases}, outputs)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < images.nbytes // 8
    expected = sequential(compiled, [[images[i], biases[i]] for i in range(200)])
    np.testing.assert_array_equal(outputs["shifted"], np.stack([r["shifted"] for r in expected]))
    np.testing.assert_array_equal(outputs["rowsum"], np.stack([r["rowsum"] for r in expected]))


def test_map_accepts_items_without_their_leading_one():
    x = openvino.opset13.parameter([1, 3], np.float32, name="x")
    compiled = ovfast.compile_model(openvino.Model(openvino.opset13.multiply(x, x), [x]), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    data = np.arange(30, dtype=np.float32).reshape(10, 3)
    res = queue.map(data)
    assert res[0].shape == (10, 1, 3)
    np.testing.assert_array_equal(res[0][:, 0], data * data)
    np.testing.assert_array_equal(queue.map(data[:, None, :])[0][:, 0], data * data)


def test_map_bad_input_raises_before_anything_starts(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 2)
    a = np.zeros((10, 8), np.float32)
    with pytest.raises(ValueError, match="'b' has 9 items, the others 10"):
        queue.map([a, np.zeros((9, 8), np.float32)])
    with pytest.raises(ValueError, match=r"takes items of f32\[8\]: an array of shape \(N, 8\)"):
        queue.map([a, np.zeros((10, 7), np.float32)])
    with pytest.raises(ValueError, match="missing"):
        queue.map({"a": a})
    with pytest.raises(ValueError, match="writable C-contiguous"):
        queue.map([a, a], outputs=[np.zeros((10, 8), np.float64)])
    dyn = ovfast.compile_model(dynamic_model(), "CPU")
    with pytest.raises(ValueError, match="map needs static"):
        ovfast.AsyncInferQueue(dyn, 2).map(np.zeros((3, 2, 4), np.float32))
    assert all(job.latency == 0 for job in queue)   # nothing ran


def test_jobs_let_go_of_map_arrays(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 2)
    a = np.ones((50, 8), np.float32)
    res = queue.map([a, a])
    kept = res[0].copy()
    for i in range(10):
        queue.start_async([X + i, X])
    queue.wait_all()
    np.testing.assert_array_equal(res[0], kept)   # later jobs do not write into map's results


def test_map_two_outputs_and_empty_batch():
    compiled = ovfast.compile_model(two_output_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    x = np.random.default_rng(1).standard_normal((64, 2, 3)).astype(np.float32)
    res = queue.map(x)
    np.testing.assert_array_equal(res["double"], 2 * x)
    np.testing.assert_array_equal(res["positive"], x > 0)
    empty = queue.map(np.zeros((0, 2, 3), np.float32))
    assert empty["double"].shape == (0, 2, 3)


def test_map_runs_without_the_queue_callback_and_leaves_it_working(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    seen = []
    queue.set_callback(lambda request, userdata: seen.append((userdata, request.results[0].copy())))
    a = np.random.default_rng(2).standard_normal((500, 8)).astype(np.float32)
    np.testing.assert_array_equal(queue.map([a, a])[0], a + a)
    assert seen == []   # map's items are not the callback's
    for i in range(40):   # every job's completion callback is back in place: none of these is lost
        queue.start_async([X + i, X], userdata=i)
    queue.wait_all()
    assert sorted(u for u, _ in seen) == list(range(40))
    for u, out in seen:
        np.testing.assert_array_equal(out, 2 * X + u)


def test_start_async_from_another_thread_waits_for_map(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    a = np.random.default_rng(4).standard_normal((20_000, 8)).astype(np.float32)
    results = []

    def submit():
        for i in range(200):
            queue.start_async([X + i, X], userdata=i)
        queue.wait_all()
        results.append(True)

    queue.set_callback(lambda request, userdata: results.append(
        np.array_equal(request.results[0], 2 * X + userdata)))
    thread = threading.Thread(target=submit)
    thread.start()
    res = queue.map([a, a])
    thread.join()
    np.testing.assert_array_equal(res[0], a + a)
    assert len(results) == 201 and all(results)


def test_map_can_be_interrupted_and_the_queue_still_works():
    import _thread

    compiled = ovfast.compile_model(heavy_model(n=256, depth=40), "CPU", {"INFERENCE_NUM_THREADS": 1})
    queue = ovfast.AsyncInferQueue(compiled, 2)
    x = np.random.default_rng(6).standard_normal((1, 256, 256)).astype(np.float32) / 16
    t0 = time.perf_counter()
    one = queue.map(x)[0]
    per_item = time.perf_counter() - t0
    items = np.repeat(x, max(50, int(2.0 / per_item)), axis=0)   # about two seconds of work
    threading.Timer(0.2, _thread.interrupt_main).start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        queue.map(items)
    assert time.perf_counter() - t0 < 1.0 + 3 * per_item
    calls = []
    queue.set_callback(lambda request, userdata: calls.append(userdata))
    queue.start_async(x[0], userdata="after")
    queue.wait_all()
    assert calls == ["after"]
    np.testing.assert_array_equal(queue.map(np.repeat(x, 3, axis=0))[0], np.repeat(one, 3, axis=0))


def test_imap_yields_in_order(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    rng = np.random.default_rng(3)

    def frames():   # a decoder-like stream
        for i in range(503):
            yield {"a": rng.standard_normal(8).astype(np.float32) + i, "b": X}

    items = list(frames())
    results = list(queue.imap(iter(items)))
    assert len(results) == 503
    for item, res in zip(items, results):
        np.testing.assert_array_equal(res["sum"], item["a"] + X)
    kept = results[0][0].copy()
    list(queue.imap([[X, X]] * 10))
    np.testing.assert_array_equal(results[0][0], kept)   # each result is the caller's


def test_imap_abandoned_leaves_queue_usable(fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, 4)
    gen = queue.imap([[X + i, X] for i in range(100)])
    first = [next(gen) for _ in range(3)]
    gen.close()
    np.testing.assert_array_equal(first[2][0], 2 * X + 2)
    queue.start_async([X, X])
    queue.wait_all()
    assert queue.is_ready()
