"""openvino programs that run unchanged on ovfast: the same code on both, openvino as the oracle."""

import copy
import io
import warnings

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

from models import add_model

X = np.ones(8, np.float32)


def test_copy_shares_and_deepcopy_copies(ov):
    for data in (np.arange(6, dtype=np.float32).reshape(2, 3), np.arange(4, dtype=np.uint8)):
        t = ov.Tensor(data.copy())
        shallow, deep = copy.copy(t), copy.deepcopy(t)
        for c in (shallow, deep):
            assert type(c) is type(t) and list(c.shape) == list(t.shape) and c.element_type == t.element_type
            np.testing.assert_array_equal(c.data, data)
        t.data[0] = 99
        assert shallow.data.reshape(-1)[0] == 99        # copy.copy shares the memory
        assert deep.data.reshape(-1)[0] == data.reshape(-1)[0]   # deepcopy has its own
    packed = ov.Tensor(np.array([0x21, 0x43], np.uint8), [4], ov.Type.u4)
    np.testing.assert_array_equal(copy.deepcopy(packed).data, packed.data)


def test_a_shallow_copy_outlives_its_original(ov):
    t = ov.Tensor(np.arange(4, dtype=np.int32))
    c = copy.copy(t)
    del t
    import gc

    gc.collect()
    np.testing.assert_array_equal(c.data, np.arange(4, dtype=np.int32))


@pytest.mark.parametrize("key", ["CACHE_DIR", "ENABLE_MMAP"])
def test_core_property_without_a_device(ov, key):
    assert ov.Core().get_property(key) == openvino.Core().get_property(key)


def test_available_devices_method(ov):
    assert ov.Core().get_available_devices() == openvino.Core().get_available_devices()


@pytest.mark.parametrize("key", ["RANGE_FOR_STREAMS", "RANGE_FOR_ASYNC_INFER_REQUESTS"])
def test_range_properties_are_tuples_of_ints(ov, key):
    got = ov.Core().get_property("CPU", key)
    assert got == openvino.Core().get_property("CPU", key)
    assert type(got) is tuple and all(type(v) is int for v in got)


def test_import_from_the_stream_export_wrote(ov):
    core = ov.Core()
    compiled = core.compile_model(add_model(), "CPU")
    stream = io.BytesIO()
    compiled.export_model(stream)           # the stream's position is now at its end
    imported = core.import_model(stream, "CPU")
    np.testing.assert_array_equal(imported([X, X])[0], 2 * X)


def test_a_result_dict_feeds_the_next_model(ov):
    first = ov.compile_model(add_model(), "CPU")
    p = ops.parameter([8], np.float32, name="p")
    second = ov.compile_model(openvino.Model(ops.multiply(p, ops.constant(np.float32(3))), [p]), "CPU")
    np.testing.assert_array_equal(second(first([X, 2 * X]))[0], 9 * X)


def test_a_shared_tensor_takes_any_shape_that_fits(ov):
    a = np.arange(3 * 32 * 32, dtype=np.float32).reshape(1, 3, 32, 32)
    t = ov.Tensor(a, shared_memory=True)
    t.shape = [1, 3, 24, 24]
    assert list(t.shape) == [1, 3, 24, 24] and t.data.shape == (1, 3, 24, 24)
    assert np.shares_memory(t.data, a)
    np.testing.assert_array_equal(t.data.reshape(-1), a.reshape(-1)[:3 * 24 * 24])
    with pytest.raises(RuntimeError):
        t.shape = [1, 3, 40, 40]
    t.shape = [1, 3, 32, 32]
    np.testing.assert_array_equal(t.data, a)


@pytest.mark.parametrize("value", [[1, 2, 3], [[1.5, 2], [3, 4]], [True, False], [np.float32(1), 2]], ids=repr)
def test_tensor_from_anything_numpy_converts(ov, value):
    want = openvino.Tensor(value)
    t = ov.Tensor(value)
    assert list(t.shape) == list(want.shape) and t.element_type == want.element_type
    np.testing.assert_array_equal(t.data, want.data)


