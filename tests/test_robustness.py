"""Classes of input that once crashed, answered wrongly or hung (fuzzing, issue "Robustness II").

Each test covers a whole class of input (hypothesis where the class is large) and runs on openvino too
where the behaviour should match.
"""

import gc
import math
import threading
import time

import numpy as np
import openvino
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ovfast
from models import add_model, mixed_size_model

NUMERIC = [np.bool_, np.uint8, np.int8, np.uint16, np.int16, np.uint32, np.int32, np.uint64, np.int64,
           np.float16, np.float32, np.float64]
NON_NUMERIC = [object, "U3", "S3", np.complex64, "V4", "M8[s]", [("a", np.int32), ("b", object)]]


def no_hang(fn, seconds=120):
    """Runs fn in a thread; fails (instead of hanging the suite) if it has not returned after `seconds`,
    which only a deadlock takes. Returns fn's result or raises its exception."""
    box = {}

    def run():
        try:
            box["value"] = fn()
        except BaseException as e:  # handed to the test's thread
            box["error"] = e

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(seconds)
    assert not t.is_alive(), "deadlock: the call never returned"
    if "error" in box:
        raise box["error"]
    return box.get("value")


# --- 1, 2: what a Tensor may wrap ------------------------------------------------------------------------

def test_bytes_are_never_shared_writable(ov):
    b = b"abcd"
    with pytest.raises(ValueError, match="writeable"):
        ov.Tensor(np.frombuffer(b, np.uint8), shared_memory=True)
    assert b == b"abcd"


def test_readonly_memory_is_refused_by_every_sharing_constructor():
    b = bytes(range(16))
    arr = np.frombuffer(b, np.uint8)
    for make in (lambda: ovfast.Tensor(arr, shared_memory=True), lambda: ovfast.Tensor(arr, [16], ovfast.Type.u8),
                 lambda: ovfast.Tensor(arr, [32], ovfast.Type.u4), lambda: ovfast.Tensor(arr, True)):
        with pytest.raises(ValueError, match="not writeable.*copy"):
            make()
    assert b == bytes(range(16))
    t = ovfast.Tensor(arr)  # a copy is always fine, and writing it leaves b alone
    t.data[0] = 200
    assert b == bytes(range(16))


@pytest.fixture
def readonly_map(tmp_path):
    """A read-only memory mapping of 4 items of mixed_size_model's 'image' input (32 KiB each): writing
    into it would crash the process."""
    data = np.random.default_rng(1).standard_normal((4, 64, 128)).astype(np.float32)
    path = tmp_path / "images.bin"
    data.tofile(path)
    return np.memmap(path, np.float32, "r", shape=data.shape), data


def test_readonly_mapping_as_input_of_every_path(readonly_map):
    mm, data = readonly_map
    bias = np.arange(128, dtype=np.float32)
    compiled = ovfast.compile_model(mixed_size_model(), "CPU")
    with pytest.raises(ValueError):
        ovfast.Tensor(mm[0], shared_memory=True)
    want = [data[i] + bias for i in range(4)]
    for i in range(4):  # share_inputs on a big read-only input: copied, never bound
        np.testing.assert_array_equal(compiled({"image": mm[i], "bias": bias}, share_inputs=True)["shifted"], want[i])
    queue = ovfast.AsyncInferQueue(compiled, 2)
    out = queue.map({"image": mm, "bias": np.broadcast_to(bias, (4, 128))})
    np.testing.assert_array_equal(out["shifted"], np.stack(want))
    got = [r["shifted"] for r in queue.imap([{"image": mm[i], "bias": bias} for i in range(4)], share_inputs=True)]
    np.testing.assert_array_equal(np.stack(got), np.stack(want))
    # the jobs then run other inputs: nothing may write into the mapping
    out = queue.map({"image": data * 2, "bias": np.broadcast_to(bias, (4, 128))})
    np.testing.assert_array_equal(out["shifted"], data * 2 + bias)
    np.testing.assert_array_equal(np.asarray(mm), data)


