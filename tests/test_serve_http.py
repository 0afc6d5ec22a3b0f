"""What `ovfast serve` sets on uvicorn: JoinedWrites (a response's writes in one write(), _http.py), the
request metrics as plain counts, and OpenVINO's CPU threads sized around the event loop. The server's
answers are checked against openvino's compiled model."""

import asyncio
import os
import socket

import numpy as np
import openvino
import pytest
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest

pytest.importorskip("uvicorn")
from ovfast.serve._cli import _sized  # noqa: E402
from ovfast.serve._http import JoinedWrites  # noqa: E402
from ovfast.serve._metrics import Metrics  # noqa: E402
from test_serve import _save, mlp_model, start_server, stop_server  # noqa: E402


class FakeTransport:
    def __init__(self):
        self.writes, self.closed, self.aborted, self.eof = [], False, False, False

    def write(self, data):
        assert not self.closed
        self.writes.append(bytes(data))

    def is_closing(self):
        return self.closed or self.aborted

    def get_write_buffer_size(self):
        return 0

    def write_eof(self):
        self.eof = True

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True

    def get_extra_info(self, name, default=None):
        return {"peername": ("127.0.0.1", 1)}.get(name, default)


def test_writes_of_one_step_go_out_as_one():
    async def main():
        t = FakeTransport()
        w = JoinedWrites(t, asyncio.get_running_loop())
        w.write(b"HTTP/1.1 200 OK\r\n\r\n")
        w.write(b"")
        w.write(memoryview(b"body"))
        assert t.writes == [] and w.get_write_buffer_size() == len(b"HTTP/1.1 200 OK\r\n\r\nbody")
        await asyncio.sleep(0)
        assert t.writes == [b"HTTP/1.1 200 OK\r\n\r\nbody"]
        w.writelines([b"a", b"b"])   # the next step's writes: one more write
        await asyncio.sleep(0)
        assert t.writes[1:] == [b"ab"] and w.get_write_buffer_size() == 0
        # close() and write_eof() send what waits first, in order
        w.write(b"last")
        w.write_eof()
        assert t.writes[2:] == [b"last"] and t.eof
        w.write(b"bye")
        w.close()
        assert t.writes[3:] == [b"bye"] and t.closed
        await asyncio.sleep(0)
        assert len(t.writes) == 4   # nothing written twice, nothing after the close
        assert w.get_extra_info("peername") == ("127.0.0.1", 1)   # the rest is the transport's

    asyncio.run(main())


def test_abort_drops_what_waits():
    async def main():
        t = FakeTransport()
        w = JoinedWrites(t, asyncio.get_running_loop())
        w.write(b"never")
        w.abort()
        await asyncio.sleep(0)
        assert t.writes == [] and t.aborted

    asyncio.run(main())


@pytest.fixture(scope="module")
def mlp_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("http")
    path = _save(mlp_model(), root / "mlp.xml")
    proc, url = start_server([path], root)
    yield url, path
    stop_server(proc)


def _read_response(f):
    """(status, headers, body) of one HTTP/1.1 response read from the file `f`."""
    status = int(f.readline().split()[1])
    headers = {}
    while (line := f.readline()) not in (b"\r\n", b""):
        name, _, value = line.decode().partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, f.read(int(headers.get("content-length", 0)))


def _binary_request(x):
    header = (b'{"inputs":[{"name":"x","shape":[1,256],"datatype":"FP32","parameters":{"binary_data_size":1024}}],'
              b'"parameters":{"binary_data_output":true}}')
    return header, x.tobytes()


