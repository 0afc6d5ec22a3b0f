"""The graph node behind a compiled model's port: what openvino's compiled model gives (a Parameter per input,
a Result per output fed by a stand-in Parameter named after the model's producer), with friendly names,
tensor names, types, shapes and runtime info; compared field by field with openvino's for the same model."""

import copy
import gc

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

import ovfast
from ovfast import _port_nodes

from models import two_output_model, u8_nhwc_input


def annotated_model():
    """data (u8 NHWC by preprocessing, so its port carries a layout) -> relu 'act' -> 'out'; a split's two
    outputs -> 'left', 'right'; runtime info on the input's port and node."""
    x = ops.parameter([1, 2, 2, 4], np.float32, name="data")
    x.output(0).get_tensor().set_names({"data", "pixels"})
    x.output(0).get_rt_info()["origin"] = "camera"
    x.get_rt_info()["note"] = "node-level"
    act = ops.relu(x)
    act.set_friendly_name("act")
    split = ops.split(x, 3, 2)
    split.set_friendly_name("halves")
    result = ops.result(act)
    result.set_friendly_name("act_result")
    model = openvino.Model([result, ops.result(split.output(0)), ops.result(split.output(1))], [x], "annotated")
    for out, name in zip(model.outputs, ["out", "left", "right"]):
        out.get_tensor().set_names({name})
    return u8_nhwc_input(model)


def describe(port):
    """What a program can read off a port's node, as plain values."""
    node = port.get_node()
    out = node.output(port.index)
    return {
        "type": node.get_type_name(), "class": type(node).__name__, "friendly_name": node.friendly_name,
        "names": out.get_names(), "element_type": out.get_element_type(), "shape": out.get_partial_shape(),
        "port_rt": {k: v.astype(str) for k, v in port.get_rt_info().items()},
        "node_rt": {k: v.astype(str) for k, v in node.get_rt_info().items()},
        "targets": port.get_target_inputs(), "tensor_names": port.get_tensor().get_names(),
        "feeds": [(i.get_source_output().get_node().get_type_name(), i.get_source_output().get_node().friendly_name,
                   i.get_source_output().get_element_type(), i.get_source_output().get_partial_shape())
                  for i in node.inputs()],
    }


def compiled_pair(how, tmp_path):
    """The same model compiled by openvino and by ovfast, `how` it reaches compile_model."""
    model = annotated_model()
    if how == "path":
        openvino.save_model(model, str(tmp_path / "m.xml"), compress_to_fp16=False)
        model = str(tmp_path / "m.xml")
    pair = {}
    for lib in (openvino, ovfast):
        core = lib.Core()
        if how == "imported":
            pair[lib.__name__] = core.import_model(openvino.compile_model(model, "CPU").export_model(), "CPU")
        else:
            pair[lib.__name__] = core.compile_model(model, "CPU")
    return pair


@pytest.mark.parametrize("how", ["model", "path", "imported"])
def test_port_nodes_are_openvinos(how, tmp_path):
    pair = compiled_pair(how, tmp_path)
    expected = [describe(p) for p in pair["openvino"].inputs + pair["openvino"].outputs]
    got = [describe(p) for p in pair["ovfast"].inputs + pair["ovfast"].outputs]
    assert got == expected
    assert [d["type"] for d in expected] == ["Parameter", "Result", "Result", "Result"]
    assert "layout_0" in expected[0]["port_rt"]


def test_a_renamed_node_stays_renamed(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    compiled.input(0).get_node().set_friendly_name("renamed_in")
    compiled.output("positive").get_node().set_friendly_name("renamed_out")
    assert compiled.input("x").get_node().friendly_name == "renamed_in"
    assert compiled.outputs[1].get_node().friendly_name == "renamed_out"
    assert compiled.input(0).node is compiled.inputs[0].get_node()


def test_port_rt_info_is_an_rt_map_and_targets_an_empty_set(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    for port in compiled.inputs + compiled.outputs:
        assert isinstance(port.rt_info, openvino.RTMap) and isinstance(port.get_rt_info(), openvino.RTMap)
        assert port.target_inputs == port.get_target_inputs() == set()   # the compiled model's copies feed nothing


def test_ports_with_nodes_stay_dict_keys_of_results(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
    before = compiled(x)[compiled.output(0)]
    compiled.output(0).get_node()
    compiled.input(0).get_node()
    result = compiled(x)
    np.testing.assert_array_equal(result[compiled.output(0)], before)
    np.testing.assert_array_equal(result[compiled.output(1)], x > 0)
    assert compiled.output(0) == compiled.outputs[0] and hash(compiled.output(0)) == hash(compiled.outputs[0])


def test_a_port_gives_its_node_after_its_model_and_core_are_gone(ov):
    core = ov.Core()
    compiled = core.compile_model(two_output_model(), "CPU")
    port = compiled.output("double")
    del compiled, core
    gc.collect()
    assert port.get_node().get_type_name() == "Result"
    assert port.get_node().input(0).get_source_output().get_node().get_type_name() == "Parameter"


def test_a_node_ovfast_cannot_rebuild_names_its_kind():
    with pytest.raises(ovfast.exceptions.NotImplementedOVError, match="backed by a Constant node"):
        _port_nodes.rebuild("Constant", "c", [], openvino.Type.f32, "[2]", ("c",), [], [])
    with pytest.raises(NotImplementedError, match="backed by a Result node with no input"):
        _port_nodes.rebuild("Result", "r", [], openvino.Type.f32, "[2]", ("r",), [], [])


def test_a_ports_docstring_is_openvinos(ov):
    port = ov.compile_model(two_output_model(), "CPU").inputs[0]
    assert port.__doc__ == openvino.ConstOutput.__doc__


def test_a_ports_copy_is_the_port_and_deepcopy_is_refused(ov):
    compiled = ov.compile_model(two_output_model(), "CPU")
    port = compiled.output(0)
    node = port.get_node()
    twin = copy.copy(port)
    assert twin == port and hash(twin) == hash(port) and twin.get_node() is node
    np.testing.assert_array_equal(compiled(np.ones((2, 3), np.float32))[twin], 2)
    with pytest.raises(TypeError) as refused:
        copy.deepcopy(port)
    with pytest.raises(TypeError) as openvinos:
        copy.deepcopy(openvino.compile_model(two_output_model(), "CPU").output(0))
    assert str(refused.value).startswith(str(openvinos.value))
