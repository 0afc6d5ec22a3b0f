"""The job pool: ovfast.AsyncInferQueue against openvino's on the same requests, and against a C loop
over the same number of jobs (round robin: wait on the oldest, restart it; bench/c_ceiling.c)."""

import functools

import numpy as np
import openvino
import pytest

import ovfast

X = np.arange(8, dtype=np.float32)
N = 50_000
N_MAP = 200_000
JOBS = 16


@pytest.fixture(scope="module")
def c_add_loop(ceiling, add_ir):
    """c_add_loop(n): the C round robin over JOBS requests of the add model, n inferences a call."""
    handle = ceiling.ceiling_new(add_ir.encode(), b"CPU", None, None, JOBS)
    assert handle
    yield lambda n: lambda: round_robin(ceiling, handle, n)
    ceiling.ceiling_free(handle)


def round_robin(ceiling, handle, n):
    status = ceiling.ceiling_round_robin(handle, n)
    assert status == 0, f"the C loop failed with status {status}"


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
def test_ovfast_queue(paired, fast_add, c_add_loop):
    queue = ovfast.AsyncInferQueue(fast_add, JOBS)
    paired(submit_all, c_add_loop(N), args=(queue, N), rounds=7)


@pytest.mark.benchmark(group="start_async x50k, 16 jobs")
def test_c_round_robin(benchmark, c_add_loop):
    benchmark.pedantic(c_add_loop(N), rounds=7, warmup_rounds=1, iterations=1)


class Counter:
    def __init__(self):
        self.n = 0

    def __call__(self, request, userdata):
        self.n += 1


def run_with_counter(run, queue, rounds):
    """run: benchmark.pedantic, or the paired fixture's runner with the C loop bound."""
    count, runs = Counter(), []
    queue.set_callback(count)

    def once():
        submit_all(queue, N)
        runs.append(N)

    run(once, rounds=rounds)
    assert count.n == sum(runs)   # every completion reached the callback (--benchmark-disable runs once)


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_openvino_queue_callback(benchmark, ov_add):
    run_with_counter(benchmark.pedantic, openvino.AsyncInferQueue(ov_add, JOBS), rounds=3)   # ~15 s a round


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_ovfast_queue_callback(paired, fast_add, c_add_loop):
    run = functools.partial(paired, c_loop=c_add_loop(N))
    run_with_counter(run, ovfast.AsyncInferQueue(fast_add, JOBS), rounds=7)


@pytest.mark.benchmark(group="start_async + counting callback x50k, 16 jobs")
def test_c_round_robin_callback_group(benchmark, c_add_loop):
    benchmark.pedantic(c_add_loop(N), rounds=7, warmup_rounds=1, iterations=1)


@pytest.mark.benchmark(group="map x200k, 16 jobs")
def test_ovfast_map(paired, fast_add, c_add_loop):
    queue = ovfast.AsyncInferQueue(fast_add, JOBS)
    a = np.random.default_rng(0).standard_normal((N_MAP, 8)).astype(np.float32)
    res = paired(queue.map, c_add_loop(N_MAP), args=([a, a],), rounds=5)
    np.testing.assert_array_equal(res[0], a + a)


@pytest.mark.benchmark(group="map x200k, 16 jobs")
def test_c_round_robin_map_group(benchmark, c_add_loop):
    benchmark.pedantic(c_add_loop(N_MAP), rounds=5, warmup_rounds=1, iterations=1)


# --- a compute-bound conv net, THROUGHPUT hint ------------------------------------------------------------

# The C loop restarts its jobs on the input they hold. The users' pattern copies the image into the job
# (600 KB a request, CPU taken from inference on a 2-core machine); share_inputs=True binds it as the C
# loop does. "default jobs": AsyncInferQueue(compiled), OPTIMAL_NUMBER_OF_INFER_REQUESTS jobs; each queue is
# paired with the C loop over as many requests. "+1 job": one job more than that, on both sides.
N_CONV = 400
TPUT = {"PERFORMANCE_HINT": "THROUGHPUT"}
IMAGE = np.random.default_rng(1).standard_normal((1, 3, 224, 224)).astype(np.float32)


