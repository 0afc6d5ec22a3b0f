"""The KServe v2 REST routes (health, metadata, infer) and /metrics, as a FastAPI app over served models."""

import contextlib
import time
import zlib

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.requests import ClientDisconnect

import ovfast
from ovfast.serve._metrics import CONTENT_TYPE, Metrics
from ovfast.serve._model import ServedModel
from ovfast.serve._protocol import ProtocolError, encode_response, split_body, decode_inputs, requested_outputs
from ovfast.serve._repository import resolve

EXTENSIONS = ["binary_tensor_data"]


class HTTPError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def _error(status, message):
    return JSONResponse({"error": message}, status_code=status)


class ServerState:
    """What an app serves (app.state.ovfast): its models by (name, version), their default versions (the
    highest), its metrics; close() answers what the batchers hold and refuses more (idempotent)."""

    def __init__(self, models, max_body_bytes):
        self.models = {(m.name, m.version): m for m in models}
        self.latest = {}
        for m in models:
            self.latest[m.name] = max(self.latest.get(m.name, 0), m.version)
        self.metrics = Metrics(models)
        self.max_body_bytes = max_body_bytes
        self.closed = False

    def find(self, name, version=None):
        if name not in self.latest:
            raise HTTPError(400, f"unknown model '{name}'; this server serves {', '.join(sorted(self.latest))}")
        if version is None:
            return self.models[name, self.latest[name]]
        model = self.models.get((name, int(version))) if version.isdigit() else None
        if model is None:
            versions = sorted(v for n, v in self.models if n == name)
            raise HTTPError(400, f"unknown version '{version}' of model '{name}'; its versions are "
                                 f"{', '.join(map(str, versions))}")
        return model

    def close(self):
        if self.closed:
            return
        self.closed = True
        for m in self.models.values():
            m.close()


async def _read_body(request, limit):
    """The body, refused as soon as it passes `limit` bytes (never more held), and decompressed if its
    Content-Encoding is gzip or deflate."""
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPError(400, f"the body is {length} bytes; this server takes at most {limit} (--max-body-bytes)")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPError(400, f"the body is over {limit} bytes, the most this server takes (--max-body-bytes)")
        chunks.append(chunk)
    body = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise HTTPError(400, f"Content-Encoding '{encoding}' is not supported; expected gzip, deflate or identity")
    inflate = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        body = inflate.decompress(body, limit + 1)
    except zlib.error as e:
        raise HTTPError(400, f"the body is not valid {encoding} data: {e}") from None
    if len(body) > limit:
        raise HTTPError(400, f"the {encoding} body inflates to over {limit} bytes, the most this server takes "
                             f"(--max-body-bytes)")
    if not inflate.eof:
        raise HTTPError(400, f"the {encoding} body is truncated")
    return body


# The routes are module functions that find their app's state in request.app (so that nothing outside an
# app, such as FastAPI's process-wide caches, holds its models once it is let go).

async def _live(request: Request):
    return Response(status_code=200)


async def _ready(request: Request):
    return Response(status_code=503 if request.app.state.ovfast.closed else 200)


async def _server_metadata(request: Request):
    return JSONResponse({"name": "ovfast", "version": ovfast.__version__, "extensions": EXTENSIONS})


async def _metrics(request: Request):
    return Response(request.app.state.ovfast.metrics.text(), media_type=CONTENT_TYPE)


def _model(request):
    return request.app.state.ovfast.find(request.path_params["name"], request.path_params.get("version"))


async def _model_ready(request: Request):
    state = request.app.state.ovfast
    _model(request)
    return Response(status_code=503 if state.closed else 200)


async def _model_metadata(request: Request):
    return JSONResponse(_model(request).metadata())


async def _infer(request: Request):
    state = request.app.state.ovfast
    model = _model(request)
    if state.closed:
        state.metrics.failure(model)
        return _error(503, "the server is shutting down")
    state.metrics.taken(model)
    try:
        return await _answer(request, state, model)
    finally:
        state.metrics.answered(model)


async def _answer(request, state, model):
    try:
        body = await _read_body(request, state.max_body_bytes)
        req, binary = split_body(body, request.headers.get("inference-header-content-length"))
        arrays = decode_inputs(req, binary, model.inputs, model.batched)
        outputs = requested_outputs(req, model.outputs)
        start = time.perf_counter()
        results = await model.infer(arrays)
        seconds = time.perf_counter() - start
        body, header_length = encode_response(model.name, model.version, req.get("id"),
                                              [(model.outputs[i].name, results[i], b) for i, b in outputs])
    except (ProtocolError, HTTPError) as e:
        state.metrics.failure(model)
        return _error(getattr(e, "status", 400), str(e))
    except ClientDisconnect:   # nobody to answer
        state.metrics.failure(model)
        return Response(status_code=400)
    except Exception as e:
        state.metrics.failure(model)
        return _error(500, f"inference failed: {type(e).__name__}: {e}")
    state.metrics.success(model, arrays[0].shape[0] if model.batched else 1, seconds)
    if header_length is None:
        return Response(body, media_type="application/json")
    return Response(body, media_type="application/octet-stream",
                    headers={"Inference-Header-Content-Length": str(header_length)})


async def _http_error(request, exc):
    return _error(exc.status, str(exc))


@contextlib.asynccontextmanager
async def _lifespan(app):
    try:
        yield
    finally:
        app.state.ovfast.close()


_ROUTES = [("/v2/health/live", _live, "GET"), ("/v2/health/ready", _ready, "GET"), ("/v2", _server_metadata, "GET"),
           ("/metrics", _metrics, "GET")]
for _prefix in ("/v2/models/{name}/versions/{version}", "/v2/models/{name}"):
    _ROUTES += [(_prefix + "/infer", _infer, "POST"), (_prefix + "/ready", _model_ready, "GET"),
                (_prefix, _model_metadata, "GET")]


def build_app(models, *, device, config, max_batch_size, max_delay_us, max_body_bytes):
    """ovfast.serve.create_app (its docstring says what it takes)."""
    for option, value, least in (("max_batch_size", max_batch_size, 1), ("max_delay_us", max_delay_us, 0),
                                 ("max_body_bytes", max_body_bytes, 1)):
        if not isinstance(value, int) or value < least:
            raise ValueError(f"ovfast serve: {option} must be an integer of at least {least}, got {value!r}")
    served = []
    try:
        for entry in resolve(models):
            served.append(ServedModel(entry, device, config, max_batch_size, max_delay_us))
    except BaseException:
        for m in served:
            m.close()
        raise
    app = FastAPI(title="ovfast serve", lifespan=_lifespan, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.ovfast = ServerState(served, max_body_bytes)
    app.add_exception_handler(HTTPError, _http_error)
    for path, endpoint, method in _ROUTES:   # Starlette routes: the request as it is, no FastAPI parameters
        app.add_route(path, endpoint, methods=[method])
    return app
