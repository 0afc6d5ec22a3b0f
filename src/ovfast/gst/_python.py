"""What ovfastpython calls: a function or a class's method from a user's Python file, found once at
NULL -> READY. Only Python runs here, never per frame."""

import os

from ovfast.gst._model import SettingsError


def python_target(module, function, klass, kwargs):
    """ovfastpython's callable: `function` of the module at path `module`, or the `function` method of an
    instance of its class `klass` made with kwargs (JSON). Raises SettingsError naming what is missing."""
    import importlib.util
    import json
    import sys

    if not module:
        raise SettingsError("no module: set module= to the path of a Python file")
    if not os.path.isfile(module):
        raise FileNotFoundError(f"module={module!r}: no such file")
    try:
        extra = json.loads(kwargs) if kwargs else {}
    except ValueError as exc:
        raise SettingsError(f"kwargs={kwargs!r} is not JSON: {exc}") from exc
    if not isinstance(extra, dict):
        raise SettingsError(f"kwargs must be a JSON object ({{\"name\": value, ...}}), got {kwargs!r}")
    name = "ovfastpython_" + os.path.splitext(os.path.basename(module))[0]
    spec = importlib.util.spec_from_file_location(name, module)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    function = function or "process_frame"
    if klass:
        cls = getattr(mod, klass, None)
        if not isinstance(cls, type):
            raise SettingsError(f"module {module!r} has no class {klass!r}")
        instance = cls(**extra)
        target = getattr(instance, function, None)
        if not callable(target):
            raise SettingsError(f"class {klass!r} of {module!r} has no method {function!r}")
        return _Named(target, f"{module}:{klass}.{function}")
    target = getattr(mod, function, None)
    if not callable(target):
        raise SettingsError(f"module {module!r} has no function {function!r}")
    if extra:
        import functools
        target = functools.partial(target, **extra)
    return _Named(target, f"{module}:{function}")


class _Named:
    """A callable that knows the module and function it came from (for error messages)."""

    __slots__ = ("call", "name")

    def __init__(self, call, name):
        self.call, self.name = call, name

    def __call__(self, frame):
        return self.call(frame)


def python_target_name(target):
    return getattr(target, "name", None) or repr(target)
