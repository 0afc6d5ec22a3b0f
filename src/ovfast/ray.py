"""Batch inference on Ray Data: callable classes for ``Dataset.map_batches`` that compile an OpenVINO model
in each actor, sized to the CPUs Ray gave that actor, and run every batch through ``AsyncInferQueue.map``
(the whole batch in C, no Python per row)::

    ds.map_batches(ovfast.ray.Predictor, fn_constructor_kwargs={"model": "model.xml"},
                   concurrency=4, num_cpus=2, batch_size=1024, batch_format="numpy")

This module never imports Ray (a Ray worker has it loaded already), so ``import ovfast.ray`` needs no Ray.
"""

import asyncio
import contextlib
import fcntl
import os
import sys

import numpy as np

import ovfast as _ov
from ovfast import exceptions as _exc

__all__ = ["Predictor", "AsyncPredictor", "assigned_cpus", "cpu_config", "serve_app", "app_builder"]


def assigned_cpus():
    """The CPUs this process may use: what Ray assigned to the current actor or task (rounded down, at
    least 1), or, outside a Ray worker, the CPUs in this process's affinity mask."""
    ray = sys.modules.get("ray")   # a Ray worker has imported it; anywhere else this is no Ray actor
    if ray is not None and ray.is_initialized():
        context = ray.get_runtime_context()
        if context.worker.mode == ray.WORKER_MODE:   # an actor or a task, not the driver
            cpus = context.get_assigned_resources().get("CPU")
            if cpus:
                return max(1, int(cpus))
    return len(os.sched_getaffinity(0))


def cpu_config(cpus, config=None):
    """The CPU plugin's config for `cpus` CPUs shared with other processes on the node: every thread of
    the budget used, one stream per CPU (map keeps a job on each), no pinning (other actors on the node
    would pin to the same cores). Keys already in `config` win."""
    sized = {"INFERENCE_NUM_THREADS": cpus, "NUM_STREAMS": cpus, "ENABLE_CPU_PINNING": False}
    sized.update(config or {})
    return sized


# A model whose rows have a batch axis of 1 runs this many rows per inference: OpenVINO's CPU kernels do
# far more rows per second on a batch than on one row at a time, and a few dozen rows get most of it.
ROWS_PER_INFERENCE = 64
# ... but no more rows than keep one inference's largest tensor (an input, or any op's output: a conv's
# feature maps) within this many bytes: once a batch's activations outgrow a core's cache, a conv net runs
# fewer rows per second than on a smaller batch.
MAX_TENSOR_BYTES = 2 << 20


