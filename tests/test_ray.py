"""ovfast.ray on a real Ray cluster of two local nodes (127.0.0.1 only): every row's outputs are openvino's,
exactly once, through two actors; the actors' threads follow num_cpus; a node lost mid-job costs no row;
bad input fails the job with our message. openvino (in the driver, one batched call) is the oracle."""

import concurrent.futures
import importlib.util
import os
import re
import subprocess
import sys
import threading
import time

import numpy as np
import openvino
import pytest

pytest.importorskip("ray_cluster")   # sets up Ray's environment, then imports Ray: the `ray` extra
from ray_cluster import NODE, conv, dataset, expected, local_cluster, mlp, two_inputs  # noqa: E402
import ray  # noqa: E402

import ovfast.ray  # noqa: E402

ROWS = 20_000
JOB_TIMEOUT = 120
EXAMPLE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "ray_predict.py")

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])   # actors cannot import this file


class SlowPredictor(ovfast.ray.Predictor):
    """A Predictor that takes 0.4 s a batch: a job long enough to lose a node in the middle of."""

    def __call__(self, batch):
        time.sleep(0.4)
        return super().__call__(batch)


class RecordingPredictor(ovfast.ray.Predictor):
    """A Predictor that tells, per row, whether Ray handed its input column read-only and whether every
    array it gave map was that column's own memory (no copy on the way)."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.given = []
        queue, given = self._queue, self.given

        class Recording:
            def map(self, inputs, outputs=None):
                given.extend(inputs.values())
                return queue.map(inputs, outputs)
        self._queue = Recording()

    def __call__(self, batch):
        self.given.clear()
        column = batch["x"]
        out = super().__call__(batch)
        out["read_only"] = np.full(len(column), not column.flags.writeable)
        out["in_place"] = np.full(len(column), bool(self.given) and all(np.shares_memory(a, column)
                                                                         for a in self.given))
        return out


def collect(ds):
    """Every batch of `ds` as one numpy dict, within JOB_TIMEOUT seconds."""
    def run():
        parts = list(ds.iter_batches(batch_size=None, batch_format="numpy"))
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(timeout=JOB_TIMEOUT)


@pytest.fixture(scope="module")
def cluster():
    with local_cluster() as c:
        yield c


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("models")
    paths = {}
    for name, model in (("mlp", mlp()), ("conv", conv()), ("two_inputs", two_inputs())):
        paths[name] = str(folder / f"{name}.xml")
        openvino.save_model(model, paths[name], compress_to_fp16=False)
    return paths


def predict(ds, predictor=ovfast.ray.Predictor, concurrency=2, **kwargs):
    return ds.map_batches(predictor, fn_constructor_kwargs=kwargs, concurrency=concurrency, num_cpus=1,
                          batch_size=1024, batch_format="numpy")


# Rows run 64 at a time on the actors and one at a time in the oracle: a batched kernel may add a row's
# products in another order, a few float32 ulps on sums of up to 1024 terms.
def check_every_row(columns, model, got, kept=False, rtol=1e-5, atol=1e-6):
    ids = got["id"]
    assert len(ids) == ROWS and (np.sort(ids) == np.arange(ROWS)).all()   # none lost, none twice
    order = np.argsort(ids)
    for name, want in expected(model, {k: v for k, v in columns.items() if k != "id"}).items():
        np.testing.assert_allclose(got[name][order], want, rtol=rtol, atol=atol)
    for name, value in columns.items():
        if name == "id" or kept:                                          # ids always pass through
            assert (got[name][order] == value).all()
        else:                                                             # inputs: consumed unless kept
            assert name not in got


@pytest.mark.parametrize("predictor", [ovfast.ray.Predictor, ovfast.ray.AsyncPredictor])
def test_every_row_of_an_mlp_through_two_actors(cluster, models, predictor):
    columns = {"id": np.arange(ROWS), "x": np.random.default_rng(3).standard_normal((ROWS, 256), np.float32)}
    got = collect(predict(dataset(columns), predictor, model=models["mlp"]))
    assert got["y"].shape == (ROWS, 256)                                  # the output's leading 1 dropped
    check_every_row(columns, mlp(), got)


def test_every_row_of_u8_images(cluster, models, tmp_path):
    images = np.random.default_rng(4).integers(0, 256, (ROWS, 3, 32, 32), np.uint8)
    columns = {"id": np.arange(ROWS), "image": images}
    got = collect(predict(dataset(columns), model=models["conv"], cache_dir=str(tmp_path / "cache")))
    check_every_row(columns, conv(), got)


def test_two_inputs_renamed_columns(cluster, models):
    rng = np.random.default_rng(5)
    columns = {"id": np.arange(ROWS), "left": rng.standard_normal((ROWS, 8), np.float32),
               "right": rng.standard_normal((ROWS, 8), np.float32), "path": np.array([f"p{i}" for i in range(ROWS)])}
    got = collect(predict(dataset(columns), model=models["two_inputs"], input_columns={"a": "left", "b": "right"},
                          output_columns={"out": "score"}, keep_inputs=True))
    assert "out" not in got
    got["out"] = got.pop("score")
    oracle = {"id": columns["id"], "a": columns["left"], "b": columns["right"]}
    check_every_row(oracle, two_inputs(), {**got, "a": got["left"], "b": got["right"]}, kept=True)
    assert (got["path"][np.argsort(got["id"])] == columns["path"]).all()


def test_read_only_columns_go_to_map_without_a_copy(cluster, models):
    columns = {"id": np.arange(8 * 1024), "x": np.random.default_rng(7).standard_normal((8 * 1024, 256), np.float32)}
    ds = dataset(columns, blocks=8).map_batches(RecordingPredictor, fn_constructor_kwargs={"model": models["mlp"]},
                                                concurrency=2, num_cpus=1, batch_size=None, batch_format="numpy")
    got = collect(ds)
    assert got["read_only"].all()      # Ray's tensor column: a view of the block in the object store
    assert got["in_place"].all()       # and map read it there (whole groups of 64 rows, no tail to pad)
    order = np.argsort(got["id"])
    np.testing.assert_allclose(got["y"][order], expected(mlp(), {"x": columns["x"]})["y"], rtol=1e-5, atol=1e-6)


def test_the_example_runs_and_its_rows_are_right(cluster, tmp_path):
    results = tmp_path / "results.npz"
    run = subprocess.run([sys.executable, EXAMPLE, str(results)], env={**os.environ, "RAY_ADDRESS": cluster.address},
                         capture_output=True, text=True, timeout=JOB_TIMEOUT)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "10000 rows, each with its output 'y' of shape (16,)" in run.stdout
    spec = importlib.util.spec_from_file_location("ray_predict", EXAMPLE)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    example.save_mlp(str(tmp_path / "mlp.xml"))
    got = dict(np.load(results))
    order = np.argsort(got["id"])
    assert (got["id"][order] == np.arange(example.ROWS)).all()           # none lost, none twice
    want = expected(openvino.Core().read_model(str(tmp_path / "mlp.xml")), {"x": example.make_rows()})["y"]
    np.testing.assert_allclose(got["y"][order], want, rtol=1e-5, atol=1e-4)   # outputs in the hundreds


def fixed_reshape():
    """x: f32[1,8] -> x*x reshaped to the constant shape [1,2,4]: a graph that cannot take a batch."""
    x = openvino.opset13.parameter([1, 8], np.float32, name="x")
    y = openvino.opset13.reshape(openvino.opset13.multiply(x, x), np.array([1, 2, 4], np.int64), False)
    y.output(0).get_tensor().set_names({"y"})
    return openvino.Model([y], [x], "fixed_reshape")


@pytest.mark.parametrize("rows", [64, 1])
def test_rows_in_groups_or_one_by_one_the_same(models, rows):
    # the predictor outside Ray (this process's CPUs): whole groups, a padded last group, an empty batch
    predictor = ovfast.ray.Predictor(models["conv"], rows_per_inference=rows)
    assert predictor.rows_per_inference == rows
    images = np.random.default_rng(8).integers(0, 256, (200, 3, 32, 32), np.uint8)
    images.flags.writeable = False
    for n in (200, 130, 5):
        got = predictor({"id": np.arange(n), "image": images[:n]})
        assert sorted(got) == ["features", "id"]
        np.testing.assert_allclose(got["features"], expected(conv(), {"image": images[:n]})["features"],
                                   rtol=1e-5, atol=1e-6)
    assert predictor({"id": np.arange(0), "image": images[:0]})["features"].shape == (0, 8)


def test_a_compile_error_is_openvinos(models):
    with pytest.raises(ovfast.exceptions.OVError, match="Unsupported property NOT_A_PROPERTY"):
        ovfast.ray.Predictor(models["mlp"], config={"NOT_A_PROPERTY": "1"})


def test_a_model_that_cannot_take_a_batch_runs_row_by_row(tmp_path):
    path = str(tmp_path / "fixed.xml")
    openvino.save_model(fixed_reshape(), path)
    predictor = ovfast.ray.Predictor(path)
    assert predictor.rows_per_inference == 1
    x = np.random.default_rng(9).standard_normal((10, 8), np.float32)
    got = predictor({"x": x})
    assert got["y"].shape == (10, 2, 4)
    np.testing.assert_array_equal(got["y"], expected(fixed_reshape(), {"x": x})["y"])


@ray.remote
class _Sizing:
    """An actor that makes a Predictor and reads its compiled model's properties back."""

    def __init__(self, path, config=None):
        self.predictor = ovfast.ray.Predictor(path, config=config)

    def read(self):
        compiled = self.predictor.compiled
        return tuple(compiled.get_property(k) for k in ("INFERENCE_NUM_THREADS", "NUM_STREAMS",
                                                         "ENABLE_CPU_PINNING")) + (
            self.predictor.rows_per_inference, tuple(compiled.input(0).shape))


