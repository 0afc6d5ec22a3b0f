"""The KServe v2 REST server: :func:`create_app` is the ASGI app that serves OpenVINO models through
ovfast's DynamicBatcher; ``python -m ovfast serve MODEL ...`` runs it under uvicorn. It needs the `serve`
extra (``pip install "ovfast[serve]"``), imported only when an app is created."""

__all__ = ["create_app"]


def create_app(models, *, device="CPU", config=None, max_batch_size=16, max_delay_us=500,
               max_body_bytes=64 << 20):
    """A KServe v2 REST app: an ASGI app that any ASGI host runs (uvicorn, Ray Serve's ``serve.ingress``),
    answering infer requests itself and the rest through a FastAPI app (its ``api`` attribute), whose
    attributes it shows.

    models: a model file (served under its stem), a model repository folder (``REPO/<name>/<version>/``
    holding one model file, the highest version the default; ``REPO/<name>/model.xml`` is version 1; model
    files in it are served under their stems), a list of those, or a dict ``{name: file or folder}``.
    Every model is compiled now, for `device` with the OpenVINO properties in `config`; an error names the
    path. A model whose inputs all have a batch axis first runs each request's rows as items of a
    :class:`ovfast.DynamicBatcher` (`max_batch_size`, `max_delay_us`); others run one request at a time
    per job of an :class:`ovfast.AsyncInferQueue`. A body over `max_body_bytes` is refused (HTTP 400)
    before more of it is read.

    The ASGI lifespan's shutdown closes the batchers (answering what they hold); a host that runs no
    lifespan calls ``app.state.ovfast.close()`` (idempotent)."""
    from ovfast.serve._app import build_app

    return build_app(models, device=device, config=config, max_batch_size=max_batch_size,
                     max_delay_us=max_delay_us, max_body_bytes=max_body_bytes)
