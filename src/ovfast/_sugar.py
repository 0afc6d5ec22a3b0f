"""openvino's argument juggling for the runtime classes, where a call is rare or slow anyway.

The Cython classes keep one primitive per case (a Tensor from an array, over an array, allocated; a model
compiled from an openvino.Model, a file or IR bytes; a property's text) and the hot spelling of each call;
the other spellings are parsed here and handed to one of those primitives. Nothing here imports
ovfast._runtime, which imports this module.
"""

import os
import warnings

import numpy as np
import openvino as _ov

from ovfast import _properties
from ovfast import exceptions as _exc

_FORMS = "Tensor() takes (array, shared_memory=False), (array, shape, type) or (type, shape)"
_TYPE_LIKE = (_ov.Type, str, type, np.dtype)


def tensor_form(array, shape, etype, shared):
    """Tensor()'s arguments, other than a lone numpy array, as (array, shape, type, shared_memory) in one of
    the two forms Tensor builds from: an array (or openvino.Tensor) with an optional shape and type, or
    None with a type and a shape to allocate."""
    if not isinstance(array, np.ndarray) and hasattr(array, "get_partial_shape") and hasattr(
            array, "get_element_type"):
        return _port_form(array, shape, shared)
    if _is_region(array, shape, etype):
        _refuse_region(array)
    if isinstance(array, (np.ndarray, _ov.Tensor)):
        return array, shape, etype, shared
    if shape is None and etype is None and array is not None and not isinstance(array, _TYPE_LIKE + (bytes,)):
        # a list, a PIL image, anything numpy converts: as openvino, through numpy (a copy)
        try:
            converted = np.asarray(array)
        except Exception as e:
            raise _exc.InputTypeError(f"Tensor() cannot turn a {type(array).__name__} into an array: {e}") from None
        if converted.dtype.hasobject:
            raise _exc.says(_exc.UnsupportedDtype, "tensor argument", f"(Tensor() of a {type(array).__name__}: numpy "
                            f"makes an object array of it, which has no OpenVINO element type)")
        return converted, None, None, False
    # Tensor(type, shape) / Tensor(shape, type)
    if array is not None and shape is not None and etype is None:
        if isinstance(array, _TYPE_LIKE):
            etype = array
        else:
            etype, shape = shape, array
    elif array is not None and etype is None:
        raise _exc.says(TypeError, "tensor argument", f"({_FORMS}; got a {type(array).__name__})")
    if etype is None or shape is None:
        raise TypeError(_FORMS)
    return None, shape, etype, shared


def _is_region(tensor, begin, end):
    """Tensor(tensor, begin, end): openvino's region of interest of another tensor."""
    return (hasattr(tensor, "get_element_type") and hasattr(tensor, "data") and isinstance(begin, (list, tuple))
            and isinstance(end, (list, tuple)))


def _refuse_region(tensor):
    etype = tensor.get_element_type()
    if etype.bitwidth < 8:   # openvino refuses these too, in its own words
        name = etype.get_type_name()
        raise _exc.says(_exc.InputValueError, "strides", f"(Tensor(tensor, begin, end) of a {name} tensor: its "
                        f"elements are smaller than a byte)", type=name)
    raise _exc.NotImplementedOVError("Tensor(tensor, begin, end): ovfast has no region-of-interest tensors (its "
                                     "tensors are contiguous); slice the array instead: "
                                     "Tensor(tensor.data[b0:e0, b1:e1, ...])")


def _port_form(port, array, shared):
    """Tensor(port) allocates the port's type and shape; Tensor(port, array) shares the array's memory read as
    that type and shape. As in openvino: a dynamic port gives an empty tensor (shape [0]), an array of
    another type or of more elements is a RuntimeWarning, one of fewer elements an error."""
    pshape, etype = port.get_partial_shape(), port.get_element_type()
    if array is not None and not isinstance(array, np.ndarray):
        raise _exc.InputTypeError(f"Tensor(port, array) takes a numpy array, got {type(array).__name__}")
    if pshape.is_dynamic:
        return None, [0], etype, shared
    dims = list(pshape.to_shape())
    if array is None:
        return None, dims, etype, shared
    if array.dtype != etype.to_dtype():
        warnings.warn(f"{_exc.OPENVINO_SAYS['port type']} (the array is {array.dtype}, the port {etype}: its "
                      f"bytes are read as {etype})", RuntimeWarning, stacklevel=3)
    size = int(np.prod(dims))
    if size > array.size:
        raise _exc.says(_exc.InputValueError, "port exceeds", f"(the port {dims} holds {size} elements, the "
                        f"array {list(array.shape)} {array.size})")
    if size < array.size:
        warnings.warn(f"{_exc.OPENVINO_SAYS['port smaller']} (the port {dims} holds {size} elements, the array "
                      f"{list(array.shape)} {array.size}: the tensor is its first {size})", RuntimeWarning,
                      stacklevel=3)
    return array, dims, etype, shared


def compile_model(core, model, device_name, config, weights):
    """Core.compile_model: an openvino.Model, a model file's path or an IR in memory (XML bytes, or XML text
    with weights=), each compiled by its own primitive of the Core."""
    bdevice = ("AUTO" if device_name is None else device_name).encode()
    pairs = _properties.to_pairs(config or {})
    if weights is not None and not isinstance(model, (str, bytes, bytearray, memoryview)):
        raise _exc.InputTypeError(f"{compile_context(bdevice)}: with weights=, model is the IR's XML text (str or "
                                  f"bytes), got {type(model).__name__}")
    if weights is not None or isinstance(model, (bytes, bytearray, memoryview)):
        xml = model.encode() if isinstance(model, str) else bytes(model)
        return core._compile_ir(xml, weights, bdevice, pairs)
    if isinstance(model, _ov.Model):
        return core._compile_ov_model(model, bdevice, pairs)
    if isinstance(model, (str, os.PathLike)):
        path = os.fspath(model)
        if not os.path.isfile(path):
            detail = f"({compile_context(bdevice)}: no model file at {path!r})"
            frontend = _FRONTEND_OF.get(os.path.splitext(path)[1], "ir")
            raise _exc.says(_exc.ModelFileNotFound, "no file", detail, frontend=frontend, path=path)
        return core._compile_file(os.fsencode(path), bdevice, pairs)
    raise _exc.says(_exc.InputTypeError, "model path", f"({compile_context(bdevice)}: expected an openvino.Model, a "
                    f"path or IR XML bytes, got {type(model).__name__})", path=model)


# The OpenVINO frontend that reports a missing file, by the file's extension (IR for any other).
_FRONTEND_OF = {".onnx": "onnx", ".pdmodel": "paddle", ".tflite": "tflite", ".pb": "tf"}


def compile_context(bdevice):
    return f"compile_model(device_name={bdevice.decode()!r})"


def core_get_property(core, device_name, name):
    """Core.get_property(device_name, name), or get_property(name) for the Core's own properties."""
    if name is None:
        device_name, name = "", device_name
    key = _key(name)
    return _properties.from_text(key, core._property_text(device_name, key))


def compiled_get_property(compiled, name):
    key = _key(name)
    return _properties.from_text(key, compiled._property_text(key), compiled=True)


def _key(name):
    return str(_properties.key_of(name))  # a plain str: openvino's property keys are a str subclass
