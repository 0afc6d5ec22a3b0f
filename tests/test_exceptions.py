"""The same mistake raises, on ovfast, an instance of the class openvino raises (ovfast's classes may be
more specific, and often are also the builtin that fits: a wrong name is a KeyError and a RuntimeError)."""

import numpy as np
import openvino
import pytest

import ovfast
from models import add_model

X = np.ones(8, np.float32)


def compiled(ov):
    return ov.compile_model(add_model(), "CPU")


MISTAKES = {
    "get_tensor of an unknown name": lambda ov: compiled(ov).create_infer_request().get_tensor("Unknown"),
    "call with an unknown input name": lambda ov: compiled(ov)({"_data_": X}),
    "infer_new_request with an unknown name": lambda ov: compiled(ov).infer_new_request({"bad": X}),
    "a float key on a result dict": lambda ov: compiled(ov)([X, X])[2.0],
    "an index past the outputs of a result dict": lambda ov: compiled(ov)([X, X])[6],
    "an unknown name on a result dict": lambda ov: compiled(ov)([X, X])["nope"],
    "infer(object())": lambda ov: compiled(ov).create_infer_request().infer(object()),
    "compile_model(object())": lambda ov: ov.compile_model(object(), "CPU"),
    "an F-order array shared": lambda ov: ov.Tensor(np.ones((3, 4), np.float32, order="F"), shared_memory=True),
    "strides of a u4 tensor": lambda ov: ov.Tensor(ov.Type.u4, [4]).get_strides(),
    "strides of a u1 tensor": lambda ov: ov.Tensor(ov.Type.u1, [8]).get_strides(),
    "an input of the wrong shape": lambda ov: compiled(ov)([np.ones(3, np.float32), X]),
    "a string array for a float input": lambda ov: compiled(ov)([np.array(["a"] * 8), X]),
    "set_tensor of the wrong element type": lambda ov: compiled(ov).create_infer_request().set_tensor(
        "a", ov.Tensor(np.ones(8, np.int32))),
    "output() of a bad index": lambda ov: compiled(ov).output(5),
    "input() of a bad name": lambda ov: compiled(ov).input("zz"),
    "Tensor(1, 2, 3, 4)": lambda ov: ov.Tensor(1, 2, 3, 4),
    "a negative dimension": lambda ov: ov.Tensor(ov.Type.f32, [-1]),
    "a float dimension": lambda ov: ov.Tensor(ov.Type.f32, [2.5]),
    "a read-only array shared": lambda ov: ov.Tensor(np.frombuffer(b"abcd", np.uint8), shared_memory=True),
    "an object array": lambda ov: ov.Tensor(np.array([object()] * 4, dtype=object)),
    "an unknown device": lambda ov: compiled(ov) and ov.compile_model(add_model(), "NOPE"),
    "an unknown property": lambda ov: compiled(ov).get_property("NOPE"),
    "an unknown input index in set_input_tensor": lambda ov: compiled(ov).create_infer_request().set_input_tensor(
        7, ov.Tensor(X)),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_ovfast_raises_what_openvino_raises(mistake):
    make = MISTAKES[mistake]
    with pytest.raises(Exception) as expected:
        make(openvino)
    with pytest.raises(Exception) as got:
        make(ovfast)
    assert isinstance(got.value, type(expected.value)), (
        f"{mistake}: openvino raises {type(expected.value).__name__}, ovfast raised "
        f"{type(got.value).__name__} ({got.value})")


def test_result_dict_lookups_stay_total():
    result = compiled(ovfast)([X, X])
    assert 2.0 not in result and 6 not in result and "nope" not in result
    assert result.get(2.0, "d") == "d" and result.get(6, "d") == "d"
    with pytest.raises(IndexError):  # ovfast's index error is still an IndexError too
        result[6]
