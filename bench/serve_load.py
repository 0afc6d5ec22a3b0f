"""A load generator for HTTP inference servers: N clients (asyncio tasks on one aiohttp session with keep-alive
connections) each send requests back to back until a fixed number of requests or a fixed duration is
done, timing each. Every answer is decoded and its shape checked; every `check_every`-th is compared with
openvino's answer for its input. Run it in a process of its own, not the server's.

    python bench/serve_load.py URL MODEL.xml [--wire kserve-binary] [--clients 32] [--duration 3]

Wires: `kserve-binary` and `kserve-json` (POST URL/v2/models/{stem}/infer; the binary one with Triton's
binary tensor data extension for the input and the output) and `example-binary` and `example-json`
(examples/serve.py's POST URL/infer). Request bodies are encoded before the clock starts, so the clients
spend their CPU on HTTP and on reading answers, the same for every server.
"""

import argparse
import asyncio
import itertools
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np
import uvloop

HEADER_LENGTH = "Inference-Header-Content-Length"
DATATYPES = {np.dtype(np.float32): "FP32"}


@dataclass
class Wire:
    """How one server is spoken to: the path of the infer call, a request (body, headers) for an input, and
    the output array of an answer (headers, body)."""
    path: str
    encode: object
    decode: object


def kserve_wire(model, input_name, output_name, binary):
    path = f"/v2/models/{model}/infer"

    def encode(x):
        tensor = {"name": input_name, "shape": list(x.shape), "datatype": DATATYPES[x.dtype]}
        output = {"name": output_name, "parameters": {"binary_data": binary}}
        if not binary:
            return json.dumps({"inputs": [dict(tensor, data=x.ravel().tolist())], "outputs": [output]}).encode(), \
                {"Content-Type": "application/json"}
        data = x.tobytes()
        header = json.dumps({"inputs": [dict(tensor, parameters={"binary_data_size": len(data)})],
                             "outputs": [output]}).encode()
        return header + data, {"Content-Type": "application/octet-stream", HEADER_LENGTH: str(len(header))}

    def decode(headers, body):
        length = headers.get(HEADER_LENGTH)
        if length is None:
            out = json.loads(body)["outputs"][0]
            assert out["name"] == output_name, out["name"]
            return np.asarray(out["data"], np.float32).reshape(out["shape"])
        out = json.loads(body[:int(length)])["outputs"][0]
        assert out["name"] == output_name and out["datatype"] == "FP32", out
        assert out["parameters"]["binary_data_size"] == len(body) - int(length), (out, len(body), length)
        return np.frombuffer(body, np.float32, offset=int(length)).reshape(out["shape"])

    return Wire(path, encode, decode)


def example_wire(input_name, output_name, binary):
    """examples/serve.py: the inputs' raw bytes back to back, or a JSON object {input name: nested list}."""
    def encode(x):
        if binary:
            return x.tobytes(), {"Content-Type": "application/octet-stream"}
        return json.dumps({input_name: x.tolist()}).encode(), {"Content-Type": "application/json"}

    def decode(headers, body):
        if binary:
            return np.frombuffer(body, np.float32)   # raw bytes carry no shape: the size is checked
        return np.asarray(json.loads(body)[output_name], np.float32)

    return Wire("/infer", encode, decode)


def wire(name, model, input_name="x", output_name="y"):
    kind, fmt = name.split("-")
    if fmt not in ("binary", "json") or kind not in ("kserve", "example"):
        raise ValueError(f"unknown wire {name!r}: expected kserve-binary, kserve-json, example-binary or example-json")
    if kind == "kserve":
        return kserve_wire(model, input_name, output_name, fmt == "binary")
    return example_wire(input_name, output_name, fmt == "binary")


@dataclass
class Load:
    requests: int = 0
    seconds: float = 0.0
    latencies: list = field(default_factory=list)   # seconds, one per answered request
    errors: int = 0        # HTTP errors and failed connections
    wrong: int = 0         # answers of the wrong size or value
    first_failure: str = ""

    @property
    def rate(self):
        return self.requests / self.seconds if self.seconds else float("nan")

    def fail(self, kind, message):
        setattr(self, kind, getattr(self, kind) + 1)
        self.first_failure = self.first_failure or message


