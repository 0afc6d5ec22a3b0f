"""Programs and libraries that say `import openvino` run on ovfast's runtime, unedited.

    ovfast.install()                  # in-process, before the library imports openvino
    python -m ovfast run script.py    # or: python -m ovfast run -m package.module

Once installed, an `import openvino` (and `from openvino import ...`, `import openvino.opset13`, ...)
written outside openvino and ovfast binds a view of openvino: its runtime names (Core, CompiledModel,
InferRequest, AsyncInferQueue, Tensor, compile_model, ports, ...) are ovfast's, `op` and `opsetN` are
ovfast's namespaces that take ovfast Tensors, `helpers` is ovfast.helpers, `utils.data_helpers.OVDict` is
ovfast's OVDict, and every other name is openvino's own object. The real openvino module is never modified: openvino's own code and ovfast's keep
seeing openvino's classes. openvino's applications (benchmark_app) are clients like any other program.

The switch is the import statement (builtins.__import__), so code that imports openvino through
importlib.import_module, or that was already holding openvino's classes when the switch was installed,
keeps openvino's (install() names such code in a warning). Subprocesses inherit the switch through the
OVFAST_RUN environment variable, which an ovfast .pth file reads at their start; OVFAST_DISABLE=1 turns
the switch off everywhere.
"""

import builtins
import os
import sys
import types
import warnings

# The runtime names whose objects come from ovfast; everything else a view gives is openvino's.
RUNTIME_NAMES = ("Core", "CompiledModel", "InferRequest", "AsyncInferQueue", "Tensor", "compile_model",
                 "ConstOutput", "ProfilingInfo")
# Importers inside openvino that are clients of its runtime, not part of it.
CLIENT_PACKAGES = ("openvino.tools.benchmark",)

_original_import = None   # builtins.__import__ before install(); None while not installed
_views = {}               # module name as imported -> what an importing client gets


def _is_internal(importer):
    """Whether code in module `importer` is openvino's or ovfast's own (it sees the real openvino)."""
    for package in ("openvino", "ovfast"):
        if importer == package or importer.startswith(package + "."):
            return not importer.startswith(CLIENT_PACKAGES)
    return False


class _OpenvinoView(types.ModuleType):
    """openvino, as a client of the switch sees it: ovfast's runtime names over openvino's module."""

    def __init__(self, real, names):
        super().__init__(real.__name__, real.__doc__)
        self.__dict__.update({k: v for k, v in vars(real).items() if k in ("__file__", "__path__", "__spec__",
                                                                            "__version__", "__all__")})
        self.__dict__.update(names)
        self.__dict__["_ovfast_real"] = real

    def __getattr__(self, name):
        return getattr(self.__dict__["_ovfast_real"], name)

    def __dir__(self):
        return sorted(set(dir(self.__dict__["_ovfast_real"])) | set(self.__dict__))

    def __repr__(self):
        real = self.__dict__["_ovfast_real"]
        return f"<module {real.__name__!r} (ovfast's runtime over {real.__file__})>"


def _build_views():
    import openvino

    import ovfast
    import ovfast.helpers

    names = {name: getattr(ovfast, name) for name in RUNTIME_NAMES if hasattr(openvino, name)}
    graph = {name: getattr(ovfast, name) for name in ovfast.interop.GRAPH_MODULES}
    view = _OpenvinoView(openvino, {**names, **graph, "helpers": ovfast.helpers})
    # programs that check results with isinstance(r, openvino.utils.data_helpers.OVDict) see ovfast's
    import openvino.utils.data_helpers as data_helpers

    views = {"openvino": view, "openvino.helpers": ovfast.helpers,
             "openvino.utils.data_helpers": _OpenvinoView(data_helpers, {"OVDict": ovfast.OVDict})}
    views.update({f"openvino.{name}": module for name, module in graph.items()})
    return views


def _switched_import(name, globals=None, locals=None, fromlist=(), level=0):
    module = _original_import(name, globals, locals, fromlist, level)
    if level or not (name == "openvino" or name.startswith("openvino.")):
        return module
    importer = globals.get("__name__", "") if globals else ""
    if _is_internal(importer):
        return module
    if not fromlist:             # `import openvino[.sub]`: binds the top-level package
        return _views["openvino"]
    return _views.get(name, module)  # `from openvino[.sub] import ...`: the names are read from this


def install():
    """Makes `import openvino` give ovfast's runtime to code outside openvino and ovfast, from now on.

    Returns False (and does nothing) under OVFAST_DISABLE=1, True otherwise. Call it before the library
    you want to accelerate imports openvino: a module that already holds openvino's runtime objects keeps
    them, and a RuntimeWarning names each such module and name."""
    global _original_import
    if os.environ.get("OVFAST_DISABLE") == "1":
        return False
    if _original_import is not None:
        return True
    _views.update(_build_views())
    _warn_about_early_imports()
    _original_import = builtins.__import__
    builtins.__import__ = _switched_import
    return True


def _warn_about_early_imports():
    """Names the modules that took openvino's runtime before the switch (its module, classes or objects
    made from them, in their globals): they keep openvino's."""
    import openvino

    classes = {getattr(openvino, n): n for n in RUNTIME_NAMES if hasattr(openvino, n)}
    kinds = tuple(c for c in classes if isinstance(c, type))

    def what(value):
        if value is openvino:
            return "the openvino module"
        if isinstance(value, kinds):
            return f"an openvino.{classes[type(value)] if type(value) in classes else type(value).__name__}"
        try:
            return f"openvino.{classes[value]}" if value in classes else None
        except TypeError:   # unhashable
            return None

    held = []
    for module_name, module in list(sys.modules.items()):
        if module is None or _is_internal(module_name):
            continue
        try:
            values = list(vars(module).items())
        except TypeError:
            continue
        names = sorted(f"{k} ({w})" for k, v in values if not k.startswith("__") and (w := what(v)))
        if names:
            held.append(f"{module_name}: {', '.join(names)}")
    if held:
        warnings.warn("ovfast.install() came after these modules imported openvino's runtime; they keep openvino's "
                      "objects (install before importing them, or use `python -m ovfast run`): " + "; ".join(held),
                      RuntimeWarning, stacklevel=3)


def install_from_environment():
    """Called at interpreter start by ovfast's .pth file: installs the switch when OVFAST_RUN=1."""
    if os.environ.get("OVFAST_RUN") == "1" and os.environ.get("OVFAST_DISABLE") != "1":
        install()
