"""ovfast.DynamicBatcher: every caller gets exactly its own item's result, whatever the mix of threads, asyncio
tasks, callbacks, cancellations and bad items; the deadline policy, checked on a clock the test moves;
failures and shutdown answer every caller."""

import asyncio
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ovfast
from ovfast import exceptions

HERE = os.path.dirname(os.path.abspath(__file__))


def add_model(batch=1):
    """x * 2 + y, exact in float: a batched run gives the very bits of a batch-1 run."""
    x = ops.parameter([batch, 8], np.float32, name="x")
    y = ops.parameter([batch, 8], np.float32, name="y")
    return openvino.Model([ops.add(ops.multiply(x, ops.constant(np.float32(2))), y)], [x, y], "add")


def mlp_model(batch=1):
    """256 -> 64 -> 16 with two outputs (the hidden layer too), f32 matmuls."""
    x = ops.parameter([batch, 256], np.float32, name="x")
    rng = np.random.default_rng(0)
    h = ops.relu(ops.matmul(x, rng.standard_normal((256, 64)).astype(np.float32) / 16, False, False))
    y = ops.matmul(h, rng.standard_normal((64, 16)).astype(np.float32) / 8, False, False)
    return openvino.Model([y, h], [x], "mlp")


MODELS = {"add": add_model, "mlp": mlp_model}
# The MLP's matmuls may take another kernel (another order of the sums) at another batch size, so a row of
# a batched run can differ from the batch-1 run in the last bits: 1e-5 relative, far below a wrong row
# (rows of different inputs differ by O(1)). The add model is exact: bit-equal.
TOLERANCE = {"add": dict(rtol=0, atol=0), "mlp": dict(rtol=1e-5, atol=1e-5)}


def item(name, k):
    rng = np.random.default_rng(k)
    if name == "add":
        return {"x": rng.standard_normal(8).astype(np.float32), "y": np.full((1, 8), k, np.float32)}
    return rng.standard_normal((1, 256)).astype(np.float32)


@pytest.fixture(scope="module")
def oracles():
    """openvino's own batch-1 compiled models: what each item's result must equal."""
    return {name: openvino.compile_model(f(1), "CPU") for name, f in MODELS.items()}


_expected = {}


def expected(oracles, name, k):
    """openvino's result for item k (computed once, from one thread: openvino's compiled(x) is not safe
    from several threads at once)."""
    if (name, k) not in _expected:
        x = item(name, k)
        if name == "add":
            x = {"x": x["x"].reshape(1, 8), "y": x["y"]}
        _expected[name, k] = [np.array(v) for v in oracles[name](x).values()]
    return _expected[name, k]


def check(result, want, name):
    assert len(result) == len(want)
    for got, exp in zip(result.values() if hasattr(result, "values") else result, want):
        assert got.shape == exp.shape and got.dtype == exp.dtype
        np.testing.assert_allclose(got, exp, **TOLERANCE[name])


