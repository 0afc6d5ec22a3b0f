"""share_inputs=True on small inputs: a zero-copy tensor over the caller's array per call against a copy
into the request's own tensor (share_inputs=False), on ovfast and openvino, for one array passed again and
again and for a new array each call. N calls of request.infer on a one-input abs model."""

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

import ovfast

N = 2000
SIZES = {"32B": 8, "16KiB": 4096}


def abs_model(n):
    p = ops.parameter([n], np.float32, name="x")
    return openvino.Model(ops.abs(p), [p])


@pytest.fixture(scope="module", params=list(SIZES))
def size(request):
    return request.param


@pytest.fixture(scope="module")
def requests_by_lib(size):
    model = abs_model(SIZES[size])
    return {"openvino": openvino.compile_model(model, "CPU").create_infer_request(),
            "ovfast": ovfast.compile_model(model, "CPU").create_infer_request()}


def run(req, arrays, share):
    k = len(arrays)
    for i in range(N):
        req.infer(arrays[i % k], share_inputs=share)


@pytest.mark.parametrize("lib", ["ovfast", "openvino"])
@pytest.mark.parametrize("share", [True, False], ids=["shared", "copied"])
@pytest.mark.parametrize("arrays", ["same", "new"])
def test_small_input_infer(benchmark, requests_by_lib, size, lib, share, arrays):
    benchmark.group = f"infer x{N}, {size} input, {arrays} array each call"
    n = SIZES[size]
    pool = [np.arange(n, dtype=np.float32) - i for i in range(1 if arrays == "same" else 16)]
    req = requests_by_lib[lib]
    benchmark(run, req, pool, share)
    np.testing.assert_array_equal(req.get_output_tensor().data, np.abs(pool[(N - 1) % len(pool)]))