@pytest.mark.parametrize("dtype", NON_NUMERIC, ids=str)
def test_non_numeric_arrays_are_refused_by_every_constructor(dtype):
    arr = np.zeros(4, dtype=dtype)
    makers = [lambda: ovfast.Tensor(arr, [arr.nbytes], ovfast.Type.u8)]
    if arr.dtype.kind in "US":  # str and bytes arrays make string tensors (copies), as in openvino
        t = ovfast.Tensor(arr)
        assert t.element_type == ovfast.Type.string and list(t.bytes_data) == list(arr.astype(bytes))
        for lib in (openvino, ovfast):   # which cannot share them
            with pytest.raises(RuntimeError, match="SHARED MEMORY MODE FOR THIS TENSOR IS NOT APPLICABLE!"):
                lib.Tensor(arr, shared_memory=True)
    else:
        makers += [lambda: ovfast.Tensor(arr), lambda: ovfast.Tensor(arr, shared_memory=True)]
    for make in makers:
        with pytest.raises(TypeError, match="dtype") as info:
            make()
        assert isinstance(info.value, RuntimeError)  # what openvino raises for the same arrays
    with pytest.raises(RuntimeError):
        openvino.Tensor(np.zeros(4, dtype=object), [32], openvino.Type.u8)


@settings(max_examples=150, deadline=None)
@given(dtype=st.sampled_from(NUMERIC + NON_NUMERIC), writeable=st.booleans(),
       how=st.sampled_from(["copy", "shared", "view"]), n=st.integers(1, 40))
def test_tensor_over_any_array(dtype, writeable, how, n):
    arr = np.zeros(n, dtype=dtype)
    if arr.dtype.kind in "biuf":
        arr[:] = np.arange(n) % 2 if arr.dtype.kind == "b" else np.arange(n) % 100
    arr.flags.writeable = writeable
    before = arr.copy()
    numeric = arr.dtype.kind in "biuf" and not arr.dtype.hasobject
    if how == "copy":
        make = lambda: ovfast.Tensor(arr)  # noqa: E731
    elif how == "shared":
        make = lambda: ovfast.Tensor(arr, shared_memory=True)  # noqa: E731
    else:
        make = lambda: ovfast.Tensor(arr, [arr.nbytes], ovfast.Type.u8)  # noqa: E731
    if arr.dtype.kind in "US" and how == "shared":  # strings are copied only, as openvino says
        with pytest.raises(RuntimeError, match="String types can be only copied"):
            make()
        return
    if arr.dtype.kind in "US" and how == "copy":  # a string tensor
        t = make()
        assert list(t.bytes_data) == list(arr.astype(bytes))
        np.testing.assert_array_equal(arr, before)
        return
    if not numeric:
        with pytest.raises(TypeError):
            make()
        return
    if how != "copy" and not writeable:
        with pytest.raises(ValueError, match="not writeable"):
            make()
        np.testing.assert_array_equal(arr, before)
        return
    t = make()
    view = t.data
    assert view.flags.writeable
    raw = view.view(np.uint8).reshape(-1)
    raw[0] ^= 1  # writing the tensor: visible in arr only when shared, and never a crash
    if how == "copy":
        np.testing.assert_array_equal(arr, before)
    else:
        assert arr.view(np.uint8)[0] == before.view(np.uint8)[0] ^ 1


# --- 3: property values the C API cannot take as text ------------------------------------------------

def test_cache_encryption_callbacks_are_refused_before_compiling():
    def encrypt(s):
        return s

    with pytest.raises(NotImplementedError, match="CACHE_ENCRYPTION_CALLBACKS.*function pointers"):
        ovfast.compile_model(add_model(), "CPU", {"CACHE_ENCRYPTION_CALLBACKS": [encrypt, encrypt]})
    with pytest.raises(NotImplementedError):
        ovfast.Core().set_property("CPU", {"CACHE_ENCRYPTION_CALLBACKS": [encrypt, encrypt]})


@pytest.mark.parametrize("value", [object(), lambda: 1, None, b"LATENCY", np.zeros(2), openvino.Core()],
                         ids=["object", "lambda", "None", "bytes", "ndarray", "Core"])