@pytest.fixture(scope="module")
def optimal_jobs(conv_ir):
    return openvino.compile_model(conv_ir, "CPU", TPUT).get_property("OPTIMAL_NUMBER_OF_INFER_REQUESTS")


@pytest.fixture(scope="module")
def c_conv(ceiling, conv_ir, optimal_jobs):
    """c_conv(extra): the C round robin over the optimal number of requests (plus extra) of the conv net,
    N_CONV inferences a call."""
    handles = {}

    def loop(extra=0):
        if extra not in handles:
            handles[extra] = ceiling.ceiling_new(conv_ir.encode(), b"CPU", b"PERFORMANCE_HINT", b"THROUGHPUT",
                                                 optimal_jobs + extra)
            assert handles[extra]
        return lambda: round_robin(ceiling, handles[extra], N_CONV)

    yield loop
    for handle in handles.values():
        ceiling.ceiling_free(handle)


def run_conv(paired, module, conv_ir, c_conv, optimal_jobs, jobs=0, share=True, callback=False):
    queue = module.AsyncInferQueue(module.compile_model(conv_ir, "CPU", TPUT), jobs)   # 0: the default
    c_loop = c_conv(len(queue) - optimal_jobs)   # the C loop over as many requests
    seen = []
    if callback:
        queue.set_callback(lambda request, userdata: seen.append(userdata))

    def submit():
        for i in range(N_CONV):
            queue.start_async({0: IMAGE}, i, share_inputs=share)
        queue.wait_all()

    paired(submit, c_loop, rounds=9, against=f"the C loop over {len(queue)} requests")
    if callback:
        assert sorted(seen[-N_CONV:]) == list(range(N_CONV))


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, default jobs, share_inputs")
def test_openvino_queue_conv(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, openvino, conv_ir, c_conv, optimal_jobs)


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, default jobs, share_inputs")
def test_ovfast_queue_conv(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, ovfast, conv_ir, c_conv, optimal_jobs)


@pytest.mark.benchmark(group="conv net x400, THROUGHPUT, default jobs, share_inputs")
def test_c_round_robin_conv(benchmark, c_conv):
    benchmark.pedantic(c_conv(), rounds=9, warmup_rounds=1, iterations=1)


COPIED = "conv net x400, THROUGHPUT, default jobs, inputs copied"
CALLBACK = "conv net x400, THROUGHPUT, default jobs, inputs copied, Python callback"
ONE_MORE = "conv net x400, THROUGHPUT, optimal jobs + 1, share_inputs"


@pytest.mark.benchmark(group=COPIED)
def test_openvino_queue_conv_copy(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, openvino, conv_ir, c_conv, optimal_jobs, share=False)


@pytest.mark.benchmark(group=COPIED)
def test_ovfast_queue_conv_copy(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, ovfast, conv_ir, c_conv, optimal_jobs, share=False)


@pytest.mark.benchmark(group=CALLBACK)
def test_openvino_queue_conv_callback(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, openvino, conv_ir, c_conv, optimal_jobs, share=False, callback=True)


@pytest.mark.benchmark(group=CALLBACK)
def test_ovfast_queue_conv_callback(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, ovfast, conv_ir, c_conv, optimal_jobs, share=False, callback=True)


@pytest.mark.benchmark(group=ONE_MORE)
def test_openvino_queue_conv_one_more_job(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, openvino, conv_ir, c_conv, optimal_jobs, jobs=optimal_jobs + 1)


@pytest.mark.benchmark(group=ONE_MORE)
def test_ovfast_queue_conv_one_more_job(paired, conv_ir, c_conv, optimal_jobs):
    run_conv(paired, ovfast, conv_ir, c_conv, optimal_jobs, jobs=optimal_jobs + 1)


@pytest.mark.benchmark(group=ONE_MORE)
def test_c_round_robin_conv_one_more_job(benchmark, c_conv):
    benchmark.pedantic(c_conv(1), rounds=9, warmup_rounds=1, iterations=1)
