"""Batch inference on Ray Data with ovfast.ray.Predictor, on a local Ray cluster (or a running one:
RAY_ADDRESS=auto python examples/ray_predict.py).

    pip install ".[ray]"
    python examples/ray_predict.py
"""

import os
import tempfile

import numpy as np
import openvino
import openvino.opset13 as ops
import ray

import ovfast.ray


def save_mlp(path):
    """x: f32[1,256] -> relu(x @ w1) @ w2 -> y: f32[1,16]."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, 256], np.float32, name="x")
    h = ops.relu(ops.matmul(x, rng.standard_normal((256, 512)).astype(np.float32), False, False))
    y = ops.matmul(h, rng.standard_normal((512, 16)).astype(np.float32), False, False)
    y.output(0).get_tensor().set_names({"y"})
    openvino.save_model(openvino.Model([y], [x], "mlp"), path, compress_to_fp16=False)


def main():
    ray.init(address=os.environ.get("RAY_ADDRESS"), include_dashboard=False)
    folder = tempfile.mkdtemp()
    model = os.path.join(folder, "mlp.xml")
    save_mlp(model)
    rows = np.random.default_rng(1).standard_normal((10_000, 256), np.float32)
    ds = ray.data.from_numpy(np.array_split(rows, 8)).rename_columns({"data": "x"})   # the column the model input "x" reads
    out = ds.map_batches(ovfast.ray.Predictor, fn_constructor_kwargs={"model": model, "cache_dir": folder},
                         concurrency=2, num_cpus=1, batch_size=1024, batch_format="numpy")
    n = sum(len(batch["y"]) for batch in out.iter_batches(batch_format="numpy"))
    print(f"{n} rows, each with its output 'y' of shape (16,)")
    ray.shutdown()


if __name__ == "__main__":
    main()
