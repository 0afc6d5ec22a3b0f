"""Builds an extension the way a library that embeds ovfast would: its own setup.py, Cython's include path
from ovfast.get_include() (the installed package), nothing from ovfast's source tree."""

import importlib
import os
import subprocess
import sys
import textwrap

HERE = os.path.dirname(os.path.abspath(__file__))


def driver_source():
    """tests/cext/ovfast_cdriver.pyx: a job-pool driver written against `cimport ovfast`."""
    with open(os.path.join(HERE, "cext", "ovfast_cdriver.pyx")) as f:
        source = f.read()
    assert "\ncimport ovfast\n" in source
    return source


def build_extension(folder, name, source_text):
    """Compiles source_text as extension `name` in folder (a throwaway setup.py, as a user's would be)."""
    os.makedirs(folder, exist_ok=True)
    with open(os.path.join(folder, name + ".pyx"), "w") as f:
        f.write(source_text)
    with open(os.path.join(folder, "setup.py"), "w") as f:
        f.write(textwrap.dedent(f"""
            import numpy, ovfast
            from Cython.Build import cythonize
            from setuptools import Extension, setup
            setup(ext_modules=cythonize([Extension({name!r}, [{name + '.pyx'!r}], include_dirs=[numpy.get_include()])],
                                        include_path=[ovfast.get_include()], quiet=True))
        """))
    proc = subprocess.run([sys.executable, "setup.py", "-q", "build_ext", "--inplace"], cwd=folder,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    sys.path.insert(0, folder)
    try:
        return importlib.import_module(name)
    finally:
        sys.path.remove(folder)
