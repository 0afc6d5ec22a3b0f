"""Build of ovfast's extensions against the C API shipped inside the installed openvino wheel.

The wheel has headers under openvino/include and the library only under its versioned name
(libopenvino_c.so.<ver>), so we link that file by name and point the rpath at the openvino package
next to ours: no LD_LIBRARY_PATH at run time.
"""
import glob
import importlib.metadata
import importlib.util
import os
import subprocess

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))


def openvino_dir():
    spec = importlib.util.find_spec("openvino")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("ovfast needs the openvino package installed to build (pip install openvino)")
    return list(spec.submodule_search_locations)[0]


def versioned_lib(libs, stem):
    found = sorted(glob.glob(os.path.join(libs, stem + ".so.*")))
    if not found:
        raise SystemExit(f"{stem}.so.<version> not found in {libs}: is this an openvino wheel?")
    return os.path.basename(found[0])


OV_DIR = openvino_dir()
OV_VERSION = importlib.metadata.version("openvino")
OV_LIBS = os.path.join(OV_DIR, "libs")
OV_INCLUDE = os.path.join(OV_DIR, "include")
LIB_C = versioned_lib(OV_LIBS, "libopenvino_c")
LIB_CPP = versioned_lib(OV_LIBS, "libopenvino")

# The installed import check compares against this, so a different openvino fails with a clear message
# instead of a dlopen error about a missing libopenvino_c.so.<ver>.
with open(os.path.join(HERE, "src", "ovfast", "_build_info.py"), "w") as f:
    f.write("# Written by setup.py at build time.\n")
    f.write(f"OPENVINO_VERSION = {OV_VERSION!r}\n")
    f.write(f"OPENVINO_C_LIBRARY = {LIB_C!r}\n")

# OVFAST_DEBUG_BUILD=1: live-object counters (ovfast._runtime._debug_counts) that the tests check after
# every module, and Cython's annotated HTML. OVFAST_LINETRACE=1: line tracing for coverage tools (it takes
# the GIL inside nogil code, so the tests that prove the GIL is released fail under it).
DEBUG = os.environ.get("OVFAST_DEBUG_BUILD") == "1"
LINETRACE = os.environ.get("OVFAST_LINETRACE") == "1"
directives = {"language_level": 3, "embedsignature": True}
macros = [("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")]
if DEBUG:
    macros.append(("OVFAST_DEBUG_BUILD", "1"))
if LINETRACE:
    directives.update(linetrace=True, binding=True)
    macros.append(("CYTHON_TRACE_NOGIL", "1"))

# Every extension exports its PyInit_ function and nothing else. A compiler that links parts of libstdc++
# statically (some GCC wrappers do) otherwise exports thousands of std:: symbols (locale facets such as
# num_put<...>::id) that take the place of libstdc++'s own in the process, and OpenVINO then crashes in its
# first string formatting (seen on Ubuntu 24.04: 4,176 std:: symbols exported, a segfault in compile_model).
# Hidden visibility alone leaves out the template instances of namespace std (libstdc++ declares std
# with default visibility), so a version script makes every symbol but PyInit_* local.
EXPORTS_MAP = os.path.join(HERE, "build", "ovfast-exports.map")
os.makedirs(os.path.dirname(EXPORTS_MAP), exist_ok=True)
with open(EXPORTS_MAP, "w") as f:
    f.write("{\n  global: PyInit_*;\n  local: *;\n};\n")
HIDDEN_COMPILE = ["-fvisibility=hidden"]
HIDDEN_LINK = ["-Wl,--exclude-libs,ALL", f"-Wl,--version-script={EXPORTS_MAP}"]

# $ORIGIN/../openvino/libs finds the wheel's libraries from site-packages/ovfast/; the absolute path
# keeps an in-place (editable) build working from the source tree.
rpath = ["$ORIGIN/../openvino/libs", OV_LIBS]



def openvino_extension(name, libs):
    """A C++ extension on OpenVINO's libraries (the C API; the C++ one where _bridge.hpp reaches it)."""
    return Extension(
        name,
        sources=["src/" + name.replace(".", "/") + ".pyx"],
        include_dirs=[OV_INCLUDE, numpy.get_include(), os.path.join(HERE, "src", "ovfast")],
        extra_compile_args=["-std=c++17", "-O2", "-Wno-unused-function", "-Wno-deprecated-declarations",
                            "-fvisibility-inlines-hidden"] + HIDDEN_COMPILE,
        extra_link_args=[f"-l:{lib}" for lib in libs] + [f"-L{OV_LIBS}"]
        + [f"-Wl,-rpath,{p}" for p in rpath] + HIDDEN_LINK,
        define_macros=macros,
        language="c++",
    )


runtime = openvino_extension("ovfast._runtime", [LIB_C, LIB_CPP])
# The C-level API other extensions cimport (api.pxd); its job pool code works on the C API only.
api = openvino_extension("ovfast.api", [LIB_C])
packing = Extension(
    "ovfast._packing",
    sources=["src/ovfast/_packing.pyx"],
    include_dirs=[numpy.get_include()],
    extra_compile_args=["-O3"] + HIDDEN_COMPILE,
    extra_link_args=HIDDEN_LINK,
    define_macros=macros,
)


def pkg_config(*args):
    """pkg-config's answer split into words, or None when pkg-config or the package is missing."""
    try:
        out = subprocess.run(["pkg-config", *args], capture_output=True, text=True)
    except OSError:
        return None
    return out.stdout.split() if out.returncode == 0 else None


def video_extension():
    """ovfast.gst._video (the GStreamer elements) where GStreamer's video library is installed, else None:
    the core package never needs GStreamer."""
    if os.environ.get("OVFAST_NO_GSTREAMER") == "1":
        return None
    cflags = pkg_config("--cflags", "gstreamer-video-1.0 >= 1.20")
    libs = pkg_config("--libs", "gstreamer-video-1.0 >= 1.20")
    if cflags is None or libs is None:
        print("ovfast: GStreamer's video library (gstreamer-video-1.0 >= 1.20) not found by pkg-config: "
              "building without ovfast.gst (see the README for the packages)")
        return None
    return Extension(
        "ovfast.gst._video",
        sources=["src/ovfast/gst/_video.pyx"],
        include_dirs=[os.path.join(HERE, "src", "ovfast", "gst"), numpy.get_include()]
        + [f[2:] for f in cflags if f.startswith("-I")],
        extra_compile_args=["-O2", "-Wno-unused-function"] + [f for f in cflags if not f.startswith("-I")]
        + HIDDEN_COMPILE,
        extra_link_args=libs + HIDDEN_LINK,
        define_macros=macros,
    )


exts = [runtime, api]
video = video_extension()
if video is not None:
    exts.append(video)
if os.path.exists(os.path.join(HERE, "src", "ovfast", "_packing.pyx")):
    exts.append(packing)


class build_py_with_pth(build_py):
    """Also puts ovfast-run.pth at the top of site-packages: subprocesses of `python -m ovfast run` (which
    sets OVFAST_RUN=1) switch openvino to ovfast at their start (ovfast/switch.py)."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, "src", "ovfast-run.pth"), os.path.join(self.build_lib, "ovfast-run.pth"))


setup(
    ext_modules=cythonize(exts, compiler_directives=directives, annotate=DEBUG),
    cmdclass={"build_py": build_py_with_pth},
    zip_safe=False,
)
