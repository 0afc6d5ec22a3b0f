"""DynamicBatcher against no batching, with N callers at once: threads calling infer() against the same
threads calling compiled(x), and asyncio tasks awaiting infer_async() against an AsyncInferQueue's
infer_async; openvino's own best pattern (an AsyncInferQueue fed by start_async) does the same items in
each group. Every benchmark in a group runs ITEMS items of one model.

    pytest bench/test_batcher_bench.py --benchmark-group-by=group

Each batcher line of the summary also gives the mean batch size and the p99 queue wait and inference time
of its batches (target: p99 wait + inference within max_delay_us plus one batched inference).
"""

import asyncio
import threading

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

import ovfast
from models import add_model

ITEMS = 12800
CONFIG = {"PERFORMANCE_HINT": "THROUGHPUT"}
MAX_BATCH, MAX_DELAY_US = 16, 500


def mlp_model():
    x = ops.parameter([1, 256], np.float32, name="x")
    rng = np.random.default_rng(0)
    h = ops.relu(ops.matmul(x, rng.standard_normal((256, 1024)).astype(np.float32) / 16, False, False))
    return openvino.Model([ops.matmul(h, rng.standard_normal((1024, 256)).astype(np.float32) / 32, False, False)],
                          [x], "mlp")


def conv_model():
    x = ops.parameter([1, 3, 64, 64], np.float32, name="x")
    rng = np.random.default_rng(0)
    y = ops.relu(ops.convolution(x, rng.standard_normal((16, 3, 3, 3)).astype(np.float32), [2, 2], [1, 1],
                                 [1, 1], [1, 1]))
    y = ops.relu(ops.convolution(y, rng.standard_normal((32, 16, 3, 3)).astype(np.float32), [2, 2], [1, 1],
                                 [1, 1], [1, 1]))
    return openvino.Model([ops.reduce_mean(y, np.array([2, 3]), False)], [x], "conv")


MODELS = {"add": add_model, "mlp": mlp_model, "conv": conv_model}


def batch1(name):
    model = MODELS[name]()
    if name == "add":  # tests/models.py's add model takes [8]: give it a batch axis
        model.reshape({p.get_any_name(): openvino.PartialShape([1, 8]) for p in model.inputs})
    return model


def items(name):
    rng = np.random.default_rng(1)
    shape = tuple(batch1(name).inputs[0].get_shape())
    n_inputs = len(batch1(name).inputs)
    xs = [rng.standard_normal(shape).astype(np.float32) for _ in range(16)]
    return [[x] * n_inputs if n_inputs > 1 else x for x in xs]


@pytest.fixture(scope="module", params=sorted(MODELS))
def case(request):
    name = request.param
    model = batch1(name)
    compiled = ovfast.compile_model(model, "CPU", CONFIG)
    queue = ovfast.AsyncInferQueue(compiled, 0)
    ov_compiled = openvino.compile_model(model, "CPU", CONFIG)
    ov_queue = openvino.AsyncInferQueue(ov_compiled, 0)
    xs = items(name)
    want = [np.array(compiled(x)[0]) for x in xs]
    yield name, model, compiled, queue, ov_queue, xs, want


def new_batcher(model):
    """A batcher per benchmark: its figures are that benchmark's."""
    return ovfast.DynamicBatcher(model, "CPU", CONFIG, max_batch_size=MAX_BATCH, max_delay_us=MAX_DELAY_US)


CALLERS = pytest.mark.parametrize("callers", [1, 4, 16, 64])


def in_threads(callers, call, xs, want, tally):
    def work(k):
        for j in range(ITEMS // callers):
            i = (k + j) % len(xs)
            if not np.array_equal(call(xs[i])[0], want[i]):
                tally["wrong"] += 1

    threads = [threading.Thread(target=work, args=(k,)) for k in range(callers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()


def in_tasks(callers, call, xs, want, tally):
    async def work(k):
        for j in range(ITEMS // callers):
            i = (k + j) % len(xs)
            if not np.array_equal((await call(xs[i]))[0], want[i]):
                tally["wrong"] += 1

    async def main():
        await asyncio.gather(*[work(k) for k in range(callers)])
    asyncio.run(main())


def run(benchmark, group, target, batcher=None):
    benchmark.group = group
    tally = {"wrong": 0}
    benchmark.pedantic(target, args=(tally,), rounds=5, warmup_rounds=1, iterations=1)
    benchmark.extra_info["items_per_s"] = ITEMS / benchmark.stats.stats.median if benchmark.stats else None
    if batcher is not None:
        stats = batcher.stats()
        benchmark.extra_info["batches"] = {"mean_batch_size": stats["mean_batch_size"],
                                           "wait_p99_us": stats["queue_wait_us"]["p99"],
                                           "inference_p99_us": stats["inference_us"]["p99"],
                                           "max_delay_us": MAX_DELAY_US}
    assert tally["wrong"] == 0


@CALLERS
def test_ovfast_batcher_threads(benchmark, case, callers):
    name, model, compiled, queue, ov_queue, xs, want = case
    with new_batcher(model) as batcher:
        run(benchmark, f"{name}: {callers} threads", lambda t: in_threads(callers, batcher.infer, xs, want, t),
            batcher)


@CALLERS
def test_baseline_compiled_threads(benchmark, case, callers):
    name, model, compiled, queue, ov_queue, xs, want = case
    run(benchmark, f"{name}: {callers} threads", lambda t: in_threads(callers, compiled, xs, want, t))


@CALLERS
def test_ovfast_batcher_asyncio(benchmark, case, callers):
    name, model, compiled, queue, ov_queue, xs, want = case
    with new_batcher(model) as batcher:
        run(benchmark, f"{name}: {callers} asyncio tasks",
            lambda t: in_tasks(callers, batcher.infer_async, xs, want, t), batcher)


@CALLERS
def test_baseline_queue_asyncio(benchmark, case, callers):
    name, model, compiled, queue, ov_queue, xs, want = case
    run(benchmark, f"{name}: {callers} asyncio tasks", lambda t: in_tasks(callers, queue.infer_async, xs, want, t))


def openvino_queue(ov_queue, xs, want, tally):
    """openvino's best pattern for many items: start_async on an AsyncInferQueue with a callback."""
    def done(request, i):
        if not np.array_equal(request.get_output_tensor(0).data, want[i]):
            tally["wrong"] += 1
    ov_queue.set_callback(done)
    for j in range(ITEMS):
        ov_queue.start_async(xs[j % len(xs)], j % len(xs))
    ov_queue.wait_all()


@pytest.mark.parametrize("kind", ["threads", "asyncio tasks"])
def test_openvino_queue_start_async(benchmark, case, kind):
    # the same items whatever the callers: run once, beside the batcher's 64 callers of each kind
    name, model, compiled, queue, ov_queue, xs, want = case
    run(benchmark, f"{name}: 64 {kind}", lambda t: openvino_queue(ov_queue, xs, want, t))
