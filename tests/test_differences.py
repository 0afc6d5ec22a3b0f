"""The differences from openvino that docs/differences.md lists and no other test shows: each runs on both
libraries and asserts what each does. test_docs.py checks that every test the page names exists."""

import threading

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

import ovfast

LIBS = {"openvino": openvino, "ovfast": ovfast}


def relu_model():
    x = ops.parameter([4], np.float32, name="x")
    return openvino.Model(ops.relu(x), [x], "relu")


def test_ports_carry_no_graph_node():
    assert openvino.compile_model(relu_model(), "CPU").input(0).get_node() is not None
    with pytest.raises(NotImplementedError, match="openvino.Model's ports"):
        ovfast.compile_model(relu_model(), "CPU").input(0).get_node()


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