def wait_for(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


# --- every caller gets its own item's result -----------------------------------------------------------

BAD = [
    ("a list of 1 for 2 inputs", lambda name: [np.zeros(8, np.float32)] if name == "add" else [1, 2]),
    ("the wrong shape", lambda name: np.zeros((2, 256), np.float32) if name == "mlp" else
     {"x": np.zeros(7, np.float32), "y": np.zeros(8, np.float32)}),
    ("no such input", lambda name: {"nope": np.zeros(8, np.float32)}),
    ("text", lambda name: "text" if name == "mlp" else {"x": "a", "y": "b"}),
]


def bad_error(batcher, bad):
    """What the batch-1 compiled model raises for the same bad item: the batcher raises the same."""
    with pytest.raises(Exception) as info:
        batcher.compiled(bad)
    return type(info.value), str(info.value)


@settings(max_examples=12, deadline=None)
@given(name=st.sampled_from(sorted(MODELS)), threads=st.integers(1, 64), tasks=st.integers(0, 64),
       per_caller=st.integers(1, 6), max_batch=st.integers(1, 9), delay_us=st.sampled_from([0, 50, 500, 5000]),
       cancel_every=st.integers(0, 4), bad_every=st.integers(0, 5), data=st.data())
def test_every_caller_gets_its_own_items_result(oracles, name, threads, tasks, per_caller, max_batch, delay_us,
                                                cancel_every, bad_every, data):
    batcher = ovfast.DynamicBatcher(MODELS[name](data.draw(st.sampled_from([1, -1]), "model batch")), "CPU",
                                    max_batch_size=max_batch, max_delay_us=delay_us)
    errors = []
    with batcher:
        bad_items = [b(name) for _, b in BAD]
        bad_errors = [bad_error(batcher, b) for b in bad_items]

        for t in range(max(threads, tasks)):  # the oracle's answers, before the callers start
            for j in range(per_caller):
                expected(oracles, name, t * 100 + j)
                expected(oracles, name, 10_000 + t * 100 + j)

        def thread_caller(t):
            try:
                for j in range(per_caller):
                    k = t * 100 + j
                    if bad_every and k % bad_every == 0:
                        which = k % len(bad_items)
                        with pytest.raises(bad_errors[which][0]) as info:
                            batcher.infer(bad_items[which])
                        assert str(info.value) == bad_errors[which][1]
                    check(batcher.infer(item(name, k)), expected(oracles, name, k), name)
            except BaseException as e:  # reported by the test's thread
                errors.append(e)

        workers = [threading.Thread(target=thread_caller, args=(t,)) for t in range(threads)]

        async def task_caller(t):
            for j in range(per_caller):
                k = 10_000 + t * 100 + j
                check(await batcher.infer_async(item(name, k)), expected(oracles, name, k), name)

        async def tasks_main():
            running = [asyncio.ensure_future(task_caller(t)) for t in range(tasks)]
            if cancel_every:
                await asyncio.sleep(0)
                for t in running[::cancel_every]:
                    t.cancel()
            outcomes = await asyncio.gather(*running, return_exceptions=True)
            for k, outcome in enumerate(outcomes):
                if isinstance(outcome, BaseException) and not isinstance(outcome, asyncio.CancelledError):
                    raise outcome

        for w in workers:
            w.start()
        asyncio.run(tasks_main())
        for w in workers:
            w.join()
        if errors:
            raise errors[0]
        batcher.wait_all()
        stats = batcher.stats()
        assert stats["items"] >= threads * per_caller
        assert 1 <= stats["mean_batch_size"] <= max_batch


def test_callbacks_get_each_items_result_and_userdata(oracles):
    with ovfast.DynamicBatcher(mlp_model(), max_batch_size=8, max_delay_us=200) as batcher:
        got = {}
        batcher.set_callback(lambda result, userdata: got.__setitem__(userdata, result))
        for k in range(100):
            batcher.start_async(item("mlp", k), k)
        batcher.wait_all()
        assert sorted(got) == list(range(100))
        for k in range(100):
            check(got[k], expected(oracles, "mlp", k), "mlp")


def test_an_item_without_its_batch_axis_and_a_tensor_are_items():
    with ovfast.DynamicBatcher(add_model(), max_batch_size=4) as batcher:
        x = np.arange(8, dtype=np.float32)
        want = batcher.compiled({"x": x.reshape(1, 8), "y": x.reshape(1, 8)})[0]
        np.testing.assert_array_equal(batcher.infer([x, x])[0], want)
        np.testing.assert_array_equal(batcher.infer([ovfast.Tensor(x.reshape(1, 8)), openvino.Tensor(x)])[0], want)
        np.testing.assert_array_equal(batcher.infer({0: x.astype(np.float64), "y": x[::-1][::-1]})[0], want)


# --- the deadline, on a clock the test moves -----------------------------------------------------------

# max_batch 8, max_delay 500 us, 4 jobs
@pytest.mark.parametrize("queued, waited, running, greedy, closing, due", [
    (0, 10**9, 0, True, True, False),       # nothing queued
    (8, 10**9, 4, True, True, False),       # no idle job
    (1, 0, 3, True, False, True),           # greedy, the newcomer alone: at once on any idle job
    (3, 0, 1, True, False, True),           # greedy, fewer than half the jobs busy: at once
    (3, 0, 2, True, False, False),          # greedy, half busy and others wait: they gather
    (3, 499_999, 0, False, False, False),   # before the deadline
    (3, 500_000, 3, False, False, True),    # at the deadline, on any idle job
    (8, 0, 3, False, False, True),          # full
    (7, 0, 0, False, False, False),
    (1, 0, 3, False, True, True),           # closing: what is queued runs
])
def test_the_policy(queued, waited, running, greedy, closing, due):
    assert ovfast._batcher._due(queued, waited, running, 4, 8, 500_000, greedy, closing) is due


def test_a_batch_starts_at_the_deadline_or_when_full():
    with ovfast.DynamicBatcher(add_model(), max_batch_size=4, max_delay_us=500, jobs=2) as batcher:
        batcher._manual_clock(greedy=False)
        got = []
        batcher.set_callback(lambda result, userdata: got.append(userdata))
        for k in range(3):
            batcher.start_async([np.zeros(8, np.float32)] * 2, k)
        time.sleep(0.2)  # were the deadline not kept, the dispatcher would have started them by now
        assert batcher.stats()["batches"] == 0
        batcher._advance_us(499)
        time.sleep(0.1)
        assert batcher.stats()["batches"] == 0 and got == []
        batcher._advance_us(1)
        wait_for(lambda: len(got) == 3, "the batch due at the deadline")
        assert batcher.stats()["batches"] == 1 and batcher.stats()["items"] == 3
        for k in range(4):  # a full batch starts with no time passing
            batcher.start_async([np.zeros(8, np.float32)] * 2, k)
        wait_for(lambda: len(got) == 7, "the full batch")
        stats = batcher.stats()
        assert stats["batches"] == 2 and stats["items"] == 7
        assert stats["batch_sizes"] == {3: 1, 4: 1}
        assert stats["queue_wait_us"]["p50"] == 0.0  # the clock did not move for the full batch
        batcher.wait_all()


def test_a_cancelled_infer_async_that_has_not_started_never_runs():
    with ovfast.DynamicBatcher(add_model(), max_batch_size=8, max_delay_us=500) as batcher:
        batcher._manual_clock(greedy=False)

        async def main():
            tasks = [asyncio.ensure_future(batcher.infer_async([np.full(8, k, np.float32)] * 2)) for k in range(5)]
            await asyncio.sleep(0.05)
            tasks[1].cancel()
            tasks[3].cancel()
            await asyncio.sleep(0.05)
            batcher._advance_us(500)
            return await asyncio.gather(*tasks, return_exceptions=True)

        outcomes = asyncio.run(main())
        assert [isinstance(o, asyncio.CancelledError) for o in outcomes] == [False, True, False, True, False]
        for k in (0, 2, 4):
            np.testing.assert_array_equal(outcomes[k][0], np.full((1, 8), 3 * k, np.float32))
        assert batcher.stats()["items"] == 3


# --- failures ------------------------------------------------------------------------------------------

def test_a_failed_batch_fails_every_caller_in_it_and_no_other():
    with ovfast.DynamicBatcher(add_model(), max_batch_size=4, max_delay_us=500) as batcher:
        batcher._manual_clock(greedy=False)
        got = {}
        batcher.set_callback(lambda result, userdata: got.__setitem__(userdata, result))
        batcher._fail_next_batch("the device fell over")
        for k in range(4):
            batcher.start_async([np.full(8, k, np.float32)] * 2, k)
        wait_for(lambda: len(got) == 4, "the failed batch")
        for k in range(4):
            assert isinstance(got[k], RuntimeError) and "the device fell over" in str(got[k])

        async def main():
            return await asyncio.gather(*[batcher.infer_async([np.full(8, k, np.float32)] * 2) for k in range(4)],
                                        return_exceptions=True)
        batcher._fail_next_batch("again")
        outcomes = asyncio.run(main())
        assert all(isinstance(o, RuntimeError) and "again" in str(o) for o in outcomes)
        for k in range(4):  # the next batch runs
            batcher.start_async([np.full(8, k, np.float32)] * 2, k)
        wait_for(lambda: all(not isinstance(got[k], Exception) for k in range(4)), "the next batch")
        np.testing.assert_array_equal(got[3][0], np.full((1, 8), 9, np.float32))


def test_an_exception_from_a_callback_is_raised_by_wait_all():
    with ovfast.DynamicBatcher(add_model(), max_batch_size=4) as batcher:
        def callback(result, userdata):
            if userdata == 2:
                raise ValueError("raised by the callback")
        batcher.set_callback(callback)
        for k in range(6):
            batcher.start_async([np.zeros(8, np.float32)] * 2, k)
        with pytest.raises(ValueError, match="raised by the callback"):
            batcher.wait_all()
        batcher.wait_all()  # raised once


@pytest.mark.parametrize("make, message", [
    (lambda: openvino.Model([ops.relu(p := ops.parameter([], np.float32, name="scalar"))], [p]), "'scalar' has no batch"),
    (lambda: openvino.Model([ops.relu(p := ops.parameter(openvino.PartialShape.dynamic(), np.float32, name="any"))],
                            [p]), "'any' has no batch"),
    (lambda: openvino.Model([ops.relu(p := ops.parameter([1, -1], np.float32, name="ragged"))], [p]),
     "'ragged' has shape"),
    (lambda: openvino.Model([ops.relu(p := ops.parameter([1, 4], openvino.Type.u4, name="packed"))], [p]),
     "'packed' is of type"),
])
def test_a_model_the_batcher_cannot_batch_is_refused_naming_the_input(make, message):
    with pytest.raises(ValueError, match=message):
        ovfast.DynamicBatcher(make())


def laid_out(layout):
    p = ops.parameter([1, 8], np.float32, name="x")
    p.set_layout(openvino.Layout(layout))
    return openvino.Model([ops.relu(p)], [p])


def test_the_batch_axis_the_layout_names():
    with pytest.raises(ValueError, match="input 'x' has its batch dimension at axis 1 \\(layout \\[C,N\\]\\)"):
        ovfast.DynamicBatcher(laid_out("CN"))
    with ovfast.DynamicBatcher(laid_out("NC"), max_batch_size=4) as batcher:
        np.testing.assert_array_equal(batcher.infer(np.arange(8, dtype=np.float32) - 4)[0],
                                      np.maximum(np.arange(8, dtype=np.float32) - 4, 0)[None])


def test_bad_arguments_are_refused(tmp_path):
    with pytest.raises(ValueError, match="max_batch_size must be at least 1, got 0"):
        ovfast.DynamicBatcher(add_model(), max_batch_size=0)
    with pytest.raises(ValueError, match="max_delay_us must not be negative, got -1"):
        ovfast.DynamicBatcher(add_model(), max_delay_us=-1)
    with pytest.raises(TypeError, match="openvino.Model or a model file, got int"):
        ovfast.DynamicBatcher(3)
    with pytest.raises(RuntimeError, match="does not exist"):
        ovfast.DynamicBatcher(tmp_path / "missing.xml")
    with ovfast.DynamicBatcher(add_model()) as batcher:
        with pytest.raises(RuntimeError, match="set a callback first"):
            batcher.start_async([np.zeros(8, np.float32)] * 2)


def test_a_model_file_and_a_fixed_or_dynamic_batch(tmp_path):
    for batch in (1, 5, -1):
        path = tmp_path / f"add{batch}.xml"
        openvino.save_model(add_model(batch), path)
        with ovfast.DynamicBatcher(str(path), max_batch_size=3) as batcher:
            assert batcher.compiled.inputs[0].get_partial_shape() == openvino.PartialShape([1, 8])
            np.testing.assert_array_equal(batcher.infer([np.ones(8, np.float32)] * 2)[0], np.full((1, 8), 3.0))


# --- the end -------------------------------------------------------------------------------------------

def test_close_runs_what_waits_and_answers_every_caller():
    batcher = ovfast.DynamicBatcher(add_model(), max_batch_size=16, max_delay_us=500)
    batcher._manual_clock(greedy=False)  # nothing starts before close
    got = {}
    batcher.set_callback(lambda result, userdata: got.__setitem__(userdata, result))
    results = {}

    def caller(k):
        results[k] = batcher.infer([np.full(8, k, np.float32)] * 2)

    threads = [threading.Thread(target=caller, args=(k,)) for k in range(5)]
    for t in threads:
        t.start()
    for k in range(5):
        batcher.start_async([np.full(8, k, np.float32)] * 2, k)
    wait_for(lambda: batcher._queued() == 10, "10 items queued")
    batcher.close()
    for t in threads:
        t.join(30)
    batcher.wait_all()
    for k in range(5):
        np.testing.assert_array_equal(results[k][0], np.full((1, 8), 3 * k, np.float32))
        np.testing.assert_array_equal(got[k][0], np.full((1, 8), 3 * k, np.float32))
    with pytest.raises(RuntimeError, match="closed"):
        batcher.infer([np.zeros(8, np.float32)] * 2)

    async def late():
        await batcher.infer_async([np.zeros(8, np.float32)] * 2)
    with pytest.raises(RuntimeError, match="closed"):
        asyncio.run(late())


EXIT_PROGRAM = textwrap.dedent("""
    import asyncio, sys, threading, numpy as np
    sys.path.insert(0, {here!r})
    import ovfast
    from test_batcher import add_model
    batcher = ovfast.DynamicBatcher(add_model(), max_batch_size=64, max_delay_us=500)
    batcher._manual_clock(greedy=False)   # what is queued waits until the exit
    def callback(result, k):
        print("callback", k, float(result[0][0, 0]), flush=True)
    batcher.set_callback(callback)
    for k in range(3):
        batcher.start_async([np.full(8, k, np.float32)] * 2, k)
    def caller():  # a daemon thread: at exit it is answered, but may not get the GIL again to print
        batcher.infer([np.ones(8, np.float32)] * 2)
    threading.Thread(target=caller, daemon=True).start()
    while batcher._queued() < 4:
        pass
    {leave}
""")


@pytest.mark.parametrize("leave", ["sys.exit(0)", "pass", "raise SystemExit('bye')"])
def test_a_program_that_exits_with_items_waiting_ends_and_answers_them(leave):
    program = EXIT_PROGRAM.format(here=HERE, leave=leave)
    proc = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert proc.returncode == (1 if "bye" in leave else 0), proc.stderr
    assert proc.stdout.split("\n")[:3] == ["callback 0 0.0", "callback 1 3.0", "callback 2 6.0"], proc.stdout + proc.stderr
    assert "Fatal" not in proc.stderr and "Segmentation" not in proc.stderr


def test_a_callback_may_call_the_batcher_again():
    # from its own callback thread: start_async chains items, infer() waits for its own (answered by the
    # batch, not by this thread), and wait_all waits for the chained ones too
    with ovfast.DynamicBatcher(add_model(), max_batch_size=4) as batcher:
        got = []

        def callback(result, k):
            if k < 10:
                batcher.start_async([np.full(8, k + 10, np.float32)] * 2, k + 10)
            again = batcher.infer([np.full(8, k, np.float32)] * 2)
            got.append((k, float(result[0][0, 0]), float(again[0][0, 0])))

        batcher.set_callback(callback)
        for k in range(10):
            batcher.start_async([np.full(8, k, np.float32)] * 2, k)
        batcher.wait_all()
        assert sorted(got) == [(k, 3.0 * k, 3.0 * k) for k in range(20)]


def test_a_batcher_dropped_with_items_waiting_ends_them_without_a_hang():
    batcher = ovfast.DynamicBatcher(add_model(), max_batch_size=16, max_delay_us=500)
    batcher._manual_clock(greedy=False)  # the items wait: nothing starts them but the end
    batcher.set_callback(lambda result, userdata: None)
    for k in range(5):
        batcher.start_async([np.full(8, k, np.float32)] * 2, k)
    assert batcher._queued() == 5
    core_thread = threading.active_count()
    del batcher
    import gc
    gc.collect()
    wait_for(lambda: threading.active_count() < core_thread, "the callback thread's end")
