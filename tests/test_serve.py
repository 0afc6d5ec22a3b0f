"""`python -m ovfast serve`: the KServe v2 REST server, driven by Triton's own client (tritonclient.http) and
by raw HTTP for what that client never sends; every answer checked against openvino's compiled model."""

import gc
import gzip
import http.client
import json
import math
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import weakref
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest
from hypothesis import given, settings, strategies as st
from models import CPU_ONE_THREAD, string_model

tritonhttp = pytest.importorskip("tritonclient.http")
from tritonclient.utils import InferenceServerException  # noqa: E402

BODY_LIMIT = 1 << 20


def _save(model, path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    openvino.save_model(model, str(path), compress_to_fp16=False)
    return str(path)


def mlp_model(seed=0):
    """x: f32[1,256] -> softmax(x @ w) 'probs' f32[1,10]."""
    x = ops.parameter([1, 256], np.float32, name="x")
    w = np.random.default_rng(seed).standard_normal((256, 10)).astype(np.float32) / 16
    model = openvino.Model([ops.softmax(ops.matmul(x, w, False, False), 1)], [x], "mlp")
    model.outputs[0].tensor.set_names({"probs"})
    return model


def image_model():
    """image: u8[1,3,16,16] -> conv, relu, mean per channel: 'features' f32[1,4]."""
    image = ops.parameter([1, 3, 16, 16], np.uint8, name="image")
    w = np.random.default_rng(2).standard_normal((4, 3, 3, 3)).astype(np.float32) / 100
    conv = ops.convolution(ops.convert(image, "f32"), w, [1, 1], [0, 0], [0, 0], [1, 1])
    feats = ops.reduce_mean(ops.relu(conv), np.array([2, 3], np.int64), False)
    model = openvino.Model([feats], [image], "image")
    model.outputs[0].tensor.set_names({"features"})
    return model


def two_input_model():
    """a: f32[?,4], b: i32[?,4] -> 'sum' a + b (f32), 'twice' b * 2 (i32)."""
    a = ops.parameter(openvino.PartialShape([-1, 4]), np.float32, name="a")
    b = ops.parameter(openvino.PartialShape([-1, 4]), np.int32, name="b")
    total = ops.add(a, ops.convert(b, "f32"))
    twice = ops.multiply(b, ops.constant(np.int32(2)))
    model = openvino.Model([total, twice], [a, b], "two")
    model.outputs[0].tensor.set_names({"sum"})
    model.outputs[1].tensor.set_names({"twice"})
    return model


def no_batch_model():
    """x: f32[3,4] -> 'colsum' f32[4]: the first axis is summed, so it is no batch (the batcher refuses)."""
    x = ops.parameter([3, 4], np.float32, name="x")
    model = openvino.Model([ops.reduce_sum(x, np.array([0], np.int64), False)], [x], "nobatch")
    model.outputs[0].tensor.set_names({"colsum"})
    return model


def slow_model(depth):
    """x: f32[1,256] -> `depth` broadcast matmuls of 256x256."""
    x = ops.parameter([1, 256], np.float32, name="x")
    w = np.eye(256, dtype=np.float32)
    y = x
    for _ in range(depth):
        y = ops.matmul(ops.broadcast(y, np.array([256, 256], np.int64)), w, False, False)
        y = ops.reduce_mean(y, np.array([0], np.int64), True)
    model = openvino.Model([y], [x], "slow")
    model.outputs[0].tensor.set_names({"y"})
    return model


def slow_enough(seconds):
    """slow_model deep enough that one inference on one CPU thread takes at least `seconds` on this machine
    (measured with openvino, never assumed); the server runs it on one thread too."""
    depth, x = 40, np.zeros((1, 256), np.float32)
    while True:
        compiled = openvino.compile_model(slow_model(depth), "CPU", CPU_ONE_THREAD)
        compiled(x)   # the first run pays for allocations
        t0 = time.perf_counter()
        compiled(x)
        took = time.perf_counter() - t0
        if took >= seconds:
            return slow_model(depth)
        depth = math.ceil(depth * 1.3 * seconds / max(took, 1e-6))


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("models")
    paths = {"mlp": _save(mlp_model(), root / "mlp.xml"), "image": _save(image_model(), root / "image.xml"),
             "two": _save(two_input_model(), root / "two.xml"),
             "nobatch": _save(no_batch_model(), root / "nobatch.xml"),
             # a repository: two versions (the highest is the default), and a model with no version folder
             "ranked/1": _save(mlp_model(1), root / "repo" / "ranked" / "1" / "model.xml"),
             "ranked/2": _save(mlp_model(2), root / "repo" / "ranked" / "2" / "model.xml"),
             "plain": _save(image_model(), root / "repo" / "plain" / "net.xml"),
             "strings": _save(string_model(), root / "strings.xml")}
    paths["repo"] = str(root / "repo")
    return paths


def start_server(args, cwd):
    """A `python -m ovfast serve` subprocess and its URL (host:port), once it said it listens."""
    proc = subprocess.Popen([sys.executable, "-m", "ovfast", "serve", *args, "--port", "0"], cwd=cwd,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    reader = threading.Thread(target=lambda: lines.append(proc.stdout.readline()), daemon=True)
    reader.start()
    reader.join(120)
    if not lines or not lines[0].startswith("listening on http://"):
        proc.kill()
        raise AssertionError(f"the server did not start: {lines} {proc.communicate()[1]}")
    return proc, lines[0].strip().removeprefix("listening on http://")


def stop_server(proc):
    proc.send_signal(signal.SIGTERM)
    try:
        _, err = proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    assert proc.returncode == 0, err
    assert "Traceback" not in err, err


@pytest.fixture(scope="module")
def server(models, tmp_path_factory):
    proc, url = start_server([models["mlp"], models["image"], models["two"], models["nobatch"], models["strings"],
                              models["repo"],
                              "--max-body-bytes", str(BODY_LIMIT), "--max-batch-size", "8"],
                             tmp_path_factory.mktemp("cwd"))
    yield url
    stop_server(proc)


@pytest.fixture(scope="module")
def client(server):
    c = tritonhttp.InferenceServerClient(server, concurrency=32, network_timeout=60)
    yield c
    c.close()


def oracle(path, inputs, batched=True):
    """openvino's answer: the model's compiled(inputs), row by row where the model takes one row."""
    compiled = openvino.compile_model(path, "CPU")
    if not batched:
        return [np.asarray(v) for v in compiled(inputs).values()]
    n = next(iter(inputs.values())).shape[0]
    rows = [compiled({k: v[i:i + 1] for k, v in inputs.items()}) for i in range(n)]
    return [np.concatenate([r[k] for r in rows]) for k in range(len(compiled.outputs))]


def infer_input(name, array, binary=True):
    from tritonclient.utils import np_to_triton_dtype
    i = tritonhttp.InferInput(name, list(array.shape), np_to_triton_dtype(array.dtype))
    i.set_data_from_numpy(array, binary_data=binary)
    return i


def metrics(url):
    """{(metric name, frozenset of labels): value} from /metrics."""
    conn = http.client.HTTPConnection(url, timeout=30)
    conn.request("GET", "/metrics")
    text = conn.getresponse().read().decode()
    conn.close()
    values = {}
    for line in text.splitlines():
        m = re.match(r"^(\w+)\{(.*)\} (\S+)$", line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
            values[m.group(1), labels] = float(m.group(3))
    return values


def counter(values, name, model, version="1", **labels):
    return values.get((name, frozenset({("model", model), ("version", version), *labels.items()})), 0.0)


def post(url, path, body, headers=None):
    """(status, headers, body) of a raw POST."""
    conn = http.client.HTTPConnection(url, timeout=30)
    conn.request("POST", path, body=body, headers=headers or {})
    response = conn.getresponse()
    result = response.status, dict(response.getheaders()), response.read()
    conn.close()
    return result


def test_health_and_metadata(client):
    assert client.is_server_live() and client.is_server_ready()
    meta = client.get_server_metadata()
    assert meta["name"] == "ovfast" and "binary_tensor_data" in meta["extensions"]
    mlp = client.get_model_metadata("mlp")
    assert mlp["platform"] == "openvino" and mlp["versions"] == ["1"]
    assert mlp["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 256]}]
    assert mlp["outputs"] == [{"name": "probs", "datatype": "FP32", "shape": [-1, 10]}]
    assert client.get_model_metadata("image")["inputs"] == [{"name": "image", "datatype": "UINT8",
                                                            "shape": [-1, 3, 16, 16]}]
    two = client.get_model_metadata("two")
    assert [(t["name"], t["datatype"]) for t in two["inputs"]] == [("a", "FP32"), ("b", "INT32")]
    assert [(t["name"], t["datatype"]) for t in two["outputs"]] == [("sum", "FP32"), ("twice", "INT32")]
    # no batch dimension: the shape is the model's own
    assert client.get_model_metadata("nobatch")["inputs"][0]["shape"] == [3, 4]
    assert client.get_model_metadata("ranked")["versions"] == ["2"]
    assert client.get_model_metadata("ranked", "1")["versions"] == ["1"]
    assert client.get_model_metadata("plain")["outputs"][0]["name"] == "features"
    assert client.get_model_metadata("strings")["inputs"] == [{"name": "s", "datatype": "BYTES", "shape": [3]}]
    for name, version in (("mlp", ""), ("ranked", "1"), ("ranked", "2"), ("plain", "1")):
        assert client.is_model_ready(name, version)
    assert not client.is_model_ready("ranked", "3") and not client.is_model_ready("nope")


def test_2000_inferences_from_32_clients(server, models):
    rng = np.random.default_rng(3)
    before = metrics(server)
    sent, rows_sent = 2000, 0
    cases = []
    for k in range(sent):
        n = 3 if k % 10 == 0 else 1   # some requests carry several rows
        rows_sent += n
        cases.append((rng.standard_normal((n, 256)).astype(np.float32), k % 2 == 0))
    # 32 threads, each a client of its own (one connection each), as 32 users would send
    clients = 32

    def send(first):
        c = tritonhttp.InferenceServerClient(server, network_timeout=60)
        try:
            answers = []
            for k in range(first, sent, clients):
                x, binary = cases[k]
                outputs = [tritonhttp.InferRequestedOutput("probs", binary_data=binary)]
                answers.append((k, c.infer("mlp", [infer_input("x", x, binary)], outputs=outputs,
                                           request_id=str(k))))
            return answers
        finally:
            c.close()
    with ThreadPoolExecutor(clients) as pool:
        answered = dict(a for part in pool.map(send, range(clients)) for a in part)
    assert sorted(answered) == list(range(sent))
    results = [answered[k] for k in range(sent)]
    compiled = openvino.compile_model(models["mlp"], "CPU")
    for k, ((x, _), result) in enumerate(zip(cases, results)):
        assert result.get_response()["id"] == str(k)
        want = np.concatenate([compiled(x[i:i + 1])[0] for i in range(len(x))])
        got = result.as_numpy("probs")
        assert got.dtype == np.float32 and got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    after = metrics(server)

    def delta(name, **labels):
        return counter(after, name, "mlp", **labels) - counter(before, name, "mlp", **labels)
    assert delta("ovfast_inference_requests_total", outcome="success") == sent
    assert delta("ovfast_inference_requests_total", outcome="failure") == 0
    assert delta("ovfast_inference_rows_total") == rows_sent
    assert delta("ovfast_inference_request_seconds_count") == sent
    assert delta("ovfast_batch_items_total") == rows_sent   # every row went through the batcher
    assert 0 < delta("ovfast_batches_total") <= rows_sent
    # the batch size histogram: every batch in the +Inf bucket, none over --max-batch-size 8, its sum the rows
    assert delta("ovfast_batch_size_count") == delta("ovfast_batches_total")
    assert delta("ovfast_batch_size_bucket", le="8.0") == delta("ovfast_batch_size_bucket", le="+Inf") == \
        delta("ovfast_batches_total")
    assert delta("ovfast_batch_size_sum") == rows_sent
    assert delta("ovfast_batch_size_bucket", le="1.0") <= delta("ovfast_batch_size_bucket", le="2.0")


@pytest.mark.parametrize("binary", [True, False], ids=["binary", "json"])
def test_models_equal_openvino(client, models, binary):
    rng = np.random.default_rng(4)
    image = rng.integers(0, 256, (2, 3, 16, 16), dtype=np.uint8)
    r = client.infer("image", [infer_input("image", image, binary)])
    np.testing.assert_allclose(r.as_numpy("features"), oracle(models["image"], {"image": image})[0], rtol=1e-5)
    np.testing.assert_allclose(client.infer("plain", [infer_input("image", image, binary)]).as_numpy("features"),
                               oracle(models["plain"], {"image": image})[0], rtol=1e-5)

    a = rng.standard_normal((3, 4)).astype(np.float32)
    b = rng.integers(-100, 100, (3, 4), dtype=np.int32)
    want = oracle(models["two"], {"a": a, "b": b}, batched=False)   # the model's own dynamic batch
    r = client.infer("two", [infer_input("a", a, binary), infer_input("b", b, binary)])
    np.testing.assert_allclose(r.as_numpy("sum"), want[0], rtol=1e-6)
    assert r.as_numpy("twice").dtype == np.int32 and np.array_equal(r.as_numpy("twice"), want[1])
    # one output asked for: only it comes back
    r = client.infer("two", [infer_input("a", a, binary), infer_input("b", b, binary)],
                     outputs=[tritonhttp.InferRequestedOutput("twice", binary_data=binary)])
    assert [o["name"] for o in r.get_response()["outputs"]] == ["twice"] and r.as_numpy("sum") is None

    x = rng.standard_normal((3, 4)).astype(np.float32)
    r = client.infer("nobatch", [infer_input("x", x, binary)])
    np.testing.assert_allclose(r.as_numpy("colsum"), oracle(models["nobatch"], {"x": x}, batched=False)[0],
                               rtol=1e-6)

    x = rng.standard_normal((2, 256)).astype(np.float32)
    for version in ("1", "2"):
        got = client.infer("ranked", [infer_input("x", x, binary)], model_version=version).as_numpy("probs")
        np.testing.assert_allclose(got, oracle(models[f"ranked/{version}"], {"x": x})[0], rtol=1e-5, atol=1e-7)
    latest = client.infer("ranked", [infer_input("x", x, binary)])
    assert latest.get_response()["model_version"] == "2"
    np.testing.assert_allclose(latest.as_numpy("probs"), oracle(models["ranked/2"], {"x": x})[0], rtol=1e-5,
                               atol=1e-7)


def test_nested_json_data(server, models):
    """"data" may be nested as the shape is (row-major), not only flat."""
    a = np.arange(8, dtype=np.float32).reshape(2, 4) / 3
    b = np.arange(8, dtype=np.int32).reshape(2, 4) - 3
    body = _json_request([{"name": "a", "shape": [2, 4], "datatype": "FP32", "data": a.tolist()},
                          {"name": "b", "shape": [2, 4], "datatype": "INT32", "data": b.tolist()}], id="nested")
    status, _, answer = post(server, "/v2/models/two/infer", body)
    assert status == 200, answer
    answer = json.loads(answer)
    assert answer["id"] == "nested" and answer["model_name"] == "two" and answer["model_version"] == "1"
    want = oracle(models["two"], {"a": a, "b": b}, batched=False)
    for out, expected in zip(answer["outputs"], want):
        assert out["shape"] == [2, 4] and out["datatype"] == {"float32": "FP32", "int32": "INT32"}[str(expected.dtype)]
        np.testing.assert_allclose(np.array(out["data"]).reshape(2, 4), expected, rtol=1e-6)


def test_compressed_requests(client, models):
    x = np.random.default_rng(5).standard_normal((1, 256)).astype(np.float32)
    want = oracle(models["mlp"], {"x": x})[0]
    for algorithm in ("gzip", "deflate"):
        r = client.infer("mlp", [infer_input("x", x)], request_compression_algorithm=algorithm)
        np.testing.assert_allclose(r.as_numpy("probs"), want, rtol=1e-5, atol=1e-7)


def _json_request(inputs, **extra):
    return json.dumps({"inputs": inputs, **extra}).encode()


X_JSON = {"name": "x", "shape": [1, 256], "datatype": "FP32", "data": [0.5] * 256}
X_BYTES = np.full((1, 256), 0.5, np.float32).tobytes()


def _binary_request(header, *chunks):
    head = json.dumps(header).encode()
    return head + b"".join(chunks), {"Inference-Header-Content-Length": str(len(head))}


def _bad_requests():
    """(id, path, body, headers, text the error must hold)."""
    cases = [
        ("unknown model", "/v2/models/nope/infer", _json_request([X_JSON]), {}, "unknown model 'nope'"),
        ("unknown version", "/v2/models/ranked/versions/7/infer", _json_request([X_JSON]), {},
         "unknown version '7' of model 'ranked'; its versions are 1, 2"),
        ("unknown input", "/v2/models/mlp/infer", _json_request([{**X_JSON, "name": "y"}]), {},
         "unknown input 'y'; the model's inputs are x (FP32[-1, 256])"),
        ("missing input", "/v2/models/two/infer",
         _json_request([{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]}]), {},
         "missing input 'b' (INT32[-1, 4])"),
        ("wrong shape", "/v2/models/mlp/infer", _json_request([{**X_JSON, "shape": [1, 255], "data": [0] * 255}]),
         {}, "input 'x' has shape [1, 255]; expected [-1, 256]"),
        ("zero rows", "/v2/models/mlp/infer", _json_request([{**X_JSON, "shape": [0, 256], "data": []}]), {},
         "input 'x' has shape [0, 256]; expected [-1, 256]"),
        ("wrong datatype", "/v2/models/mlp/infer", _json_request([{**X_JSON, "datatype": "FP64"}]), {},
         "input 'x' has datatype 'FP64'; expected 'FP32'"),
        ("bytes", "/v2/models/mlp/infer", _json_request([{**X_JSON, "datatype": "BYTES"}]), {},
         "BYTES (string) tensors are not served"),
        ("string model", "/v2/models/strings/infer",
         _json_request([{"name": "s", "shape": [3], "datatype": "BYTES", "data": ["a", "b", "c"]}]), {},
         "input 's' is a string (BYTES) tensor of the model; this server takes numeric tensors only"),
        ("element count", "/v2/models/mlp/infer", _json_request([{**X_JSON, "data": [1.0, 2.0, 3.0]}]), {},
         "\"data\" has 3 elements; shape [1, 256] needs 256"),
        ("float into integers", "/v2/models/image/infer",
         _json_request([{"name": "image", "shape": [1, 3, 16, 16], "datatype": "UINT8", "data": [0.5] * 768}]), {},
         "UINT8 takes integers"),
        ("out of range", "/v2/models/image/infer",
         _json_request([{"name": "image", "shape": [1, 3, 16, 16], "datatype": "UINT8", "data": [300] * 768}]), {},
         "outside UINT8's range 0..255"),
        ("ragged data", "/v2/models/two/infer",
         _json_request([{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [[1, 2], [3]]},
                        {"name": "b", "shape": [1, 4], "datatype": "INT32", "data": [1, 2, 3, 4]}]), {},
         "\"data\" is not a regular array of numbers"),
        ("rows differ", "/v2/models/two/infer",
         _json_request([{"name": "a", "shape": [1, 4], "datatype": "FP32", "data": [1, 2, 3, 4]},
                        {"name": "b", "shape": [2, 4], "datatype": "INT32", "data": [1] * 8}]), {},
         "the inputs' first dimensions differ (a: 1, b: 2)"),
        ("unknown output", "/v2/models/mlp/infer", _json_request([X_JSON], outputs=[{"name": "logits"}]), {},
         "unknown output 'logits'; the model's outputs are probs"),
        ("malformed json", "/v2/models/mlp/infer", b'{"inputs": [', {}, "malformed JSON in the request"),
        ("no inputs list", "/v2/models/mlp/infer", b'{"input": []}', {}, "with an \"inputs\" list"),
        ("over the limit", "/v2/models/mlp/infer", b" " * (BODY_LIMIT + 1), {},
         f"the body is {BODY_LIMIT + 1} bytes; this server takes at most {BODY_LIMIT}"),
        ("unknown encoding", "/v2/models/mlp/infer", _json_request([X_JSON]), {"Content-Encoding": "br"},
         "Content-Encoding 'br' is not supported; expected gzip, deflate or identity"),
        ("gzip bomb", "/v2/models/mlp/infer", gzip.compress(b" " * (BODY_LIMIT + 10)), {"Content-Encoding": "gzip"},
         f"inflates to over {BODY_LIMIT} bytes"),
        ("header length", "/v2/models/mlp/infer", _json_request([X_JSON]), {"Inference-Header-Content-Length": "99999"},
         "Inference-Header-Content-Length is '99999'"),
    ]
    binary = {"name": "x", "shape": [1, 256], "datatype": "FP32", "parameters": {"binary_data_size": 1024}}
    cases += [
        ("binary size vs shape", "/v2/models/mlp/infer",
         *_binary_request({"inputs": [{**binary, "parameters": {"binary_data_size": 1020}}]}, X_BYTES[:1020]),
         "binary_data_size is 1020; shape [1, 256] of FP32 is 1024 bytes"),
        ("binary past the end", "/v2/models/mlp/infer", *_binary_request({"inputs": [binary]}, X_BYTES[:1000]),
         "its 1024 bytes of binary data go past the body's end"),
        ("binary left over", "/v2/models/mlp/infer", *_binary_request({"inputs": [binary]}, X_BYTES, b"\0" * 8),
         "the body has 8 bytes of binary data that no input's binary_data_size claims"),
    ]
    return cases


@pytest.mark.parametrize("case", _bad_requests(), ids=lambda c: c[0])
def test_bad_request_is_400_with_error_json(server, models, case):
    _, path, body, headers, text = case
    name = path.split("/")[3]
    version = path.split("/")[5] if "/versions/" in path else "1"
    before = metrics(server)
    status, response_headers, answer = post(server, path, body, headers)
    assert status == 400, answer
    assert response_headers["content-type"] == "application/json"
    assert text in json.loads(answer)["error"]
    # counted as a failure of the model it named (an unknown model or version has no counter)
    after = metrics(server)
    if name != "nope" and version != "7":
        assert counter(after, "ovfast_inference_requests_total", name, outcome="failure") == \
            counter(before, "ovfast_inference_requests_total", name, outcome="failure") + 1
    # nothing half-done: the server answers the next request right
    status, _, answer = post(server, "/v2/models/mlp/infer", _json_request([X_JSON]))
    assert status == 200
    want = oracle(models["mlp"], {"x": np.full((1, 256), 0.5, np.float32)})[0]
    np.testing.assert_allclose(json.loads(answer)["outputs"][0]["data"], want.ravel(), rtol=1e-5, atol=1e-7)


def test_tritonclient_sees_the_errors(client):
    with pytest.raises(InferenceServerException, match="unknown model 'nope'") as info:
        client.infer("nope", [infer_input("x", np.zeros((1, 256), np.float32))])
    assert info.value.status() == "400"
    with pytest.raises(InferenceServerException, match=r"has shape \[1, 8\]; expected \[-1, 256\]"):
        client.infer("mlp", [infer_input("x", np.zeros((1, 8), np.float32))])
    with pytest.raises(InferenceServerException, match="has datatype 'FP64'; expected 'FP32'"):
        client.infer("mlp", [infer_input("x", np.zeros((1, 256), np.float64))])
    with pytest.raises(InferenceServerException, match="missing input 'b'"):
        client.infer("two", [infer_input("a", np.zeros((1, 4), np.float32))])


def test_client_gone_mid_body(server, client):
    host, port = server.rsplit(":", 1)
    for _ in range(3):
        with socket.create_connection((host, int(port)), timeout=10) as s:
            s.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n"
                      + b"{" * 1000)
    # the server goes on
    r = client.infer("mlp", [infer_input("x", np.zeros((1, 256), np.float32))])
    assert r.as_numpy("probs").shape == (1, 10)
    assert client.is_server_ready()


def test_sigterm_answers_requests_in_flight(tmp_path):
    # 16 requests of at least 50 ms each, one thread per inference: some still run when the signal comes
    path = _save(slow_enough(0.05), tmp_path / "slow.xml")
    proc, url = start_server([path, "--max-batch-size", "1", "--config", "INFERENCE_NUM_THREADS=1"], tmp_path)
    x = np.random.default_rng(6).standard_normal((1, 256)).astype(np.float32)
    want = oracle(path, {"x": x})[0]
    n = 16

    def send(_):
        c = tritonhttp.InferenceServerClient(url, network_timeout=120)
        try:
            return c.infer("slow", [infer_input("x", x)]).as_numpy("y")
        finally:
            c.close()
    with ThreadPoolExecutor(n) as pool:
        pending = [pool.submit(send, k) for k in range(n)]
        deadline = time.monotonic() + 60   # until the server has taken every request
        while time.monotonic() < deadline:
            now = metrics(url)
            running = counter(now, "ovfast_inference_requests_in_flight", "slow")
            if running + counter(now, "ovfast_inference_requests_total", "slow", outcome="success") == n:
                break
            time.sleep(0.005)
        assert running > 0   # some are still running
        proc.send_signal(signal.SIGTERM)
        for p in pending:
            np.testing.assert_allclose(p.result(timeout=120), want, rtol=1e-4, atol=1e-6)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "Traceback" not in err


def test_cli_errors(tmp_path, models):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "ovfast", "serve", *args], cwd=tmp_path, capture_output=True,
                              text=True, timeout=120)
    missing = str(tmp_path / "missing.xml")
    proc = run(missing)
    assert proc.returncode == 1 and proc.stdout == ""
    assert proc.stderr == f"ovfast serve: error: the model path '{missing}' does not exist (expected a model file " \
                          f"such as model.xml or model.onnx, or a model repository folder)\n"
    bad = tmp_path / "bad.xml"
    bad.write_text("<net>not a model")
    proc = run(str(bad))
    assert proc.returncode == 1 and f"cannot read the model '{bad}'" in proc.stderr and "Traceback" not in proc.stderr
    proc = run(models["mlp"], models["image"], "--name", "m")
    assert proc.returncode == 1 and "--name names one model; 2 were given" in proc.stderr
    proc = run(models["mlp"], "--max-batch-size", "0")
    assert proc.returncode == 1 and "max_batch_size must be an integer of at least 1, got 0" in proc.stderr
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = run(models["mlp"], "--port", str(port))
    assert proc.returncode == 1 and proc.stderr == f"ovfast serve: error: cannot listen on 127.0.0.1:{port}: " \
                                                   f"Address already in use\n"
    proc = run()
    assert proc.returncode == 2 and "the following arguments are required: model" in proc.stderr