def sizing(num_cpus, path, config=None):
    actor = _Sizing.options(num_cpus=num_cpus).remote(path, config)
    try:
        return ray.get(actor.read.remote(), timeout=JOB_TIMEOUT)
    finally:
        ray.kill(actor)   # its CPUs back for the next test


def test_threads_follow_the_cpus_ray_assigned(cluster, models):
    one = sizing(1, models["mlp"])
    assert one == (1, 1, False, 64, (64, 256))                            # compiled for 64 rows at once
    node = cluster.add_node(**{**NODE, "num_cpus": 2})
    try:
        two = sizing(2, models["mlp"])
        assert two[:3] == (2, 2, False)
        mine = sizing(2, models["mlp"], {"INFERENCE_NUM_THREADS": 1, "NUM_STREAMS": 1})
        assert mine[:2] == (1, 1)                                          # config wins
    finally:
        cluster.remove_node(node)


def test_a_node_lost_mid_job_loses_no_row(cluster, models):
    worker = next(n for n in cluster.worker_nodes)
    columns = {"id": np.arange(ROWS), "x": np.random.default_rng(6).standard_normal((ROWS, 256), np.float32)}
    # the retries are Ray Data's defaults for an actor pool (2.60: max_restarts=-1, max_task_retries=-1);
    # passing them to map_batches is deprecated (ray_remote_args)
    ds = predict(dataset(columns, blocks=40), SlowPredictor, model=models["mlp"])

    started, parts = threading.Event(), []

    def run():
        for batch in ds.iter_batches(batch_size=None, batch_format="numpy"):
            parts.append(batch)
            started.set()
        return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        job = pool.submit(run)
        assert started.wait(JOB_TIMEOUT)
        cluster.remove_node(worker)              # mid-job (Ray starts nodes from the main thread only)
        cluster.add_node(**NODE)    # and a fresh one takes its place: the pool wants two actors
        assert not job.done() and sum(len(p["id"]) for p in parts) < ROWS
        got = job.result(timeout=JOB_TIMEOUT)
    check_every_row(columns, mlp(), got)


