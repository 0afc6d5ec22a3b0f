"""Per-call overhead on a tiny model (two f32[8] inputs added), default CPU config: ovfast vs openvino vs
a C loop. Each benchmark runs N calls, so a group's medians compare directly."""

import numpy as np
import openvino
import pytest

import ovfast


N = 2000
X = np.arange(8, dtype=np.float32)


@pytest.fixture(scope="module")
def c_loop(ceiling, add_ir):
    handle = ceiling.ceiling_new(add_ir.encode(), b"CPU", None, None, 1)
    assert handle
    yield handle
    ceiling.ceiling_free(handle)


def run_calls(fn):
    for _ in range(N):
        fn()


@pytest.mark.benchmark(group="compiled(inputs) x2000")
def test_openvino_call(benchmark, ov_add):
    inputs = [X, X]
    benchmark(run_calls, lambda: ov_add(inputs))


@pytest.mark.benchmark(group="compiled(inputs) x2000")
def test_ovfast_call(benchmark, fast_add):
    inputs = [X, X]
    benchmark(run_calls, lambda: fast_add(inputs))
    np.testing.assert_array_equal(fast_add(inputs)[0], X + X)


@pytest.mark.benchmark(group="compiled(inputs) x2000")
def test_c_sync_loop(benchmark, ceiling, c_loop):
    benchmark(lambda: ceiling.ceiling_sync(c_loop, N, X.ctypes.data, X.nbytes))


@pytest.mark.benchmark(group="request.infer(inputs) x2000")
def test_openvino_infer(benchmark, ov_add):
    req, inputs = ov_add.create_infer_request(), [X, X]
    benchmark(run_calls, lambda: req.infer(inputs))


@pytest.mark.benchmark(group="request.infer(inputs) x2000")
def test_ovfast_infer(benchmark, fast_add):
    req, inputs = fast_add.create_infer_request(), [X, X]
    benchmark(run_calls, lambda: req.infer(inputs))


@pytest.mark.benchmark(group="request.infer(inputs) x2000")
def test_c_sync_loop_infer(benchmark, ceiling, c_loop):
    benchmark(lambda: ceiling.ceiling_sync(c_loop, N, X.ctypes.data, X.nbytes))


@pytest.mark.benchmark(group="Tensor(x, shared_memory=True) x2000")
def test_openvino_tensor_shared(benchmark):
    benchmark(run_calls, lambda: openvino.Tensor(X, shared_memory=True))


@pytest.mark.benchmark(group="Tensor(x, shared_memory=True) x2000")
def test_ovfast_tensor_shared(benchmark):
    benchmark(run_calls, lambda: ovfast.Tensor(X, shared_memory=True))
