"""Serving over HTTP: `python -m ovfast serve` (KServe v2, dynamic batching) against examples/serve.py and
against the FastAPI app users write today with openvino (bench/serve_baseline.py: run_in_executor per
request), each server in a process of its own, loaded from this process by bench/serve_load.py's clients.

    pytest bench/test_serve_bench.py --benchmark-group-by=group

A group is one cell: a model (test_batcher_bench's MLP or conv net), a data format (binary: Triton's binary
tensor extension, or examples/serve.py's raw bytes; json: KServe's JSON tensors, or the example's JSON
object) and a number of clients sending back to back; its servers answer the same number of requests per
round, one after the other. Every answer's shape is checked and every 16th answer compared with
openvino's. The ceiling is the same HTTP stack answering zeros with no parsing and no inference
(bench/serve_ceiling.py): no server on uvicorn gets past it. The summary prints requests/s, p50 and p99 per
cell and the ratios against the baseline app.
Target (issue 26): at 32 clients, ovfast serve at 3x the baseline's requests/s with a p99 no worse.
"""

import os
import selectors
import signal
import subprocess
import sys

import numpy as np
import openvino
import pytest

from serve_load import encode, quantile, run_load, wire
from test_batcher_bench import MAX_BATCH, MAX_DELAY_US, conv_model, mlp_model

HERE = os.path.dirname(os.path.abspath(__file__))
MODELS = {"mlp": mlp_model, "conv": conv_model}
CLIENTS = [1, 8, 32, 128]
# requests per round, sized to ~2.5 s of the baseline app at 32 clients on the 2-core machine (half of that
# for one client, which waits for each answer)
REQUESTS = {("mlp", "binary"): 8000, ("mlp", "json"): 4000, ("conv", "binary"): 8000, ("conv", "json"): 1000}
ROUNDS = {32: 3}   # the cells of the target; 2 rounds elsewhere
# in these cells a round of the baseline app runs just before each round of the others (conftest's paired):
# the median of the round-by-round ratios cancels the shared machine's drift between blocks of rounds
PAIRED = {32}
START_TIMEOUT_S = 120


def commands(model_path):
    return {
        "ovfast_serve": [sys.executable, "-m", "ovfast", "serve", model_path, "--host", "127.0.0.1", "--port", "0",
                         "--max-batch-size", str(MAX_BATCH), "--max-delay-us", str(MAX_DELAY_US)],
        "ovfast_example": [sys.executable, os.path.join(HERE, "..", "examples", "serve.py"), model_path,
                           "--host", "127.0.0.1", "--port", "0", "--uvloop"],
        "baseline_app": [sys.executable, os.path.join(HERE, "serve_baseline.py"), model_path, "--host", "127.0.0.1",
                         "--port", "0"],
        "ceiling_no_inference": [sys.executable, os.path.join(HERE, "serve_ceiling.py"), model_path,
                                 "--host", "127.0.0.1", "--port", "0"],
    }


def wire_of(server, model, fmt):
    return wire(f"{'example' if server == 'ovfast_example' else 'kserve'}-{fmt}", model)


class Server:
    """A server process: started, read until it prints its address, stopped with SIGTERM."""

    def __init__(self, command, log_path):
        self.log = open(log_path, "w+")
        self.proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=self.log, text=True)
        self.url = self._address()

    def _address(self):
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            ready = sel.select(START_TIMEOUT_S)
        line = self.proc.stdout.readline().strip() if ready else ""
        if not line.startswith("listening on http://127.0.0.1:"):
            self.stop()
            self.log.seek(0)
            raise RuntimeError(f"{self.proc.args} did not start (first line {line!r}): {self.log.read()[-3000:]}")
        return line.split()[-1]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.log.close()


