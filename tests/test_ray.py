"""ovfast.ray on a real Ray cluster of two local nodes (127.0.0.1 only): every row's outputs are openvino's,
exactly once, through two actors; the actors' threads follow num_cpus; a node lost mid-job costs no row;
bad input fails the job with our message. openvino (in the driver, one batched call) is the oracle."""

import concurrent.futures
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

ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])   # actors cannot import this file


class SlowPredictor(ovfast.ray.Predictor):
    """A Predictor that takes 0.4 s a batch: a job long enough to lose a node in the middle of."""

    def __call__(self, batch):
        time.sleep(0.4)
        return super().__call__(batch)


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


def check_every_row(columns, model, got, rtol=1e-5, atol=1e-6):
    ids = got["id"]
    assert len(ids) == ROWS and (np.sort(ids) == np.arange(ROWS)).all()   # none lost, none twice
    order = np.argsort(ids)
    for name, want in expected(model, {k: v for k, v in columns.items() if k != "id"}).items():
        np.testing.assert_allclose(got[name][order], want, rtol=rtol, atol=atol)
    for name, value in columns.items():                                   # the inputs pass through
        assert (got[name][order] == value).all()


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
                          output_columns={"out": "score"}))
    assert "out" not in got
    got["out"] = got.pop("score")
    oracle = {"id": columns["id"], "a": columns["left"], "b": columns["right"]}
    check_every_row(oracle, two_inputs(), {**got, "a": got["left"], "b": got["right"]})
    assert (got["path"][np.argsort(got["id"])] == columns["path"]).all()


@ray.remote
def _sizing(path, config=None):
    compiled = ovfast.ray.Predictor(path, config=config).compiled
    return tuple(compiled.get_property(k) for k in ("INFERENCE_NUM_THREADS", "NUM_STREAMS", "ENABLE_CPU_PINNING"))


def test_threads_follow_the_cpus_ray_assigned(cluster, models):
    one = ray.get(_sizing.options(num_cpus=1).remote(models["mlp"]), timeout=JOB_TIMEOUT)
    assert one == (1, 1, False)
    node = cluster.add_node(**{**NODE, "num_cpus": 2})
    try:
        two = ray.get(_sizing.options(num_cpus=2).remote(models["mlp"]), timeout=JOB_TIMEOUT)
        assert two == (2, 2, False)
        mine = ray.get(_sizing.options(num_cpus=2).remote(models["mlp"], {"INFERENCE_NUM_THREADS": 1,
                                                                          "NUM_STREAMS": 1}), timeout=JOB_TIMEOUT)
        assert mine[:2] == (1, 1)                                          # config wins
    finally:
        cluster.remove_node(node)


def test_a_node_lost_mid_job_loses_no_row(cluster, models):
    worker = next(n for n in cluster.worker_nodes)
    columns = {"id": np.arange(ROWS), "x": np.random.default_rng(6).standard_normal((ROWS, 256), np.float32)}
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


@pytest.mark.parametrize("case", ["missing model", "missing column", "strings"])
def test_bad_input_fails_the_job_with_our_message(cluster, models, case, tmp_path):
    columns = {"id": np.arange(100), "x": np.ones((100, 256), np.float32)}
    model, message = models["mlp"], None
    if case == "missing model":
        model = str(tmp_path / "nowhere.xml")
        message = f"the model file '{model}' does not exist"
    elif case == "missing column":
        columns["features"] = columns.pop("x")
        message = "input 'x' needs the column 'x', and the batch has only ['features', 'id']"
    else:
        columns["x"] = np.array([f"{i}" for i in range(100)])
        message = "column 'x' has dtype"
    with pytest.raises(Exception) as info:
        collect(predict(dataset(columns, blocks=2), model=model, concurrency=1))
    assert message in str(info.value)