def test_tensor_from_a_ragged_list_is_refused(ov):
    with pytest.raises((ValueError, RuntimeError, TypeError)):
        ov.Tensor([[1, 2], [3]])


def test_tensor_from_ports(ov):
    from models import two_output_model

    model = two_output_model()
    compiled = ov.compile_model(model, "CPU")
    for port, want in ((compiled.input(0), ("f32", (2, 3))), (model.input(0), ("f32", (2, 3))),
                       (compiled.output(1), ("boolean", (2, 3)))):
        t = ov.Tensor(port)
        assert t.element_type.get_type_name() == want[0] and tuple(t.shape) == want[1]
    a = np.ones((2, 3), np.float32)
    t = ov.Tensor(compiled.input(0), a)
    t.data[0, 0] = 5
    assert a[0, 0] == 5                      # shares the array's memory
    with pytest.raises(RuntimeError):        # too small for the port's shape
        ov.Tensor(compiled.input(0), np.ones((2, 2), np.float32))


def test_tensor_from_a_port_warns_as_openvino_for_another_type_or_more_elements(ov):
    x = ops.parameter([2], np.int16)
    with pytest.warns(RuntimeWarning, match="^Type of the array and the port are different") as caught:
        t = ov.Tensor(x.output(0), np.array([1, 2], np.uint16))   # the same bytes, read as the port's type
    assert len(caught) == 1 and t.element_type == openvino.Type.i16 and list(t.data) == [1, 2]
    with pytest.warns(RuntimeWarning, match="^Shape of the port is smaller than shape of the array") as caught:
        t = ov.Tensor(x.output(0), np.arange(3, dtype=np.int16))
    assert len(caught) == 1 and list(t.data) == [0, 1]           # the array's first elements, shared
    with warnings.catch_warnings():
        warnings.simplefilter("error")                            # same type and size: no warning
        ov.Tensor(x.output(0), np.arange(2, dtype=np.int16))


def test_tensor_from_a_dynamic_port_is_empty(ov):
    from models import dynamic_model

    for port in (dynamic_model().input(0), ov.compile_model(dynamic_model(), "CPU").input(0)):
        for t in (ov.Tensor(port), ov.Tensor(port, np.ones((3, 4), np.float32))):
            assert tuple(t.shape) == (0,) and t.element_type == openvino.Type.f32 and t.data.size == 0


def test_a_batch_of_tensors_for_one_input(ov):
    p = ops.parameter([4, 2], np.float32, name="x")
    p.set_layout(openvino.Layout("N..."))
    request = ov.compile_model(openvino.Model(ops.multiply(p, ops.constant(np.float32(2))), [p]), "CPU")\
        .create_infer_request()
    buffer = np.arange(16, dtype=np.float32).reshape(8, 2)
    items = [ov.Tensor(buffer[2 * i:2 * i + 1], shared_memory=True) for i in range(4)]   # every other row
    request.set_input_tensors(items)
    with pytest.raises(RuntimeError, match="get_tensor shall not be used together with batched"):
        request.get_tensor("x")
    for step in range(2):
        buffer += step
        request.infer()
        np.testing.assert_array_equal(request.get_output_tensor(0).data, 2 * buffer[::2])
    request.set_input_tensors(0, items[::-1])
    request.infer()
    np.testing.assert_array_equal(request.get_output_tensor(0).data, 2 * buffer[::2][::-1])


def test_compile_ir_text_with_weights_in_memory(ov, tmp_path):
    from models import two_output_model

    xml, bin_ = tmp_path / "m.xml", tmp_path / "m.bin"
    openvino.save_model(two_output_model(), str(xml), compress_to_fp16=False)
    text, weights = xml.read_text(), bin_.read_bytes()
    x = np.arange(6, dtype=np.float32).reshape(2, 3) - 2
    for model in (text, text.encode()):
        compiled = ov.Core().compile_model(model=model, weights=weights, device_name="CPU")
        del weights  # the compiled model must not need the caller's bytes
        weights = bin_.read_bytes()
        np.testing.assert_array_equal(compiled(x)[0], 2 * x)
        np.testing.assert_array_equal(compiled(x)[1], x > 0)