def _batched(model, rows):
    """(a copy of `model` that runs `rows` rows at once, rows) where its ports allow that: every input and
    output static with a leading 1 that the reshape turns into `rows`; else (None, 1)."""
    ports = list(model.inputs) + list(model.outputs)
    shapes = [p.get_partial_shape() for p in ports]
    if any(s.is_dynamic or s.rank.get_length() == 0 or s[0].get_length() != 1 for s in shapes) or any(
            p.get_element_type().bitwidth < 8 or not p.get_element_type().is_static() for p in ports):
        return None, 1
    rows = max(1, min(rows, MAX_TENSOR_BYTES // max(1, _largest_tensor_bytes(model))))
    if rows == 1:
        return None, 1
    batched = model.clone()
    try:
        batched.reshape({i: [rows, *s.to_shape()[1:]] for i, s in enumerate(shapes[:len(model.inputs)])})
    except Exception:   # a graph whose shapes do not follow the batch (a Reshape to a constant shape)
        return None, 1
    after = [p.get_partial_shape() for p in batched.outputs]
    if any(a.is_dynamic or list(a.to_shape()) != [rows, *s.to_shape()[1:]]
           for a, s in zip(after, shapes[len(model.inputs):])):
        return None, 1
    return batched, rows


def _largest_tensor_bytes(model):
    """The bytes of a one-row model's largest tensor: all its inputs together, or an op's output (weights
    aside, which do not grow with the rows)."""
    largest = sum(p.get_element_type().size * int(np.prod(list(p.get_shape()))) for p in model.inputs)
    for op in model.get_ordered_ops():
        if op.get_type_name() == "Constant":
            continue
        for out in op.outputs():
            shape, kind = out.get_partial_shape(), out.get_element_type()
            if shape.is_static and kind.is_static():
                largest = max(largest, kind.size * int(np.prod(list(shape.to_shape()))))
    return largest


@contextlib.contextmanager
def _cache_turn(cache_dir):
    """Processes compiling into one model cache take turns: OpenVINO's cache fails when two write the same
    blob at once ("cannot set permissions: No such file or directory"), and with turns the actors after the
    first load the blob the first wrote."""
    if not cache_dir:
        yield
        return
    os.makedirs(cache_dir, exist_ok=True)
    with open(os.path.join(cache_dir, ".ovfast-compile.lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)   # released when the file closes
        yield


class _Compiled:
    """A model compiled in the actor, with the mapping between a batch's columns and its ports."""

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None, rows_per_inference=ROWS_PER_INFERENCE, keep_inputs=False):
        model = os.fspath(model)
        if not os.path.isfile(model):
            raise _exc.ModelFileNotFound(f"ovfast.ray: the model file '{model}' does not exist")
        if int(rows_per_inference) < 1:
            raise ValueError(f"ovfast.ray: rows_per_inference must be at least 1, got {rows_per_inference}")
        config = dict(config or {})
        if device == "CPU":
            config = cpu_config(assigned_cpus(), config)
        if cache_dir is not None:
            config.setdefault("CACHE_DIR", os.fspath(cache_dir))
        batched, self.rows = None, 1
        if rows_per_inference > 1:
            batched, self.rows = _batched(_ov.Core().read_model(model), int(rows_per_inference))
        with _cache_turn(config.get("CACHE_DIR")):
            self.compiled = _ov.compile_model(model if batched is None else batched, device, config)
        inputs, outputs = input_columns or {}, output_columns or {}
        self._in = [(port, inputs.get(port.any_name, port.any_name)) for port in self.compiled.inputs]
        self._keep_inputs = keep_inputs
        self._out = [(port, outputs.get(port.any_name, port.any_name or f"output{i}"),
                      len(port.shape) > 0 and port.shape[0] == 1)
                     for i, port in enumerate(self.compiled.outputs)]
        # openvino's Type is asked here, on the actor's main thread, never on AsyncPredictor's threads:
        # pybind11's first numpy lookup deadlocks when two threads make it at once
        self._type_names = {port: port.element_type.get_type_name() for port in self.compiled.inputs}
        self._in_shapes = {port: tuple(port.shape) for port in self.compiled.inputs}
        self._out_types = {port: (tuple(port.shape), np.dtype(port.element_type.to_dtype()))
                           for port in self.compiled.outputs}

    def queue(self):
        return _ov.AsyncInferQueue(self.compiled, 0)   # 0: the model's optimal number of jobs

    def inputs(self, batch):
        """The model's inputs from the batch's columns, as they are (map converts types and reads rows)."""
        arrays = {}
        for port, column in self._in:
            if column not in batch:
                raise _exc.InputValueError(f"ovfast.ray: the model's input '{port.any_name}' needs the column "
                                           f"'{column}', and the batch has only {sorted(batch)}")
            value = np.asarray(batch[column])   # no copy: Ray's arrays may be read-only, map only reads them
            if value.dtype.kind not in "biuf":
                raise _exc.UnsupportedDtype(f"ovfast.ray: column '{column}' has dtype {value.dtype}, which does not "
                                            f"convert to input '{port.any_name}' ({self._type_names[port]})")
            if self.rows > 1:
                row = self._in_shapes[port][1:]
                if value.ndim == 0 or value.shape[1:] not in (row, (1, *row)):
                    raise _exc.InputValueError(
                        f"ovfast.ray: column '{column}' has rows of shape {value.shape[1:]}, and input "
                        f"'{port.any_name}' takes rows of shape {row} or {(1, *row)}")
            arrays[port] = value
        return arrays

    def run(self, queue, batch, inputs=None):
        """The batch with a column per output added, its rows run through `queue` (map, whole batch in C).
        inputs: self.inputs(batch), where the caller has it already."""
        if inputs is None:
            inputs = self.inputs(batch)
        if self.rows == 1:
            result = queue.map(inputs)
            outputs = {port: result[port].reshape(result[port].shape[:1] + result[port].shape[2:])
                       if squeeze else result[port] for port, _, squeeze in self._out}
        else:
            outputs = self._run_batched(queue, inputs)
        # the input columns are consumed unless asked for: Ray would write them back to the object store
        used = () if self._keep_inputs else {column for _, column in self._in}
        batch = {name: value for name, value in batch.items() if name not in used}
        for port, column, _ in self._out:
            batch[column] = outputs[port]
        return batch

    def _run_batched(self, queue, inputs):
        """Every `self.rows` rows as one item of map, the last rows padded with zeros to a full item: map
        reads the columns in place and writes each output straight into its column."""
        n = len(next(iter(inputs.values())))
        if any(len(value) != n for value in inputs.values()):
            raise _exc.InputValueError(f"ovfast.ray: the input columns have {[len(v) for v in inputs.values()]} rows; "
                                       f"they need as many each")
        full, tail = divmod(n, self.rows)
        out = {port: np.empty((full + (tail > 0), *shape), dtype) for port, (shape, dtype) in self._out_types.items()}
        if full:
            queue.map({port: value[:full * self.rows].reshape(full, *self._in_shapes[port])
                       for port, value in inputs.items()}, {port: value[:full] for port, value in out.items()})
        if tail:
            padded = {}
            for port, value in inputs.items():
                padded[port] = np.zeros((1, *self._in_shapes[port]), value.dtype)
                padded[port].reshape(self.rows, -1)[:tail] = value[full * self.rows:].reshape(tail, -1)
            queue.map(padded, {port: value[full:] for port, value in out.items()})
        return {port: value.reshape(-1, *value.shape[2:])[:n] for port, value in out.items()}


class Predictor:
    """A callable class for ``Dataset.map_batches(..., batch_format="numpy")``: compiles `model` (a file's
    path) on `device` in the actor and runs each batch through ``AsyncInferQueue.map``.

    On CPU, the compile config is :func:`cpu_config` of the CPUs Ray assigned to the actor, read at run
    time; `config` keys override it. `cache_dir` turns on OpenVINO's model cache (``CACHE_DIR``), so actors
    after the first on a node load the compiled blob instead of compiling.

    A batch's columns named after the model's inputs go in (`input_columns` maps an input's name to another
    column) and leave the batch (`keep_inputs=True` keeps them), one column per output comes out, named
    after the output (`output_columns` renames), and every other column passes through. A row of an input
    column is one item of the port's shape, or of its shape without the leading 1 (``[1, 256]``: rows of
    256 or of 1x256); an output column's rows have the output's shape without its leading 1 where it has
    one.

    Where every input and output has a leading 1 that the model can reshape, the actor compiles it for
    `rows_per_inference` rows at once (fewer where its largest tensor would pass 2 MiB; 1: the model as it is)
    and runs a batch's rows in groups of that many, the last group padded; ``rows_per_inference`` tells what
    was chosen. A row's outputs are ``compiled(row)``'s to float rounding (batched kernels add in another
    order). Ray batch sizes that are a multiple of it waste no padding. A model that mixes values along
    its leading axis (a norm over every axis) needs ``rows_per_inference=1``.
    """

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None, rows_per_inference=ROWS_PER_INFERENCE, keep_inputs=False):
        self._model = _Compiled(model, device, config, cache_dir, input_columns, output_columns,
                                rows_per_inference, keep_inputs)
        self.compiled = self._model.compiled
        self.rows_per_inference = self._model.rows
        self._queue = self._model.queue()

    def __call__(self, batch):
        return self._model.run(self._queue, batch)


class AsyncPredictor:
    """:class:`Predictor` with an async ``__call__``, for an actor that Ray Data hands several batches at
    once: up to `max_concurrent_batches` batches run at the same time, each through its own job queue's
    ``map`` on a thread (the GIL is released while it runs), so one batch's rows are read and written while
    another's run. Ray 2.60's ``map_batches`` runs up to 4 async calls per actor
    (``RAY_DATA_DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY``); calls beyond `max_concurrent_batches` wait for
    a queue."""

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None, max_concurrent_batches=2, rows_per_inference=ROWS_PER_INFERENCE,
                 keep_inputs=False):
        if max_concurrent_batches < 1:
            raise ValueError(f"max_concurrent_batches must be at least 1, got {max_concurrent_batches}")
        self._model = _Compiled(model, device, config, cache_dir, input_columns, output_columns,
                                rows_per_inference, keep_inputs)
        self.compiled = self._model.compiled
        self.rows_per_inference = self._model.rows
        self._queues = [self._model.queue() for _ in range(max_concurrent_batches)]
        self._idle = None   # an asyncio.Queue of idle job queues, made on the actor's event loop

    async def __call__(self, batch):
        if self._idle is None:
            self._idle = asyncio.Queue()
            for queue in self._queues:
                self._idle.put_nowait(queue)
        inputs = self._model.inputs(batch)   # a bad column fails here, before the batch waits for a queue
        queue = await self._idle.get()
        try:
            return await asyncio.to_thread(self._model.run, queue, batch, inputs)
        finally:
            self._idle.put_nowait(queue)


class _ServeReplica:
    """One Ray Serve replica of :func:`serve_app`: builds ``ovfast.serve.create_app`` in the replica, on the
    CPUs Ray assigned to it, so replicas on a node share it as Predictor's actors do."""

    def __init__(self, models, device, config, options):
        self._models, self._device, self._config, self._options = models, device, config, options
        self._app = None

    def __serve_build_asgi_app__(self):
        from ovfast.serve import create_app   # fastapi and uvicorn: only where a replica runs
        config = cpu_config(assigned_cpus(), self._config) if self._device == "CPU" else self._config
        self._app = create_app(self._models, device=self._device, config=config, **self._options)
        return self._app

    def info(self):
        """Where this replica runs and how its models are sized: its replica and node ids, the CPUs Ray assigned
        to it, and each served model's ``INFERENCE_NUM_THREADS`` and ``NUM_STREAMS`` as its compiled model
        reports them (``serve.get_app_handle(name).info.remote()``)."""
        import ray
        from ray import serve
        return {"replica": serve.get_replica_context().replica_id.unique_id,
                "node_id": ray.get_runtime_context().get_node_id(), "cpus": assigned_cpus(),
                "models": {name: {key: model.compiled.get_property(key) for key in ("INFERENCE_NUM_THREADS",
                                                                                    "NUM_STREAMS")}
                           for (name, _), model in self._app.state.ovfast.models.items()}}


def serve_app(models, *, num_replicas=1, num_cpus=1, device="CPU", config=None, name="ovfast",
              max_batch_size=16, max_delay_us=500, max_body_bytes=64 << 20, ray_actor_options=None,
              **deployment_options):
    """The ``ovfast serve`` app (KServe v2 REST, dynamic batching, ``/metrics``) as a Ray Serve application:
    `num_replicas` replicas of `num_cpus` CPUs each, every one compiling `models` (paths readable on every node)
    with OpenVINO's threads sized to its CPUs (:func:`cpu_config`; `config` keys win). Run it with
    ``serve.run(ovfast.ray.serve_app("model.xml", num_replicas=2))`` or ``serve run ovfast.ray:app_builder
    models=model.xml num_replicas=2``. Other keyword arguments go to ``serve.deployment``."""
    from ray import serve
    actor_options = {"num_cpus": num_cpus, **(ray_actor_options or {})}
    options = {"max_batch_size": max_batch_size, "max_delay_us": max_delay_us, "max_body_bytes": max_body_bytes}
    ingress = serve.ingress()(_ServeReplica)
    deployment = serve.deployment(ingress, name=name, num_replicas=num_replicas, ray_actor_options=actor_options,
                                  **deployment_options)
    return deployment.bind(models, device, config, options)


def app_builder(args):
    """``serve run ovfast.ray:app_builder models=a.xml,b.xml num_replicas=2 num_cpus=1 ...``: :func:`serve_app`
    from the command line's ``key=value`` strings (`models` comma-separated)."""
    args = dict(args)
    ints = ("num_replicas", "max_batch_size", "max_delay_us", "max_body_bytes")
    unknown = set(args) - {"models", "device", "name", "num_cpus", *ints}
    if unknown or "models" not in args:
        raise ValueError(f"ovfast.ray.app_builder: expected models=PATH[,PATH...] and optionally device, name, "
                         f"num_cpus, {', '.join(ints)}; got {sorted(args)}")
    models = [m for m in str(args.pop("models")).split(",") if m]
    kwargs = {k: int(v) for k, v in args.items() if k in ints}
    if "num_cpus" in args:
        kwargs["num_cpus"] = float(args["num_cpus"])
    return serve_app(models, **{k: v for k, v in args.items() if k in ("device", "name")}, **kwargs)
