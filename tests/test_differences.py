"""The differences from openvino that docs/differences.md lists and no other test shows: each runs on both
libraries and asserts what each does. test_docs.py checks that every test the page names exists."""

import pickle
import threading
import warnings

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

import ovfast
from models import u8_nhwc_input

LIBS = {"openvino": openvino, "ovfast": ovfast}


def relu_model():
    x = ops.parameter([4], np.float32, name="x")
    return openvino.Model(ops.relu(x), [x], "relu")


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_port_nodes_are_rebuilt_with_rt_info_as_text(lib):
    x = ops.parameter([1, 2, 2, 3], np.float32, name="x")
    port = LIBS[lib].compile_model(u8_nhwc_input(openvino.Model(ops.relu(x), [x], "relu")), "CPU").input(0)
    assert port.get_node().get_type_name() == "Parameter" and port.get_node().friendly_name == "x"
    layout = port.get_rt_info()["layout_0"]
    assert layout.astype(str) == "[N,H,W,C]"
    if lib == "ovfast":
        assert layout.value == "[N,H,W,C]"
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            port.get_rt_info()["mine"] = "kept"
    else:  # openvino's value is a LayoutAttribute that Python cannot hold; writing through a port is deprecated
        with pytest.raises(TypeError):
            layout.value
        with pytest.warns(DeprecationWarning):
            port.get_rt_info()["mine"] = "kept"
    assert port.get_rt_info()["mine"].astype(str) == "kept"


def test_ports_pickle_by_value():
    compiled = ovfast.compile_model(relu_model(), "CPU")
    compiled.input(0).get_node()
    port = pickle.loads(pickle.dumps(compiled.input(0)))
    assert repr(port) == repr(compiled.input(0)) and port != compiled.input(0)   # a description, not the port
    assert port.get_node().friendly_name == "x" and port.get_element_type() == openvino.Type.f32
    with pytest.raises(TypeError, match="cannot pickle"):
        pickle.dumps(openvino.compile_model(relu_model(), "CPU").input(0))


def test_region_of_interest_tensors_are_refused():
    whole = np.arange(16, dtype=np.float32).reshape(4, 4)
    region = openvino.Tensor(openvino.Tensor(whole), [1, 1], [3, 3])
    assert region.data.tolist() == whole[1:3, 1:3].tolist()
    with pytest.raises(NotImplementedError, match=r"^Tensor\(tensor, begin, end\): ovfast has no region"):
        ovfast.Tensor(ovfast.Tensor(whole), [1, 1], [3, 3])


def test_what_the_c_api_lacks_is_missing():
    assert hasattr(openvino.Core, "add_extension") and not hasattr(ovfast.Core, "add_extension")


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_request_callbacks_run_on_one_thread_of_ovfasts(lib):
    compiled = LIBS[lib].compile_model(relu_model(), "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    names = []
    requests = [compiled.create_infer_request() for _ in range(4)]
    for r in requests:
        r.set_callback(lambda userdata: names.append(threading.current_thread().name), None)
    for _ in range(25):
        for r in requests:
            r.start_async({"x": np.ones(4, np.float32)})
        for r in requests:
            r.wait()
    assert len(names) == 100
    if lib == "ovfast":
        assert set(names) == {"ovfast-callbacks"}
    else:  # OpenVINO's own completion thread, which Python did not start
        assert "ovfast-callbacks" not in names


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_import_model_config_is_set_on_the_cores_device_first(lib):
    blob = openvino.compile_model(relu_model(), "CPU").export_model()
    core = LIBS[lib].Core()
    compiled = core.import_model(blob, "CPU", {"PERFORMANCE_HINT": "THROUGHPUT"})
    assert str(compiled.get_property("PERFORMANCE_HINT")).endswith("THROUGHPUT")
    on_core = str(core.get_property("CPU", "PERFORMANCE_HINT"))
    assert on_core.endswith("THROUGHPUT" if lib == "ovfast" else "LATENCY")   # the C import takes no config


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_an_imported_models_export_does_not_import_again(lib):
    core = LIBS[lib].Core()
    imported = core.import_model(core.compile_model(relu_model(), "CPU").export_model(), "CPU")
    np.testing.assert_array_equal(imported({"x": np.array([-1, 2, -3, 4], np.float32)})[0], [0, 2, 0, 4])
    with pytest.raises(RuntimeError):
        core.import_model(imported.export_model(), "CPU")
