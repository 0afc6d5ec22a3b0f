"""Variable state (ReadValue/Assign), which is not in OpenVINO's C API: query_state, reset_state and
VariableState's name/state/reset, run on openvino and on ovfast with the same operations."""

import numpy as np
import openvino
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ovfast
from models import stateful_model

LIBS = {"openvino": openvino, "ovfast": ovfast}


@pytest.fixture(scope="module")
def compiled():
    return {name: lib.compile_model(stateful_model(), "CPU") for name, lib in LIBS.items()}


def run(lib, compiled, ops):
    """Applies ops to a new request of `compiled`; what each step observed."""
    request = compiled.create_infer_request()
    seen = []
    for op, value in ops:
        if op == "infer":
            seen.append(("infer", request.infer({"x": np.full((1, 4), value, np.float32)})[0].copy()))
        elif op == "reset_all":
            request.reset_state()
        elif op == "reset_one":
            request.query_state()[0].reset()
        elif op == "set":
            request.query_state()[0].state = lib.Tensor(np.full((1, 4), value, np.float32))
        elif op == "read":
            states = request.query_state()
            seen.append(("read", [s.name for s in states], states[0].state.data.copy()))
        elif op == "write_through":  # the state's tensor shares the plugin's memory
            request.query_state()[0].state.data[:] = value
    return seen


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["infer", "infer", "reset_all", "reset_one", "set", "read",
                                           "write_through"]),
                          st.integers(-50, 50).map(float)), max_size=25))
def test_state_operations_match_openvino(compiled, ops):
    expected = run(openvino, compiled["openvino"], ops)
    got = run(ovfast, compiled["ovfast"], ops)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g[0] == e[0]
        if g[0] == "infer":
            np.testing.assert_array_equal(g[1], e[1])
        else:
            assert g[1] == e[1] == ["acc"]
            np.testing.assert_array_equal(g[2], e[2])


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_a_states_tensor_and_outputs_outlive_their_request(lib):
    """What a request handed out (a state's tensor, a shared output, the tensor of an input) stays readable
    after the request and its compiled model are gone, with the values it had."""
    import gc
    compiled = LIBS[lib].compile_model(stateful_model(), "CPU")
    request = compiled.create_infer_request()
    request.infer({"x": np.full((1, 4), 3.0, np.float32)}, share_outputs=True)
    out = request.infer({"x": np.full((1, 4), 2.0, np.float32)}, share_outputs=True)[0]
    state = request.query_state()[0].state
    given = request.get_input_tensor(0)
    del request, compiled
    gc.collect()
    np.testing.assert_array_equal(state.data, np.full((1, 4), 5.0, np.float32))
    np.testing.assert_array_equal(out, np.full((1, 4), 5.0, np.float32))
    np.testing.assert_array_equal(given.data, np.full((1, 4), 2.0, np.float32))


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_compiled_model_state_is_the_state_its_calls_see(compiled, lib):
    cm = compiled[lib]
    cm.reset_state()
    x = np.ones((1, 4), np.float32)
    for k in range(1, 4):
        np.testing.assert_array_equal(cm({"x": x})[0], x * k)
    assert [s.name for s in cm.query_state()] == ["acc"]
    np.testing.assert_array_equal(cm.query_state()[0].state.data, x * 3)
    cm.reset_state()
    np.testing.assert_array_equal(cm({"x": x})[0], x)


@pytest.mark.parametrize("lib", sorted(LIBS))
def test_wrong_state_values_raise_what_openvino_raises(compiled, lib):
    module = LIBS[lib]
    state = compiled[lib].create_infer_request().query_state()[0]
    with pytest.raises(TypeError):
        state.state = np.zeros((1, 4), np.float32)
    with pytest.raises(RuntimeError, match="isCompatible"):
        state.state = module.Tensor(np.zeros((2, 4), np.float32))


def test_a_model_without_state_has_none(compiled):
    from models import add_model
    for lib in LIBS.values():
        request = lib.compile_model(add_model(), "CPU").create_infer_request()
        assert request.query_state() == []
        request.reset_state()


def test_each_job_of_a_queue_has_its_own_state(compiled):
    queue = ovfast.AsyncInferQueue(compiled["ovfast"], 3)
    for job in queue:
        job.reset_state()
    for k, job in enumerate(queue):
        for _ in range(k + 1):
            job.infer({"x": np.ones((1, 4), np.float32)})
    assert [job.query_state()[0].state.data[0, 0] for job in queue] == [1, 2, 3]


# --- the other items the C API reaches after all: get_runtime_model and Core(config_file) -------------------

def runtime_graph(model):
    return [(op.get_friendly_name(), op.get_type_name(), op.get_rt_info()["layerType"].astype(str))
            for op in model.get_ordered_ops()]


def test_get_runtime_model_is_openvinos_runtime_graph():
    from models import two_output_model
    model = two_output_model()
    expected = runtime_graph(openvino.compile_model(model, "CPU").get_runtime_model())
    got = ovfast.compile_model(model, "CPU").get_runtime_model()
    assert isinstance(got, openvino.Model)
    assert runtime_graph(got) == expected
    assert any(layer == "Subgraph" for _, _, layer in expected)  # a real execution graph, not the model


def test_get_runtime_model_of_auto_is_a_documented_difference():
    from models import two_output_model
    assert openvino.compile_model(two_output_model(), "AUTO").get_runtime_model() is not None
    with pytest.raises(NotImplementedError, match="cannot be exported .AUTO and MULTI cannot.; compile on 'CPU'"):
        ovfast.compile_model(two_output_model(), "AUTO").get_runtime_model()


def test_core_takes_a_plugins_config_file(tmp_path):
    from models import add_model
    config = tmp_path / "plugins.xml"
    config.write_text('<ie><plugins><plugin name="MYCPU" location="libopenvino_intel_cpu_plugin.so">'
                      '</plugin></plugins></ie>')
    x = np.arange(8, dtype=np.float32)
    for lib in LIBS.values():
        core = lib.Core(str(config))
        assert core.available_devices == ["CPU", "MYCPU"]
        np.testing.assert_array_equal(core.compile_model(add_model(), "MYCPU")([x, x])[0], x + x)
        with pytest.raises(RuntimeError, match="Error loading XML file"):
            lib.Core(str(tmp_path / "missing.xml"))
