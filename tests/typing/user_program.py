"""A user program of ovfast's typed API: tests/test_types.py type-checks it with mypy and runs it."""
import numpy as np
import ovfast as ov
from ovfast.helpers import pack_data, unpack_data
import openvino.opset13 as ops
import openvino

a = ops.parameter([8], np.float32, name="a")
b = ops.parameter([8], np.float32, name="b")
model = openvino.Model(ops.add(a, b), [a, b], "add")
compiled = ov.compile_model(model, "CPU")
x = np.arange(8, dtype=np.float32)
result = compiled({"a": x, "b": x})
total: np.ndarray = result[0] + result[compiled.output(0)]
for port, value in result.items():
    print(port.any_name, value.shape)
t = ov.Tensor(x)
t2 = ov.Tensor(ov.Type.f32, [2, 4])
t3 = ov.Tensor(x, [8], ov.Type.f32)
request = compiled.create_infer_request()
request.set_input_tensor(0, t)
out = request.infer([t, x]).to_tuple()[0]
queue = ov.AsyncInferQueue(compiled, 4)
queue.set_callback(lambda req, userdata: print(userdata, req.results[0][0]))
queue.start_async({"a": x, "b": x}, userdata=1)
queue.wait_all()
batch = queue.map([np.stack([x] * 10), np.stack([x] * 10)])
sums = [r[0].sum() for r in queue.imap([{"a": x, "b": x}] * 5)]


async def serve_one() -> float:
    result = await queue.infer_async({"a": x, "b": x})
    total = 0.0
    async for r in queue.aimap([[x, x]] * 3):
        total += float(r[0].sum())
    return float(result[0].sum()) + total


import asyncio  # noqa: E402
served = asyncio.run(serve_one())
packed = pack_data(np.array([1, 2, 3]), ov.Type.u4)
values = unpack_data(packed, ov.Type.u4, [3])
print(served, total.sum(), out.sum(), batch[0].shape, sums, values, t2.shape, t3.element_type, len(queue))
