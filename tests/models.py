"""Models the tests build with openvino's opsets."""

import numpy as np
import openvino
import openvino.opset13 as ops
from openvino.preprocess import PrePostProcessor


def add_model():
    a = ops.parameter([8], np.float32, name="a")
    b = ops.parameter([8], np.float32, name="b")
    model = openvino.Model(ops.add(a, b), [a, b], "add")
    model.outputs[0].tensor.set_names({"sum", "total"})
    return model


def two_output_model():
    """x: f32[2,3] -> (x * 2 as f32 'double', x > 0 as boolean 'positive')."""
    x = ops.parameter([2, 3], np.float32, name="x")
    double = ops.multiply(x, ops.constant(np.float32(2)))
    positive = ops.greater(x, ops.constant(np.float32(0)))
    model = openvino.Model([double, positive], [x], "two")
    model.outputs[0].tensor.set_names({"double"})
    model.outputs[1].tensor.set_names({"positive"})
    return model


def u8_nhwc_input(model):
    """model with its first input fed as u8 NHWC by preprocessing: the compiled port carries a layout in rt_info."""
    pre = PrePostProcessor(model)
    pre.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC"))
    pre.input().model().set_layout(openvino.Layout("NHWC"))
    pre.input().preprocess().convert_element_type(openvino.Type.f32)
    return pre.build()


def dynamic_model():
    """x: f32[?,4] -> x + 1."""
    x = ops.parameter(openvino.PartialShape([-1, 4]), np.float32, name="x")
    model = openvino.Model(ops.add(x, ops.constant(np.float32(1))), [x], "dyn")
    model.outputs[0].tensor.set_names({"y"})
    return model


def typed_model(dtype):
    """One input of `dtype`, shape [5], returned doubled as the same type (identity for bool)."""
    x = ops.parameter([5], dtype, name="x")
    if dtype == np.bool_:
        out = ops.logical_not(ops.logical_not(x))
    else:
        out = ops.add(x, x)
    model = openvino.Model(out, [x], "typed")
    model.outputs[0].tensor.set_names({"y"})
    return model


def heavy_model(n=384, depth=12):
    """A chain of matmuls that takes long enough to see another thread run meanwhile."""
    x = ops.parameter([n, n], np.float32, name="x")
    w = ops.constant(np.random.default_rng(0).standard_normal((n, n)).astype(np.float32) / n)
    y = x
    for _ in range(depth):
        y = ops.matmul(y, w, False, False)
    model = openvino.Model(y, [x], "heavy")
    model.outputs[0].tensor.set_names({"y"})
    return model


CPU_ONE_THREAD = {"INFERENCE_NUM_THREADS": 1}


def conv_model():
    """A compute-bound conv net on a 1x3x224x224 image: the CLI's built-in model at full size."""
    from ovfast.benchmark import builtin_model

    return builtin_model(side=224, stride=2)


def mixed_size_model():
    """Big and small ports together: image f32[64,128] (32 KiB) and bias f32[128] ->
    'shifted' = image + bias (32 KiB) and 'rowsum' = sum of each row of shifted, f32[64]."""
    image = ops.parameter([64, 128], np.float32, name="image")
    bias = ops.parameter([128], np.float32, name="bias")
    shifted = ops.add(image, bias)
    rowsum = ops.reduce_sum(shifted, ops.constant(np.array([1], np.int64)), False)
    model = openvino.Model([shifted, rowsum], [image, bias], "mixed")
    model.outputs[0].tensor.set_names({"shifted"})
    model.outputs[1].tensor.set_names({"rowsum"})
    return model


def slow_compiled(ov, seconds, n=128):
    """A heavy_model compiled for one CPU thread and an input for it, grown until one inference takes at
    least `seconds` on this machine: tests that need a slow inference measure, never assume a speed.
    Returns (compiled, x, seconds one inference took)."""
    import math
    import time

    depth = 8
    while True:
        x = np.ones((n, n), np.float32)
        compiled = ov.compile_model(heavy_model(n=n, depth=depth), "CPU", CPU_ONE_THREAD)
        request = compiled.create_infer_request()
        request.infer(x)  # the first run pays for allocations
        t0 = time.perf_counter()
        request.infer(x)
        took = time.perf_counter() - t0
        if took >= seconds:
            return compiled, x, took
        grow = 1.3 * seconds / max(took, 1e-6)
        if depth * grow <= 32:
            depth = max(depth + 1, math.ceil(depth * grow))
        else:  # a matmul costs n**3: grow n, which keeps the graph small to build and compile
            n = max(n + 32, 32 * math.ceil(n * grow ** (1 / 3) / 32))


def reshape_model():
    """x: f32[?] reshaped to `shape` (i64[2], a run-time input): a run fails when the sizes disagree."""
    x = ops.parameter(openvino.PartialShape([-1]), np.float32, name="x")
    shape = ops.parameter([2], np.int64, name="shape")
    model = openvino.Model(ops.reshape(x, shape, special_zero=False), [x, shape], "reshape")
    model.outputs[0].tensor.set_names({"y"})
    return model


def stateful_model(shape=(1, 4)):
    """x: f32[shape] -> acc + x, where acc (variable 'acc', zeros at first) keeps the running sum."""
    from openvino.op.util import Variable, VariableInfo
    info = VariableInfo()
    info.data_shape = openvino.PartialShape(list(shape))
    info.data_type = openvino.Type.f32
    info.variable_id = "acc"
    variable = Variable(info)
    x = ops.parameter(list(shape), np.float32, name="x")
    total = ops.add(ops.read_value(ops.constant(np.zeros(shape, np.float32)), variable), x)
    model = openvino.Model([ops.result(total)], [ops.assign(total, variable)], [x], "running_sum")
    model.outputs[0].tensor.set_names({"sum"})
    return model


def string_model(n=3):
    """s: string[n] -> the same strings (a string Parameter straight to a Result: one tensor, named s)."""
    s = ops.parameter([n], openvino.Type.string, name="s")
    return openvino.Model([ops.result(s)], [s], "strings")
