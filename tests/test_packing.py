"""Sub-byte packing against the runtime itself: every layout is checked by what OpenVINO reads (a
compiled Convert model, for the types the CPU plugin takes as input) or writes (the bytes of an
openvino.op.Constant built from values, for every type)."""

import threading
import time

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ovfast
from ovfast.helpers import PACKED_TYPES, pack_data, packed_byte_size, unpack_data

RANGES = {"u1": (0, 1), "u2": (0, 3), "u3": (0, 7), "u4": (0, 15), "u6": (0, 63), "i4": (-8, 7),
          "nf4": (0, 15), "f4e2m1": (0, 15)}
CONVERTIBLE = ("u2", "u4", "i4", "nf4", "f4e2m1")   # the CPU plugin takes these as model inputs


def values(name, n, seed=0):
    lo, hi = RANGES[name]
    return np.random.default_rng(seed).integers(lo, hi + 1, n).astype(np.int8 if lo < 0 else np.uint8)


def runtime_reads(name, packed, n):
    """What a compiled Convert(name -> f32) model reads from these bytes."""
    t = getattr(openvino.Type, name)
    x = ops.parameter([n], t, name="x")
    compiled = openvino.compile_model(openvino.Model(ops.convert(x, openvino.Type.f32), [x]), "CPU")
    return compiled(openvino.Tensor(packed, [n], t))[0]


@pytest.mark.parametrize("name", ["u2", "u4", "i4"])
@pytest.mark.parametrize("n", [1, 7, 64, 1001])
def test_integer_layout_is_what_the_runtime_reads(name, n):
    v = values(name, n, seed=n)
    np.testing.assert_array_equal(runtime_reads(name, pack_data(v, getattr(ovfast.Type, name)), n), v)


def test_openvino_helper_layout_is_not_what_the_runtime_reads():
    # The reason ovfast has its own: openvino.helpers puts u4 element 0 in the high nibble.
    from openvino.helpers import pack_data as ov_pack

    v = np.array([1, 2, 3, 4, 5], np.uint8)
    np.testing.assert_array_equal(runtime_reads("u4", pack_data(v, "u4"), 5), v)
    assert list(runtime_reads("u4", ov_pack(v, openvino.Type.u4), 5)) == [2, 1, 4, 3, 0]


@pytest.mark.parametrize("name", ["nf4", "f4e2m1"])
def test_code_layout_is_what_the_runtime_reads(name):
    codes = np.arange(16, dtype=np.uint8)
    table = runtime_reads(name, pack_data(codes, name), 16)   # code -> value, if our layout is right
    if name == "nf4":
        # NF4's 16 levels ascend from -1 to 1: any other order means our nibble order is wrong.
        assert np.all(np.diff(table) > 0) and table[0] == -1 and table[-1] == 1 and table[7] == 0
    else:
        e2m1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)
        np.testing.assert_array_equal(table, np.concatenate([e2m1, -e2m1]))
    v = values(name, 999, seed=3)
    np.testing.assert_array_equal(runtime_reads(name, pack_data(v, name), 999), table[v])


@pytest.mark.parametrize("name", PACKED_TYPES)
@pytest.mark.parametrize("n", [1, 3, 8, 13, 64, 255])
def test_bytes_equal_the_runtimes_constant(name, n):
    v = values(name, n, seed=n)
    t = getattr(openvino.Type, name)
    if name == "f4e2m1":   # a Constant takes f4e2m1 values, not codes
        e2m1 = np.array([0, 0.5, 1, 1.5, 2, 3, 4, 6], np.float32)
        constant = openvino.op.Constant(t, openvino.Shape([n]), np.concatenate([e2m1, -e2m1])[v].tolist())
    else:
        constant = openvino.op.Constant(t, openvino.Shape([n]), v.astype(np.int64).tolist())
    expected = np.frombuffer(bytes(constant.data), np.uint8)
    packed = pack_data(v, t)
    if name == "f4e2m1":   # -0.0 and 0.0 are both code 0 in a Constant; compare what they mean
        nonzero_neg = v != 8
        packed_codes = unpack_data(expected, t, [n])
        np.testing.assert_array_equal(packed_codes[nonzero_neg], v[nonzero_neg])
        return
    np.testing.assert_array_equal(packed, expected[:packed.size])
    assert packed.size == packed_byte_size(name, n) == openvino.Tensor(t, [n]).byte_size


@settings(max_examples=60, deadline=None)
@given(name=st.sampled_from(PACKED_TYPES), n=st.integers(0, 300), seed=st.integers(0, 2**31))
def test_round_trip(name, n, seed):
    v = values(name, n, seed)
    packed = pack_data(v, name)
    assert packed.dtype == np.uint8 and packed.size == packed_byte_size(name, n)
    back = unpack_data(packed, name, [n])
    assert back.dtype == (np.int8 if name == "i4" else np.uint8)
    np.testing.assert_array_equal(back, v)


@pytest.mark.parametrize("name", PACKED_TYPES)
def test_round_trip_large_and_shaped(name):
    v = values(name, 3 * 1000 * 7, seed=11).reshape(3, 1000, 7)
    np.testing.assert_array_equal(unpack_data(pack_data(v, name), name, v.shape), v)


def test_padding_is_zero_bits():
    assert list(pack_data([7], "u4")) == [7]
    assert list(pack_data([1], "u1")) == [0x80]
    assert list(pack_data([1], "u3")) == [0x40, 0, 0]
    assert pack_data([], "u4").size == 0 and unpack_data(np.zeros(0, np.uint8), "u4", [0]).size == 0