def quantile(latencies, q):
    return statistics.quantiles(latencies, n=100, method="inclusive")[q - 1] if len(latencies) > 1 else float("nan")


def check(load, answer, want, compare, rtol, atol):
    if answer.size != want.size or (answer.ndim > 1 and answer.shape != want.shape):
        load.fail("wrong", f"expected an answer of shape {want.shape}, got {answer.shape}")
    elif compare and not np.allclose(answer.reshape(want.shape), want, rtol=rtol, atol=atol):
        worst = float(np.max(np.abs(answer.reshape(want.shape) - want)))
        load.fail("wrong", f"answer differs from openvino's by up to {worst:.3g}")


async def _load(url, wire, cases, clients, requests, duration, check_every, rtol, atol, timeout):
    load = Load()
    deadline = time.perf_counter() + duration if duration else None
    started = iter(range(requests)) if requests else itertools.count()   # the requests left to start
    connector = aiohttp.TCPConnector(limit=clients)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=timeout)) as session:
        async def client():
            for i in started:
                if deadline is not None and time.perf_counter() >= deadline:
                    return
                body, headers, want = cases[i % len(cases)]
                t = time.perf_counter()
                try:
                    async with session.post(url + wire.path, data=body, headers=headers) as response:
                        answer = await response.read()
                        status, answer_headers = response.status, response.headers
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    load.fail("errors", f"{type(e).__name__}: {e}")
                    continue
                load.latencies.append(time.perf_counter() - t)
                if status != 200:
                    load.fail("errors", f"HTTP {status}: {answer[:300]!r}")
                    continue
                try:
                    got = wire.decode(answer_headers, answer)
                except (AssertionError, KeyError, IndexError, TypeError, ValueError) as e:
                    load.fail("wrong", f"undecodable answer ({type(e).__name__}: {e}): {answer[:300]!r}")
                    continue
                check(load, got, want, check_every and i % check_every == 0, rtol, atol)

        t0 = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        load.seconds = time.perf_counter() - t0
    load.requests = len(load.latencies)
    return load


def encode(wire, inputs, wants):
    """The requests to cycle through, encoded once: (body, headers, openvino's answer) per input."""
    return [(*wire.encode(x), np.asarray(w)) for x, w in zip(inputs, wants)]


def run_load(url, wire, cases, clients, requests=0, duration=0.0, check_every=16, rtol=1e-3, atol=1e-4,
             timeout=60.0):
    """Send `requests` requests (or, with 0, as many as `duration` seconds allow) from `clients` clients,
    cycling through `cases` (from encode()); every `check_every`-th answer's values are compared (0: none,
    only shapes). Returns a Load. Each request times out after `timeout` seconds,
    so a run stops by itself."""
    if not requests and not duration:
        raise ValueError("give a number of requests or a duration (seconds), or both")
    return uvloop.run(_load(url, wire, cases, clients, requests, duration, check_every, rtol, atol, timeout))


def main(argv=None):
    import openvino
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the server, e.g. http://127.0.0.1:8000")
    parser.add_argument("model", help="the served IR .xml: its stem names it, openvino checks the answers")
    parser.add_argument("--wire", default="kserve-binary")
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--requests", type=int, default=0)
    parser.add_argument("--duration", type=float, default=3.0, help="seconds (0: until --requests are done)")
    args = parser.parse_args(argv)
    compiled = openvino.compile_model(args.model, "CPU")
    rng = np.random.default_rng(1)
    inputs = [rng.standard_normal(tuple(compiled.input(0).shape)).astype(np.float32) for _ in range(16)]
    wants = [compiled(x)[0] for x in inputs]
    stem = os.path.splitext(os.path.basename(args.model))[0]
    chosen = wire(args.wire, stem, compiled.input(0).any_name, compiled.output(0).any_name)
    load = run_load(args.url, chosen, encode(chosen, inputs, wants), args.clients, args.requests, args.duration)
    print(f"{load.requests} requests in {load.seconds:.2f} s: {load.rate:.0f} requests/s, "
          f"p50 {quantile(load.latencies, 50) * 1e3:.2f} ms, p99 {quantile(load.latencies, 99) * 1e3:.2f} ms, "
          f"{load.errors} errors, {load.wrong} wrong {load.first_failure}")
    return 1 if load.errors or load.wrong else 0


if __name__ == "__main__":
    sys.exit(main())