@pytest.mark.parametrize("case", ["missing model", "missing column", "strings", "wrong row shape", "bad config"])
def test_bad_input_fails_the_job_with_our_message(cluster, models, case, tmp_path):
    columns = {"id": np.arange(100), "x": np.ones((100, 256), np.float32)}
    model, message, config = models["mlp"], None, None
    if case == "missing model":
        model = str(tmp_path / "nowhere.xml")
        message = re.escape(f"the model file '{model}' does not exist")
    elif case == "bad config":   # the actor's compile fails
        config = {"NOT_A_PROPERTY": "1"}
        message = "Unsupported property NOT_A_PROPERTY"
    elif case == "missing column":
        columns["features"] = columns.pop("x")
        message = re.escape("input 'x' needs the column 'x', and the batch has only ['features', 'id']")
    elif case == "strings":
        columns["x"] = np.array([f"{i}" for i in range(100)])
        message = r"column 'x' has dtype (<U2|object), which does not convert to input 'x' \(f32\)"
    else:
        columns["x"] = np.ones((100, 255), np.float32)
        message = re.escape("column 'x' has rows of shape (255,), and input 'x' takes rows of shape (256,) or (1, 256)")
    with pytest.raises(Exception) as info:
        collect(predict(dataset(columns, blocks=2), model=model, concurrency=1, config=config))
    assert re.search(message, str(info.value))
