"""Batch inference on Ray Data: callable classes for ``Dataset.map_batches`` that compile an OpenVINO model
in each actor, sized to the CPUs Ray gave that actor, and run every batch through ``AsyncInferQueue.map``
(the whole batch in C, no Python per row)::

    ds.map_batches(ovfast.ray.Predictor, fn_constructor_kwargs={"model": "model.xml"},
                   concurrency=4, num_cpus=2, batch_size=1024, batch_format="numpy")

This module never imports Ray (a Ray worker has it loaded already), so ``import ovfast.ray`` needs no Ray.
"""

import asyncio
import os
import sys

import numpy as np

import ovfast as _ov
from ovfast import exceptions as _exc

__all__ = ["Predictor", "AsyncPredictor", "assigned_cpus", "cpu_config"]


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


class _Compiled:
    """A model compiled in the actor, with the mapping between a batch's columns and its ports."""

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None):
        model = os.fspath(model)
        if not os.path.isfile(model):
            raise _exc.ModelFileNotFound(f"ovfast.ray: the model file '{model}' does not exist")
        config = dict(config or {})
        if device == "CPU":
            config = cpu_config(assigned_cpus(), config)
        if cache_dir is not None:
            config.setdefault("CACHE_DIR", os.fspath(cache_dir))
        self.compiled = _ov.compile_model(model, device, config)
        inputs, outputs = input_columns or {}, output_columns or {}
        self._in = [(port, inputs.get(port.any_name, port.any_name)) for port in self.compiled.inputs]
        self._out = [(port, outputs.get(port.any_name, port.any_name or f"output{i}"),
                      len(port.shape) > 0 and port.shape[0] == 1)
                     for i, port in enumerate(self.compiled.outputs)]

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
                                            f"convert to input '{port.any_name}' ({port.element_type.get_type_name()})")
            arrays[port] = value
        return arrays

    def outputs(self, batch, result):
        """The batch with a column per output added: row i's output, its leading axis of 1 dropped."""
        batch = dict(batch)
        for port, column, squeeze in self._out:
            value = result[port]
            batch[column] = value.reshape(value.shape[:1] + value.shape[2:]) if squeeze else value
        return batch


class Predictor:
    """A callable class for ``Dataset.map_batches(..., batch_format="numpy")``: compiles `model` (a file's
    path) on `device` in the actor and runs each batch through ``AsyncInferQueue.map``.

    On CPU, the compile config is :func:`cpu_config` of the CPUs Ray assigned to the actor, read at run
    time; `config` keys override it. `cache_dir` turns on OpenVINO's model cache (``CACHE_DIR``), so actors
    after the first on a node load the compiled blob instead of compiling.

    A batch's columns named after the model's inputs go in (`input_columns` maps an input's name to another
    column), one column per output comes out, named after the output (`output_columns` renames), and every
    other column passes through. A row of an input column is one item of the port's shape, or of its shape
    without the leading 1 (``[1, 256]``: rows of 256 or of 1x256); an output column's rows have the output's
    shape without its leading 1 where it has one.
    """

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None):
        self._model = _Compiled(model, device, config, cache_dir, input_columns, output_columns)
        self.compiled = self._model.compiled
        self._queue = self._model.queue()

    def __call__(self, batch):
        return self._model.outputs(batch, self._queue.map(self._model.inputs(batch)))


class AsyncPredictor:
    """:class:`Predictor` with an async ``__call__``, for an actor that Ray Data hands several batches at
    once: up to `max_concurrent_batches` batches run at the same time, each through its own job queue's
    ``map`` on a thread (the GIL is released while it runs), so one batch's rows are read and written while
    another's run. Ray 2.60's ``map_batches`` runs up to 4 async calls per actor
    (``RAY_DATA_DEFAULT_ASYNC_BATCH_UDF_MAX_CONCURRENCY``); calls beyond `max_concurrent_batches` wait for
    a queue."""

    def __init__(self, model, device="CPU", config=None, cache_dir=None, input_columns=None,
                 output_columns=None, max_concurrent_batches=2):
        if max_concurrent_batches < 1:
            raise ValueError(f"max_concurrent_batches must be at least 1, got {max_concurrent_batches}")
        self._model = _Compiled(model, device, config, cache_dir, input_columns, output_columns)
        self.compiled = self._model.compiled
        self._queues = [self._model.queue() for _ in range(max_concurrent_batches)]
        self._idle = None   # an asyncio.Queue of idle job queues, made on the actor's event loop

    async def __call__(self, batch):
        if self._idle is None:
            self._idle = asyncio.Queue()
            for queue in self._queues:
                self._idle.put_nowait(queue)
        inputs = self._model.inputs(batch)
        queue = await self._idle.get()
        try:
            result = await asyncio.to_thread(queue.map, inputs)
        finally:
            self._idle.put_nowait(queue)
        return self._model.outputs(batch, result)
