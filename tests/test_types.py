"""ovfast's type stubs (ovfast/*.pyi, py.typed): mypy passes a real user program and flags wrong calls, and
the stubs name exactly the public API the extension has."""

import ast
import os
import site
import subprocess
import sys
import sysconfig

import pytest

import ovfast
import ovfast._runtime

HERE = os.path.dirname(os.path.abspath(__file__))
PACKAGE = os.path.dirname(os.path.abspath(ovfast.__file__))
PROGRAM = os.path.join(HERE, "typing", "user_program.py")


def mypy(tmp_path, source_path):
    """mypy on one file, finding ovfast where it is installed; openvino ships no py.typed (its .pyi
    files do not type-check), so it is Any to mypy."""
    config = ["[mypy]", "[mypy-openvino.*]", "ignore_missing_imports = True"]
    installed_in = os.path.dirname(PACKAGE)
    site_dirs = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], *site.getsitepackages()}
    if installed_in not in site_dirs:  # an editable install: its folder is not on mypy's search path
        config.insert(1, f"mypy_path = {installed_in}")
    ini = tmp_path / "mypy.ini"
    ini.write_text("\n".join(config) + "\n")
    proc = subprocess.run([sys.executable, "-m", "mypy", "--config-file", str(ini), "--no-incremental",
                           "--cache-dir", str(tmp_path / "cache"), source_path], capture_output=True, text=True,
                          cwd=str(tmp_path))
    return proc.returncode, proc.stdout + proc.stderr


def test_package_is_typed():
    for f in ("py.typed", "_runtime.pyi", "helpers.pyi", "api.pyi"):
        assert os.path.exists(os.path.join(PACKAGE, f)), f


def test_a_user_program_type_checks_and_runs(tmp_path):
    code, out = mypy(tmp_path, PROGRAM)
    assert code == 0 and "Success: no issues found" in out, out
    run = subprocess.run([sys.executable, PROGRAM], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


@pytest.mark.parametrize("line, complaint", [
    ("ov.Tensor(1, 2, 3, 4)", 'No overload variant of "Tensor" matches argument types "int", "int", "int", "int"'),
    ("ov.Core().compile_model(model, 'CPU', config=5)", 'Argument "config" to "compile_model" of "Core"'),
    ("compiled.nonexistent()", '"CompiledModel" has no attribute "nonexistent"'),
    ("n: str = ov.AsyncInferQueue(compiled).get_idle_request_id()", 'Incompatible types in assignment'),
    ("compiled(share_input=True)", 'Unexpected keyword argument "share_input" for "__call__" of "CompiledModel"'),
    ("x: int = compiled()[0]", 'Incompatible types in assignment (expression has type "ndarray'),
])
def test_wrong_calls_are_flagged(tmp_path, line, complaint):
    program = tmp_path / "wrong.py"
    program.write_text("import ovfast as ov\nmodel: ov.Model = ov.Model([], [])\n"
                       "compiled = ov.compile_model(model, 'CPU')\n" + line + "\n")
    code, out = mypy(tmp_path, str(program))
    assert code == 1 and "wrong.py:4: error: " + complaint in out, out


def stub_classes():
    tree = ast.parse(open(os.path.join(PACKAGE, "_runtime.pyi")).read())
    classes = {}
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            classes[node.name] = {n.name for n in node.body if isinstance(n, ast.FunctionDef)}
    return classes


@pytest.mark.parametrize("name", sorted(stub_classes()))
def test_stubs_name_every_public_member(name):
    """Every public method and property of the class is in its stub, and the stub names nothing else."""
    cls = getattr(ovfast._runtime, name)
    public = {m for m in vars(cls) if not m.startswith("_")}
    in_stub = {m for m in stub_classes()[name] if not m.startswith("_")}
    assert in_stub == public, (sorted(public - in_stub), sorted(in_stub - public))
