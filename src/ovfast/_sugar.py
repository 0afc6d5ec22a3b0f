"""openvino's argument juggling for the runtime classes, where a call is rare or slow anyway.

The Cython classes keep one primitive per case (a Tensor from an array, over an array, allocated; a model
compiled from an openvino.Model, a file or IR bytes; a property's text) and the hot spelling of each call;
the other spellings are parsed here and handed to one of those primitives. Nothing here imports
ovfast._runtime, which imports this module.
"""

import os

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
        # Tensor(port) allocates the port's type and shape; Tensor(port, array) shares array's memory as that
        pshape = array.get_partial_shape()
        if pshape.is_dynamic:
            raise _exc.InputValueError(f"Tensor(port): the port's shape {pshape} is dynamic; a tensor needs a "
                                       f"static shape (Tensor(type, shape))")
        if shape is None:
            return None, list(pshape.to_shape()), array.get_element_type(), shared
        if isinstance(shape, np.ndarray):
            return shape, list(pshape.to_shape()), array.get_element_type(), shared
        raise _exc.InputTypeError(f"Tensor(port, array) takes a numpy array, got {type(shape).__name__}")
    if isinstance(array, (np.ndarray, _ov.Tensor)):
        return array, shape, etype, shared
    if shape is None and etype is None and array is not None and not isinstance(array, _TYPE_LIKE + (bytes,)):
        # a list, a PIL image, anything numpy converts: as openvino, through numpy (a copy)
        try:
            converted = np.asarray(array)
        except Exception as e:
            raise _exc.InputTypeError(f"Tensor() cannot turn a {type(array).__name__} into an array: {e}") from None
        if converted.dtype.hasobject:
            raise _exc.UnsupportedDtype(f"Tensor() of a {type(array).__name__}: numpy makes an object array of "
                                        f"it, which has no OpenVINO element type")
        return converted, None, None, False
    # Tensor(type, shape) / Tensor(shape, type)
    if array is not None and shape is not None and etype is None:
        if isinstance(array, _TYPE_LIKE):
            etype = array
        else:
            etype, shape = shape, array
    elif array is not None and etype is None:
        raise TypeError(f"{_FORMS}; got a {type(array).__name__}")
    if etype is None or shape is None:
        raise TypeError(_FORMS)
    return None, shape, etype, shared


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
            raise _exc.ModelFileNotFound(f"{compile_context(bdevice)}: no model file at {path!r}")
        return core._compile_file(os.fsencode(path), bdevice, pairs)
    raise _exc.InputTypeError(f"{compile_context(bdevice)}: expected an openvino.Model, a path or IR XML bytes, got "
                              f"{type(model).__name__}")


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
