"""openvino's model-building API with ovfast Tensors: the same programs on openvino and on ovfast."""

import gc
import importlib

import numpy as np
import pytest

import openvino
import ovfast
from ovfast.interop import to_openvino

LIBS = [openvino, ovfast]


def ids(lib):
    return lib.__name__


@pytest.mark.parametrize("lib", LIBS, ids=ids)
def test_constants_from_tensors_in_a_model(lib):
    """What users write: weights as the library's Tensor, a graph from its op/opset namespaces, compiled and
    run by the same library."""
    ops = lib.opset13
    w = lib.Tensor(np.arange(12, dtype=np.float32).reshape(3, 4))
    b = lib.Tensor(np.full((1, 4), 0.5, np.float32))
    x = ops.parameter([2, 3], np.float32, name="x")
    y = ops.add(ops.matmul(x, ops.constant(w), False, False), lib.op.Constant(b))
    y = ops.concat([y, ops.constant(lib.Tensor(np.ones((2, 4), np.float32)))], 1)
    model = lib.Model([y], [x])
    x_value = np.arange(6, dtype=np.float32).reshape(2, 3)
    out = lib.compile_model(model, "CPU")(x_value)[0]
    np.testing.assert_array_equal(out[:, :4], x_value @ np.arange(12, dtype=np.float32).reshape(3, 4) + 0.5)
    np.testing.assert_array_equal(out[:, 4:], 1)


@pytest.mark.parametrize("lib", LIBS, ids=ids)
@pytest.mark.parametrize("etype,values", [
    ("f32", np.arange(6, dtype=np.float32)), ("i64", np.arange(6, dtype=np.int64)),
    ("u8", np.arange(6, dtype=np.uint8)), ("f16", np.arange(6, dtype=np.float16)),
    ("boolean", np.array([True, False] * 3))])
def test_constant_keeps_type_shape_and_values(lib, etype, values):
    t = lib.Tensor(values.reshape(2, 3))
    c = lib.op.Constant(t)
    assert c.get_element_type() == getattr(openvino.Type, etype)
    assert list(c.get_output_shape(0)) == [2, 3]
    np.testing.assert_array_equal(c.get_data(), values.reshape(2, 3))
    assert isinstance(c, lib.op.Constant) and isinstance(c, openvino.op.Constant)


def test_packed_and_bf16_tensors_convert_with_their_type():
    u4 = ovfast.Tensor(np.array([1, 2, 3, 15], np.uint8), [4], ovfast.Type.u4)   # packed bytes, shared
    assert ovfast.opset13.constant(u4).get_element_type() == openvino.Type.u4
    ref = openvino.Tensor(np.array([1, 2, 3, 15], np.uint8), [4], openvino.Type.u4)
    np.testing.assert_array_equal(to_openvino(u4).data, ref.data)
    bf = ovfast.Tensor(openvino.Type.bf16, [2])
    assert to_openvino(bf).get_element_type() == openvino.Type.bf16


@pytest.mark.parametrize("lib", LIBS, ids=ids)
def test_constants_from_temporary_tensors_outlive_them(lib):
    """A Constant made from a Tensor nobody keeps: openvino's Tensor(array) owns a copy, and so does what
    ovfast hands openvino's graph API (sharing would leave the Constant reading freed memory)."""
    nodes = [lib.opset13.constant(lib.Tensor(np.full(1000, i, np.float32))) for i in range(3)]
    nodes.append(lib.op.Constant(lib.Tensor(np.full(1000, 3, np.float32))))
    gc.collect()
    junk = [np.full(1000, -1, np.float32) for _ in range(2000)]    # reuse whatever was freed
    for i, node in enumerate(nodes):
        np.testing.assert_array_equal(node.get_data(), i)
    del junk


def test_openvinos_own_constant_shares_a_shared_tensors_memory():
    """Why the graph namespaces copy: openvino's Constant keeps its C++ tensor, not the array behind it."""
    a = np.full(1000, 1, np.float32)
    c = openvino.op.Constant(openvino.Tensor(a, shared_memory=True))
    assert np.shares_memory(c.get_data(), a)


def test_conversions_share_memory_both_ways():
    t = ovfast.Tensor(np.zeros(4, np.float32))
    o = to_openvino(t)
    assert np.shares_memory(o.data, t.data)
    t.data[1] = 7
    assert o.data[1] == 7
    del t
    gc.collect()
    assert o.data[1] == 7                      # the openvino.Tensor keeps the memory alive
    back = ovfast.Tensor(o, shared_memory=True)
    assert np.shares_memory(back.data, o.data)
    s = to_openvino(ovfast.Tensor(np.array(["a", "bc"])))
    assert list(s.str_data) == ["a", "bc"]
    with pytest.raises(TypeError, match="expected an ovfast.Tensor"):
        to_openvino(np.zeros(2))


def test_namespaces_are_openvinos_and_importable():
    import ovfast.opset13 as ops
    assert ops is ovfast.opset13
    assert set(dir(ovfast.opset13)) == set(dir(openvino.opset13))
    assert ovfast.opset13.parameter.__name__ == "parameter"
    assert ovfast.op.Constant.__name__ == "Constant"
    for name in ovfast.interop.GRAPH_MODULES:
        assert importlib.import_module("ovfast." + name) is getattr(ovfast, name)
    node = openvino.opset13.constant(np.zeros(2, np.float32))
    assert isinstance(node, ovfast.op.Constant) and issubclass(openvino.op.Constant, ovfast.op.Constant)
    with pytest.raises(TypeError):                  # the same mistake, the same error as openvino's
        ovfast.op.Constant(object())
    with pytest.raises(TypeError):
        openvino.op.Constant(object())
