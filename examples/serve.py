"""A small HTTP inference service on asyncio: every request awaits ovfast's infer_async, so no thread is
tied up per request and the event loop never blocks on a model.

    python examples/serve.py model.xml --port 8080 [--device CPU] [--jobs 0] [--uvloop]

POST /infer with
  - a JSON object {input name: nested list, ...}      -> JSON {output name: nested list, ...}
  - raw bytes (Content-Type: application/octet-stream): the model's inputs back to back, each in its
    port's type and static shape                        -> the outputs' bytes back to back
GET /health answers "ok". SIGINT or SIGTERM stops it after the requests in flight.
"""

import argparse
import asyncio
import json
import signal
import sys

import numpy as np
from aiohttp import web

import ovfast


def make_app(compiled, jobs):
    queue = ovfast.AsyncInferQueue(compiled, jobs)
    inputs = compiled.inputs
    dtypes = [np.dtype(p.element_type.to_dtype()) for p in inputs]

    def from_json(body):
        if not isinstance(body, dict):
            raise web.HTTPBadRequest(text="expected a JSON object of input name -> array")
        return {name: np.asarray(value, dtype=dtypes[compiled.input(name).index])
                for name, value in body.items()}

    def from_bytes(raw):
        arrays, offset = [], 0
        for port, dtype in zip(inputs, dtypes):
            shape = tuple(port.shape)
            size = int(np.prod(shape)) * dtype.itemsize
            if offset + size > len(raw):
                break
            arrays.append(np.frombuffer(raw, dtype, count=size // dtype.itemsize, offset=offset).reshape(shape))
            offset += size
        if offset != len(raw) or len(arrays) != len(inputs):
            expected = sum(int(np.prod(tuple(p.shape))) * d.itemsize for p, d in zip(inputs, dtypes))
            raise web.HTTPBadRequest(text=f"expected {expected} bytes (the inputs back to back), got {len(raw)}")
        return arrays

    async def infer(request):
        binary = request.content_type == "application/octet-stream"
        try:
            feed = from_bytes(await request.read()) if binary else from_json(await request.json())
            result = await queue.infer_async(feed)
        except web.HTTPException:
            raise
        except (json.JSONDecodeError, KeyError, ValueError, TypeError) as e:
            raise web.HTTPBadRequest(text=str(e))
        if binary:
            return web.Response(body=b"".join(np.ascontiguousarray(v).tobytes() for v in result.values()),
                                content_type="application/octet-stream")
        return web.json_response({port.any_name: value.tolist() for port, value in result.items()})

    async def health(request):
        return web.Response(text="ok")

    app = web.Application(client_max_size=64 << 20)
    app.add_routes([web.post("/infer", infer), web.get("/health", health)])
    return app


async def serve(args):
    compiled = ovfast.compile_model(args.model, args.device)
    runner = web.AppRunner(make_app(compiled, args.jobs))
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port)
    await site.start()
    port = runner.addresses[0][1]
    print(f"listening on http://{args.host}:{port}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()  # stops accepting, lets requests in flight finish
    print("stopped", flush=True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model", help="a model file (IR .xml, ONNX, ...)")
    parser.add_argument("--device", default="CPU")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8080, help="0: any free port (printed)")
    parser.add_argument("--jobs", type=int, default=0, help="jobs of the queue (0: the model's optimal number)")
    parser.add_argument("--uvloop", action="store_true", help="run on uvloop")
    args = parser.parse_args(argv)
    if args.uvloop:
        import uvloop
        uvloop.run(serve(args))
    else:
        asyncio.run(serve(args))
    return 0


if __name__ == "__main__":
    sys.exit(main())
