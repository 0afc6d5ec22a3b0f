"""The KServe v2 REST routes (health, metadata, infer) and /metrics over served models: a FastAPI app, with
infer requests taken at the front door (App) by the bare ASGI endpoint of _infer.py."""

import contextlib
import re

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

import ovfast
from ovfast.serve._metrics import CONTENT_TYPE, Metrics
from ovfast.serve import _infer
from ovfast.serve._infer import HTTPError
from ovfast.serve._model import ServedModel
from ovfast.serve._repository import resolve

EXTENSIONS = ["binary_tensor_data"]


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


async def _http_error(request, exc):
    return Response(_infer.error_body(str(exc)), exc.status, media_type="application/json")   # as _infer answers


@contextlib.asynccontextmanager
async def _lifespan(app):
    try:
        yield
    finally:
        app.state.ovfast.close()


_ROUTES = [("/v2/health/live", _live, "GET"), ("/v2/health/ready", _ready, "GET"), ("/v2", _server_metadata, "GET"),
           ("/metrics", _metrics, "GET")]
for _prefix in ("/v2/models/{name}/versions/{version}", "/v2/models/{name}"):
    _ROUTES += [(_prefix + "/infer", _infer.endpoint, "POST"), (_prefix + "/ready", _model_ready, "GET"),
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
    return App(app)


_INFER = re.compile(r"/v2/models/([^/]+)(?:/versions/([^/]+))?/infer")


class App:
    """The app create_app returns: an infer request goes straight to its endpoint, and everything else
    (the other routes, the lifespan, 404s and 405s) to the FastAPI app `api`, whose attributes (state,
    routes, add_exception_handler) hosts such as Ray Serve read through this object."""

    def __init__(self, api):
        self.api = api
        self.state = api.state

    def __getattr__(self, name):
        if name == "api":   # not set yet: a copy being made
            raise AttributeError(name)
        return getattr(self.api, name)

    async def __call__(self, scope, receive, send):
        if scope["type"] == "http" and scope["method"] == "POST":
            path, root = scope["path"], scope.get("root_path", "")
            match = _INFER.fullmatch(path[len(root):] if root and path.startswith(root) else path)
            if match is not None:
                return await _infer.infer(self.state.ovfast, match[1], match[2], scope, receive, send)
        await self.api(scope, receive, send)