def test_import_ovfast_loads_no_server_packages():
    code = ("import sys, ovfast, ovfast.benchmark; ovfast.benchmark.build_parser(); "
            "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette', 'prometheus_client') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "[]", out.stderr


@pytest.mark.parametrize("door", ["app", "app.api"])
def test_create_app_in_a_host_without_lifespan(models, door):
    """As another ASGI host (Ray Serve) may run it: no lifespan, the host closes it with state.close(). The
    app's FastAPI part (app.api) serves infer through its own route the same way."""
    import uvicorn

    from ovfast.serve import create_app

    with pytest.raises(FileNotFoundError, match="the model path '/no/such.xml' does not exist"):
        create_app(["/no/such.xml"])
    with pytest.raises(ValueError, match="model 'mlp' version 1 comes from both"):
        create_app([models["mlp"], models["mlp"]])
    app = create_app({"m": models["mlp"], "n": models["nobatch"]}, max_batch_size=4)
    sock = socket.create_server(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app if door == "app" else app.api, lifespan="off", log_level="warning"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]})
    thread.start()
    try:
        while not server.started:
            time.sleep(0.01)
        url = "127.0.0.1:%d" % sock.getsockname()[1]
        c = tritonhttp.InferenceServerClient(url)
        x = np.random.default_rng(7).standard_normal((5, 256)).astype(np.float32)   # more rows than a batch
        np.testing.assert_allclose(c.infer("m", [infer_input("x", x)]).as_numpy("probs"),
                                   oracle(models["mlp"], {"x": x})[0], rtol=1e-5, atol=1e-7)
        with ThreadPoolExecutor(4) as pool:   # threads of its own, each its client
            got = list(pool.map(lambda k: tritonhttp.InferenceServerClient(url).infer(
                "m", [infer_input("x", x[k:k + 1], False)]).as_numpy("probs"), range(5)))
        np.testing.assert_allclose(np.concatenate(got), oracle(models["mlp"], {"x": x})[0], rtol=1e-5, atol=1e-7)
        with pytest.raises(InferenceServerException, match="unknown input 'z'"):
            c.infer("m", [infer_input("z", x)])
        c.close()
    finally:
        server.should_exit = True
        thread.join(30)
    state = app.state.ovfast
    state.close()
    state.close()   # idempotent
    assert state.closed and all(m.closed for m in state.models.values())
    # nothing outside the app (FastAPI's caches, the event loop) keeps its models once it is let go
    batcher = weakref.ref(state.models["m", 1].batcher)
    del app, state, server
    gc.collect()
    assert batcher() is None


