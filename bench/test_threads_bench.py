"""compiled(x) from several threads at once on ONE CompiledModel (what web handlers and
concurrent.futures pools do), against one InferRequest per thread and against openvino.

openvino's CompiledModel.__call__ shares one request between threads, so there some calls return another
thread's answer; it is timed here as the program users write, not as a correct alternative. ovfast gives
each concurrent call a request of its own (a pool that grows to the number of threads calling at once).
Every benchmark in a group runs the same total number of calls split across the group's threads.

    pytest bench/test_threads_bench.py --benchmark-group-by=group
"""

import threading

import numpy as np
import openvino
import pytest

import ovfast
from models import add_model, heavy_model

CALLS = 4000


def models():
    # the tiny add model (per-call overhead) and a small matmul chain (~0.2 ms of compute per call, where
    # calls from several threads can overlap inside OpenVINO)
    return {"add": (add_model(), lambda rng: [rng.standard_normal(8).astype(np.float32)] * 2),
            "matmul": (heavy_model(n=96, depth=4), lambda rng: rng.standard_normal((96, 96)).astype(np.float32))}


@pytest.fixture(scope="module", params=["add", "matmul"])
def case(request):
    model, make_input = models()[request.param]
    return request.param, model, make_input


def run_threads(n_threads, per_thread_call, tally):
    """n_threads threads, each making CALLS // n_threads calls through per_thread_call(k)(), which returns
    True for a right answer; errors and wrong answers are counted in tally, never stop a thread."""
    def work(k):
        call = per_thread_call(k)
        for _ in range(CALLS // n_threads):
            try:
                if not call():
                    tally["wrong"] += 1
            except Exception:
                tally["errors"] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def first_output(result):
    return result[next(iter(result.keys()))] if hasattr(result, "keys") else result[0]


def prepare(lib, model, make_input, n_threads):
    compiled = lib.compile_model(model, "CPU")
    inputs = [make_input(np.random.default_rng(k)) for k in range(n_threads)]
    expected = [first_output(compiled.create_infer_request().infer(x)).copy() for x in inputs]
    return compiled, inputs, expected


def shared_compiled(lib, model, make_input, n_threads, tally):
    compiled, inputs, expected = prepare(lib, model, make_input, n_threads)
    return lambda: run_threads(n_threads, lambda k: lambda: np.array_equal(
        first_output(compiled(inputs[k])), expected[k]), tally)


def request_per_thread(lib, model, make_input, n_threads, tally):
    compiled, inputs, expected = prepare(lib, model, make_input, n_threads)
    requests = [compiled.create_infer_request() for _ in range(n_threads)]
    return lambda: run_threads(n_threads, lambda k: lambda: np.array_equal(
        first_output(requests[k].infer(inputs[k])), expected[k]), tally)


def run_bench(benchmark, case, n_threads, module, how):
    name, model, make_input = case
    benchmark.group = f"{name}: {CALLS} calls from {n_threads} thread(s)"
    tally = {"errors": 0, "wrong": 0}
    benchmark.pedantic(how(module, model, make_input, n_threads, tally), rounds=9, warmup_rounds=1, iterations=1)
    benchmark.extra_info.update(tally)
    return tally


THREADS = pytest.mark.parametrize("n_threads", [1, 2, 4])


@THREADS
def test_ovfast_shared_compiled(benchmark, case, n_threads):
    tally = run_bench(benchmark, case, n_threads, ovfast, shared_compiled)
    assert tally == {"errors": 0, "wrong": 0}


@THREADS
def test_openvino_shared_compiled(benchmark, case, n_threads):
    # openvino shares one request between the threads: its errors and wrong answers are counted, not raised
    run_bench(benchmark, case, n_threads, openvino, shared_compiled)


@THREADS
def test_ovfast_request_per_thread(benchmark, case, n_threads):
    tally = run_bench(benchmark, case, n_threads, ovfast, request_per_thread)
    assert tally == {"errors": 0, "wrong": 0}


@THREADS
def test_openvino_request_per_thread(benchmark, case, n_threads):
    tally = run_bench(benchmark, case, n_threads, openvino, request_per_thread)
    assert tally == {"errors": 0, "wrong": 0}
