"""The installed build: what its extensions export, and what its wheel carries."""

import importlib
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

EXTENSIONS = ["ovfast._runtime", "ovfast._packing", "ovfast.api", "ovfast.gst._video"]
# ovfast's GStreamer plugin exports what GStreamer's loader looks up in libgstovfast.so
PLUGIN = "ovfast/gst/plugin/libgstovfast.so"
PLUGIN_EXPORTS = {"gst_plugin_ovfast_get_desc", "gst_plugin_ovfast_register"}
# what a linker may define on its own in a shared object
LINKER_SYMBOLS = {"_init", "_fini", "__bss_start", "_edata", "_end"}


def exported_symbols(path):
    """Names of the defined, default-visibility GLOBAL/WEAK symbols in an ELF64 file's .dynsym: what the
    shared object offers to every other library in the process."""
    data = Path(path).read_bytes()
    assert data[:4] == b"\x7fELF" and data[4] == 2, f"{path} is not a 64-bit ELF file"
    order = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(order + "Q", data, 0x28)
    shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
    sections = [struct.unpack_from(order + "IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    SHT_DYNSYM = 11
    names = []
    for sh_name, sh_type, _, _, offset, size, link, _, _, entsize in sections:
        if sh_type != SHT_DYNSYM:
            continue
        strtab_offset = sections[link][4]
        for k in range(size // entsize):
            st_name, st_info, st_other, st_shndx, _, _ = struct.unpack_from(order + "IBBHQQ", data, offset + k * entsize)
            binding, visibility = st_info >> 4, st_other & 3
            if st_shndx == 0 or binding not in (1, 2) or visibility != 0:  # undefined, local, or hidden
                continue
            end = data.index(b"\0", strtab_offset + st_name)
            names.append(data[strtab_offset + st_name:end].decode())
    return names


@pytest.mark.parametrize("module", EXTENSIONS)
def test_extensions_export_only_their_init_function(module):
    path = importlib.import_module(module).__file__
    exported = set(exported_symbols(path)) - LINKER_SYMBOLS
    std = sorted(n for n in exported if n.startswith(("_ZNSt", "_ZSt", "_ZNKSt", "_ZGVNSt", "_ZTVSt", "_ZTISt",
                                                      "_ZTSSt", "_ZNSt6locale")))
    assert not std, f"{path} exports {len(std)} std:: symbols, e.g. {std[:5]}: they would replace libstdc++'s own"
    assert exported == {"PyInit_" + module.rsplit(".", 1)[1]}, f"{path} exports {sorted(exported)}"


def test_the_gst_plugin_exports_only_what_gstreamer_looks_up():
    import ovfast
    path = os.path.join(os.path.dirname(ovfast.__file__), "gst", "plugin", "libgstovfast.so")
    assert set(exported_symbols(path)) - LINKER_SYMBOLS == PLUGIN_EXPORTS


def test_the_symbol_reader_sees_what_a_default_build_exports(tmp_path):
    # the check above must be able to fail: a C++ library built without hidden visibility exports std::
    # symbols (an inline function's static and its template instances)
    src = tmp_path / "leaky.cpp"
    src.write_text('#include <vector>\nvoid leaky(std::vector<int>& v, int x) { v.push_back(x); }\n')
    lib = tmp_path / "libleaky.so"
    cxx = os.environ.get("CXX", "c++")
    subprocess.run([cxx, "-shared", "-fPIC", "-O0", str(src), "-o", str(lib)], check=True)
    exported = exported_symbols(lib)
    assert "_Z5leakyRSt6vectorIiSaIiEEi" in exported, exported
    assert any(n.startswith("_ZNSt6vectorIiSaIiEE") for n in exported), exported
    # and the same file built the way setup.py builds ovfast exports none of it
    script = tmp_path / "exports.map"
    script.write_text("{ global: leaky_c; local: *; };\n")
    subprocess.run([cxx, "-shared", "-fPIC", "-O0", "-fvisibility=hidden", str(src), "-o", str(lib),
                    f"-Wl,--version-script={script}"], check=True)
    assert exported_symbols(lib) == []


def source_tree():
    root = Path(__file__).resolve().parents[1]
    assert (root / "setup.py").is_file(), "the tests run from a source checkout (setup.py beside tests/)"
    return root


def test_the_checkout_does_not_shadow_the_installed_package():
    # `python -m pytest` (and `python -c`) put the working directory first on sys.path: from the checkout's
    # root, `import ovfast` must still find the installed, built package
    out = subprocess.run([sys.executable, "-c", "import ovfast._runtime, ovfast; print(ovfast.__file__)"],
                         cwd=source_tree(), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    found = Path(out.stdout.strip()).parent
    assert found not in (source_tree() / "ovfast", source_tree() / "src" / "ovfast"), found


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `pip wheel . --no-deps` builds from this checkout (with the installed build tools)."""
    # from a clean copy: setuptools reuses objects in build/ by their timestamps, whatever the flags
    src = tmp_path_factory.mktemp("src") / "ovfast"
    shutil.copytree(source_tree(), src, ignore=shutil.ignore_patterns(
        "build", "dist", "*.so", "*.egg-info", ".venv*", ".git", ".hypothesis", ".benchmarks", "__pycache__",
        "_runtime.cpp", "api.cpp", "_packing.c", "_video.c"))
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(out)], check=True, timeout=900)
    wheels = list(out.glob("ovfast-*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


def test_wheel_carries_pxd_pyi_and_no_build_leftovers(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    junk = [n for n in names if n.endswith((".c", ".cpp", ".o", ".html")) or "/build/" in n or "__pycache__" in n]
    assert not junk, junk
    for needed in ("ovfast/_runtime.pxd", "ovfast/includes/openvino_c.pxd", "ovfast/includes/bridge.pxd",
                   "ovfast/_bridge.hpp", "ovfast/_pool.hpp", "ovfast/_c_api.hpp", "ovfast/api.pxd",
                   "ovfast/__init__.pxd", "ovfast/_runtime.pyi", "ovfast/helpers.pyi", "ovfast/api.pyi",
                   "ovfast/py.typed", "ovfast/gst/ovfast_meta.h", "ovfast/gst/_video.pyi", PLUGIN):
        assert needed in names, f"{needed} missing from {wheel.name}"
    for module in EXTENSIONS:
        assert any(n.startswith(module.replace(".", "/") + ".") and n.endswith(".so") for n in names), module


def test_wheel_extensions_export_only_their_init_function(wheel, tmp_path):
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            if name.endswith(".so"):
                path = z.extract(name, tmp_path)
                exported = set(exported_symbols(path)) - LINKER_SYMBOLS
                if name == PLUGIN:
                    assert exported == PLUGIN_EXPORTS, sorted(exported)
                    continue
                assert len(exported) == 1 and next(iter(exported)).startswith("PyInit_"), (name, sorted(exported))


def test_auditwheel_finds_a_manylinux_policy(wheel):
    # every library the extensions link is in a manylinux policy, one of the openvino wheel's own (found
    # through the rpath) or, for ovfast.gst, the system's GStreamer (auditwheel show prints the policy the
    # versioned symbols allow)
    out = subprocess.run([sys.executable, "-m", "auditwheel", "show", str(wheel)], capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr
    text = " ".join(out.stdout.split())
    assert "platform tag: \"manylinux_" in text or "constrains the platform tag to \"manylinux_" in text, text