# --- JSON: orjson reads what json reads ---------------------------------------------------------------------
_json_values = st.recursive(
    st.none() | st.booleans() | st.floats() | st.integers(min_value=-(2 ** 63), max_value=2 ** 64 - 1) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=300, deadline=None)
@given(value=_json_values, header=st.booleans())
def test_a_json_request_reads_as_json_reads_it(value, header):
    """The request's JSON goes through orjson (the serve extra installs it) and, where orjson refuses it
    (NaN, Infinity), through json: what the server reads is json.loads' reading, whatever the document, with
    the binary part after a header length too."""
    from ovfast.serve import _protocol
    assert _protocol.orjson is not None
    text = json.dumps({"inputs": [], "v": value}).encode()
    body = text + b"\x00\x01" if header else text
    request, binary = _protocol.split_body(body, str(len(text)) if header else None)
    assert json.dumps(request) == json.dumps(json.loads(text))      # NaN == NaN here
    assert bytes(binary) == (b"\x00\x01" if header else b"")


@pytest.mark.parametrize("number", [2 ** 64, -(2 ** 63) - 1, 3 ** 50])
def test_an_integer_past_64_bits_is_read_as_the_nearest_double(number):
    from ovfast.serve import _protocol
    request, _ = _protocol.split_body(json.dumps({"inputs": [], "v": number}).encode(), None)
    assert type(request["v"]) is float and request["v"] == float(number)


