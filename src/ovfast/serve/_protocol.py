"""KServe v2 inference requests and responses, in JSON and with the binary tensor data extension: pure
functions from bytes to numpy arrays and back, that raise ProtocolError (an HTTP 400) naming what was
wrong and what was expected."""

import json
import math
from dataclasses import dataclass

import numpy as np

try:
    import orjson      # the serve extra installs it
except ImportError:
    orjson = None

# KServe v2 tensor datatypes and their numpy types (BYTES, strings, is not served: see decode_inputs)
DTYPES = {"BOOL": np.dtype(np.bool_), "UINT8": np.dtype(np.uint8), "UINT16": np.dtype(np.uint16),
          "UINT32": np.dtype(np.uint32), "UINT64": np.dtype(np.uint64), "INT8": np.dtype(np.int8),
          "INT16": np.dtype(np.int16), "INT32": np.dtype(np.int32), "INT64": np.dtype(np.int64),
          "FP16": np.dtype(np.float16), "FP32": np.dtype(np.float32), "FP64": np.dtype(np.float64)}
DATATYPES = {dtype: name for name, dtype in DTYPES.items()}
# the kinds of JSON numbers each numpy kind takes without losing anything (no float into an integer)
_JSON_KINDS = {"b": "b", "i": "iu", "u": "iu", "f": "iuf"}


class ProtocolError(ValueError):
    """A request the protocol or the model cannot take: answered with HTTP 400 and {"error": message}."""


@dataclass(frozen=True)
class TensorSpec:
    """A model input or output as the protocol shows it: shape with -1 for a dimension of any size."""
    name: str
    datatype: str
    shape: tuple

    def __str__(self):
        return f"{self.datatype}{list(self.shape)}"


def datatype_of(dtype):
    """The KServe datatype of a numpy dtype; strings are BYTES."""
    dtype = np.dtype(dtype)
    if dtype.kind in "OSU":
        return "BYTES"
    if dtype not in DATATYPES:
        raise ProtocolError(f"the numpy type {dtype} has no KServe v2 datatype")
    return DATATYPES[dtype]


def _loads(text):
    """JSON as json.loads reads it. orjson first: a tensor's numbers are most of a JSON request, and orjson
    reads them about 4 times as fast (a 1x3x224x224 FP32 input: 40 ms with json). Where orjson refuses a
    document (NaN, Infinity, numbers past a double's range, lone surrogates) json decides, so that the same
    requests are taken and the same errors given. One reading differs: an integer outside 64 bits is the
    nearest double, as JSON's RFC 8259 allows (json gives a Python int, which no tensor takes)."""
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(bytes(text) if isinstance(text, memoryview) else text)


def split_body(body, header_length):
    """(the request's JSON header as a dict, the binary data after it as a memoryview). header_length: the
    Inference-Header-Content-Length header (None or "": all of the body is JSON)."""
    if header_length in (None, ""):
        size = len(body)
    else:
        try:
            size = int(header_length)
        except ValueError:
            size = -1
        if not 0 <= size <= len(body):
            raise ProtocolError(f"Inference-Header-Content-Length is {header_length!r}; expected the JSON "
                                f"header's length in bytes, 0 to {len(body)} (the body's length)")
    try:
        request = _loads(memoryview(body)[:size] if size < len(body) else body)
    except (ValueError, UnicodeDecodeError) as e:
        raise ProtocolError(f"malformed JSON in the request: {e}") from None
    if not isinstance(request, dict) or not isinstance(request.get("inputs"), list):
        raise ProtocolError("the request must be a JSON object with an \"inputs\" list "
                            "(KServe v2: {\"inputs\": [{\"name\", \"shape\", \"datatype\", \"data\"}]})")
    return request, memoryview(body)[size:]


def _shape_fits(shape, expected):
    if len(shape) != len(expected):
        return False
    for s, e in zip(shape, expected):
        if s != e and e >= 0:
            return False
    return True


def _is_shape(shape):
    """A list of non-negative integers (bool, an int's subclass, is not one)."""
    if type(shape) is not list:
        return False
    for d in shape:
        if type(d) is not int or d < 0:
            return False
    return True


def _from_json(spec, data, shape, count):
    dtype = DTYPES[spec.datatype]
    try:
        array = np.asarray(data)
    except (ValueError, TypeError):
        raise ProtocolError(f"input '{spec.name}': \"data\" is not a regular array of numbers") from None
    if array.size and array.dtype.kind not in _JSON_KINDS[dtype.kind]:
        kinds = {"b": "true/false", "i": "integers", "u": "integers", "f": "numbers"}[dtype.kind]
        raise ProtocolError(f"input '{spec.name}': \"data\" holds {array.dtype.kind!r}-kind values "
                            f"({array.dtype}); {spec.datatype} takes {kinds}")
    if array.size != count:
        raise ProtocolError(f"input '{spec.name}': \"data\" has {array.size} elements; shape {list(shape)} "
                            f"needs {count}")
    if dtype.kind in "iu" and array.size:
        info = np.iinfo(dtype)
        if array.dtype == object or array.min() < info.min or array.max() > info.max:
            raise ProtocolError(f"input '{spec.name}': \"data\" has values outside {spec.datatype}'s range "
                                f"{info.min}..{info.max}")
    return array.astype(dtype, copy=False).reshape(shape)


