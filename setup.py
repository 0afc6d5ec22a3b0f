"""Build of ovfast's extensions against the C API shipped inside the installed openvino wheel.

The wheel has headers under openvino/include and the library only under its versioned name
(libopenvino_c.so.<ver>), so we link that file by name and point the rpath at the openvino package
next to ours: no LD_LIBRARY_PATH at run time.
"""
import glob
import importlib.metadata
import importlib.util
import os
import re
import subprocess
import sysconfig

import numpy
from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
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
# DynamicBatcher: C++ on the C-level API (api.pxd), as an outside library would drive the pool; it reads
# the runtime's ports (_runtime.pxd), hence OpenVINO's headers, and links none of its libraries.
batcher = openvino_extension("ovfast._batcher", [])
batcher.extra_compile_args.append("-pthread")
batcher.extra_link_args.append("-pthread")
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


# The plugin exports what GStreamer's loader looks up for libgstovfast.so (gst_plugin_ovfast_get_desc; the
# _register function GST_PLUGIN_DEFINE adds for static linking) and nothing else, for the reason above.
PLUGIN = "ovfast.gst.plugin.libgstovfast"
PLUGIN_EXPORTS_MAP = os.path.join(HERE, "build", "ovfast-gst-plugin-exports.map")
with open(PLUGIN_EXPORTS_MAP, "w") as f:
    f.write("{\n  global: gst_plugin_ovfast_get_desc; gst_plugin_ovfast_register;\n  local: *;\n};\n")


def gst_plugin_extension():
    """ovfast/gst/plugin/libgstovfast.so, the elements as a GStreamer plugin for programs without Python
    (gst-launch-1.0, C): it starts Python in them, so it links libpython, which must be a shared library.
    Built where ovfast.gst._video is; else None."""
    cflags = pkg_config("--cflags", "gstreamer-1.0")
    libs = pkg_config("--libs", "gstreamer-1.0")
    if cflags is None or libs is None:
        return None
    libdir = sysconfig.get_config_var("LIBDIR")
    if not (sysconfig.get_config_var("Py_ENABLE_SHARED")
            and os.path.exists(os.path.join(libdir, sysconfig.get_config_var("LDLIBRARY")))):
        print("ovfast: this Python has no shared libpython, which the GStreamer plugin embeds: building without "
              "it (ovfast.gst works from Python; gst-launch-1.0 cannot load the elements)")
        return None
    with open(os.path.join(HERE, "pyproject.toml")) as f:
        version = re.search(r'^version = "([^"]+)"', f.read(), re.M).group(1)
    python = os.path.join(sysconfig.get_config_var("BINDIR"), "python" + sysconfig.get_config_var("VERSION"))
    return Extension(
        PLUGIN,
        sources=["src/ovfast/gst/plugin.c"],
        include_dirs=[f[2:] for f in cflags if f.startswith("-I")],
        extra_compile_args=["-O2"] + [f for f in cflags if not f.startswith("-I")] + HIDDEN_COMPILE,
        extra_link_args=libs + [f"-L{libdir}", f"-lpython{sysconfig.get_config_var('LDVERSION')}",
                                f"-Wl,-rpath,{libdir}", "-Wl,--exclude-libs,ALL",
                                f"-Wl,--version-script={PLUGIN_EXPORTS_MAP}"],
        define_macros=[("OVFAST_VERSION", f'"{version}"'), ("OVFAST_BASE_PYTHON", f'"{python}"')],
    )


class build_ext_with_plugin(build_ext):
    """Names the GStreamer plugin as GStreamer looks for it (libgst<name>.so, then gst_plugin_<name>_get_desc
    in it) instead of with a Python extension's suffix."""

    def get_ext_filename(self, fullname):
        if fullname.rsplit(".", 1)[-1] == PLUGIN.rsplit(".", 1)[-1]:
            return os.path.join(*fullname.split(".")) + ".so"
        return super().get_ext_filename(fullname)


exts = [runtime, api, batcher]
video = video_extension()
if video is not None:
    exts.append(video)
if os.path.exists(os.path.join(HERE, "src", "ovfast", "_packing.pyx")):
    exts.append(packing)
# plain C, not Cython: it joins the list after cythonize()
plugin = gst_plugin_extension() if video is not None else None


class build_py_with_pth(build_py):
    """Also puts ovfast-run.pth at the top of site-packages: subprocesses of `python -m ovfast run` (which
    sets OVFAST_RUN=1) switch openvino to ovfast at their start (ovfast/switch.py)."""

    def run(self):
        super().run()
        self.copy_file(os.path.join(HERE, "src", "ovfast-run.pth"), os.path.join(self.build_lib, "ovfast-run.pth"))


setup(
    ext_modules=cythonize(exts, compiler_directives=directives, annotate=DEBUG) + ([plugin] if plugin else []),
    cmdclass={"build_py": build_py_with_pth, "build_ext": build_ext_with_plugin},
    zip_safe=False,
)
