"""Inference through CompiledModel and InferRequest on both modules, and the result dict."""

import gc
import threading
import time

import numpy as np
import openvino
import pytest

import ovfast
from models import add_model, dynamic_model, two_output_model, typed_model

X = np.arange(8, dtype=np.float32)
Y = np.full(8, 10, dtype=np.float32)


@pytest.fixture
def add(ov):
    return ov.compile_model(add_model(), "CPU")


def test_ports(ov, add):
    assert [p.any_name for p in add.inputs] == ["a", "b"]
    assert [p.get_any_name() for p in add.inputs] == ["a", "b"]
    out = add.output(0)
    assert out.names == {"sum", "total"} and out.get_names() == {"sum", "total"}
    assert out.element_type == ov.Type.f32 == out.get_element_type()
    assert out.shape == openvino.Shape([8]) == out.get_shape()
    assert out.partial_shape == openvino.PartialShape([8])
    assert out.index == 0 and add.input(1).index == 0  # the index on its node, as openvino
    assert add.input("b") is add.inputs[1] or ov is openvino
    assert add.output("total").any_name in ("sum", "total")
    assert {add.outputs[0]: 1}[add.outputs[0]] == 1


def test_port_repr_matches_openvino():
    ours = ovfast.compile_model(two_output_model(), "CPU")
    theirs = openvino.compile_model(two_output_model(), "CPU")
    assert [repr(p) for p in ours.inputs + ours.outputs] == [repr(p) for p in theirs.inputs + theirs.outputs]
    dyn_ours = ovfast.compile_model(dynamic_model(), "CPU")
    dyn_theirs = openvino.compile_model(dynamic_model(), "CPU")
    assert repr(dyn_ours.input(0)) == repr(dyn_theirs.input(0))
    assert dyn_ours.input(0).partial_shape == dyn_theirs.input(0).partial_shape


def test_inputs_as_list_dict_names_ports(ov, add):
    expected = X + Y
    for inputs in ([X, Y], (X, Y), {0: X, 1: Y}, {"a": X, "b": Y}, {add.inputs[0]: X, add.inputs[1]: Y}):
        np.testing.assert_array_equal(add(inputs)[0], expected)
        np.testing.assert_array_equal(add.create_infer_request().infer(inputs)[0], expected)


def test_result_dict(ov, add):
    res = add({"a": X, "b": Y})
    expected = X + Y
    for key in (0, -1, "sum", "total", add.outputs[0], add.output(0), next(iter(res))):
        np.testing.assert_array_equal(res[key], expected)
    assert len(res) == 1
    assert list(res.keys()) == [add.outputs[0]] or ov is openvino
    np.testing.assert_array_equal(next(iter(res.values())), expected)
    (port, value), = res.items()
    np.testing.assert_array_equal(value, expected)
    np.testing.assert_array_equal(res.to_tuple()[0], expected)
    np.testing.assert_array_equal(list(res.to_dict().values())[0], expected)
    assert res.names() == ({"sum", "total"},)
    with pytest.raises(KeyError):
        res["nope"]
    with pytest.raises((IndexError, KeyError)):
        res[3]


def test_results_match_openvino_for_each_type():
    for dtype in (np.float32, np.float64, np.float16, np.int8, np.int16, np.int32, np.int64, np.uint8,
                  np.uint16, np.uint32, np.uint64, np.bool_):
        x = (np.arange(5) % 2 == 0) if dtype == np.bool_ else np.arange(5).astype(dtype)
        ours = ovfast.compile_model(typed_model(dtype), "CPU")(x)[0]
        theirs = openvino.compile_model(typed_model(dtype), "CPU")(x)[0]
        assert ours.dtype == theirs.dtype, dtype
        np.testing.assert_array_equal(ours, theirs)


