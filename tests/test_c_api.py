"""ovfast's C-level API (ovfast/api.pxd), used the way an embedding library uses it: tests/cext/
ovfast_cdriver.pyx is compiled here, as C, against the installed ovfast (ovfast.get_include() only), and
drives AsyncInferQueue's job pool from C without the GIL."""

import os
import threading
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ovfast
import ovfast.api
from cext_build import build_extension, driver_source
from models import add_model, dynamic_model, reshape_model, typed_model

HERE = os.path.dirname(os.path.abspath(__file__))
OK, TIMEOUT, INVALID, NOT_HELD, BUSY, FAILED, CLOSED = range(7)


@pytest.fixture(scope="module")
def drivers(tmp_path_factory):
    """The driver built twice: once with `cimport ovfast`, once with `from ovfast cimport api`."""
    source = driver_source()
    folder = str(tmp_path_factory.mktemp("cext"))
    a = build_extension(folder, "ovfast_cdriver", source)
    b = build_extension(folder, "ovfast_cdriver_b", source.replace("\ncimport ovfast\n",
                                                                   "\nfrom ovfast cimport api as ovfast\n"))
    return a, b


@pytest.fixture(scope="module")
def drv(drivers):
    return drivers[0]


@pytest.fixture(scope="module")
def compiled():
    return ovfast.compile_model(add_model(), "CPU")


def items(n, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((n, 8)).astype(np.float32), rng.standard_normal((n, 8)).astype(np.float32))


def expected(compiled, a, b):
    """What Python's compiled(inputs) answers for each item."""
    return np.stack([compiled({"a": a[k], "b": b[k]})[0] for k in range(len(a))])


def bounded(fn, *args, timeout=300):
    """fn(*args) on a thread, failing the test (not hanging it) if it has not returned within timeout."""
    result, error = [], []

    def run():
        try:
            result.append(fn(*args))
        except BaseException as e:
            error.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(timeout)
    assert not t.is_alive(), f"{fn.__name__} did not return within {timeout} s"
    if error:
        raise error[0]
    return result[0]


def test_the_extension_builds_against_the_installed_package(drv):
    assert ovfast.get_include() == os.path.dirname(os.path.dirname(os.path.abspath(ovfast.__file__)))
    for f in ("api.pxd", "__init__.pxd", os.path.join("includes", "openvino_c.pxd")):
        assert os.path.exists(os.path.join(ovfast.get_include(), "ovfast", f))
    assert ovfast.api.API_VERSION == 1


def test_ten_thousand_inferences_from_c_completion_functions_while_python_runs(drv, compiled):
    a, b = items(10_000)
    out = np.full_like(a, np.nan)
    queue = ovfast.AsyncInferQueue(compiled, 16)
    stop, ticks_while_c_ran = threading.Event(), [0]

    def python_thread():  # proves the GIL is free: it sees the C loop running, and the loop waits for that
        while not stop.is_set():
            if drv.python_saw_c_running():
                ticks_while_c_ran[0] += 1

    t = threading.Thread(target=python_thread)
    t.start()
    try:
        seen = bounded(drv.run_callbacks, queue, [a, b], [out], 16, True)
    finally:
        stop.set()
        t.join()
    assert seen and ticks_while_c_ran[0] > 0
    np.testing.assert_array_equal(out, expected(compiled, a, b))


def test_round_robin_from_c_with_job_wait(drv, compiled):
    a, b = items(3000, seed=1)
    out = np.full_like(a, np.nan)
    queue = ovfast.AsyncInferQueue(compiled, 5)
    bounded(drv.run_round_robin, queue, [a, b], [out], 5)
    np.testing.assert_array_equal(out, expected(compiled, a, b))