def decode_inputs(request, binary, specs, batched):
    """The request's input tensors as arrays, in the order of `specs` (the model's inputs). batched: the
    first dimension may be any size of at least 1 (the server batches rows)."""
    by_name = {s.name: s for s in specs}
    arrays = {}
    offset = 0
    for tensor in request["inputs"]:
        if not isinstance(tensor, dict) or not isinstance(tensor.get("name"), str):
            raise ProtocolError("each input must be an object with a \"name\", \"shape\", \"datatype\" and "
                                "\"data\" (or parameters.binary_data_size)")
        name = tensor["name"]
        spec = by_name.get(name)
        if spec is None:
            raise ProtocolError(f"unknown input '{name}'; the model's inputs are "
                                f"{', '.join(f'{s.name} ({s})' for s in specs)}")
        if name in arrays:
            raise ProtocolError(f"input '{name}' is given twice")
        datatype = tensor.get("datatype")
        if spec.datatype == "BYTES":
            raise ProtocolError(f"input '{name}' is a string (BYTES) tensor of the model; this server takes "
                                f"numeric tensors only (BOOL, UINT8..UINT64, INT8..INT64, FP16, FP32, FP64)")
        if datatype != spec.datatype:
            extra = "; BYTES (string) tensors are not served" if datatype == "BYTES" else ""
            raise ProtocolError(f"input '{name}' has datatype {datatype!r}; expected {spec.datatype!r}{extra}")
        shape = tensor.get("shape")
        if not _is_shape(shape):
            raise ProtocolError(f"input '{name}': \"shape\" must be a list of non-negative integers, got {shape!r}")
        if not _shape_fits(shape, spec.shape) or (batched and shape[0] < 1):
            raise ProtocolError(f"input '{name}' has shape {shape}; expected {list(spec.shape)}"
                                + (" (-1: any size of at least 1)" if -1 in spec.shape else ""))
        count = math.prod(shape)
        params = tensor.get("parameters") or {}
        size = params.get("binary_data_size") if isinstance(params, dict) else None
        if size is None:
            if "data" not in tensor:
                raise ProtocolError(f"input '{name}' has no \"data\" and no parameters.binary_data_size")
            arrays[name] = _from_json(spec, tensor["data"], shape, count)
            continue
        dtype = DTYPES[spec.datatype]
        if type(size) is not int or size != count * dtype.itemsize:
            raise ProtocolError(f"input '{name}': binary_data_size is {size!r}; shape {shape} of {spec.datatype} "
                                f"is {count * dtype.itemsize} bytes")
        if offset + size > len(binary):
            raise ProtocolError(f"input '{name}': its {size} bytes of binary data go past the body's end (the "
                                f"body has {len(binary)} bytes after the JSON header, {offset} taken by earlier "
                                f"inputs)")
        array = np.frombuffer(binary, dtype, count, offset).reshape(shape)
        if not array.flags.aligned:
            array = array.copy()
        arrays[name] = array
        offset += size
    if offset != len(binary):
        raise ProtocolError(f"the body has {len(binary) - offset} bytes of binary data that no input's "
                            f"binary_data_size claims (expected {offset} after the JSON header)")
    missing = [s for s in specs if s.name not in arrays]
    if missing:
        raise ProtocolError(f"missing input {', '.join(f'{s.name!r} ({s})' for s in missing)}")
    return [arrays[s.name] for s in specs]


def requested_outputs(request, specs):
    """[(index into specs, binary?)] of the outputs the request asks for (all of them if none)."""
    params = request.get("parameters") or {}
    default = bool(params.get("binary_data_output", False)) if isinstance(params, dict) else False
    wanted = request.get("outputs")
    if wanted is None:
        return [(i, default) for i in range(len(specs))]
    index = {s.name: i for i, s in enumerate(specs)}
    if not isinstance(wanted, list):
        raise ProtocolError("\"outputs\" must be a list of {\"name\": ...} objects")
    picked = []
    for out in wanted:
        name = out.get("name") if isinstance(out, dict) else None
        if name not in index:
            raise ProtocolError(f"unknown output {name!r}; the model's outputs are "
                                f"{', '.join(s.name for s in specs)}")
        p = out.get("parameters") or {}
        picked.append((index[name], bool(p.get("binary_data", default)) if isinstance(p, dict) else default))
    return picked


def _dumps(header, arrays):
    """The response header as compact JSON, each of `arrays` (numpy, flat) as its tensor's "data". orjson
    writes numpy arrays itself, about 10 times as fast as json on a tensor's numbers, and a float32's
    shortest text (what a float32 reading gives back exactly). json writes what orjson would not: NaN and
    infinities (orjson would write null), integers outside 64 bits in the request's id."""
    if orjson is not None and not any(a.dtype.kind == "f" and not np.isfinite(a).all() for a in arrays):
        try:
            return orjson.dumps(header, option=orjson.OPT_SERIALIZE_NUMPY)
        except orjson.JSONEncodeError:
            pass
    for tensor in header["outputs"]:
        if "data" in tensor:
            tensor["data"] = tensor["data"].tolist()
    return json.dumps(header, separators=(",", ":")).encode()


def encode_response(model_name, version, request_id, outputs):
    """(body bytes, JSON header length or None if the body is all JSON). outputs: [(name, array, binary?)]."""
    tensors, chunks, arrays = [], [], []
    for name, array, binary in outputs:
        tensor = {"name": name, "datatype": datatype_of(array.dtype), "shape": list(array.shape)}
        if binary:
            raw = np.ascontiguousarray(array)
            tensor["parameters"] = {"binary_data_size": raw.nbytes}
            chunks.append(raw.data)   # copied once, by the join below
        else:
            tensor["data"] = np.ascontiguousarray(array).ravel()
            arrays.append(tensor["data"])
        tensors.append(tensor)
    header = {"model_name": model_name, "model_version": str(version), "outputs": tensors}
    if request_id is not None:
        header["id"] = request_id
    head = _dumps(header, arrays)
    if not chunks:
        return head, None
    return b"".join([head] + chunks), len(head)
