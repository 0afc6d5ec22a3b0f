"""Tensor on both modules: copies, shared memory, slices of packed buffers, views and lifetimes."""

import gc
import sys

import numpy as np
import openvino
import pytest

import ovfast

DTYPES = [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
          np.uint32, np.uint64, np.bool_]


@pytest.mark.parametrize("dtype", DTYPES)
def test_dtype_maps_like_openvino(dtype):
    data = (np.arange(6) % 2).astype(dtype).reshape(2, 3)
    ours, theirs = ovfast.Tensor(data), openvino.Tensor(data)
    assert ours.element_type == theirs.element_type
    assert ours.data.dtype == theirs.data.dtype
    np.testing.assert_array_equal(ours.data, theirs.data)
    assert ours.shape == theirs.shape and ours.size == theirs.size and ours.byte_size == theirs.byte_size
    assert ours.strides == theirs.strides


def test_copy_is_independent(ov):
    data = np.ones((2, 8))
    tensor = ov.Tensor(data)
    assert tensor.element_type == ov.Type.f64
    data[0, 0] = 5
    assert tensor.data[0, 0] == 1


def test_shared_memory_both_ways(ov):
    data = np.ones((2, 8))
    shared = ov.Tensor(data, shared_memory=True)
    data[0][2] = 6.0
    assert shared.data[0][2] == 6.0
    shared.data[0][2] = 0.6
    assert data[0][2] == 0.6


def test_shared_tensor_keeps_array_alive(ov):
    data = np.arange(16, dtype=np.float32)
    before = sys.getrefcount(data)
    tensor = ov.Tensor(data, shared_memory=True)
    assert sys.getrefcount(data) > before
    del data
    gc.collect()
    np.testing.assert_array_equal(tensor.data, np.arange(16, dtype=np.float32))


def test_data_view_keeps_tensor_alive():
    view = ovfast.Tensor(ovfast.Type.f32, [4]).data
    view[:] = 3
    gc.collect()
    np.testing.assert_array_equal(view, 3)
    tensor = ovfast.Tensor(np.zeros(4, np.float32))
    before = sys.getrefcount(tensor)
    views = [tensor.data for _ in range(10)]
    assert sys.getrefcount(tensor) == before + 10
    del views
    gc.collect()
    assert sys.getrefcount(tensor) == before


def test_allocate_by_type_and_shape(ov):
    for args in ((ov.Type.f32, [2, 3]), (ov.Type.i64, ov.Shape([4])), (np.float32, [5])):
        tensor = ov.Tensor(*args)
        assert list(tensor.shape) == list(args[1])
    assert ov.Tensor(ov.Type.u8, [3]).data.dtype == np.uint8


def test_slice_of_array_memory(ov):
    data = np.arange(100, dtype=np.float32)
    tensor = ov.Tensor(data, [2, 5], ov.Type.f32)
    np.testing.assert_array_equal(tensor.data, data[:10].reshape(2, 5))
    data[3] = -1
    assert tensor.data[0, 3] == -1


@pytest.mark.parametrize("etype,n,nbytes", [("u4", 5, 3), ("i4", 5, 3), ("u1", 10, 2), ("nf4", 4, 2),
                                            ("u2", 5, 2), ("f4e2m1", 3, 2)])
def test_packed_types_share_the_packed_buffer(ov, etype, n, nbytes):
    packed = np.array([0x21, 0x43, 0x05, 0x77], np.uint8)
    t = ov.Tensor(packed, [n], getattr(ov.Type, etype))
    assert t.byte_size == nbytes and t.size == n
    assert list(t.shape) == [n]
    theirs = openvino.Tensor(packed, [n], getattr(openvino.Type, etype))
    np.testing.assert_array_equal(t.data, theirs.data)
    assert t.data.dtype == theirs.data.dtype
    packed[0] = 0x99
    assert t.data[0] == np.array(0x99, np.uint8).astype(t.data.dtype)


def test_packed_buffer_too_small_is_refused():
    with pytest.raises(ValueError, match="needs 3 bytes, the array has 2"):
        ovfast.Tensor(np.zeros(2, np.uint8), [5], ovfast.Type.u4)
    with pytest.raises(ValueError, match="needs 40 bytes"):
        ovfast.Tensor(np.zeros(4, np.float32), [10], ovfast.Type.f32)


def test_shared_needs_contiguous():
    with pytest.raises(ValueError, match="C-contiguous"):
        ovfast.Tensor(np.zeros((4, 4), np.float32)[:, ::2], shared_memory=True)
    noncontig = np.arange(16, dtype=np.float32).reshape(4, 4)[:, ::2]
    np.testing.assert_array_equal(ovfast.Tensor(noncontig).data, noncontig)   # a copy works
    np.testing.assert_array_equal(ovfast.Tensor(np.asfortranarray(noncontig)).data, noncontig)


def test_unsupported_dtypes_are_type_errors():
    with pytest.raises(TypeError, match="complex64 has no OpenVINO element type"):
        ovfast.Tensor(np.zeros(3, np.complex64))
    with pytest.raises(TypeError, match="not an OpenVINO element type"):
        ovfast.Tensor("nonsense", [3])


def test_copy_to_copy_from_set_shape(ov):
    src = ov.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3))
    dst = ov.Tensor(ov.Type.f32, [2, 3])
    src.copy_to(dst)
    np.testing.assert_array_equal(dst.data, src.data)
    dst.copy_from(np.ones((2, 3), np.float32))
    np.testing.assert_array_equal(dst.data, 1)
    grow = ov.Tensor(ov.Type.f32, [2])
    grow.set_shape([3, 4])
    assert list(grow.shape) == [3, 4] and grow.data.shape == (3, 4)
    assert grow.is_continuous()


def test_set_shape_refuses_to_move_memory_under_live_views():
    tensor = ovfast.Tensor(ovfast.Type.f32, [2])
    view = tensor.data
    with pytest.raises(BufferError, match="view"):
        tensor.set_shape([100])
    del view
    tensor.set_shape([100])
    assert tensor.data.shape == (100,)


def test_array_protocol():  # openvino.Tensor has no __array__; ovfast's does
    ov = ovfast
    tensor = ov.Tensor(np.arange(4, dtype=np.int32))
    np.testing.assert_array_equal(np.asarray(tensor), np.arange(4))
    assert np.asarray(tensor, dtype=np.float64).dtype == np.float64


def test_repr():
    assert repr(ovfast.Tensor(np.zeros((2, 3), np.float32))) == "<Tensor: shape[2, 3] type: f32>"


def test_non_native_byte_order():
    swapped = np.arange(4, dtype=">f4")
    np.testing.assert_array_equal(ovfast.Tensor(swapped).data, np.arange(4, dtype=np.float32))
    with pytest.raises(ValueError, match="non-native order"):
        ovfast.Tensor(swapped, shared_memory=True)