def test_noncontiguous_fortran_and_other_dtypes():
    v = values("u4", 200, seed=5).reshape(10, 20)
    expected = pack_data(np.ascontiguousarray(v.T), "u4")
    for variant in (np.asfortranarray(v).T, v.T, v.T.astype(np.int64), v.T.astype(np.float32),
                    v.T.astype(np.uint16)):
        np.testing.assert_array_equal(pack_data(variant, "u4"), expected)
    strided = np.zeros(2 * expected.size, np.uint8)
    strided[::2] = expected
    np.testing.assert_array_equal(unpack_data(strided[::2], "u4", [20, 10]), v.T)


@pytest.mark.parametrize("name,bad,index", [("u4", [1, 16], 1), ("u4", [-1], 0), ("i4", [0, 3, -9], 2),
                                            ("u1", [0, 1, 2], 2), ("u3", [8], 0), ("u6", [5, 64], 1),
                                            ("i4", [8], 0), ("u2", [4], 0)])
def test_out_of_range_names_index_and_value(name, bad, index):
    with pytest.raises(ValueError, match=rf"value {bad[index]}(\.0)? at index {index} is out of range"):
        pack_data(np.array(bad, np.int64), name)
    with pytest.raises(ValueError, match=rf"at index {index}"):
        pack_data(np.array(bad, np.float64), name)


def test_non_integers_and_bad_types():
    with pytest.raises(ValueError, match=r"value 1.5 at index 2 is not an integer"):
        pack_data([1.0, 2.0, 1.5], "u4")
    with pytest.raises(ValueError, match="not an integer"):
        pack_data([np.nan], "u4")
    with pytest.raises(ValueError, match="not a packed sub-byte type"):
        pack_data([1], openvino.Type.u8)
    with pytest.raises(ValueError, match="integer values"):
        pack_data(np.array(["a"]), "u4")


def test_wrong_packed_size_names_the_expected_size():
    with pytest.raises(ValueError, match=r"5 u4 values \(shape \[5\]\) take 3 bytes, the buffer has 2"):
        unpack_data(np.zeros(2, np.uint8), "u4", [5])
    with pytest.raises(ValueError, match=r"take 3 bytes, the buffer has 6"):
        unpack_data(np.zeros(6, np.uint8), openvino.Type.u3, [8])
    with pytest.raises(ValueError, match="take 3 bytes, out has 4"):
        pack_data(values("u4", 5), "u4", out=np.zeros(4, np.uint8))


def test_tensors_pack_in_and_unpack_out_without_copies():
    v = values("u4", 101, seed=9)
    tensor = ovfast.Tensor(ovfast.Type.u4, [101])
    assert pack_data(v, ovfast.Type.u4, out=tensor) is tensor
    np.testing.assert_array_equal(unpack_data(tensor), v)
    # the same bytes, shared: a Tensor over a packed buffer, and the model reads it right
    packed = pack_data(v, "u4")
    shared = ovfast.Tensor(packed, [101], ovfast.Type.u4)
    np.testing.assert_array_equal(unpack_data(shared.data, shared.element_type, shared.shape), v)
    x = ops.parameter([101], openvino.Type.u4, name="x")
    compiled = ovfast.compile_model(openvino.Model(ops.convert(x, openvino.Type.f32), [x]), "CPU")
    np.testing.assert_array_equal(compiled(shared)[0], v)
    np.testing.assert_array_equal(compiled(tensor)[0], v)
    out = np.empty(101, np.uint8)
    assert unpack_data(tensor, out=out) is out
    with pytest.raises(ValueError, match="is a u4 tensor of 101 elements"):
        pack_data(values("u4", 5), "u4", out=tensor)


def test_input_is_not_modified():
    v = values("i4", 1000, seed=2)
    before = v.copy()
    unpack_data(pack_data(v, "i4"), "i4", [1000])
    np.testing.assert_array_equal(v, before)


def test_pack_releases_the_gil():
    v = values("u3", 16_000_000, seed=1)
    gaps = []
    stop = threading.Event()

    def count():
        last = time.perf_counter()
        while not stop.is_set():
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    import sys

    old = sys.getswitchinterval()
    sys.setswitchinterval(0.001)
    worker = threading.Thread(target=count)
    worker.start()
    time.sleep(0.02)
    try:
        while True:  # grow the work until one pack takes long enough to tell, whatever this machine's speed
            gaps.clear()
            t0 = time.perf_counter()
            pack_data(v, "u3")
            took = time.perf_counter() - t0
            if took > 0.02:
                break
            v = np.concatenate([v, v])
    finally:
        stop.set()
        worker.join()
        sys.setswitchinterval(old)
    assert max(gaps) < took / 2, f"the other thread paused {max(gaps) * 1e3:.1f} ms of a {took * 1e3:.1f} ms pack"


@pytest.mark.parametrize("name,dtype", [("u1", np.uint8), ("u4", np.uint8), ("i4", np.int8), ("nf4", np.uint8),
                                        ("u1", np.int64), ("i4", np.int32)])
@pytest.mark.parametrize("where", [0, 63, 64, 777, 9_998, 9_999])
def test_bad_value_found_inside_vectorised_blocks(name, dtype, where):
    v = values(name, 10_000, seed=where).astype(dtype)
    v[where] = 2 if name == "u1" else (-9 if name == "i4" else 16)
    with pytest.raises(ValueError, match=rf"at index {where} is out of range"):
        pack_data(v, name)
    v[where] = 0
    np.testing.assert_array_equal(unpack_data(pack_data(v, name), name, [10_000]), v)
