"""POST /v2/models/{name}[/versions/{v}]/infer as a bare ASGI endpoint: the body read with its limit, decoded,
run, answered. On a small model FastAPI's and Starlette's request layers cost more than the rest of the
request, so the app's front door (App in _app.py) sends infer requests here directly; the same endpoint is
also the FastAPI app's infer route, for hosts that call that app itself."""

import json
import time
import zlib

from ovfast.serve._protocol import ProtocolError, decode_inputs, encode_response, requested_outputs, split_body


class HTTPError(Exception):
    """A request answered with `status` and KServe's {"error": message}."""

    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


class _Disconnected(Exception):
    """The client went before its body was read: nobody to answer."""


def error_body(message):
    return json.dumps({"error": message}).encode()


def inflate(body, encoding, limit):
    """The body as its Content-Encoding (gzip, deflate or identity) says, refused past `limit` bytes."""
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise HTTPError(400, f"Content-Encoding '{encoding}' is not supported; expected gzip, deflate or identity")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        body = inflater.decompress(body, limit + 1)
    except zlib.error as e:
        raise HTTPError(400, f"the body is not valid {encoding} data: {e}") from None
    if len(body) > limit:
        raise HTTPError(400, f"the {encoding} body inflates to over {limit} bytes, the most this server takes "
                             f"(--max-body-bytes)")
    if not inflater.eof:
        raise HTTPError(400, f"the {encoding} body is truncated")
    return body


async def _read_body(receive, headers, limit):
    """The body, refused as soon as it passes `limit` bytes (never more held)."""
    length = headers.get(b"content-length")
    if length is not None and length.isdigit() and int(length) > limit:
        raise HTTPError(400, f"the body is {length.decode()} bytes; this server takes at most {limit} "
                             f"(--max-body-bytes)")
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise _Disconnected()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise HTTPError(400, f"the body is over {limit} bytes, the most this server takes (--max-body-bytes)")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return inflate(body, headers.get(b"content-encoding", b"identity").decode("latin-1"), limit)


_JSON = (b"content-type", b"application/json")
_BINARY = (b"content-type", b"application/octet-stream")


async def _send(send, status, body, content_type=_JSON, header_length=None):
    headers = [content_type, (b"content-length", b"%d" % len(body))]
    if header_length is not None:
        headers.append((b"inference-header-content-length", b"%d" % header_length))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _answer(state, model, headers, receive, send):
    try:
        body = await _read_body(receive, headers, state.max_body_bytes)
        header_length = headers.get(b"inference-header-content-length")
        req, binary = split_body(body, None if header_length is None else header_length.decode("latin-1"))
        arrays = decode_inputs(req, binary, model.inputs, model.batched)
        outputs = requested_outputs(req, model.outputs)
        start = time.perf_counter()
        results = await model.infer(arrays)
        seconds = time.perf_counter() - start
        body, header_length = encode_response(model.name, model.version, req.get("id"),
                                              [(model.outputs[i].name, results[i], b) for i, b in outputs])
    except (ProtocolError, HTTPError) as e:
        state.metrics.failure(model)
        return await _send(send, getattr(e, "status", 400), error_body(str(e)))
    except _Disconnected:
        state.metrics.failure(model)
        return None
    except Exception as e:
        state.metrics.failure(model)
        return await _send(send, 500, error_body(f"inference failed: {type(e).__name__}: {e}"))
    state.metrics.success(model, arrays[0].shape[0] if model.batched else 1, seconds)
    if header_length is None:
        return await _send(send, 200, body)
    return await _send(send, 200, body, _BINARY, header_length)


async def infer(state, name, version, scope, receive, send):
    """Answers one infer request for model `name` (`version`: None for its default) of `state`."""
    headers = dict(scope["headers"])   # ASGI: names in lower case
    try:
        model = state.find(name, version)
    except HTTPError as e:
        return await _send(send, e.status, error_body(str(e)))
    if state.closed:
        state.metrics.failure(model)
        return await _send(send, 503, error_body("the server is shutting down"))
    state.metrics.taken(model)
    try:
        await _answer(state, model, headers, receive, send)
    finally:
        state.metrics.answered(model)


class _Endpoint:
    """The infer route of the FastAPI app: Starlette calls an endpoint that is not a function as an ASGI app."""

    async def __call__(self, scope, receive, send):
        params = scope["path_params"]
        await infer(scope["app"].state.ovfast, params["name"], params.get("version"), scope, receive, send)


endpoint = _Endpoint()