def test_values_without_a_text_form_are_type_errors(value):
    compiled = ovfast.compile_model(add_model(), "CPU")
    for call in (lambda: ovfast.compile_model(add_model(), "CPU", {"PERFORMANCE_HINT": value}),
                 lambda: ovfast.Core().set_property("CPU", {"PERFORMANCE_HINT": value}),
                 lambda: compiled.set_property({"PERFORMANCE_HINT": value})):
        with pytest.raises(TypeError, match="PERFORMANCE_HINT.*cannot be passed"):
            call()


@settings(max_examples=60, deadline=None)
@given(value=st.one_of(st.booleans(), st.integers(-2, 4), st.just(2**70), st.floats(allow_nan=True), st.text(max_size=8),
                       st.sampled_from(["{", "}", "{}", "{CPU:{}}", "{CPU:{NUM_STREAMS:1}}", "{CPU:", "{CPU:1}x"]),
                       st.lists(st.integers(0, 4), max_size=3), st.dictionaries(st.sampled_from(["CPU"]),
                                                                                st.dictionaries(st.just("INFERENCE_NUM_THREADS"),
                                                                                                st.integers(0, 2)))),
       key=st.sampled_from(["INFERENCE_NUM_THREADS", "PERFORMANCE_HINT", "ENABLE_PROFILING", "DEVICE_PROPERTIES",
                            "NUM_STREAMS", "INFERENCE_PRECISION_HINT", "EXECUTION_MODE_HINT",
                            "PERFORMANCE_HINT_NUM_REQUESTS", "AFFINITY", "LOG_LEVEL"]))
def test_any_property_value_compiles_or_raises(key, value):
    # never a crash and never a silently mangled value: OpenVINO either takes it or says no (small stream
    # and thread counts only: OpenVINO honours NUM_STREAMS=100000, which takes minutes to run)
    try:
        compiled = no_hang(lambda: ovfast.compile_model(add_model(), "CPU", {key: value}), 60)
    except (TypeError, ValueError, RuntimeError):
        return
    np.testing.assert_array_equal(compiled([np.ones(8, np.float32)] * 2)[0], np.full(8, 2, np.float32))


@pytest.mark.parametrize("value", [{}, {"CPU": {}}, {"CPU": {}, "GPU": {}}])
def test_empty_device_properties_compile(value):
    # the C API's parser hangs on "{}": empty maps are left out (they set nothing)
    compiled = no_hang(lambda: ovfast.compile_model(add_model(), "CPU", {"DEVICE_PROPERTIES": value}), 60)
    np.testing.assert_array_equal(compiled([np.ones(8, np.float32)] * 2)[0], np.full(8, 2, np.float32))


def test_nested_device_properties_reach_the_device():
    compiled = ovfast.compile_model(add_model(), "AUTO",
                                    {"DEVICE_PROPERTIES": {"CPU": {"INFERENCE_NUM_THREADS": 1}}})
    assert compiled.get_property("EXECUTION_DEVICES") == ["CPU"]


# --- 4: threads on one CompiledModel -------------------------------------------------------------------

def _threaded_calls(call, n_threads=4, calls=300):
    """n_threads threads each run `calls` inferences through call(inputs) with inputs that need converting
    (float64) or copying (strided views); returns the list of failures."""
    errors = []
    barrier = threading.Barrier(n_threads)

    def worker(seed):
        rng = np.random.default_rng(seed)
        barrier.wait()
        try:
            for k in range(calls):
                a = rng.standard_normal(8)                      # float64 for an f32 input: converted
                b = rng.standard_normal(16).astype(np.float32)[::2]  # a strided view: copied
                got = call([a, b])[0]
                np.testing.assert_array_equal(got, a.astype(np.float32) + b, err_msg=f"thread {seed} call {k}")
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_threads_calling_one_compiled_model_each_get_their_own_answer():
    compiled = ovfast.compile_model(add_model(), "CPU")
    errors = _threaded_calls(compiled)
    assert not errors, errors[0]
    errors = _threaded_calls(compiled.infer_new_request, calls=100)
    assert not errors, errors[0]


class SlowArray:
    """An input whose conversion sleeps, releasing the GIL halfway through setting a request's inputs."""

    def __init__(self, array, seconds):
        self.array, self.seconds = array, seconds

    def __array__(self, dtype=None, copy=None):
        time.sleep(self.seconds)
        return self.array