class Servers:
    """The servers of one model, started when first asked for; asking for another model stops them, so
    that no idle server of another model shares the cores."""

    def __init__(self, folder):
        self.folder = folder
        self.model, self.running, self.oracle = None, {}, None

    def get(self, server, model):
        if model != self.model:
            self.close()
            self.model, self.oracle = model, self._oracle(model)
        if server not in self.running:
            self.running[server] = Server(commands(self._ir(model))[server], os.path.join(self.folder, f"{server}.log"))
        return self.running[server].url

    def _ir(self, model):
        path = os.path.join(self.folder, f"{model}.xml")
        if not os.path.exists(path):
            m = MODELS[model]()
            m.outputs[0].tensor.set_names({"y"})   # KServe names every output
            openvino.save_model(m, path, compress_to_fp16=False)
        return path

    def _oracle(self, model):
        compiled = openvino.compile_model(self._ir(model), "CPU")
        rng = np.random.default_rng(1)
        inputs = [rng.standard_normal(tuple(compiled.input(0).shape)).astype(np.float32) for _ in range(16)]
        return inputs, [compiled(x)[0].copy() for x in inputs]

    def close(self):
        for server in self.running.values():
            server.stop()
        self.running = {}


@pytest.fixture(scope="session")
def servers(tmp_path_factory):
    s = Servers(str(tmp_path_factory.mktemp("serve")))
    yield s
    s.close()


@pytest.fixture(scope="session")
def has_ovfast_serve():
    out = subprocess.run([sys.executable, "-m", "ovfast", "serve", "--help"], capture_output=True, text=True)
    return out.returncode == 0 and "--max-delay-us" in out.stdout


# a module-scoped parameter, so that pytest runs each cell's three servers one after the other
@pytest.fixture(scope="module", params=[(m, f, c) for m in MODELS for f in ("binary", "json") for c in CLIENTS],
                ids=lambda p: f"{p[0]}-{p[1]}-{p[2]}")
def cell(request):
    return request.param


def measure(benchmark, paired, servers, server, cell):
    model, fmt, clients = cell
    n = REQUESTS[model, fmt] // (2 if clients == 1 else 1)
    benchmark.group = f"{model} {fmt}, {clients} clients"

    def rounds_of(server, loads):
        """A round of `server` (its Load appended to `loads`), after an untimed warm-up."""
        url = servers.get(server, model)
        chosen = wire_of(server, model, fmt)
        cases = encode(chosen, *servers.oracle)
        check_every = 0 if server == "ceiling_no_inference" else 16   # it answers zeros: shapes only
        run_load(url, chosen, cases, clients, requests=max(4 * clients, n // 10), check_every=check_every)
        return lambda: loads.append(run_load(url, chosen, cases, clients, requests=n, check_every=check_every))

    loads, baseline_loads = [], []
    one_round = rounds_of(server, loads)
    if clients in PAIRED and server != "baseline_app":
        paired(one_round, rounds_of("baseline_app", baseline_loads), rounds=ROUNDS.get(clients, 2), warmup_rounds=0,
               against="the baseline app")
    else:
        benchmark.pedantic(one_round, rounds=ROUNDS.get(clients, 2), iterations=1)
    latencies = [t for load in loads for t in load.latencies]
    benchmark.extra_info.update(
        requests=n, clients=clients, requests_per_s=n / benchmark.stats.stats.median if benchmark.stats else None,
        p50_ms=quantile(latencies, 50) * 1e3, p99_ms=quantile(latencies, 99) * 1e3,
        errors=sum(load.errors for load in loads), wrong=sum(load.wrong for load in loads))
    failures = [load.first_failure for load in loads + baseline_loads if load.first_failure]
    assert not failures, f"{server}: {len(failures)} rounds had failures, the first: {failures[0]}"


def test_ovfast_serve(benchmark, paired, servers, cell, has_ovfast_serve):
    if not has_ovfast_serve:
        pytest.skip("`python -m ovfast serve` is not in this build")
    measure(benchmark, paired, servers, "ovfast_serve", cell)


def test_ovfast_example(benchmark, paired, servers, cell):
    measure(benchmark, paired, servers, "ovfast_example", cell)


def test_baseline_app(benchmark, paired, servers, cell):
    measure(benchmark, paired, servers, "baseline_app", cell)


def test_ceiling_no_inference(benchmark, paired, servers, cell):
    measure(benchmark, paired, servers, "ceiling_no_inference", cell)
