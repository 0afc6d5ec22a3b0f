"""Keeps C++ exceptions working in processes that also load GStreamer.

Debian's GStreamer links libunwind, whose _Unwind_* functions have the same names as GCC's unwinder in
libgcc_s. PyGObject loads GStreamer into the global symbol scope, so an OpenVINO plugin loaded after it
(plugins load on first use) resumes exceptions with libunwind while libstdc++, loaded earlier with
openvino, raised them with libgcc_s: the process aborts at the first exception OpenVINO throws and catches
inside a plugin (seen: `import openvino`, then Gst, then `Core().available_devices` kills the process,
with openvino's own Python API too). Putting libgcc_s into the global scope first makes every later
library bind GCC's unwinder, consistently.
"""

import ctypes
import os


def prefer_gcc_unwinder():
    try:
        ctypes.CDLL("libgcc_s.so.1", mode=os.RTLD_GLOBAL)
    except OSError:  # not a GNU/Linux system with libgcc_s: nothing to align
        pass


class _LinkMap(ctypes.Structure):
    pass


_LinkMap._fields_ = [("l_addr", ctypes.c_void_p), ("l_name", ctypes.c_char_p), ("l_ld", ctypes.c_void_p),
                     ("l_next", ctypes.POINTER(_LinkMap)), ("l_prev", ctypes.POINTER(_LinkMap))]


def _loaded_in_order():
    """Paths of the loaded shared objects, in load order (glibc's link map from dlopen(NULL))."""
    lm = ctypes.cast(ctypes.c_void_p(ctypes.CDLL(None)._handle), ctypes.POINTER(_LinkMap))
    names = []
    while lm:
        names.append(os.fsdecode(lm.contents.l_name or b""))
        lm = lm.contents.l_next
    return names


def _first(names, stem):
    return next((i for i, n in enumerate(names) if os.path.basename(n).startswith(stem)), None)


def align_openvino_unwinder():
    """Called after GStreamer is loaded. If libunwind got into the global scope after libstdc++ had bound
    GCC's unwinder (openvino imported before GStreamer, ovfast after), OpenVINO's plugins and frontends,
    which load later, would bind libunwind's: load them now with RTLD_DEEPBIND so that they bind their own
    dependency libgcc_s, as libstdc++ did. Returns the libraries it loaded."""
    try:
        names = _loaded_in_order()
        unwind, stdcxx = _first(names, "libunwind.so"), _first(names, "libstdc++.so")
        if unwind is None or stdcxx is None or stdcxx > unwind:
            return []
        gcc = ctypes.CDLL("libgcc_s.so.1")
        winner = ctypes.cast(ctypes.CDLL(None)._Unwind_Resume, ctypes.c_void_p).value
        if winner == ctypes.cast(gcc._Unwind_Resume, ctypes.c_void_p).value:
            return []
    except (OSError, AttributeError, ValueError):
        return []
    import glob
    import importlib.util
    spec = importlib.util.find_spec("openvino")
    libs = os.path.join(list(spec.submodule_search_locations)[0], "libs")
    loaded = {os.path.realpath(n) for n in names if n}
    done = []
    for path in sorted(glob.glob(os.path.join(libs, "libopenvino_*.so*"))):
        if os.path.realpath(path) in loaded or os.path.islink(path) and os.path.realpath(path) != path:
            continue
        try:
            ctypes.CDLL(path, mode=os.RTLD_NOW | getattr(os, "RTLD_DEEPBIND", 0))
            done.append(path)
        except OSError:  # a plugin whose own dependencies are missing (GPU without OpenCL): never loadable
            pass
    return done