@pytest.mark.parametrize("in_flight", [1, 3, 4, 16])
def test_c_driver_asking_for_more_jobs_than_the_pool_has_waits_for_them(drv, compiled, in_flight):
    a, b = items(500, seed=in_flight)
    out = np.full_like(a, np.nan)
    queue = ovfast.AsyncInferQueue(compiled, 4)
    # beyond 4, job_acquire waits until a job hands itself back (when the items run out)
    bounded(drv.run_callbacks, queue, [a, b], [out], in_flight)
    np.testing.assert_array_equal(out, expected(compiled, a, b))


def test_python_queue_and_c_share_one_pool(drv, compiled):
    a, b = items(4000, seed=2)
    out = np.full_like(a, np.nan)
    queue = ovfast.AsyncInferQueue(compiled, 8)
    got = {}
    queue.set_callback(lambda req, k: got.__setitem__(k, req.results[0].copy()))

    def python_side():
        for k in range(2000):
            queue.start_async({"a": b[k], "b": b[k]}, k)
        queue.wait_all()

    t = threading.Thread(target=python_side)
    t.start()
    bounded(drv.run_callbacks, queue, [a, b], [out], 4)
    t.join()
    np.testing.assert_array_equal(out, expected(compiled, a, b))
    assert sorted(got) == list(range(2000))
    np.testing.assert_array_equal(np.stack([got[k] for k in range(2000)]), b[:2000] * 2)
    np.testing.assert_array_equal(queue.map([a, b])[0], a + b)  # the pool is whole again


def test_two_extensions_use_one_pool_at_once(drivers, compiled):
    drv_a, drv_b = drivers
    queue = ovfast.AsyncInferQueue(compiled, 16)
    a1, b1 = items(4000, seed=3)
    a2, b2 = items(4000, seed=4)
    out1, out2 = np.full_like(a1, np.nan), np.full_like(a2, np.nan)
    t = threading.Thread(target=bounded, args=(drv_b.run_callbacks, queue, [a2, b2], [out2], 8))
    t.start()
    bounded(drv_a.run_round_robin, queue, [a1, b1], [out1], 8)
    t.join()
    np.testing.assert_array_equal(out1, expected(compiled, a1, b1))
    np.testing.assert_array_equal(out2, expected(compiled, a2, b2))


def test_wrong_calls_from_c_give_statuses_and_messages(drv, compiled):
    queue = ovfast.AsyncInferQueue(compiled, 2)
    a, b = items(1)
    got = {name: (status, message) for name, status, message in
           drv.misuse(queue, compiled, ovfast.Tensor(a), compiled.create_infer_request())}
    assert got["handles"][0] is True
    assert got["tensor_data"][0] == a.nbytes
    assert got["pool_size"][0] == (2, 2, 1)
    want = {
        "input of a job not held": (NOT_HELD, "job 0 is not held through the C API"),
        "job out of range": (INVALID, "job 2 out of range: the pool has 2 jobs"),
        "acquire with no out pointer": (INVALID, "NULL"),
        "NULL pool": (INVALID, "the pool is NULL"),
        "acquire": (OK, None),
        "wait before start": (INVALID, "has not been started"),
        "input out of range": (INVALID, "input 2 out of range: the model has 2 inputs"),
        "output out of range": (INVALID, "output 1 out of range: the model has 1 outputs"),
        "bind too few bytes": (INVALID, "input 0 'a' (f32[8]): the shape needs 32 bytes, got 12"),
        "bind too many bytes": (INVALID, "the shape needs 32 bytes, got 256"),
        "bind a wrong shape": (INVALID, "input 0 'a' (f32[8]) cannot take the shape [2,4]"),
        "bind NULL data": (INVALID, "data is NULL"),
        "start": (OK, None), "wait": (OK, None), "release": (OK, None),
        "release twice": (NOT_HELD, "not held"),
        "start after release": (NOT_HELD, "not held"),
    }
    for name, (status, text) in want.items():
        assert got[name][0] == status, (name, got[name])
        if text is not None:
            assert text in got[name][1], (name, got[name])
    # nothing of that broke the queue for Python
    results = []
    queue.set_callback(lambda req, k: results.append((k, req.results[0].copy())))
    queue.start_async({"a": a[0], "b": b[0]}, 0)
    queue.wait_all()
    assert len(results) == 1 and np.array_equal(results[0][1], a[0] + b[0])


