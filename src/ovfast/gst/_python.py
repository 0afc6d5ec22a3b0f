"""What ovfastpython calls: a function or a class's method from a user's Python module, found once at
NULL -> READY, with gvapython's properties (module, class, function, arg, kwarg). Only Python runs here, never
per frame."""

import json
import os

from ovfast.gst._model import SettingsError


def merge_json(prop, current, text, as_list):
    """gvapython's arg (as_list: each JSON value is appended, an array's items one by one) and kwarg (each JSON
    object updates the one kept). Returns (the merged JSON text, None), or (None, the error naming the value)."""
    if text is None:
        return current, None
    try:
        value = json.loads(text)
    except ValueError as exc:
        return None, f"{prop}={text!r} is not JSON: {exc}"
    if as_list:
        merged = json.loads(current) if current else []
        merged.extend(value) if isinstance(value, list) else merged.append(value)
    else:
        if not isinstance(value, dict):
            return None, f"{prop}={text!r} must be a JSON object ({{\"name\": value, ...}})"
        merged = json.loads(current) if current else {}
        merged.update(value)
    return json.dumps(merged), None


def _module(path):
    """The module `path` names, as gvapython finds it: a file (`.py` may be left out) whose folder goes on
    sys.path, or a module name importable as it is."""
    import importlib
    import importlib.util
    import sys

    folder, base = os.path.split(path)
    name = base[:-3] if base.endswith(".py") else base
    if not folder:
        return importlib.import_module(name)
    file = os.path.abspath(path if path.endswith(".py") else path + ".py")
    if not os.path.isfile(file):
        raise FileNotFoundError(f"module={path!r}: no such file {file}")
    folder = os.path.dirname(file)
    if folder not in sys.path:
        sys.path.append(folder)          # the module's own imports find the files beside it
    cached = sys.modules.get(name)
    if cached is not None and os.path.abspath(getattr(cached, "__file__", "") or "") == file:
        return cached
    # By its path, not its name: another folder on sys.path may hold a module of the same name.
    spec = importlib.util.spec_from_file_location(name, file)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return mod


def python_target(module, function, klass, kwargs, arg=None, kwarg=None):
    """ovfastpython's callable: `function` of the module, or the `function` method of an instance of its
    class `klass`, made with arg (a JSON array: positional arguments) and kwarg merged with kwargs (JSON
    objects). kwargs, ovfast's own, also gives a function extra keyword arguments. Raises SettingsError naming
    what is missing."""
    if not module:
        raise SettingsError("no module: set module= to the path of a Python file (or a module name)")
    try:
        extra = json.loads(kwargs) if kwargs else {}
    except ValueError as exc:
        raise SettingsError(f"kwargs={kwargs!r} is not JSON: {exc}") from exc
    if not isinstance(extra, dict):
        raise SettingsError(f"kwargs must be a JSON object ({{\"name\": value, ...}}), got {kwargs!r}")
    mod = _module(module)
    function = function or "process_frame"
    if klass:
        cls = getattr(mod, klass, None)
        if not isinstance(cls, type):
            raise SettingsError(f"module {module!r} has no class {klass!r}")
        instance = cls(*json.loads(arg or "[]"), **dict(json.loads(kwarg or "{}"), **extra))
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
