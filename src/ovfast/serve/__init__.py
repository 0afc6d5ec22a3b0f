"""The KServe v2 REST server: `create_app(models)` is an ASGI app (FastAPI) that serves openvino models
through ovfast's DynamicBatcher; `python -m ovfast serve MODEL ...` runs it under uvicorn.

Needs the `serve` extra (pip install "ovfast[serve]"); importing this package does not import FastAPI until
create_app is used, so the command line can list `serve` without it."""

__all__ = ["create_app"]


def __getattr__(name):
    if name == "create_app":
        from ovfast.serve._app import create_app
        return create_app
    raise AttributeError(f"module 'ovfast.serve' has no attribute {name!r}")
