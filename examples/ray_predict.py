"""Batch inference on Ray Data with ovfast.ray.Predictor, on a local Ray cluster (or a running one:
RAY_ADDRESS=auto python examples/ray_predict.py). Given a file name, it also saves every row's id and
output there (numpy's .npz).

    pip install ".[ray]"
    python examples/ray_predict.py [results.npz]
"""

import os
import sys
import tempfile

import numpy as np
import openvino
import openvino.opset13 as ops
import ray

import ovfast.ray

ROWS = 10_000


def save_mlp(path):
    """x: f32[1,256] -> relu(x @ w1) @ w2 -> y: f32[1,16]."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 256], np.float32, name="x")
    h = ops.relu(ops.matmul(x, rng.standard_normal((256, 512)).astype(np.float32), False, False))
    y = ops.matmul(h, rng.standard_normal((512, 16)).astype(np.float32), False, False)
    y.output(0).get_tensor().set_names({"y"})
    openvino.save_model(openvino.Model([y], [x], "mlp"), path, compress_to_fp16=False)


def make_rows():
    """The dataset's inputs: ROWS rows of 256 floats."""
    return np.random.default_rng(1).standard_normal((ROWS, 256), np.float32)


def main(results=None):
    ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    folder = tempfile.mkdtemp()
    model = os.path.join(folder, "mlp.xml")
    save_mlp(model)
    rows = make_rows()
    # the column "x" feeds the model's input "x" (and is consumed); the id column passes through
    ds = ray.data.from_items([{"id": i, "x": row} for i, row in enumerate(rows)])
    out = ds.map_batches(ovfast.ray.Predictor, fn_constructor_kwargs={"model": model, "cache_dir": folder},
                         concurrency=2, num_cpus=1, batch_size=1024, batch_format="numpy")
    batches = list(out.iter_batches(batch_size=None, batch_format="numpy"))
    got = {name: np.concatenate([b[name] for b in batches]) for name in ("id", "y")}
    print(f"{len(got['id'])} rows, each with its output 'y' of shape {got['y'].shape[1:]}")
    if results:
        np.savez(results, **got)
    ray.shutdown()


if __name__ == "__main__":
    main(*sys.argv[1:2])
