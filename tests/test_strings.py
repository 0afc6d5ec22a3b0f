"""String tensors (openvino's Type.string), which the C API can make but not read: Tensor from str and bytes
arrays, str_data/bytes_data, string inputs and outputs in infer, __call__ and the job pool; each checked on
openvino and on ovfast with the same code."""

import warnings

import numpy as np
import openvino
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ovfast
from models import string_model

LIBS = {"openvino": openvino, "ovfast": ovfast}


def outcome(fn):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = fn()
        except Exception as e:
            return "raised", e, [w.category for w in caught]
    return "ok", value, [w.category for w in caught]


def same(fn):
    """fn(lib) on both libraries: the same values, or exceptions of which ovfast's is an openvino class."""
    expected, got = outcome(lambda: fn(openvino)), outcome(lambda: fn(ovfast))
    assert got[0] == expected[0], (got, expected)
    assert got[2] == expected[2]  # the same warnings
    if expected[0] == "raised":
        assert isinstance(got[1], type(expected[1])), (got[1], expected[1])
        return
    e, g = expected[1], got[1]
    if isinstance(e, np.ndarray):
        assert isinstance(g, np.ndarray) and g.dtype == e.dtype and g.shape == e.shape, (g, e)
        np.testing.assert_array_equal(g, e)
    else:
        assert g == e, (g, e)


TEXTS = [np.array(["a", "bcd", "é", ""]), np.array([["x", "yz"], ["🙂", "w"]]), np.array([b"ab", b"c", b"\xff\x00z"]),
         ["list", "of", "str"]]


@pytest.mark.parametrize("value", TEXTS, ids=range(len(TEXTS)))
@pytest.mark.parametrize("read", ["element_type", "shape", "str_data", "bytes_data", "data", "size"])
def test_string_tensors_read_like_openvinos(value, read):
    def make(lib):
        return getattr(lib.Tensor(value), read)
    same(lambda lib: make(lib) if read not in ("element_type", "shape") else str(make(lib)))


def test_empty_string_tensor_and_setters():
    for setter in ("str_data", "bytes_data"):
        def run(lib, setter=setter):
            t = lib.Tensor(openvino.Type.string, [3])
            before = t.str_data.copy()
            setattr(t, setter, ["q", "rs", "t"] if setter == "str_data" else [b"q", b"rs", b"t"])
            return np.concatenate([before, t.str_data])
        same(run)


@pytest.fixture(scope="module")
def compiled():
    return {name: lib.compile_model(string_model(), "CPU") for name, lib in LIBS.items()}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(max_size=12).filter(lambda s: not s.endswith("\0")), min_size=3, max_size=3))
def test_strings_through_a_model_as_openvino(compiled, texts):
    arr = np.array(texts)
    same(lambda lib: compiled[lib.__name__]({"s": arr})["s"])
    same(lambda lib: compiled[lib.__name__].create_infer_request().infer([arr.astype(bytes) if all(
        t.isascii() for t in texts) else arr])[0])
    raw = ovfast.compile_model(string_model(), "CPU").create_infer_request().infer([arr], decode_strings=False)[0]
    assert raw.dtype.kind == "S" and list(raw) == [t.encode() for t in texts]
    if all(texts):  # openvino returns garbage bytes for empty strings here (b'>' for b''): compared without
        same(lambda lib: compiled[lib.__name__].create_infer_request().infer([arr], decode_strings=False)[0])


def test_strings_through_the_job_pool(compiled):
    queue = ovfast.AsyncInferQueue(compiled["ovfast"], 4)
    got = {}
    queue.set_callback(lambda request, k: got.__setitem__(k, request.results[0]))
    inputs = [np.array([f"item {k}", "ü" * (k % 5), str(k * k)]) for k in range(200)]
    for k, arr in enumerate(inputs):
        queue.start_async([arr], k)
    queue.wait_all()
    for k, arr in enumerate(inputs):
        np.testing.assert_array_equal(got[k], arr)


@pytest.mark.parametrize("bad", [np.array([1, 2, 3]), np.array(["a", "b"]), np.array([["a", "b", "c"]])],
                         ids=["numbers", "too few", "wrong rank"])
def test_wrong_string_inputs_raise_what_openvino_raises(compiled, bad):
    same(lambda lib: compiled[lib.__name__]([bad])[0])
