"""The FastAPI app users write today around openvino, for bench/test_serve_bench.py to measure `ovfast serve`
against: the model compiled once at start-up (default config), each request's inference handed to the
event loop's default thread pool. It speaks the part of KServe v2 REST that the bench sends: one input and
one output, as JSON tensors or with Triton's binary tensor data extension.

    python bench/serve_baseline.py MODEL.xml [--host 127.0.0.1] [--port 8000]

Run on uvicorn with one worker (uvloop and httptools, as `uvicorn[standard]` picks), access log off; prints
`listening on http://HOST:PORT` once it accepts requests; SIGTERM stops it.
"""

import argparse
import asyncio
import json
import os
import socket
import sys
import threading

import numpy as np
import openvino
import uvicorn
from fastapi import FastAPI, HTTPException, Request, Response

DTYPES = {"FP32": np.float32, "FP16": np.float16, "FP64": np.float64, "INT8": np.int8, "INT16": np.int16,
          "INT32": np.int32, "INT64": np.int64, "UINT8": np.uint8, "BOOL": np.bool_}
DATATYPES = {np.dtype(v): k for k, v in DTYPES.items()}
HEADER_LENGTH = "Inference-Header-Content-Length"


def make_app(model_path):
    name = os.path.splitext(os.path.basename(model_path))[0]
    compiled = openvino.Core().compile_model(model_path, "CPU")
    output_name = compiled.output(0).any_name
    # compiled(x) shares one infer request between the pool's threads, which then fail with "Infer Request is
    # busy" (or answer with another request's data): each thread of the pool keeps its own request instead
    local = threading.local()

    def infer(x):
        if not hasattr(local, "request"):
            local.request = compiled.create_infer_request()
        return local.request.infer([x])[0]   # a copy: the next inference on this thread reuses the request

    app = FastAPI()

    @app.post("/v2/models/{model}/infer")
    async def infer_route(model: str, request: Request):
        if model != name:
            raise HTTPException(404, f"unknown model '{model}', this server has '{name}'")
        body = await request.body()
        try:
            header_length = request.headers.get(HEADER_LENGTH)
            if header_length is None:
                payload = json.loads(body)
                tensor = payload["inputs"][0]
                x = np.asarray(tensor["data"], DTYPES[tensor["datatype"]]).reshape(tensor["shape"])
            else:
                payload = json.loads(body[:int(header_length)])
                tensor = payload["inputs"][0]
                x = np.frombuffer(body, DTYPES[tensor["datatype"]], offset=int(header_length)).reshape(tensor["shape"])
        except (KeyError, IndexError, TypeError, ValueError) as e:   # JSONDecodeError is a ValueError
            raise HTTPException(400, f"expected a KServe v2 request with one input: {type(e).__name__}: {e}")

        try:
            y = await asyncio.get_running_loop().run_in_executor(None, infer, x)
        except RuntimeError as e:   # openvino refused the input (its shape or type)
            raise HTTPException(400, f"the model '{name}' refused the input: {e}")

        binary = any(o.get("parameters", {}).get("binary_data") for o in payload.get("outputs", []))
        output = {"name": output_name, "shape": list(y.shape), "datatype": DATATYPES[y.dtype]}
        if not binary:
            return {"model_name": name, "outputs": [dict(output, data=y.ravel().tolist())]}
        data = y.tobytes()
        header = json.dumps({"model_name": name,
                             "outputs": [dict(output, parameters={"binary_data_size": len(data)})]}).encode()
        return Response(header + data, media_type="application/octet-stream",
                        headers={HEADER_LENGTH: str(len(header))})

    return app


class Server(uvicorn.Server):
    async def startup(self, sockets=None):
        await super().startup(sockets)
        host, port = sockets[0].getsockname()[:2]
        print(f"listening on http://{host}:{port}", flush=True)


def main(argv=None, make=make_app, doc=__doc__, **options):
    """MODEL [--host] [--port]: make(MODEL) served by uvicorn (with `options` for its Config)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("model", help="an IR .xml (served under its file's stem)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0: any free port (printed)")
    args = parser.parse_args(argv)
    app = make(args.model)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    Server(uvicorn.Config(app, log_level="warning", access_log=False, **options)).run(sockets=[sock])
    return 0


if __name__ == "__main__":
    sys.exit(main())
