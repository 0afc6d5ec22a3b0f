"""Sub-byte packing of 4M values: ovfast.helpers against openvino.helpers (and numpy.packbits for u1),
with a numpy copy of the same bytes as the memory ceiling. Each benchmark records the bytes of unpacked
values it handles, so the summary can print GB/s."""

import numpy as np
import openvino
import openvino.helpers as ovh
import pytest

import ovfast.helpers as ofh

N = 4_000_000
RANGES = {"u1": (0, 1), "u4": (0, 15), "i4": (-8, 7)}


def data(name):
    lo, hi = RANGES[name]
    return np.random.default_rng(0).integers(lo, hi + 1, N).astype(np.int8 if lo < 0 else np.uint8)


def run(benchmark, fn, *args, rounds=None):
    benchmark.extra_info["bytes"] = N
    if rounds:
        return benchmark.pedantic(fn, args=args, rounds=rounds, iterations=1, warmup_rounds=0)
    return benchmark(fn, *args)


@pytest.mark.parametrize("name", ["u4", "i4"])
def test_openvino_pack(benchmark, name):
    benchmark.group = f"pack {name} x4M"
    run(benchmark, ovh.pack_data, data(name), getattr(openvino.Type, name), rounds=5)


@pytest.mark.parametrize("name", ["u4", "i4", "u1"])
def test_ovfast_pack(benchmark, name):
    benchmark.group = f"pack {name} x4M"
    v = data(name)
    packed = run(benchmark, ofh.pack_data, v, name)
    np.testing.assert_array_equal(ofh.unpack_data(packed, name, [N]), v)


@pytest.mark.parametrize("name", ["u4", "i4", "u1"])
def test_numpy_copy(benchmark, name):
    benchmark.group = f"pack {name} x4M"
    run(benchmark, np.copy, data(name))


def test_numpy_packbits(benchmark):
    benchmark.group = "pack u1 x4M"
    run(benchmark, np.packbits, data("u1"))


@pytest.mark.parametrize("name", ["u4", "i4"])
def test_openvino_unpack(benchmark, name):
    benchmark.group = f"unpack {name} x4M"
    packed = ovh.pack_data(data(name), getattr(openvino.Type, name))
    # openvino unpacks i4 one element at a time in Python: seconds per round
    run(benchmark, ovh.unpack_data, packed, getattr(openvino.Type, name), [N], rounds=1 if name == "i4" else 5)


@pytest.mark.parametrize("name", ["u4", "i4"])
def test_ovfast_unpack(benchmark, name):
    benchmark.group = f"unpack {name} x4M"
    run(benchmark, ofh.unpack_data, ofh.pack_data(data(name), name), name, [N])


@pytest.mark.parametrize("name", ["u4", "i4"])
def test_numpy_copy_unpack(benchmark, name):
    benchmark.group = f"unpack {name} x4M"
    run(benchmark, np.copy, data(name))
