"""The job pool: ovfast.AsyncInferQueue against openvino's on the same requests, and against a C loop
over the same number of jobs (round robin: wait on the oldest, restart it; bench/c_ceiling.c)."""

import numpy as np
import openvino
import pytest

import ovfast
from models import conv_model

X = np.arange(8, dtype=np.float32)
N = 50_000
N_MAP = 200_000
JOBS = 16


@pytest.fixture(scope="module")
def c_add(ceiling, add_ir):
    handle = ceiling.ceiling_new(add_ir.encode(), b"CPU", None, None, JOBS)
    assert handle
    yield handle
    ceiling.ceiling_free(handle)


def submit_all(queue, n):
    inputs = [X, X]
    for _ in range(n):
        queue.start_async(inputs)
    queue.wait_all()


@pytest.mark.benchmark(group="start_async x50k, 16 jobs")
def test_openvino_queue(benchmark, ov_add):
    queue = openvino.AsyncInferQueue(ov_add, JOBS)
    benchmark.pedantic(submit_all, args=(queue, N), rounds=3, iterations=1)


@pytest.mark.benchmark(group="start_async x50k, 16 jobs")
def test_ovfast_queue(benchmark, fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, JOBS)
    benchmark.pedantic(submit_all, args=(queue, N), rounds=7, iterations=1)


@pytest.mark.benchmark(group="start_async x50k, 16 jobs")
def test_c_round_robin(benchmark, ceiling, c_add):
    benchmark.pedantic(lambda: ceiling.ceiling_round_robin(c_add, N), rounds=7, iterations=1)


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, request, userdata):
        self.n += 1


def run_with_counter(benchmark, queue, rounds):
    count, runs = Counter(), []
    queue.set_callback(count)

    def once():
        submit_all(queue, N)
        runs.append(N)

    benchmark.pedantic(once, rounds=rounds, iterations=1)
    assert count.n == sum(runs)   # every completion reached the callback (--benchmark-disable runs once)


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_openvino_queue_callback(benchmark, ov_add):
    run_with_counter(benchmark, openvino.AsyncInferQueue(ov_add, JOBS), rounds=3)   # ~15 s a round


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_ovfast_queue_callback(benchmark, fast_add):
    run_with_counter(benchmark, ovfast.AsyncInferQueue(fast_add, JOBS), rounds=7)


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_c_round_robin_callback_group(benchmark, ceiling, c_add):
    benchmark.pedantic(lambda: ceiling.ceiling_round_robin(c_add, N), rounds=7, iterations=1)


@pytest.mark.benchmark(group="map x200k, 16 jobs")
def test_ovfast_map(benchmark, fast_add):
    queue = ovfast.AsyncInferQueue(fast_add, JOBS)
    a = np.random.default_rng(0).standard_normal((N_MAP, 8)).astype(np.float32)
    res = benchmark.pedantic(queue.map, args=([a, a],), rounds=5, iterations=1)
    np.testing.assert_array_equal(res[0], a + a)


@pytest.mark.benchmark(group="map x200k, 16 jobs")
def test_c_round_robin_map_group(benchmark, ceiling, c_add):
    benchmark.pedantic(lambda: ceiling.ceiling_round_robin(c_add, N_MAP), rounds=5, iterations=1)


# --- a compute-bound conv net, THROUGHPUT hint, the optimal number of jobs -----------------------------

# The C loop restarts its jobs on the input they hold, so the Python sides share the image rather than copy
# 600 KB per request (a copy that would steal CPU from inference on this 2-core machine).
N_CONV = 400
TPUT = {"PERFORMANCE_HINT": "THROUGHPUT"}
IMAGE = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)


@pytest.fixture(scope="module")
def conv_ir(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("conv") / "conv.xml")
    openvino.save_model(conv_model(), path, compress_to_fp16=False)
    return path


def run_conv(benchmark, module, conv_ir):
    queue = module.AsyncInferQueue(module.compile_model(conv_ir, "CPU", TPUT))   # optimal jobs

    def submit():
        for _ in range(N_CONV):
            queue.start_async({0: IMAGE}, share_inputs=True)
        queue.wait_all()

    benchmark.pedantic(submit, rounds=5, iterations=1)


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, optimal jobs")
def test_openvino_queue_conv(benchmark, conv_ir):
    run_conv(benchmark, openvino, conv_ir)


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, optimal jobs")
def test_ovfast_queue_conv(benchmark, conv_ir):
    run_conv(benchmark, ovfast, conv_ir)


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, optimal jobs")
def test_c_round_robin_conv(benchmark, ceiling, conv_ir):
    jobs = openvino.compile_model(conv_ir, "CPU", TPUT).get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")
    handle = ceiling.ceiling_new(conv_ir.encode(), b"CPU", b"PERFORMANCE_HINT", b"THROUGHPUT", jobs)
    assert handle
    benchmark.pedantic(lambda: ceiling.ceiling_round_robin(handle, N_CONV), rounds=5, iterations=1)
    ceiling.ceiling_free(handle)
