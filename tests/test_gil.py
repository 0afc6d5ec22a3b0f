"""Blocking calls release the GIL: a second Python thread keeps counting while they run."""

import sys
import threading
import time

import numpy as np
import pytest

import ovfast
from models import heavy_model, slow_compiled


class Counter:
    """A Python thread that notes the longest pause in its own loop. A call that holds the GIL pauses it
    for the whole call; a call that releases the GIL lets it go on."""

    def __init__(self):
        self.max_gap = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        last = time.perf_counter()
        while not self._stop.is_set():
            now = time.perf_counter()
            if now - last > self.max_gap:
                self.max_gap = now - last
            last = now

    def __enter__(self):
        self._old_interval = sys.getswitchinterval()
        sys.setswitchinterval(0.001)
        self._thread.start()
        time.sleep(0.02)
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        sys.setswitchinterval(self._old_interval)


def assert_released(counter, fn, *args, min_seconds=0.05, attempts=5, **kwargs):
    """Calls fn (repeatedly, until min_seconds have passed) and checks the counter never paused for
    more than half of one call. A call that holds the GIL pauses the counter for all of it, every time;
    a busy machine may also pause it now and then, so a pause is measured again, up to `attempts` times."""
    tries = []
    for _ in range(attempts):
        calls, out = 0, None
        counter.max_gap = 0.0
        t0 = time.perf_counter()
        while time.perf_counter() - t0 < min_seconds or calls == 0:
            out = fn(*args, **kwargs)
            calls += 1
        per_call = (time.perf_counter() - t0) / calls
        gap = counter.max_gap
        if gap < per_call / 2 and per_call > 0.004:
            return out
        tries.append(f"{gap * 1e3:.1f} ms during calls of {per_call * 1e3:.1f} ms")
    assert per_call > 0.004, f"one call took {per_call * 1e3:.1f} ms: too short to tell"
    raise AssertionError(f"the other thread paused {', then '.join(tries)}: the GIL was held")


@pytest.fixture(scope="module")
def model():
    return heavy_model()


@pytest.fixture(scope="module")
def slow():
    # one inference of at least 20 ms on this machine, whatever its speed: long enough to tell
    return slow_compiled(ovfast, 0.02)


@pytest.fixture(scope="module")
def compiled(slow):
    return slow[0]


@pytest.fixture(scope="module")
def X(slow):
    return np.random.default_rng(0).standard_normal(slow[1].shape).astype(np.float32)


def test_compile_releases_gil(model):
    with Counter() as c:
        assert_released(c, ovfast.Core().compile_model, model, "CPU")


def test_infer_and_call_release_gil(compiled, X):
    with Counter() as c:
        assert_released(c, compiled.create_infer_request().infer, X)
        assert_released(c, compiled, X)
        assert_released(c, compiled.infer_new_request, X)


def test_wait_releases_gil(compiled, X):
    req = compiled.create_infer_request()

    def run(wait):
        req.start_async(X)
        return wait()

    with Counter() as c:
        assert_released(c, run, req.wait)
        assert assert_released(c, run, lambda: req.wait_for(100_000)) is True


def test_export_and_import_release_gil():
    # export and import take time by the weights' size, not by the inference's: 32 MB of them, so that an
    # import (a few ms for 7 MB on a fast machine) is long enough to tell
    compiled = ovfast.compile_model(heavy_model(n=1024, depth=8), "CPU", {"INFERENCE_NUM_THREADS": 1})
    with Counter() as c:
        blob = assert_released(c, compiled.export_model).getvalue()
        assert_released(c, ovfast.Core().import_model, blob, "CPU")


def test_read_model_from_file_releases_gil(tmp_path, model):
    import openvino

    path = tmp_path / "heavy.xml"
    openvino.save_model(model, str(path), compress_to_fp16=False)
    with Counter() as c:
        assert_released(c, ovfast.Core().compile_model, str(path), "CPU")


def test_detector_sees_a_call_that_holds_the_gil():
    # libc's usleep called through ctypes.PyDLL, which keeps the GIL for the call: 20 ms with the GIL held
    # whatever the machine's speed (a memory copy's length was the machine's), so the check above must fail.
    import ctypes

    usleep = ctypes.PyDLL(None).usleep
    with Counter() as c:
        with pytest.raises(AssertionError, match="the GIL was held"):
            assert_released(c, usleep, 20_000)


def test_read_model_releases_gil(tmp_path):
    import openvino

    import openvino.opset13 as ops

    x = ops.parameter([4], np.float32, name="x")
    y = x
    for _ in range(3000):  # parsing time grows with the number of ops
        y = ops.add(y, ops.constant(np.float32(1)))
    path = tmp_path / "long.xml"
    openvino.save_model(openvino.Model(y, [x]), str(path), compress_to_fp16=False)
    with Counter() as c:
        model = assert_released(c, ovfast.Core().read_model, str(path), min_seconds=0.2)
    assert isinstance(model, openvino.Model)
