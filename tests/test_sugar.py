"""The spellings openvino's calls take, parsed in plain Python (ovfast/_sugar.py) over one Cython primitive
per case: each gives what openvino gives, as ovfast's own classes, and the mistakes raise what openvino
raises."""

import pathlib

import numpy as np
import openvino
import pytest

import ovfast
from models import add_model

U8 = np.arange(16, dtype=np.uint8)
TENSOR_FORMS = {  # name: lib -> a Tensor; every spelling openvino.Tensor takes
    "array": lambda lib: lib.Tensor(np.arange(6, dtype=np.float32).reshape(2, 3)),
    "array, True": lambda lib: lib.Tensor(U8, True),
    "array, shared_memory=True": lambda lib: lib.Tensor(U8, shared_memory=True),
    "list": lambda lib: lib.Tensor([[1, 2], [3, 4]]),
    "array, shape, type": lambda lib: lib.Tensor(U8, [2, 2], openvino.Type.f32),
    "array, Shape, type": lambda lib: lib.Tensor(U8, openvino.Shape([4]), openvino.Type.i32),
    "type, shape": lambda lib: lib.Tensor(openvino.Type.f32, [2, 3]),
    "type, Shape": lambda lib: lib.Tensor(openvino.Type.i8, openvino.Shape([5])),
    "numpy type, shape": lambda lib: lib.Tensor(np.float32, [2]),
    "type=, shape=": lambda lib: lib.Tensor(type=openvino.Type.u8, shape=[3]),
    "port": lambda lib: lib.Tensor(lib.compile_model(add_model(), "CPU").input(0)),
    "port, array": lambda lib: lib.Tensor(lib.compile_model(add_model(), "CPU").input(0), np.ones(8, np.float32)),
}
ALLOCATED = {"type, shape", "type, Shape", "numpy type, shape", "type=, shape=", "port"}  # contents undefined


@pytest.mark.parametrize("form", TENSOR_FORMS)
def test_every_tensor_spelling_matches_openvino(form):
    ours, theirs = TENSOR_FORMS[form](ovfast), TENSOR_FORMS[form](openvino)
    assert type(ours) is ovfast.Tensor
    assert ours.element_type == theirs.element_type and ours.shape == theirs.shape
    if form not in ALLOCATED:
        np.testing.assert_array_equal(ours.data, theirs.data)


def test_ovfast_only_tensor_spellings():
    """Spellings openvino refuses and ovfast takes (a type name, shape before type, an openvino.Tensor)."""
    assert ovfast.Tensor("f32", [2]).element_type == openvino.Type.f32
    assert ovfast.Tensor([2, 3], openvino.Type.f32).shape == openvino.Shape([2, 3])
    source = openvino.Tensor(np.arange(4, dtype=np.int32))
    np.testing.assert_array_equal(ovfast.Tensor(source).data, [0, 1, 2, 3])


def test_shared_spellings_share():
    data = np.zeros(4, np.float32)
    for t in (ovfast.Tensor(data, True), ovfast.Tensor(data, shared_memory=True),
              ovfast.Tensor(data, [4], openvino.Type.f32)):
        t.data[0] += 1
    assert data[0] == 3


@pytest.mark.parametrize("call", [
    lambda lib: lib.Tensor(),
    lambda lib: lib.Tensor(openvino.Type.f32),
    lambda lib: lib.Tensor(object()),
    lambda lib: lib.Tensor(lib.compile_model(add_model(), "CPU").input(0), [1.0] * 8),
], ids=["nothing", "type only", "object", "port and list"])
def test_refused_tensor_spellings_raise_what_openvino_raises(call):
    with pytest.raises(Exception) as theirs:
        call(openvino)
    with pytest.raises(type(theirs.value)):
        call(ovfast)


@pytest.fixture(scope="module")
def ir(tmp_path_factory):
    path = tmp_path_factory.mktemp("ir") / "add.xml"
    openvino.save_model(add_model(), str(path), compress_to_fp16=False)
    return path


MODEL_KINDS = {  # name: (ir path) -> (model, extra keyword arguments) for Core.compile_model
    "openvino.Model": lambda ir: (add_model(), {}),
    "path str": lambda ir: (str(ir), {}),
    "pathlib.Path": lambda ir: (pathlib.Path(ir), {}),
    "XML text and weights": lambda ir: (ir.read_text(), {"weights": ir.with_suffix(".bin").read_bytes()}),
    "XML bytes and weights": lambda ir: (ir.read_bytes(), {"weights": ir.with_suffix(".bin").read_bytes()}),
}


@pytest.mark.parametrize("kind", MODEL_KINDS)
def test_compile_model_takes_every_kind_of_model(ov, ir, kind):
    model, kwargs = MODEL_KINDS[kind](ir)
    compiled = ov.Core().compile_model(model, "CPU", **kwargs)
    x = np.arange(8, dtype=np.float32)
    np.testing.assert_array_equal(compiled([x, x])[0], 2 * x)


def test_compile_model_defaults(ir):
    for compiled in (ovfast.compile_model(add_model()), ovfast.compile_model(str(ir), "CPU"),
                     ovfast.Core().compile_model(add_model(), None, {"PERFORMANCE_HINT": "LATENCY"})):
        assert type(compiled) is ovfast.CompiledModel
        assert [p.any_name for p in compiled.inputs] == ["a", "b"]


def test_compile_model_mistakes_say_what_was_expected():
    core = ovfast.Core()
    with pytest.raises(ovfast.exceptions.InputTypeError, match=r"compile_model\(device_name='CPU'\): expected "
                                                               r"an openvino.Model, a path or IR XML bytes, got int"):
        core.compile_model(5, "CPU")
    with pytest.raises(ovfast.exceptions.InputTypeError, match="with weights=, model is the IR's XML text"):
        core.compile_model(add_model(), "CPU", weights=b"")
    with pytest.raises(FileNotFoundError, match=r"compile_model\(device_name='AUTO'\): no model file at"):
        core.compile_model("/no/such/model.xml")
    with pytest.raises(TypeError, match="properties are a dict"):  # the config is checked before the model
        core.compile_model(5, "CPU", 5)


def test_get_property_spellings_match_openvino():
    ours, theirs = ovfast.Core(), openvino.Core()
    assert ours.get_property("CPU", "FULL_DEVICE_NAME") == theirs.get_property("CPU", "FULL_DEVICE_NAME")
    key = openvino.properties.hint.performance_mode
    assert ours.get_property("CPU", key) == theirs.get_property("CPU", key)
    assert ours.get_property("CPU", key()) == theirs.get_property("CPU", key())
    assert ours.get_property("ENABLE_MMAP") == theirs.get_property("ENABLE_MMAP")  # the Core's own
    compiled, reference = ovfast.compile_model(add_model(), "CPU"), openvino.compile_model(add_model(), "CPU")
    for name in ("OPTIMAL_NUMBER_OF_INFER_REQUESTS", "PERFORMANCE_HINT", openvino.properties.inference_num_threads):
        assert compiled.get_property(name) == reference.get_property(name)


def test_get_property_mistakes():
    with pytest.raises(TypeError, match="a property key is a string"):
        ovfast.Core().get_property("CPU", 5)
    with pytest.raises(ovfast.exceptions.OVError, match=r"get_property\('NOPE'\)"):
        ovfast.compile_model(add_model(), "CPU").get_property("NOPE")
