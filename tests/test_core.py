"""Core and compile_model on both modules."""

import io

import numpy as np
import openvino
import pytest

import ovfast
from models import add_model, two_output_model

X = np.arange(8, dtype=np.float32)


def test_compile_model_without_core_defaults_to_auto(ov):
    compiled = ov.compile_model(add_model())
    assert compiled.get_property("EXECUTION_DEVICES") == ["CPU"]
    np.testing.assert_array_equal(compiled([X, X])[0], X + X)


def test_core_compile_from_model_path_and_bytes(ov, ir_path):
    core = ov.Core()
    for source in (add_model(), str(ir_path), ir_path):
        compiled = core.compile_model(source, "CPU")
        np.testing.assert_array_equal(compiled([X, 2 * X])[0], 3 * X)
    if ov is ovfast:  # IR XML bytes (a weightless model)
        compiled = core.compile_model(ir_path.read_bytes(), "CPU")
        np.testing.assert_array_equal(compiled([X, X])["sum"], 2 * X)


def test_device_none_means_auto(ov):
    compiled = ov.Core().compile_model(add_model(), None)
    np.testing.assert_array_equal(compiled([X, X])[0], 2 * X)


def test_read_model_returns_openvino_model(ov, ir_path):
    model = ov.Core().read_model(str(ir_path))
    assert isinstance(model, openvino.Model)
    assert [i.get_any_name() for i in model.inputs] == ["a", "b"]


def test_available_devices_and_versions_match_openvino():
    assert ovfast.Core().available_devices == openvino.Core().available_devices
    ours = ovfast.Core().get_versions("CPU")
    theirs = openvino.Core().get_versions("CPU")
    assert ours.keys() == theirs.keys()
    assert ours["CPU"].build_number == theirs["CPU"].build_number
    assert ours["CPU"].description == theirs["CPU"].description
    assert (ours["CPU"].major, ours["CPU"].minor) == (theirs["CPU"].major, theirs["CPU"].minor)


@pytest.mark.parametrize("key", ["OPTIMAL_NUMBER_OF_INFER_REQUESTS", "PERFORMANCE_HINT", "EXECUTION_DEVICES",
                                 "INFERENCE_PRECISION_HINT", "NUM_STREAMS", "INFERENCE_NUM_THREADS",
                                 "PERF_COUNT", "EXECUTION_MODE_HINT", "LOG_LEVEL", "KV_CACHE_PRECISION",
                                 "ENABLE_HYPER_THREADING", "NETWORK_NAME"])
def test_compiled_properties_match_openvino(key):
    config = {"PERFORMANCE_HINT": "THROUGHPUT"}
    ours = ovfast.compile_model(add_model(), "CPU", config).get_property(key)
    theirs = openvino.compile_model(add_model(), "CPU", config).get_property(key)
    assert ours == theirs
    assert type(ours) is type(theirs) or isinstance(theirs, type(ours))


def test_config_accepts_openvino_property_objects():
    props = openvino.properties
    config = {props.hint.performance_mode(): props.hint.PerformanceMode.THROUGHPUT,
              props.inference_num_threads(): 1, props.enable_profiling(): True,
              props.hint.inference_precision(): openvino.Type.f32}
    ours = ovfast.compile_model(add_model(), "CPU", config)
    theirs = openvino.compile_model(add_model(), "CPU", config)
    for key in config:
        assert ours.get_property(key) == theirs.get_property(key), key
    assert ours.get_property(props.inference_num_threads) == 1  # key functions work too
    assert ours.get_property("PERF_COUNT") == "YES"  # a string on a CompiledModel, as in openvino


def test_supported_properties_names_match_openvino():
    ours = ovfast.compile_model(add_model(), "CPU").get_property("SUPPORTED_PROPERTIES")
    theirs = openvino.compile_model(add_model(), "CPU").get_property("SUPPORTED_PROPERTIES")
    assert sorted(ours) == sorted(theirs)


def test_core_properties(ov):
    core = ov.Core()
    core.set_property("CPU", {"INFERENCE_NUM_THREADS": 1})
    assert core.get_property("CPU", "INFERENCE_NUM_THREADS") == 1
    core.set_property({"PERFORMANCE_HINT": "THROUGHPUT"})
    assert core.get_property("CPU", "PERFORMANCE_HINT") == openvino.properties.hint.PerformanceMode.THROUGHPUT
    assert isinstance(core.get_property("CPU", "FULL_DEVICE_NAME"), str)