@pytest.mark.parametrize("body", [b"{", b"\xff\xfe", b'{"inputs": [1,]}', b"[1, 2]", b'{"inputs": NaN}'])
def test_malformed_or_misshapen_json_is_the_same_400_either_way(body):
    from ovfast.serve import _protocol
    with pytest.raises(_protocol.ProtocolError) as fast:
        _protocol.split_body(body, None)
    saved, _protocol.orjson = _protocol.orjson, None
    try:
        with pytest.raises(_protocol.ProtocolError) as plain:
            _protocol.split_body(body, None)
    finally:
        _protocol.orjson = saved
    assert str(fast.value) == str(plain.value)


@settings(max_examples=200, deadline=None)
@given(data=st.data(), dtype=st.sampled_from(["bool", "uint8", "uint16", "uint32", "uint64", "int8", "int16",
                                              "int32", "int64", "float16", "float32", "float64"]),
       binary=st.booleans(), request_id=st.none() | st.text() | st.integers(min_value=-(2 ** 70), max_value=2 ** 70))
def test_a_json_response_gives_back_each_output_exactly(data, dtype, binary, request_id):
    """Outputs as JSON (written by orjson, or by json where orjson would not: NaN, infinities, an id past 64
    bits): read back with json and cast to the output's type, each is the array itself, value for value
    (NaN as NaN, never null), beside a binary output."""
    from hypothesis.extra.numpy import arrays
    from ovfast.serve import _protocol
    a = data.draw(arrays(np.dtype(dtype), st.integers(0, 3).flatmap(lambda n: st.tuples(*[st.integers(0, 4)] * n))))
    raw = np.arange(3, dtype=np.float32)
    body, head = _protocol.encode_response("m", 1, request_id, [("a", a, False), ("r", raw, binary)])
    header = json.loads(body[:head] if binary else body)
    assert header.get("id") == request_id and header["model_version"] == "1"
    out = {t["name"]: t for t in header["outputs"]}
    assert out["a"]["shape"] == list(a.shape) and out["a"]["datatype"] == _protocol.datatype_of(a.dtype)
    assert None not in out["a"]["data"]
    got = np.array(out["a"]["data"], dtype=a.dtype).reshape(a.shape)
    np.testing.assert_array_equal(got, a, strict=True)
    if binary:
        assert body[head:] == raw.tobytes()
    else:
        assert out["r"]["data"] == raw.tolist()
