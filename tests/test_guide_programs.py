"""The features of openvino's "Python API exclusives" guide, each as a small program that runs unchanged
with `import openvino as ov` and `import ovfast as ov`, giving the same answers."""

import numpy as np
import openvino.opset13 as ops
import pytest


def program_ports_and_auto_compile(ov):
    core = ov.Core()
    x = ops.parameter([8], name="x")
    model = ov.Model(ops.absolute(x), [x])
    compiled = core.compile_model(model, "CPU")
    model.outputs[0].tensor.set_names({"magnitude"})   # a name given after the first compile
    auto = ov.compile_model(model)                      # AUTO, no Core
    return ([p.get_any_name() for p in compiled.inputs], len(compiled.outputs),
            [p.get_any_name() for p in auto.outputs], model, auto)


def program_tensors(ov):
    wide = ov.Tensor(np.ones((2, 8)))
    narrow = ov.Tensor(np.ones((2, 8), dtype=np.int32))
    base = np.ones((2, 8))
    shared = ov.Tensor(base, shared_memory=True)
    base[1][3] = 4.0
    seen_in_tensor = shared.data[1][3]
    shared.data[0][5] = 0.25
    return (wide.element_type == ov.Type.f64, narrow.element_type == ov.Type.i32, seen_in_tensor, base[0][5])


def program_inference(ov, model):
    compiled = ov.compile_model(model, "CPU")
    request = compiled.create_infer_request()
    data = np.array([-3, -1, 0, 2, 5, -8, 1, 7], dtype=np.float32)
    request.infer(inputs={0: data})
    request.infer(inputs=[data])
    three_ways = [request.get_output_tensor().data.copy(),
                  request.get_tensor(compiled.outputs[0]).data.copy(),
                  list(request.results.values())[0]]
    sync = request.infer(inputs={0: data})
    direct = compiled(inputs={0: data})
    by_name, by_index, by_port = direct["magnitude"], direct[0], direct[compiled.outputs[0]]
    by_key = direct[next(iter(direct))]
    first_value = next(iter(direct.values()))
    return three_ways + [sync[0], by_name, by_index, by_port, by_key, first_value]


@pytest.fixture(scope="module")
def answers():
    import openvino

    import ovfast

    out = {}
    for module in (openvino, ovfast):
        names, n_out, auto_names, model, _ = program_ports_and_auto_compile(module)
        out[module.__name__] = (names, n_out, auto_names, program_tensors(module),
                                program_inference(module, model))
    return out


def test_ports_and_auto_compile(answers):
    assert answers["ovfast"][:3] == answers["openvino"][:3]
    assert answers["ovfast"][2] == ["magnitude"]


def test_tensor_programs(answers):
    assert answers["ovfast"][3] == answers["openvino"][3] == (True, True, 4.0, 0.25)


def test_inference_programs(answers):
    expected = np.abs(np.array([-3, -1, 0, 2, 5, -8, 1, 7], dtype=np.float32))
    for ours, theirs in zip(answers["ovfast"][4], answers["openvino"][4]):
        np.testing.assert_array_equal(ours, theirs)
        np.testing.assert_array_equal(ours, expected)
