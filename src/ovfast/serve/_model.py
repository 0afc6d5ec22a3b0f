"""One served model version: compiled once, run through a DynamicBatcher when every input has a batch
dimension (rows of a request become the batcher's items), else through an AsyncInferQueue."""

import asyncio

import numpy as np
import openvino

import ovfast
from ovfast.serve._protocol import ProtocolError, TensorSpec, datatype_of


def _name(port, index):
    return port.get_any_name() if port.get_names() else str(index)


def _spec(port, index, batched):
    shape = port.get_partial_shape()
    dims = [d.get_length() if d.is_static else -1 for d in shape] if shape.rank.is_static else []
    if batched:
        dims[0] = -1
    et = port.get_element_type()
    datatype = "BYTES" if et == openvino.Type.string else datatype_of(et.to_dtype())
    return TensorSpec(_name(port, index), datatype, tuple(dims))


def _batchable(model):
    """Rows on the first axis: every input of rank 2 or more (a rank-1 input is taken as one vector, not
    a batch of scalars) and no layout naming N elsewhere (the batcher checks that and the rest)."""
    return all(p.get_partial_shape().rank.is_static and p.get_partial_shape().rank.get_length() >= 2
               for p in model.inputs)


class ServedModel:
    """name, version, path, inputs/outputs ([TensorSpec]), batched; `await infer(arrays)` -> [arrays]."""

    def __init__(self, entry, device, config, max_batch_size, max_delay_us):
        self.name, self.version, self.path = entry.name, entry.version, entry.path
        try:
            model = openvino.Core().read_model(entry.path)
        except Exception as e:
            raise RuntimeError(f"ovfast serve: cannot read the model '{entry.path}': {e}") from None
        self.batcher = self.queue = None
        try:
            if _batchable(model):
                try:
                    self.batcher = ovfast.DynamicBatcher(model, device, config, max_batch_size=max_batch_size,
                                                         max_delay_us=max_delay_us)
                except ValueError:   # the batcher refuses the model: it runs one request at a time
                    pass
            if self.batcher is not None:
                compiled = self.batcher.compiled
            else:
                compiled = ovfast.compile_model(model, device, config or {})
                self.queue = ovfast.AsyncInferQueue(compiled)
        except Exception as e:
            raise RuntimeError(f"ovfast serve: cannot compile the model '{entry.path}' on {device}: {e}") from None
        self.compiled = compiled   # the batch-1 model: the oracle's shapes, and its properties for operators
        self.batched = self.batcher is not None
        # names and types from the original model: the batcher's batch-1 copy has the same ports
        self.inputs = [_spec(p, i, self.batched) for i, p in enumerate(model.inputs)]
        self.outputs = [_spec(p, i, self.batched) for i, p in enumerate(model.outputs)]
        self.closed = False

    def metadata(self):
        def tensors(specs):
            return [{"name": s.name, "datatype": s.datatype, "shape": list(s.shape)} for s in specs]
        return {"name": self.name, "versions": [str(self.version)], "platform": "openvino",
                "inputs": tensors(self.inputs), "outputs": tensors(self.outputs)}

    async def infer(self, arrays):
        """The model's outputs for the inputs (in the model's order), as compiled(arrays) gives them."""
        if not self.batched:
            return list((await self.queue.infer_async(arrays)).to_tuple())
        n = arrays[0].shape[0]
        if len(arrays) > 1 and any(a.shape[0] != n for a in arrays):
            given = ", ".join(f"{s.name}: {a.shape[0]}" for s, a in zip(self.inputs, arrays))
            raise ProtocolError(f"the inputs' first dimensions differ ({given}); expected one batch size for all "
                                f"inputs")
        if n == 1:
            return list((await self.batcher.infer_async(arrays)).to_tuple())
        results = await asyncio.gather(*[self.batcher.infer_async([a[i:i + 1] for a in arrays]) for i in range(n)])
        return [np.concatenate([r[k] for r in results]) for k in range(len(self.outputs))]

    def stats(self):
        return self.batcher.stats() if self.batched else None

    def close(self):
        """Answers what is queued, then takes no more (idempotent)."""
        if self.closed:
            return
        self.closed = True
        if self.batcher is not None:
            self.batcher.close()
        self.queue = None   # a queue lets its jobs go when dropped