def test_export_import_roundtrip(ov):
    core = ov.Core()
    compiled = core.compile_model(two_output_model(), "CPU")
    exported = compiled.export_model()
    assert isinstance(exported, io.BytesIO)
    blob = exported.getvalue()
    assert len(blob) > 0
    for stream in (blob, io.BytesIO(blob)):
        again = core.import_model(stream, "CPU")
        x = np.array([[1, -2, 3], [-4, 5, -6]], np.float32)
        res = again(x)
        np.testing.assert_array_equal(res["double"], 2 * x)
        np.testing.assert_array_equal(res["positive"], x > 0)


def test_blobs_cross_between_openvino_and_ovfast():
    blob = openvino.compile_model(add_model(), "CPU").export_model()
    compiled = ovfast.Core().import_model(blob, "CPU")
    np.testing.assert_array_equal(compiled([X, X])[0], 2 * X)
    stream = io.BytesIO()
    ovfast.compile_model(add_model(), "CPU").export_model(stream)
    back = openvino.Core().import_model(stream.getvalue(), "CPU")
    np.testing.assert_array_equal(back([X, X])[0], 2 * X)


def test_query_model_answers_as_openvino(ov):
    model = two_output_model()
    answer = ov.Core().query_model(model, "CPU")
    assert answer == openvino.Core().query_model(model, "CPU")
    assert set(answer) == {op.friendly_name for op in model.get_ordered_ops()} and set(answer.values()) == {"CPU"}


def test_unload_plugin_leaves_compiled_models_running(ov):
    core = ov.Core()
    compiled = core.compile_model(add_model(), "CPU")
    core.unload_plugin("CPU")
    np.testing.assert_array_equal(compiled([X, X])[0], X + X)
    np.testing.assert_array_equal(core.compile_model(add_model(), "CPU")([X, X])[0], X + X)   # loaded again
    with pytest.raises(RuntimeError, match="NO_SUCH_DEVICE"):
        core.unload_plugin("NO_SUCH_DEVICE")


def test_missing_model_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="no model file"):
        ovfast.compile_model(str(tmp_path / "nope.xml"))


def test_unknown_device_names_it():
    with pytest.raises(RuntimeError, match="NOSUCHDEVICE"):
        ovfast.compile_model(add_model(), "NOSUCHDEVICE")


def test_bad_model_argument_is_type_error():
    with pytest.raises(TypeError, match="openvino.Model, a path or IR XML bytes"):
        ovfast.compile_model(42)


def test_bad_property_is_clear():
    with pytest.raises(RuntimeError, match="NO_SUCH_PROPERTY"):
        ovfast.compile_model(add_model(), "CPU", {"NO_SUCH_PROPERTY": 1})
    with pytest.raises(TypeError, match="dict"):
        ovfast.compile_model(add_model(), "CPU", [("a", 1)])


def test_model_is_not_modified_by_compiling():
    model = add_model()
    before = [(p.get_any_name(), p.get_partial_shape()) for p in model.inputs]
    ovfast.compile_model(model, "CPU")
    assert [(p.get_any_name(), p.get_partial_shape()) for p in model.inputs] == before


def test_compiled_model_outlives_the_openvino_model():
    model = add_model()
    compiled = ovfast.compile_model(model, "CPU")
    del model
    import gc

    gc.collect()
    np.testing.assert_array_equal(compiled([X, X])[0], 2 * X)


def test_version_mismatch_message(monkeypatch):
    from ovfast import _version_check

    monkeypatch.setattr(_version_check.importlib.metadata, "version", lambda name: "2099.1.0")
    with pytest.raises(ImportError, match=r"built against openvino .* but openvino 2099.1.0 is installed"):
        _version_check.check_openvino_version()


def test_extension_finds_c_library_in_openvino_package():
    import os
    import subprocess

    import ovfast._runtime as rt

    out = subprocess.run(["ldd", rt.__file__], capture_output=True, text=True, check=True).stdout
    line = next(l for l in out.splitlines() if "libopenvino_c.so" in l)
    assert os.path.realpath(os.path.dirname(openvino.__file__)) in os.path.realpath(line.split("=>")[1].split()[0])
    assert ovfast.openvino_c_version() == openvino.get_version()
