"""ovfast.ray.serve_app on a real Ray cluster of two local nodes (127.0.0.1 only), through Ray Serve's HTTP proxy
with tritonclient.http: two replicas, one per node, each sized to its one CPU; answers are openvino's; a replica
killed in the middle of a load leaves every request answered right or failed with an error worth retrying, and
none hanging."""

import collections
import concurrent.futures
import socket
import threading
import time

import numpy as np
import openvino
import pytest

pytest.importorskip("ray_cluster")   # sets up Ray's environment, then imports Ray: the `ray` extra
from ray_cluster import local_cluster, mlp  # noqa: E402
import ray  # noqa: E402
from ray import serve  # noqa: E402
import tritonclient.http as httpclient  # noqa: E402
from tritonclient.utils import InferenceServerException  # noqa: E402

import ovfast.ray  # noqa: E402

APP = "ovfast"
CLIENTS = 32
REQUEST_TIMEOUT = 60   # seconds: a request that takes longer is a hang
# Ray's proxy answers 408 past this: a request held by a replica that died can otherwise wait for minutes
PROXY_TIMEOUT = 15


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def replicas():
    return [a["name"] for a in ray.util.list_named_actors(all_namespaces=True)
            if a["name"].startswith(f"SERVE_REPLICA::{APP}#")]


def running_replicas():
    deployments = serve.status().applications[APP].deployments
    return sum(d.replica_states.get("RUNNING", 0) for d in deployments.values())


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("models") / "mlp.xml")
    openvino.save_model(mlp(), path, compress_to_fp16=False)
    port = free_port()
    with local_cluster():
        serve.start(http_options={"host": "127.0.0.1", "port": port, "request_timeout_s": PROXY_TIMEOUT},
                    proxy_location="HeadOnly")
        try:
            # what `serve run ovfast.ray:app_builder models=PATH num_replicas=2` deploys
            app = ovfast.ray.app_builder({"models": path, "num_replicas": "2", "num_cpus": "1", "name": "mlp-app"})
            serve.run(app, name=APP, route_prefix="/")
            yield f"127.0.0.1:{port}", openvino.compile_model(path, "CPU")
        finally:
            serve.shutdown()


def client(url):
    return httpclient.InferenceServerClient(url, connection_timeout=REQUEST_TIMEOUT, network_timeout=REQUEST_TIMEOUT)


def infer(c, x, binary=True):
    data = httpclient.InferInput("x", list(x.shape), "FP32")
    data.set_data_from_numpy(x, binary_data=binary)
    result = c.infer("mlp", [data], outputs=[httpclient.InferRequestedOutput("y", binary_data=binary)])
    return result.as_numpy("y")


def test_the_replicas_run_one_per_node_sized_to_their_cpu(served):
    handle = serve.get_app_handle(APP)
    seen = {}
    deadline = time.monotonic() + 60
    while len(seen) < 2 and time.monotonic() < deadline:   # the router picks replicas: ask until both answered
        info = handle.info.remote().result(timeout_s=REQUEST_TIMEOUT)
        seen[info["replica"]] = info
    assert len(seen) == 2
    assert len({info["node_id"] for info in seen.values()}) == 2
    assert {n["NodeManagerAddress"] for n in ray.nodes()} == {"127.0.0.1"}
    for info in seen.values():
        assert info["cpus"] == 1
        assert info["models"]["mlp"]["INFERENCE_NUM_THREADS"] == 1
        assert info["models"]["mlp"]["NUM_STREAMS"] == 1


def test_app_builder_names_what_it_takes():
    with pytest.raises(ValueError, match="models=PATH"):
        ovfast.ray.app_builder({"model": "a.xml"})


def test_tritonclient_reads_health_and_metadata_and_infers(served):
    url, compiled = served
    c = client(url)
    assert c.is_server_live() and c.is_server_ready() and c.is_model_ready("mlp")
    meta = c.get_model_metadata("mlp")
    assert meta["name"] == "mlp"
    assert [(t["name"], t["datatype"], t["shape"]) for t in meta["inputs"]] == [("x", "FP32", [-1, 256])]
    x = np.random.default_rng(5).standard_normal((1, 256), np.float32)
    for binary in (True, False):
        np.testing.assert_allclose(infer(c, x, binary), compiled(x)[0], rtol=1e-5, atol=1e-6)
    with pytest.raises(InferenceServerException) as e:
        c.get_model_metadata("nope")
    assert "nope" in str(e.value)


def test_a_replica_killed_under_load_costs_no_request(served):
    """Every request is answered right, or fails with a 5xx, Ray's 408 or a dropped connection (an inference is
    idempotent, so the client retries it); none takes longer than REQUEST_TIMEOUT; after the kill Serve brings the
    second replica back and the retried requests are answered right."""
    url, compiled = served
    rng = np.random.default_rng(6)
    xs = rng.standard_normal((600, 1, 256), np.float32)
    want = np.stack([compiled(x)[0] for x in xs])
    outcomes, failed, answered, slowest = collections.Counter(), [], [0], []
    lock = threading.Lock()

    def run(indices):
        c = client(url)
        for i in indices:
            start = time.monotonic()
            try:
                got = infer(c, xs[i])
                np.testing.assert_allclose(got, want[i], rtol=1e-5, atol=1e-6)
                kind = "right"
            except InferenceServerException as e:
                status = e.status()
                assert status is None or str(status) == "408" or str(status).startswith("5"), \
                    f"not a retryable error: {e}"
                kind = "retry"
            except (ConnectionError, OSError, socket.timeout):
                kind = "retry"
                c = client(url)
            took = time.monotonic() - start
            assert took < REQUEST_TIMEOUT
            with lock:
                slowest.append(took)
                outcomes[kind] += 1
                answered[0] += 1
                if kind == "retry":
                    failed.append(i)

    with concurrent.futures.ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(run, range(k, len(xs), CLIENTS)) for k in range(CLIENTS)]
        while answered[0] < len(xs) // 4 and not any(f.done() for f in futures):
            time.sleep(0.01)
        victim = replicas()[0]
        killed_at = answered[0]
        ray.kill(ray.get_actor(victim, namespace="serve"), no_restart=True)
        for f in futures:
            f.result(timeout=len(xs) * REQUEST_TIMEOUT)
    assert outcomes["right"] + outcomes["retry"] == len(xs)
    assert killed_at < len(xs) // 2   # the replica went in the middle of the load
    print(f"killed after {killed_at} answers: {dict(outcomes)}, slowest {max(slowest):.1f} s")

    deadline = time.monotonic() + 120
    while running_replicas() < 2 and time.monotonic() < deadline:
        time.sleep(0.5)
    assert running_replicas() == 2 and victim not in replicas()   # Serve replaced it
    c = client(url)
    for i in failed:
        np.testing.assert_allclose(infer(c, xs[i]), want[i], rtol=1e-5, atol=1e-6)
