"""A local Ray cluster of one-CPU nodes on 127.0.0.1 and the models and datasets that tests/test_ray.py and
bench/test_ray_bench.py run on it. Import this before anything imports Ray."""

import contextlib
import os

import numpy as np
import openvino
import openvino.opset13 as ops

# Before Ray is imported (ray_constants reads it once): every address Ray derives is 127.0.0.1, not the
# machine's own IP.
os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"

import pyarrow as pa  # noqa: E402
import ray  # noqa: E402
import ray.cluster_utils  # noqa: E402
from ray.data.extensions import ArrowTensorArray  # noqa: E402

NODE = {"num_cpus": 1, "node_ip_address": "127.0.0.1", "object_store_memory": 300 * 2**20}


@contextlib.contextmanager
def local_cluster(nodes=2):
    """`nodes` one-CPU nodes, the first the head, dashboard off, and this process connected as the driver."""
    c = ray.cluster_utils.Cluster(initialize_head=True, head_node_args={**NODE, "include_dashboard": False})
    for _ in range(nodes - 1):
        c.add_node(**NODE)
    c.wait_for_nodes()
    ray.init(address=c.address, _node_ip_address="127.0.0.1", log_to_driver=False)
    try:
        assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
        yield c
    finally:
        ray.shutdown()
        c.shutdown()


def mlp():
    """x: f32[1,256] -> relu(x @ w1) @ w2 -> y: f32[1,256]."""
    rng = np.random.default_rng(1)
    x = ops.parameter([1, 256], np.float32, name="x")
    h = ops.relu(ops.matmul(x, rng.standard_normal((256, 1024)).astype(np.float32) / 16, False, False))
    y = ops.matmul(h, rng.standard_normal((1024, 256)).astype(np.float32) / 32, False, False)
    y.output(0).get_tensor().set_names({"y"})
    return openvino.Model([y], [x], "mlp")


def conv(side=32):
    """image: u8[1,3,side,side] -> conv 3x3 (8 channels), relu, spatial mean -> features: f32[1,8]."""
    image = ops.parameter([1, 3, side, side], np.uint8, name="image")
    w = np.random.default_rng(2).standard_normal((8, 3, 3, 3)).astype(np.float32) / 255
    c = ops.relu(ops.convolution(ops.convert(image, "f32"), w, [1, 1], [0, 0], [0, 0], [1, 1]))
    features = ops.reduce_mean(c, np.array([2, 3], np.int64), keep_dims=False)
    features.output(0).get_tensor().set_names({"features"})
    return openvino.Model([features], [image], "conv")


def two_inputs():
    """a, b: f32[1,8] -> out = a * b + a."""
    a = ops.parameter([1, 8], np.float32, name="a")
    b = ops.parameter([1, 8], np.float32, name="b")
    out = ops.add(ops.multiply(a, b), a)
    out.output(0).get_tensor().set_names({"out"})
    return openvino.Model([out], [a, b], "two_inputs")


def expected(model, columns):
    """openvino's outputs for every row, one compiled(row) each (the model as it is, a batch of 1)."""
    compiled = openvino.compile_model(model, "CPU")
    request = compiled.create_infer_request()
    n = len(next(iter(columns.values())))
    rows = []
    for i in range(n):
        request.infer({p.any_name: columns[p.any_name][i].reshape(p.shape) for p in compiled.inputs})
        rows.append([request.get_output_tensor(k).data[0].copy() for k in range(len(compiled.outputs))])
    return {port.any_name: np.stack([row[k] for row in rows]) for k, port in enumerate(compiled.outputs)}


def dataset(columns, blocks=20):
    """A dataset of `columns` (1-d arrays as plain columns, others as tensor columns) in `blocks` blocks."""
    def table(lo, hi):
        return pa.table({k: (pa.array(v[lo:hi]) if v.ndim == 1 else ArrowTensorArray.from_numpy(v[lo:hi]))
                         for k, v in columns.items()})
    n = len(next(iter(columns.values())))
    edges = np.linspace(0, n, blocks + 1).astype(int)
    return ray.data.from_arrow([table(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])])