def test_two_outputs(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    res = compiled(x)
    np.testing.assert_array_equal(res["double"], 2 * x)
    np.testing.assert_array_equal(res["positive"], x > 0)
    assert res["positive"].dtype == np.bool_
    np.testing.assert_array_equal(res[compiled.outputs[1]], x > 0)


def test_dtype_is_converted_to_the_port_type(ov, add):
    res = add([X.astype(np.float64), Y.astype(np.int32)])[0]
    assert res.dtype == np.float32
    np.testing.assert_array_equal(res, X + Y)


def test_non_native_byte_order_is_converted():
    add = ovfast.compile_model(add_model(), "CPU")
    for share in (False, True):
        np.testing.assert_array_equal(add([X.astype(">f4"), Y.astype(">f8")], share_inputs=share)[0], X + Y)


def test_scalars_lists_and_zero_d(ov):
    x = openvino.opset13.parameter([], np.float32, name="x")
    model = openvino.Model(openvino.opset13.multiply(x, x), [x])
    compiled = ov.compile_model(model, "CPU")
    for value in (np.float32(3), np.array(3, np.float32)):
        assert float(compiled([value])[0]) == 9.0
    if ov is ovfast:  # openvino refuses Python floats and float64 0-d arrays here (f64 tensors)
        for value in (3.0, np.array(3.0), np.float64(3)):
            assert float(compiled([value])[0]) == 9.0
    if ov is ovfast:  # openvino refuses Python ints for an f32 input (it makes an i64 tensor)
        assert float(compiled([3])[0]) == 9.0
        add = ov.compile_model(add_model(), "CPU")
        np.testing.assert_array_equal(add([list(range(8)), [1] * 8])[0], np.arange(8) + 1)


def test_noncontiguous_fortran_and_readonly_inputs(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    base = np.arange(12, dtype=np.float32).reshape(3, 4)
    x_strided = base[:2, :3]                       # not contiguous
    x_fortran = np.asfortranarray(base[:2, :3])
    x_readonly = base[:2, :3].copy()
    x_readonly.flags.writeable = False
    x_transposed = np.arange(6, dtype=np.float32).reshape(3, 2).T
    for x in (x_strided, x_fortran, x_readonly, x_transposed):
        for share in (False, True):
            np.testing.assert_array_equal(compiled(x, share_inputs=share)["double"], 2 * x)
            req = compiled.create_infer_request()
            np.testing.assert_array_equal(req.infer(x, share_inputs=share)["double"], 2 * x)
    assert x_readonly.flags.writeable is False


def test_large_inputs_shared_and_copied(ov):
    n = 256 * 256
    p = openvino.opset13.parameter([n], np.float32, name="x")
    model = openvino.Model(openvino.opset13.add(p, p), [p])
    compiled = ov.compile_model(model, "CPU")
    data = np.random.default_rng(1).standard_normal(n).astype(np.float32)
    before = data.copy()
    for share in (False, True):
        np.testing.assert_array_equal(compiled(data, share_inputs=share)[0], 2 * data)
        req = compiled.create_infer_request()
        np.testing.assert_array_equal(req.infer({0: data}, share_inputs=share)[0], 2 * data)
    np.testing.assert_array_equal(data, before)  # never modified


def test_inputs_of_any_size_are_shared_when_asked(ov):
    # share_inputs=True binds the caller's array whatever its size, as openvino: a program that writes into
    # its array and runs the request again reads the new contents
    p = openvino.opset13.parameter([4], np.float32, name="x")
    compiled = ov.compile_model(openvino.Model(openvino.opset13.abs(p), [p]), "CPU")
    data = np.array([-1, 2, -3, 4], np.float32)
    for share in (True, False):
        req = compiled.create_infer_request()
        np.testing.assert_array_equal(req.infer(data, share_inputs=share)[0], np.abs(data))
        assert np.shares_memory(req.get_input_tensor(0).data, data) == share
    req.infer(data, share_inputs=True)
    data[:] = -7
    req.infer()
    np.testing.assert_array_equal(req.get_output_tensor(0).data, 7)


def test_shared_input_passed_again_reads_its_new_contents(ov):
    # ovfast does not rebind an array the request already shares: what it reads must still follow the
    # array, and a different array must still be rebound
    n = 256 * 256
    p = openvino.opset13.parameter([n], np.float32, name="x")
    compiled = ov.compile_model(openvino.Model(openvino.opset13.add(p, p), [p]), "CPU")
    req = compiled.create_infer_request()
    data = np.ones(n, np.float32)
    other = np.full(n, 7, np.float32)
    np.testing.assert_array_equal(req.infer([data], share_inputs=True)[0], 2 * data)
    data[:] = 3
    np.testing.assert_array_equal(req.infer([data], share_inputs=True)[0], 6)
    np.testing.assert_array_equal(req.infer([other], share_inputs=True)[0], 14)
    np.testing.assert_array_equal(req.infer([data], share_inputs=True)[0], 6)
    np.testing.assert_array_equal(req.infer([data[::-1].copy() * 0 + 5], share_inputs=False)[0], 10)
    if ov is ovfast:   # openvino copies into the array the request last shared, overwriting the caller's data
        np.testing.assert_array_equal(data, 3)


def test_share_outputs_gives_views_of_the_request(ov, add):
    req = add.create_infer_request()
    shared = req.infer([X, Y], share_outputs=True)[0]
    copied = req.infer([X, Y], share_outputs=False)[0]
    req.infer([Y, Y])
    np.testing.assert_array_equal(shared, Y + Y)   # a view: follows the request
    np.testing.assert_array_equal(copied, X + Y)   # a copy: the caller's


def test_calls_results_are_views_of_the_compiled_models_own_request(ov, add):
    shared = add([X, Y], share_outputs=True)[0]
    copied = add([X, Y])[0]
    assert np.shares_memory(add._infer_request.get_output_tensor(0).data, shared)
    assert not np.shares_memory(add._infer_request.get_output_tensor(0).data, copied)
    np.testing.assert_array_equal(add._infer_request.get_input_tensor(1).data, Y)


def test_release_memory_leaves_requests_usable(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    request = compiled.create_infer_request()
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    before = request.infer(x)[0].copy()
    compiled.release_memory()
    np.testing.assert_array_equal(request.infer(x)[0], before)
    np.testing.assert_array_equal(compiled(x)[1], x > 0)


def test_dynamic_shapes(ov):
    compiled = ov.compile_model(dynamic_model(), "CPU")
    req = compiled.create_infer_request()
    for rows in (1, 3, 7):
        x = np.random.default_rng(rows).standard_normal((rows, 4)).astype(np.float32)
        np.testing.assert_allclose(compiled(x)["y"], x + 1)
        np.testing.assert_allclose(req.infer(x)["y"], x + 1)
        if ov is ovfast:  # openvino fails here: it cannot grow its shared input tensor
            np.testing.assert_allclose(req.infer(x, share_inputs=True, share_outputs=True)["y"], x + 1)
        assert list(req.get_output_tensor().shape) == [rows, 4]


def test_infer_new_request(ov, add):
    np.testing.assert_array_equal(add.infer_new_request({0: X, 1: Y})[0], X + Y)


def test_get_and_set_tensors(ov, add):
    req = add.create_infer_request()
    req.set_tensor("a", ov.Tensor(X))
    req.set_input_tensor(1, ov.Tensor(Y))
    req.infer()
    np.testing.assert_array_equal(req.get_output_tensor().data, X + Y)
    np.testing.assert_array_equal(req.get_tensor("sum").data, X + Y)
    np.testing.assert_array_equal(req.get_tensor(add.outputs[0]).data, X + Y)
    np.testing.assert_array_equal(req.get_tensor(add.inputs[1]).data, Y)
    np.testing.assert_array_equal(req.get_input_tensor(0).data, X)
    np.testing.assert_array_equal(req.get_output_tensor(0).data, X + Y)
    out = ov.Tensor(np.zeros(8, np.float32), shared_memory=True)
    req.set_output_tensor(out)
    req.set_input_tensors({0: ov.Tensor(Y), 1: ov.Tensor(Y)})
    req.infer()
    np.testing.assert_array_equal(out.data, Y + Y)
    assert len(req.input_tensors) == 2 and len(req.output_tensors) == 1
    np.testing.assert_array_equal(req.results[0], Y + Y)
    np.testing.assert_array_equal(list(req.results.values())[0], Y + Y)
    assert req.model_inputs[0].any_name == "a" and req.model_outputs[0].any_name in ("sum", "total")
    assert req.get_compiled_model() is add or ov is openvino


def test_tensor_outlives_its_array(ov, add):
    a, b = X.copy(), Y.copy()
    ta, tb = ov.Tensor(a, shared_memory=True), ov.Tensor(b, shared_memory=True)
    del a, b
    gc.collect()
    np.testing.assert_array_equal(add([ta, tb])[0], X + Y)


def test_start_async_wait_and_callback(ov, add):
    req = add.create_infer_request()
    seen = []
    req.set_callback(lambda userdata: seen.append((userdata, req.get_output_tensor().data.copy())), "tag")
    req.start_async({0: X, 1: Y})
    req.wait()
    assert len(seen) == 1 and seen[0][0] == "tag"
    np.testing.assert_array_equal(seen[0][1], X + Y)
    req.start_async([Y, Y], userdata="ud")   # one userdata slot: start_async replaces it
    assert req.wait_for(10_000) is True
    req.start_async([Y, Y])
    req.wait()
    assert [s[0] for s in seen] == ["tag", "ud", "ud"] and req.userdata == "ud"
    np.testing.assert_array_equal(req.get_output_tensor().data, Y + Y)
    assert req.latency > 0


def test_async_input_is_copied_unless_shared(ov, add):
    """start_async(share_inputs=False) must not read the caller's array after returning."""
    req = add.create_infer_request()
    a = X.copy()
    req.start_async([a, Y])
    a[:] = -1000
    req.wait()
    np.testing.assert_array_equal(req.get_output_tensor().data, X + Y)


def test_wait_on_never_started_request(ov, add):
    req = add.create_infer_request()
    req.wait()                        # returns at once
    assert req.wait_for(1) is False   # "not ready", as openvino says


def test_callback_error_is_raised_once_from_wait():
    compiled = ovfast.compile_model(add_model(), "CPU")
    req = compiled.create_infer_request()

    def boom(userdata):
        raise ValueError("from callback")

    req.set_callback(boom)
    req.start_async([X, Y])
    with pytest.raises(ValueError, match="from callback"):
        req.wait()
    req.wait()  # cleared
    req.set_callback(None)
    req.start_async([X, Y])
    req.wait()


def test_busy_request_refuses_new_work():
    compiled = ovfast.compile_model(add_model(), "CPU")
    req = compiled.create_infer_request()
    gate = threading.Event()
    req.set_callback(lambda _: gate.wait(5))
    req.start_async([X, Y])
    with pytest.raises(RuntimeError, match="running"):
        req.infer([X, Y])
    with pytest.raises(RuntimeError, match="running"):
        req.start_async([X, Y])
    gate.set()
    req.wait()
    np.testing.assert_array_equal(req.infer([X, Y])[0], X + Y)


def test_profiling_info(ov):
    compiled = ov.compile_model(add_model(), "CPU", {"PERF_COUNT": "YES"})
    req = compiled.create_infer_request()
    req.infer([X, Y])
    info = req.get_profiling_info()
    assert len(info) > 0 and len(req.profiling_info) == len(info)
    assert all(i.real_time.total_seconds() >= 0 for i in info)
    assert "Parameter" in {i.node_type for i in info}
    assert {i.status for i in info} <= set(ov.ProfilingInfo.Status.__members__.values())
    assert ov.ProfilingInfo.Status.EXECUTED in {i.status for i in info}


def test_profiling_info_matches_openvino():
    model = add_model()

    def layers(module):
        req = module.compile_model(model, "CPU", {"PERF_COUNT": "YES"}).create_infer_request()
        req.infer([X, Y])
        return sorted((i.node_name, i.node_type, i.exec_type, i.status) for i in req.profiling_info)

    assert layers(ovfast) == layers(openvino)


def test_cancel_is_harmless_when_idle(ov, add):
    req = add.create_infer_request()
    req.cancel()
    np.testing.assert_array_equal(req.infer([X, Y])[0], X + Y)


def test_deleting_request_with_inference_in_flight():
    compiled = ovfast.compile_model(add_model(), "CPU")
    for _ in range(50):
        req = compiled.create_infer_request()
        req.set_callback(lambda _: None)
        req.start_async([X, Y])
        del req
    for _ in range(50):
        req = compiled.create_infer_request()
        req.start_async([X, Y])
        del req
    gc.collect()


# --- bad input ----------------------------------------------------------------------------------------


@pytest.fixture
def fast_add():
    return ovfast.compile_model(add_model(), "CPU")


def test_wrong_number_of_inputs(fast_add):
    with pytest.raises(ValueError, match=r"2 input\(s\) \['a', 'b'\], got a list of 1"):
        fast_add([X])
    with pytest.raises(ValueError, match="got a list of 3"):
        fast_add([X, X, X])
    with pytest.raises(ValueError, match="pass a dict or a list of 2 values"):
        fast_add(X)


def test_unknown_input_name_or_index_lists_valid_ones(fast_add):
    with pytest.raises(KeyError, match=r"'c' is not an input of this model; inputs are \['a', 'b'\]"):
        fast_add({"c": X})
    with pytest.raises(KeyError, match="index 5 out of range"):
        fast_add({5: X})
    with pytest.raises(KeyError, match="names no input or output"):
        fast_add.create_infer_request().get_tensor("zzz")


def test_wrong_shape_names_expected_and_got(fast_add):
    with pytest.raises(ValueError, match=r"input 'a' expects f32\[8\], got float32\[3\]"):
        fast_add([X[:3], Y])
    with pytest.raises(ValueError, match=r"input 'b' expects f32\[8\], got float64\[2, 4\]"):
        fast_add([X, np.zeros((2, 4))])
    with pytest.raises(ValueError, match=r"expects f32\[8\], got float32\[\]"):
        fast_add([np.float32(1), Y])
    dyn = ovfast.compile_model(dynamic_model(), "CPU")
    with pytest.raises(ValueError, match=r"expects f32\[\?,4\], got float32\[4\]"):
        dyn(np.zeros(4, np.float32))
    with pytest.raises(RuntimeError):
        dyn(np.zeros((2, 5), np.float32))


def test_unconvertible_dtype(fast_add):
    with pytest.raises(TypeError, match="dtype <U1 cannot be converted to f32"):
        fast_add([np.array(list("abcdefgh")), Y])
    with pytest.raises(TypeError, match="dtype complex64 cannot be converted"):
        fast_add([X.astype(np.complex64), Y])
    with pytest.raises(TypeError, match="numpy cannot convert"):
        fast_add([[1, [2, 3]], Y])


def test_wrong_tensor_type(fast_add):
    with pytest.raises(TypeError, match="expects a f32 tensor, got i32"):
        fast_add([ovfast.Tensor(X.astype(np.int32)), Y])
    with pytest.raises(TypeError, match="expected an ovfast.Tensor"):
        fast_add.create_infer_request().set_tensor("a", X)


def test_bad_input_leaves_request_usable(fast_add):
    with pytest.raises(ValueError):
        fast_add([X[:3], Y])
    np.testing.assert_array_equal(fast_add([X, Y])[0], X + Y)


def test_openvino_tensor_inputs_are_accepted(fast_add):
    np.testing.assert_array_equal(fast_add([openvino.Tensor(X), openvino.Tensor(Y)])[0], X + Y)


def test_results_do_not_leak():
    import resource

    compiled = ovfast.compile_model(add_model(), "CPU")
    req = compiled.create_infer_request()
    for _ in range(2000):
        compiled([X, Y])
    start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    for _ in range(30000):
        compiled([X, Y])
        req.infer({0: X, 1: Y}, share_outputs=True)
        ovfast.Tensor(X, shared_memory=True).data
    grown_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - start
    assert grown_kb < 20_000, f"RSS grew by {grown_kb} kB over 30k calls"


def test_threads_with_their_own_requests_never_mix_results():
    compiled = ovfast.compile_model(add_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    errors = []

    def worker(seed):
        rng = np.random.default_rng(seed)
        req = compiled.create_infer_request()
        seen = []
        req.set_callback(lambda ud: seen.append((ud, req.get_output_tensor().data.copy())))
        try:
            for i in range(300):
                a, b = rng.standard_normal(8).astype(np.float32), rng.standard_normal(8).astype(np.float32)
                if i % 2:
                    np.testing.assert_array_equal(req.infer([a, b])[0], a + b)
                else:
                    req.start_async([a, b], userdata=(seed, i))
                    req.wait()
                    assert seen[-1][0] == (seed, i)
                    np.testing.assert_array_equal(seen[-1][1], a + b)
        except BaseException as e:  # reported below, from the main thread
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(s,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[0]


def test_wait_can_be_interrupted():
    import _thread

    from models import slow_compiled

    compiled, x, one_inference = slow_compiled(ovfast, 0.5)
    req = compiled.create_infer_request()
    req.start_async(x)
    timer = threading.Timer(0.05, _thread.interrupt_main)
    timer.start()
    t0 = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        req.wait()
    assert time.perf_counter() - t0 < one_inference / 2   # raised from inside wait(), not after it
    req.wait()
