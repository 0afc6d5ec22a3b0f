"""The HTTP ceiling for bench/test_serve_bench.py: the servers' stack (uvicorn with uvloop and httptools) under a
bare ASGI callable that reads each KServe v2 infer request's body and answers with the model's output shape
filled with zeros, parsing nothing and running no inference. No server on this stack answers faster.

    python bench/serve_ceiling.py MODEL.xml [--host 127.0.0.1] [--port 8000]
"""

import json
import os
import sys

import numpy as np
import openvino

import serve_baseline


def make_app(model_path):
    name = os.path.splitext(os.path.basename(model_path))[0]
    port = openvino.Core().read_model(model_path).output(0)
    y = np.zeros(tuple(port.get_shape()), port.get_element_type().to_dtype())
    output = {"name": port.get_any_name(), "shape": list(y.shape), "datatype": "FP32"}
    as_json = json.dumps({"model_name": name, "outputs": [dict(output, data=y.ravel().tolist())]}).encode()
    header = json.dumps({"model_name": name,
                         "outputs": [dict(output, parameters={"binary_data_size": y.nbytes})]}).encode()
    as_binary = header + y.tobytes()
    binary_headers = [(b"content-type", b"application/octet-stream"),
                      (serve_baseline.HEADER_LENGTH.lower().encode(), str(len(header)).encode())]

    async def app(scope, receive, send):
        more = True
        while more:
            more = (await receive()).get("more_body", False)
        # the bench asks for a binary output exactly when it sends a binary input
        binary = any(k == b"inference-header-content-length" for k, _ in scope["headers"])
        await send({"type": "http.response.start", "status": 200,
                    "headers": binary_headers if binary else [(b"content-type", b"application/json")]})
        await send({"type": "http.response.body", "body": as_binary if binary else as_json})

    return app


if __name__ == "__main__":
    sys.exit(serve_baseline.main(make=make_app, doc=__doc__, lifespan="off"))