def test_pipelined_and_100_continue_requests_are_answered(mlp_server):
    url, path = mlp_server
    host, port = url.rsplit(":", 1)
    rng = np.random.default_rng(0)
    xs = [rng.standard_normal((1, 256)).astype(np.float32) for _ in range(5)]
    compiled = openvino.compile_model(path, "CPU")
    with socket.create_connection((host, int(port)), timeout=30) as s, s.makefile("rb") as f:
        # Expect: 100-continue: the interim answer comes before the body is sent (never held back)
        header, data = _binary_request(xs[0])
        s.sendall(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n"
                  b"Inference-Header-Content-Length: %d\r\nContent-Length: %d\r\n\r\n" % (len(header), len(header) +
                                                                                          len(data)))
        assert f.readline() == b"HTTP/1.1 100 Continue\r\n" and f.readline() == b"\r\n"
        s.sendall(header + data)
        answers = [_read_response(f)]
        # four requests in one send on the same connection: four whole answers, in order
        s.sendall(b"".join(b"POST /v2/models/mlp/infer HTTP/1.1\r\nHost: x\r\nInference-Header-Content-Length: %d"
                           b"\r\nContent-Length: %d\r\n\r\n%s%s" % (len(h), len(h) + len(d), h, d)
                           for h, d in map(_binary_request, xs[1:])))
        answers += [_read_response(f) for _ in xs[1:]]
    for x, (status, headers, body) in zip(xs, answers):
        assert status == 200, body
        size = int(headers["inference-header-content-length"])
        np.testing.assert_allclose(np.frombuffer(body[size:], np.float32).reshape(1, 10), compiled(x)[0],
                                   rtol=1e-5, atol=1e-7)
        assert "server" not in headers   # uvicorn's server header is off


class _Model:
    def __init__(self, name, version):
        self.name, self.version = name, version

    def stats(self):
        return None


def test_request_metrics_read_as_prometheus_clients_own():
    """The plain counts give the same samples as prometheus_client's Counter and Histogram fed the same
    requests (a time on a bucket's bound counts in that bucket)."""
    models = [_Model("a", 1), _Model("b", 3)]
    metrics = Metrics(models)
    registry = CollectorRegistry()
    requests = Counter("ovfast_inference_requests", "", ["model", "version", "outcome"], registry=registry)
    rows = Counter("ovfast_inference_rows", "", ["model", "version"], registry=registry)
    seconds = Histogram("ovfast_inference_request_seconds", "", ["model", "version"], registry=registry,
                        buckets=(1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3, 5e-3, 1e-2, 2.5e-2, 5e-2, 0.1, 0.25, 0.5, 1,
                                 2.5, 5, 10))
    for m in models:   # zero counts before the first request
        requests.labels(m.name, str(m.version), "success")
        requests.labels(m.name, str(m.version), "failure")
        rows.labels(m.name, str(m.version))
        seconds.labels(m.name, str(m.version))
    rng = np.random.default_rng(0)
    for k, t in enumerate([1e-4, 1e-3, 0.0, 10.0, 11.0, 0.3, *rng.uniform(0, 0.2, 50)]):
        m = models[k % 2]
        n = 1 + k % 3
        metrics.taken(m)
        metrics.success(m, n, float(t))
        metrics.answered(m)
        requests.labels(m.name, str(m.version), "success").inc()
        rows.labels(m.name, str(m.version)).inc(n)
        seconds.labels(m.name, str(m.version)).observe(float(t))
    metrics.taken(models[1])
    metrics.failure(models[1])   # still in flight: its answer is not sent yet
    requests.labels("b", "3", "failure").inc()

    def samples(text):
        return sorted(line for line in text.decode().splitlines()
                      if line.startswith(("ovfast_inference_requests_total", "ovfast_inference_rows_total",
                                          "ovfast_inference_request_seconds_")) and "_created" not in line)
    ours = samples(metrics.text())
    assert ours == samples(generate_latest(registry)) and len(ours) == 2 * (2 + 1 + 19)
    assert 'ovfast_inference_requests_in_flight{model="b",version="3"} 1.0' in metrics.text().decode()


def test_cpu_threads_leave_the_event_loop_a_core():
    threads = str(max(1, len(os.sched_getaffinity(0)) - 1))
    assert _sized({}, "CPU") == {"INFERENCE_NUM_THREADS": threads, "ENABLE_CPU_PINNING": "NO"}
    assert _sized({"X": "1", "ENABLE_CPU_PINNING": "YES"}, "cpu") == {"X": "1", "INFERENCE_NUM_THREADS": threads,
                                                                    "ENABLE_CPU_PINNING": "YES"}
    for given in ({"INFERENCE_NUM_THREADS": "4"}, {"NUM_STREAMS": "2"}, {"PERFORMANCE_HINT": "THROUGHPUT"}):
        assert _sized(given, "CPU") == given   # the user's sizing stands
    assert _sized({}, "GPU") == {}