def test_handles_refuse_other_objects(drv, compiled):
    queue = ovfast.AsyncInferQueue(compiled, 1)
    request, tensor = compiled.create_infer_request(), ovfast.Tensor(np.zeros(3, np.float32))
    drv.handle_types(compiled, request, tensor, queue)
    import openvino
    ov_compiled = openvino.compile_model(add_model(), "CPU")
    for args, what in [((ov_compiled, request, tensor, queue), "ovfast.CompiledModel"),
                       ((compiled, tensor, tensor, queue), "ovfast.InferRequest"),
                       ((compiled, request, np.zeros(3), queue), "ovfast.Tensor"),
                       ((compiled, request, tensor, [queue]), "ovfast.AsyncInferQueue")]:
        with pytest.raises(TypeError, match=f"expected an {what}, got"):
            drv.handle_types(*args)


def test_a_job_held_in_c_is_busy_for_python(drv, compiled):
    queue = ovfast.AsyncInferQueue(compiled, 2)
    status, job = drv.acquire(queue, 1000)
    assert status == OK
    a, b = items(1)
    with pytest.raises(ovfast.exceptions.RequestBusy, match="held by imap\\(\\) or by C code"):
        queue[job].infer({"a": a[0], "b": b[0]})
    with pytest.raises(ovfast.exceptions.RequestBusy):
        queue[job].set_input_tensor(0, ovfast.Tensor(a[0].copy()))
    # Python's work goes to the other job meanwhile
    seen = []
    queue.set_callback(lambda req, k: seen.append(req))
    for k in range(20):
        queue.start_async({"a": a[0], "b": b[0]}, k)
    queue.wait_all()
    assert len(seen) == 20 and all(r is queue[1 - job] for r in seen)
    assert drv.release(queue, job) == OK
    np.testing.assert_array_equal(queue[job].infer({"a": a[0], "b": b[0]})[0], a[0] + b[0])


def test_memory_bound_from_c_is_never_read_after_release(drv, compiled):
    queue = ovfast.AsyncInferQueue(compiled, 1)
    x, y = np.arange(8, dtype=np.float32), np.full(8, 10, np.float32)
    queue[0].set_input_tensor(0, ovfast.Tensor(x))
    queue[0].set_input_tensor(1, ovfast.Tensor(y))
    c1, c2 = np.full(8, 100, np.float32), np.full(8, 1000, np.float32)
    raw = drv.bind_and_release(queue, c1, c2)
    np.testing.assert_array_equal(np.frombuffer(raw, np.float32), c1 + c2)
    c1[:], c2[:] = -1, -1  # the C caller's memory changes (or is freed) after release
    got = []
    queue.set_callback(lambda req, _: got.append(req.results[0].copy()))
    queue.start_async()  # the job's own inputs again: Python's tensors, not the C memory
    queue.wait_all()
    np.testing.assert_array_equal(got[0], x + y)
    np.testing.assert_array_equal(queue[0].get_input_tensor(0).data, x)


def test_dynamic_inputs_must_be_bound_with_a_shape(drv):
    compiled = ovfast.compile_model(dynamic_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 1)
    got = {name: (status, message) for name, status, message in
           drv.misuse(queue, compiled, ovfast.Tensor(np.zeros(3, np.float32)), queue[0]) if name.startswith("bind")}
    assert got["bind too few bytes"] == (INVALID, "input 0 'x' (f32[?,4]) has a dynamic shape: pass its dims")
    assert got["bind a wrong shape"][0] == OK  # [2,4] fits [?,4]