def test_a_second_call_on_a_request_is_refused_before_it_writes():
    compiled = ovfast.compile_model(add_model(), "CPU")
    request = compiled.create_infer_request()
    ones = np.ones(8, np.float32)
    first = {}

    def slow_call():  # writes input a, then sleeps converting input b
        first["result"] = request.infer([np.full(8, 10, np.float32), SlowArray(ones, 0.3)])[0]

    t = threading.Thread(target=slow_call)
    t.start()
    time.sleep(0.1)
    with pytest.raises(ovfast.exceptions.RequestBusy):
        request.infer([np.full(8, 20, np.float32), ones])
    t.join()
    np.testing.assert_array_equal(first["result"], np.full(8, 11, np.float32))


def test_one_request_from_two_threads_is_busy_or_right_never_wrong():
    compiled = ovfast.compile_model(mixed_size_model(), "CPU")
    request = compiled.create_infer_request()
    busy, wrong, done = [0], [], [0]
    barrier = threading.Barrier(2)

    def worker(seed):
        rng = np.random.default_rng(seed)
        bias = np.full(128, seed, np.float32)
        barrier.wait()
        for _ in range(300):
            image = rng.standard_normal((64, 128))  # float64: converting it releases the GIL
            try:
                got = request.infer({"image": image, "bias": bias})["shifted"]
            except ovfast.exceptions.RequestBusy:
                busy[0] += 1
                continue
            done[0] += 1
            if not np.array_equal(got, image.astype(np.float32) + bias):
                wrong.append(seed)

    threads = [threading.Thread(target=worker, args=(s,)) for s in (1, 2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not wrong, f"{len(wrong)} of {done[0]} calls returned another thread's answer"
    assert done[0] > 0


# --- 5, 6: the job a queue call runs is the one it named -----------------------------------------------

def test_imap_results_are_its_own_with_start_async_in_its_loop():
    compiled = ovfast.compile_model(add_model(), "CPU")
    zero = np.zeros(8, np.float32)
    queue = ovfast.AsyncInferQueue(compiled, 1)
    seen = []
    for i, r in enumerate(queue.imap([[np.full(8, k, np.float32), zero] for k in range(3)])):
        seen.append(float(r[0][0]))
        with pytest.raises(RuntimeError, match="imap.*holds every job"):
            queue.start_async([np.full(8, 1000, np.float32), zero])  # one job, and imap holds it
        with pytest.raises(RuntimeError, match="imap"):
            queue.wait_all()
    assert seen == [0, 1, 2]
    # imap of fewer items than jobs leaves jobs to spare: start_async in its loop runs on those
    queue = ovfast.AsyncInferQueue(compiled, 3)
    got = {}
    queue.set_callback(lambda request, userdata: got.__setitem__(userdata, float(request.results[0][0])))
    seen = []
    for k, r in enumerate(queue.imap([[np.full(8, k, np.float32), zero] for k in range(2)])):
        seen.append(float(r[0][0]))
        queue.start_async([np.full(8, 1000 + k, np.float32), zero], userdata=k)
    queue.wait_all()
    assert seen == [0, 1]
    assert got == {0: 1000.0, 1: 1001.0}


def test_imap_and_another_thread_share_a_queue_without_mixing():
    compiled = ovfast.compile_model(add_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 4)
    zero = np.zeros(8, np.float32)
    other = {}
    queue.set_callback(lambda request, userdata: other.__setitem__(userdata, float(request.results[0][0])))

    def submit():
        for k in range(300):
            queue.start_async([np.full(8, -k, np.float32), zero], userdata=k)

    t = threading.Thread(target=submit)
    t.start()
    seen = [float(r[0][0]) for r in queue.imap([np.full(8, k, np.float32), zero] for k in range(300))]
    t.join()
    queue.wait_all()
    assert seen == list(range(300))
    assert other == {k: float(-k) for k in range(300)}


def benchmark_app_loop(ov, compiled, n_jobs, n_runs):
    """openvino's benchmark_app: inputs set on queue[get_idle_request_id()], then start_async()."""
    queue = ov.AsyncInferQueue(compiled, n_jobs)
    seen = {}
    queue.set_callback(lambda request, userdata: seen.__setitem__(
        userdata, (request.get_output_tensor(0).data.copy(), request.latency)))
    named = []
    for k in range(n_runs):
        i = queue.get_idle_request_id()
        named.append(i)
        queue[i].set_input_tensors({0: ov.Tensor(np.full(8, k, np.float32)), 1: ov.Tensor(np.ones(8, np.float32))})
        queue.start_async(userdata=k)
    queue.wait_all()
    # openvino's wait_all can return while its callback thread is still in the last callback, and dropping
    # its CompiledModel then deadlocks (the destructor holds the GIL and joins that thread, which waits for
    # the GIL): openvino's objects are kept until the end of the session, long after that thread is idle
    deadline = time.monotonic() + 60
    while len(seen) < n_runs and time.monotonic() < deadline:
        time.sleep(0.001)
    if ov is openvino:
        _OPENVINO_KEEPALIVE.append((compiled, queue))
    return named, seen


_OPENVINO_KEEPALIVE = []


@pytest.mark.parametrize("n_jobs", [1, 2, 4])
def test_start_async_runs_the_job_get_idle_request_id_named(ov, n_jobs):
    compiled = ov.compile_model(add_model(), "CPU")
    named, seen = benchmark_app_loop(ov, compiled, n_jobs, 200)
    assert sorted(seen) == list(range(200))
    for k, (result, latency) in seen.items():
        np.testing.assert_array_equal(result, np.full(8, k + 1, np.float32))  # job i ran the inputs set on it
        assert latency > 0
    assert set(named) <= set(range(n_jobs))


def idle_ids_after(lib, n_jobs, ops):
    """The ids get_idle_request_id() names along a sequence of direct runs on queue[k] and queue runs."""
    queue = lib.AsyncInferQueue(lib.compile_model(add_model(), "CPU"), n_jobs)
    x = np.ones(8, np.float32)
    named = []
    for op, k in ops:
        if op == "infer":            # a job used directly, as model_api's sync path uses one
            queue[k % n_jobs].infer([x, x])
        elif op == "start":          # one queue run at a time, so the order jobs come back in is fixed
            queue.start_async([x, x])
            queue.wait_all()
        named.append(queue.get_idle_request_id())
    return named


@settings(max_examples=40, deadline=None)
@given(n_jobs=st.integers(1, 4), ops=st.lists(st.tuples(st.sampled_from(["infer", "start", "idle"]),
                                                        st.integers(0, 3)), max_size=12))
def test_direct_runs_leave_the_idle_order_as_openvino_does(n_jobs, ops):
    """openvino's direct use of a job (queue[i].infer()) does not touch the queue's idle order, so a library
    that runs queue[queue.get_idle_request_id()].infer() keeps using the same job: ovfast names the same."""
    assert idle_ids_after(ovfast, n_jobs, ops) == idle_ids_after(openvino, n_jobs, ops)


# --- 7: packing reports every bad value at its own index ----------------------------------------------

RANGES = {"u1": (0, 1), "u2": (0, 3), "u3": (0, 7), "u4": (0, 15), "i4": (-8, 7), "u6": (0, 63), "nf4": (0, 15),
          "f4e2m1": (0, 15)}


@pytest.mark.parametrize("dtype", [np.uint8, np.int8, np.uint16, np.int16, np.int32, np.uint64, np.int64],
                         ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(RANGES))
@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_pack_data_refuses_every_out_of_range_value_at_its_index(name, dtype, data):
    from ovfast.helpers import pack_data, unpack_data

    lo, hi = RANGES[name]
    info = np.iinfo(dtype)
    n = data.draw(st.integers(1, 300), label="n")
    values = np.array(data.draw(st.lists(st.integers(max(lo, info.min), min(hi, info.max)), min_size=n,
                                         max_size=n), label="values"), dtype=dtype)
    if data.draw(st.booleans(), label="spoil"):
        k = data.draw(st.integers(0, n - 1), label="at")
        # the edges of the range and of the dtype first: a kernel that reads bytes as signed or unsigned
        # goes wrong at exactly those (248-255 from uint8 for i4 once passed as -8..-1)
        edges = [v for v in (lo - 1, hi + 1, info.min, info.max, info.max - 7, 2**7, 2**7 - 1 + lo, -2**7)
                 if info.min <= v <= info.max and not lo <= v <= hi]
        bad = data.draw(st.one_of(st.sampled_from(edges),
                                  st.integers(info.min, lo - 1) if lo - 1 >= info.min else st.nothing(),
                                  st.integers(hi + 1, info.max)), label="bad")
        values[k] = bad
    outside = np.flatnonzero((values.astype(np.float64) < lo) | (values.astype(np.float64) > hi))
    if outside.size:
        with pytest.raises(ValueError, match=f"at index {outside[0]} "):
            pack_data(values, name)
    else:
        np.testing.assert_array_equal(unpack_data(pack_data(values, name), name, [n]), values)


def test_pack_i4_from_uint8_high_values():
    from ovfast.helpers import pack_data

    with pytest.raises(ValueError, match="value 255 at index 0 "):
        pack_data(np.array([255, 0, 0, 0, 0, 0, 0, 0], np.uint8), "i4")
    with pytest.raises(ValueError, match="value 248 at index 3 "):
        pack_data(np.array([0] * 3 + [248] + [0] * 200, np.uint8), "i4")


# --- 8: shapes from the user ---------------------------------------------------------------------------

def test_shapes_that_overflow_are_refused():
    with pytest.raises(ValueError, match="too large"):
        ovfast.Tensor(np.zeros(16, np.uint8), [2**32, 2**32], ovfast.Type.u8)
    with pytest.raises(ValueError, match="too large"):
        ovfast.Tensor(ovfast.Type.f32, [2**40, 2**40])
    t = ovfast.Tensor(ovfast.Type.f32, [2])
    with pytest.raises(ValueError, match="too large"):
        t.set_shape([2**40, 2**40])
    from ovfast.helpers import unpack_data

    with pytest.raises(ValueError):
        unpack_data(np.zeros(4, np.uint8), "u4", [2**62, 4])


@pytest.mark.parametrize("shape", [[2.5], "12", [1, "2"], [None], b"12", 3], ids=repr)
def test_shapes_must_be_integers(ov, shape):
    with pytest.raises(TypeError):
        ov.Tensor(ov.Type.f32, shape)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(dims=st.lists(st.one_of(st.integers(0, 9), st.integers(2**20, 2**64)), max_size=6),
       type_name=st.sampled_from(["u8", "f32", "u4", "i64", "u1"]))
def test_a_tensor_over_memory_is_exactly_its_shape_or_refused(dims, type_name):
    arr = np.zeros(4096, np.uint8)
    etype = getattr(ovfast.Type, type_name)
    elements = math.prod(dims)
    need = -(-elements * etype.bitwidth // 8)
    try:
        t = ovfast.Tensor(arr, dims, etype)
    except ValueError:
        assert need > arr.nbytes or max(dims) > (2**63 - 1) // 32  # the per-dimension limit
        return
    assert need <= arr.nbytes
    assert t.size == elements and list(t.shape) == dims and t.byte_size == need


# --- 9, 10: lifetimes and waits reachable from callbacks -----------------------------------------------

@pytest.mark.parametrize("with_callback", [False, True])
def test_a_job_outlives_its_queue_as_a_plain_request(with_callback):
    compiled = ovfast.compile_model(add_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    if with_callback:
        queue.set_callback(lambda request, userdata: None)
    queue.start_async([np.ones(8, np.float32)] * 2)
    job = queue[0]
    del queue
    gc.collect()
    for k in range(50):
        x = np.full(8, k, np.float32)
        job.start_async([x, x])
        no_hang(job.wait)
        np.testing.assert_array_equal(job.results[0], 2 * x)
    calls = []
    job.set_callback(lambda userdata: calls.append(userdata))  # a plain request now: its own callback
    job.start_async([x, x], userdata="mine")
    no_hang(job.wait)
    assert calls == ["mine"]


def test_a_job_used_directly_stays_in_step_with_its_queue():
    compiled = ovfast.compile_model(add_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    seen = {}
    queue.set_callback(lambda request, userdata: seen.__setitem__(userdata, float(request.results[0][0])))
    ones = np.ones(8, np.float32)
    for k in range(100):
        queue.start_async([np.full(8, k, np.float32), ones], userdata=k)
        try:
            got = queue[k % 2].infer([np.full(8, -k, np.float32), ones])[0]
        except ovfast.exceptions.RequestBusy:
            continue  # the queue runs it: refused before anything was written
        np.testing.assert_array_equal(got, np.full(8, 1 - k, np.float32))
    no_hang(queue.wait_all)
    assert seen == {k: k + 1.0 for k in range(100)}
    with pytest.raises(RuntimeError, match="set the callback on the queue"):
        queue[0].set_callback(print)


@pytest.mark.parametrize("call", ["wait_all", "map", "imap", "other_job_wait"])
def test_blocking_calls_from_a_queue_callback_raise_instead_of_hanging(call):
    compiled = ovfast.compile_model(add_model(), "CPU")
    queue = ovfast.AsyncInferQueue(compiled, 2)
    x = np.ones(8, np.float32)
    done = []

    def callback(request, userdata):
        if call == "wait_all":
            queue.wait_all()
        elif call == "map":
            queue.map([x[None], x[None]])
        elif call == "imap":
            list(queue.imap([[x, x]]))
        else:
            queue[1 - userdata].wait()  # returns once that inference is done, its callback may come later
        done.append(userdata)

    queue.set_callback(callback)
    queue.start_async([x, x], userdata=0)
    if call == "other_job_wait":
        queue.start_async([x, x], userdata=1)
        no_hang(queue.wait_all)
        assert sorted(done) == [0, 1]
    else:
        with pytest.raises(RuntimeError, match="from a callback"):
            # the callback's error comes from the next start or wait, whichever follows its failure
            queue.start_async([x, x], userdata=1)
            no_hang(queue.wait_all)
        assert done == []
    queue.set_callback(None)
    for k in range(10):  # the queue goes on
        queue.start_async([x, x])
    no_hang(queue.wait_all)


# --- signals after Cores come and go --------------------------------------------------------------------

SIGNAL_AFTER_CORES = """
import gc, os, signal, sys
import numpy as np
import openvino, openvino.opset13 as ops
import ovfast
libs = {{"ovfast": ovfast, "openvino": openvino}}
x = ops.parameter([1, 8], np.float32, name="x")
model = openvino.Model([ops.relu(x)], [x])
first = libs[{first!r}].Core()
a = first.compile_model(model, "CPU")
second = libs[{second!r}].Core()
b = second.compile_model(model, "CPU")
del a, first          # the first Core's CPU plugin goes first: out of the order they came in
gc.collect()
del b, second
gc.collect()
{then}
signal.signal(signal.SIGUSR1, lambda *args: print("handled", flush=True))
os.kill(os.getpid(), signal.SIGUSR1)
print("alive", flush=True)
"""


@pytest.mark.parametrize("first, second, then", [
    ("ovfast", "ovfast", ""),
    ("ovfast", "openvino", ""),
    ("openvino", "ovfast", ""),
    # openvino's own Cores leave the stack unmapped; ovfast's next call that can touch a plugin repairs it
    ("openvino", "openvino", "ovfast.compile_model(model, 'CPU')"),
])
def test_a_signal_after_cores_freed_out_of_order_is_handled(first, second, then):
    # OpenVINO's CPU plugin gives the thread that creates it an alternate signal stack and, freed, puts back
    # the one it found: freed out of order, the thread's stack is memory already unmapped, and the next
    # signal handled on it killed the process with SIGSEGV (the suite's own SIGUSR1 test did, after other
    # modules' Cores). ovfast leaves a thread's alternate stack valid (_altstack.h).
    import subprocess
    import sys
    program = SIGNAL_AFTER_CORES.format(first=first, second=second, then=then)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", program], capture_output=True, text=True,
                          timeout=120)
    assert (proc.returncode, proc.stdout) == (0, "handled\nalive\n"), proc.stderr
