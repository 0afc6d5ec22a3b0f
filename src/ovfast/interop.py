"""openvino's model-building API with ovfast Tensors.

openvino's graph functions and classes (pybind11) take only openvino's own Tensor, so `import ovfast as ov`
offers the same namespaces as openvino: `ov.op` and `ov.opset1` ... `ov.opsetN` (also importable as
`ovfast.opset13` ...) are openvino's, except that an ovfast.Tensor given to any of their functions or
constructors (directly or in a list) becomes an openvino.Tensor first. Node classes stay openvino's:
`isinstance(node, ov.op.Constant)` is true for any Constant, whoever made it.

That openvino.Tensor is a copy that owns its memory, as openvino's Tensor(array) is: a Constant made from
a Tensor keeps openvino's C++ tensor, not the Python object that owns shared memory, so a Constant over a
shared tensor reads freed memory once the tensor is gone (openvino's own `op.Constant(Tensor(array,
shared_memory=True))` does, after `del`; tests/test_interop.py shows it).

`to_openvino(tensor)` converts without a copy, for runtime use (an openvino.Tensor that keeps the memory
alive itself); the other way is `ovfast.Tensor(openvino_tensor, shared_memory=True)`.
"""

import functools
import sys
import types

import openvino

__all__ = ["to_openvino", "owned_copy"]


def to_openvino(tensor):
    """An openvino.Tensor over the same memory as an ovfast.Tensor (kept alive by it); a string tensor is
    copied, as openvino copies strings."""
    from ovfast._runtime import Tensor

    if not isinstance(tensor, Tensor):
        raise TypeError(f"to_openvino: expected an ovfast.Tensor, got {type(tensor).__name__}")
    etype = tensor.element_type
    if etype == openvino.Type.string:
        return openvino.Tensor(tensor.str_data)
    # the (array, shape, type) constructor shares the array's memory and reads it as `type`: right for
    # types numpy lacks (bf16) and packed ones (u4: the array is the packed bytes)
    return openvino.Tensor(tensor.data, list(tensor.shape), etype)


def owned_copy(tensor):
    """An openvino.Tensor with its own copy of an ovfast.Tensor's data (what graph functions get)."""
    etype = tensor.element_type
    if etype == openvino.Type.string:
        return openvino.Tensor(tensor.str_data)
    out = openvino.Tensor(etype, openvino.Shape(list(tensor.shape)))
    out.data.reshape(-1).view("u1")[...] = tensor.data.reshape(-1).view("u1")
    return out


def _convert(value):
    from ovfast._runtime import Tensor

    if isinstance(value, Tensor):
        return owned_copy(value)
    if isinstance(value, (list, tuple)) and any(isinstance(v, Tensor) for v in value):
        return type(value)(_convert(v) for v in value)
    return value


def _call(target, args, kwargs):
    return target(*[_convert(a) for a in args], **{k: _convert(v) for k, v in kwargs.items()})


class _ConvertingClass(type):
    """Stands for one of openvino's classes: calling it converts ovfast Tensors; isinstance, issubclass and
    attributes are the class's own."""

    def __call__(cls, *args, **kwargs):
        return _call(cls._wrapped, args, kwargs)

    def __instancecheck__(cls, obj):
        return isinstance(obj, cls._wrapped)

    def __subclasscheck__(cls, sub):
        return issubclass(sub, cls._wrapped)

    def __getattr__(cls, name):
        return getattr(cls._wrapped, name)


def _converting(value):
    if isinstance(value, type):
        return _ConvertingClass(value.__name__, (), {"_wrapped": value, "__doc__": value.__doc__,
                                                      "__module__": value.__module__})
    if callable(value) and not isinstance(value, types.ModuleType):
        @functools.wraps(value)
        def call(*args, **kwargs):
            return _call(value, args, kwargs)
        return call
    return value


class _ConvertingModule(types.ModuleType):
    """openvino.<name> (imported on first use) with every callable converting ovfast Tensors."""

    def __init__(self, name):
        super().__init__("ovfast." + name, f"openvino.{name}, taking ovfast Tensors too (see ovfast.interop)")
        self._source = "openvino." + name

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        import importlib

        value = _converting(getattr(importlib.import_module(self._source), name))
        setattr(self, name, value)
        return value

    def __dir__(self):
        import importlib

        return dir(importlib.import_module(self._source))


GRAPH_MODULES = ["op"] + sorted((n for n in dir(openvino) if n.startswith("opset") and n[5:].isdigit()),
                                key=lambda n: int(n[5:]))


def install(package):
    """Puts ov.op and ov.opsetN on the ovfast package and in sys.modules (so `import ovfast.opset13` works)."""
    for name in GRAPH_MODULES:
        module = _ConvertingModule(name)
        setattr(package, name, module)
        sys.modules["ovfast." + name] = module