def test_a_failed_run_is_a_status_with_openvinos_message_in_the_completion_function_and_job_wait(drv):
    import openvino
    compiled = ovfast.compile_model(reshape_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 1)
    x = np.arange(6, dtype=np.float32)
    in_done, _, waited, _, out = drv.run_once(queue, [x, np.array([2, 3], np.int64)])
    assert (in_done, waited) == (OK, OK)
    np.testing.assert_array_equal(np.frombuffer(out, np.float32), x)
    # 6 values cannot be 4 x 4: openvino raises for this run, ovfast's C API says FAILED with its words
    with pytest.raises(RuntimeError) as oracle:
        openvino.compile_model(reshape_model(), "CPU")({"x": x, "shape": np.array([4, 4], np.int64)})
    in_done, done_message, waited, wait_message, out = drv.run_once(queue, [x, np.array([4, 4], np.int64)])
    assert (in_done, waited, out) == (FAILED, FAILED, None)
    key = next(line.strip() for line in str(oracle.value).splitlines() if "conflicts with" in line)
    for message in (done_message, wait_message):
        assert message.startswith("job 0: the inference failed (OpenVINO status -1): ")
        assert key in message, (key, message)
    # and the job is fine for Python afterwards
    np.testing.assert_array_equal(queue[0].infer({"x": x, "shape": np.array([3, 2], np.int64)})[0],
                                  x.reshape(3, 2))


def test_job_infer_runs_on_the_calling_thread_with_the_same_statuses(drv):
    import openvino
    compiled = ovfast.compile_model(reshape_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 1)
    x = np.arange(6, dtype=np.float32)
    st, message, out = drv.run_infer(queue, [x, np.array([3, 2], np.int64)])
    assert (st, message) == (OK, "")
    np.testing.assert_array_equal(np.frombuffer(out, np.float32), x)
    with pytest.raises(RuntimeError) as oracle:
        openvino.compile_model(reshape_model(), "CPU")({"x": x, "shape": np.array([4, 4], np.int64)})
    st, message, out = drv.run_infer(queue, [x, np.array([4, 4], np.int64)])
    assert (st, out) == (FAILED, None)
    key = next(line.strip() for line in str(oracle.value).splitlines() if "conflicts with" in line)
    assert message.startswith("job 0: the inference failed (OpenVINO status -1): ") and key in message
    np.testing.assert_array_equal(queue[0].infer({"x": x, "shape": np.array([2, 3], np.int64)})[0],
                                  x.reshape(2, 3))


def test_a_pool_kept_in_c_outlives_its_queue(drv, compiled):
    queue = ovfast.AsyncInferQueue(compiled, 2)
    drv.keep_pool(queue)
    try:
        assert drv.acquire_kept()[0] == OK
        del queue
        import gc
        gc.collect()
        assert drv.acquire_kept() == (CLOSED, "the pool's AsyncInferQueue is gone")
    finally:
        drv.drop_kept()


def test_version_check(drv):
    drv.check_version(ovfast.api.API_VERSION)
    with pytest.raises(ImportError, match=f"built against ovfast's C API version {ovfast.api.API_VERSION + 1}, "
                                          f"but the installed ovfast provides version {ovfast.api.API_VERSION}"):
        drv.check_version(ovfast.api.API_VERSION + 1)


def readme_example():
    """The embedding guide's example, which must be tests/cext/embed_example.pyx word for word."""
    with open(os.path.join(HERE, "cext", "embed_example.pyx")) as f:
        source = f.read()
    with open(os.path.join(os.path.dirname(HERE), "docs", "guides", "embedding.md")) as f:
        guide = f.read()
    assert "```cython\n" + source + "```" in guide, "the embedding guide's example differs from embed_example.pyx"
    return source


def test_the_readme_example_builds_and_runs(tmp_path, compiled):
    example = build_extension(str(tmp_path), "embed_example", readme_example())
    queue = ovfast.AsyncInferQueue(ovfast.compile_model(typed_model(np.float32), "CPU"), 4)  # x: f32[5] -> x + x
    for n in (1, 3, 1000):
        x = np.random.default_rng(n).standard_normal((n, 5)).astype(np.float32)
        out = np.zeros_like(x)
        bounded(example.run, queue, x.view(np.uint8), out.view(np.uint8))
        np.testing.assert_array_equal(out, np.stack([queue[0].infer({"x": row})[0] for row in x]))
    with pytest.raises(RuntimeError, match="rows must be 20 bytes"):
        example.run(queue, x.view(np.uint8)[:, :16].copy(), out.view(np.uint8))
    with pytest.raises(RuntimeError, match="rows must be 20 bytes"):
        example.run(queue, x.view(np.uint8), np.zeros((n, 8), np.uint8))


@pytest.fixture(scope="module")
def bind_queues():
    return (ovfast.AsyncInferQueue(ovfast.compile_model(add_model(), "CPU"), 1),
            ovfast.AsyncInferQueue(ovfast.compile_model(dynamic_model(), "CPU"), 1))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(dynamic=st.booleans(), output=st.booleans(), index=st.integers(0, 2),
       dims=st.none() | st.lists(st.integers(-2, 9), max_size=4), extra=st.sampled_from([0, 0, 0, -4, -1, 1, 4]))
def test_bind_accepts_exactly_the_memory_a_port_takes(drv, bind_queues, dynamic, output, index, dims, extra):
    """Over ports (static f32[8] in and out, dynamic f32[?,4]), shapes and byte sizes: job_bind accepts
    memory of exactly the right shape and size, refuses anything else with INVALID and a message, and an
    accepted binding runs."""
    queue = bind_queues[dynamic]
    n_ports = 1 if dynamic or output else 2
    if dynamic:
        fits = dims is not None and len(dims) == 2 and dims[0] >= 0 and dims[1] == 4
    else:
        fits = dims is None or dims == [8]
    shape = [8] if not dynamic and dims is None else (dims or [])
    right = 4 * int(np.prod(shape)) if all(v >= 0 for v in shape) else 0
    nbytes = max(right + extra, 0)
    status, message, run = drv.try_bind(queue, output, index, nbytes, dims)
    if index < n_ports and fits and nbytes == right:
        assert (status, run) == (OK, OK), message
    else:
        assert status == INVALID and message, (status, message)
        assert run == -1


def test_a_python_failure_is_still_reported_after_c_code_used_the_job(drv):
    queue = ovfast.AsyncInferQueue(ovfast.compile_model(reshape_model(), "CPU"), 1)
    x = np.arange(6, dtype=np.float32)
    queue.start_async({"x": x, "shape": np.array([4, 4], np.int64)})  # fails while running
    status, job = drv.acquire(queue, 10_000)     # C takes the job before Python has looked at that run
    assert status == OK
    assert drv.release(queue, job) == OK
    with pytest.raises(RuntimeError, match=r"conflicts with the reshape pattern.*\(job 0 failed\)$"):
        queue.wait_all()
    queue.wait_all()  # reported once
    queue.start_async({"x": x, "shape": np.array([2, 3], np.int64)})
    queue.wait_all()


def test_a_run_started_from_c_reports_its_own_latency(drv, compiled):
    # every start stamps its start time (ovf_job_start): a C run's latency is its own, not the time since
    # an older Python run of the same job started
    queue = ovfast.AsyncInferQueue(compiled, 1)
    a, b = items(1)
    queue.start_async({"a": a[0], "b": b[0]})
    queue.wait_all()
    python_started = time.perf_counter()
    time.sleep(0.3)
    assert drv.run_once(queue, [a[0], b[0]])[2] == OK
    since_python_run = time.perf_counter() - python_started
    assert 0 < queue[0].latency < since_python_run * 1000 / 2, (queue[0].latency, since_python_run)


def test_a_program_that_exits_while_c_holds_jobs_ends(drv):
    from test_job_lifecycle import run_program

    run_program("""
        import ovfast_cdriver as drv
        assert drv.acquire(q, 1000)[0] == 0   # held by C until the program ends
        for i in range(8):
            q.start_async({"x": img}, i)
    """, extra_path=os.path.dirname(drv.__file__))
