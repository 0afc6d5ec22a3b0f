"""`python -m ovfast run` and `ovfast.install()` (ovfast/switch.py): unedited programs and libraries that
`import openvino` get ovfast's runtime; openvino's own objects stay openvino's; subprocesses inherit it;
bad input is one clear line. Each program runs in a subprocess, as a user runs it."""

import os
import subprocess
import sys
import textwrap

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))


def run(args, cwd, env=None, timeout=120):
    full_env = dict(os.environ, **(env or {}))
    full_env.pop("OVFAST_RUN", None)
    return subprocess.run([sys.executable, *args], cwd=cwd, env=full_env, capture_output=True, text=True,
                          timeout=timeout)


def script(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(textwrap.dedent(text))
    return str(path)


WHAT_IT_SEES = """
    import sys
    import numpy as np
    import openvino
    import openvino as ov
    import openvino.opset13 as ops
    from openvino import AsyncInferQueue, CompiledModel, Core, InferRequest, Tensor, compile_model
    from openvino.helpers import pack_data
    from openvino.preprocess import PrePostProcessor

    def where(obj):
        return getattr(obj, "__module__", None) or obj.__name__

    for name, obj in [("Core", Core), ("ov.Core", ov.Core), ("Tensor", Tensor), ("compile_model", compile_model),
                      ("AsyncInferQueue", AsyncInferQueue), ("CompiledModel", CompiledModel),
                      ("InferRequest", InferRequest), ("pack_data", pack_data),
                      ("Model", ov.Model), ("Type", ov.Type), ("PrePostProcessor", PrePostProcessor),
                      ("properties", ov.properties)]:
        print(name, where(obj))
    print("ops", type(ops).__module__)
    print("real_module_kept", sys.modules["openvino"] is not openvino, sys.modules["openvino"].Core.__module__)
    x = ops.parameter([4], np.float32, name="x")
    weight = ops.constant(ov.Tensor(np.full(4, 2, np.float32)))   # an ovfast Tensor under run: converted
    compiled = ov.Core().compile_model(ov.Model(ops.relu(ops.multiply(weight, x)), [x]), "CPU")
    print("result", compiled(np.array([-1, 2, -3, 4], np.float32))[0].tolist(), type(compiled).__name__)
    if len(sys.argv) > 1:
        sys.exit(int(sys.argv[1]))
"""


def test_a_program_under_run_gets_ovfasts_runtime_and_openvinos_other_objects(tmp_path):
    path = script(tmp_path, "sees.py", WHAT_IT_SEES)
    plain = run([path], tmp_path)
    switched = run(["-m", "ovfast", "run", path], tmp_path)
    assert plain.returncode == 0 and switched.returncode == 0, switched.stderr
    seen = dict(line.split(" ", 1) for line in switched.stdout.splitlines())
    for name in ("Core", "ov.Core", "Tensor", "compile_model", "AsyncInferQueue", "CompiledModel", "InferRequest"):
        assert seen[name].startswith("ovfast"), (name, seen[name])
    assert seen["ops"] == "ovfast.interop" and seen["pack_data"] == "ovfast.helpers"
    assert all(seen[n].startswith("openvino") for n in ("Model", "Type", "PrePostProcessor", "properties"))
    assert seen["real_module_kept"] == "True openvino._ov_api"     # openvino itself is not modified
    before = dict(line.split(" ", 1) for line in plain.stdout.splitlines())
    assert before["Core"].startswith("openvino") and before["real_module_kept"].startswith("False")
    assert before["ops"] == "builtins" and seen["result"] == before["result"] == "[0.0, 4.0, 0.0, 8.0] CompiledModel"


def test_the_programs_arguments_exit_code_and_errors_are_its_own(tmp_path):
    path = script(tmp_path, "sees.py", WHAT_IT_SEES)
    assert run(["-m", "ovfast", "run", path, "3"], tmp_path).returncode == 3
    failing = script(tmp_path, "fails.py", "import openvino\nraise ValueError('the program failed')\n")
    done = run(["-m", "ovfast", "run", failing], tmp_path)
    assert done.returncode == 1 and "ValueError: the program failed" in done.stderr and "Traceback" in done.stderr


def test_a_module_runs_with_dash_m_and_its_arguments(tmp_path):
    package = tmp_path / "app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text("import sys, openvino\nprint(sys.argv[1:], openvino.Core.__module__)\n")
    done = run(["-m", "ovfast", "run", "-m", "app.main", "-m", "model.xml", "--check"], tmp_path,
               env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["['-m',", "'model.xml',", "'--check']", "ovfast._runtime"]


def test_subprocesses_inherit_the_switch_and_ovfast_disable_turns_it_off(tmp_path):
    path = script(tmp_path, "parent.py", """
        import subprocess, sys, openvino
        child = subprocess.run([sys.executable, "-c", "import openvino; print(openvino.Core.__module__)"],
                               capture_output=True, text=True, check=True)
        print(openvino.Core.__module__, child.stdout.strip())
    """)
    assert run(["-m", "ovfast", "run", path], tmp_path).stdout.split() == ["ovfast._runtime", "ovfast._runtime"]
    off = run(["-m", "ovfast", "run", path], tmp_path, env={"OVFAST_DISABLE": "1"})
    assert off.stdout.split() == ["openvino._ov_api", "openvino._ov_api"]
    assert "OVFAST_DISABLE=1" in off.stderr
    plain = run([path], tmp_path)   # without run, nothing changes
    assert plain.stdout.split() == ["openvino._ov_api", "openvino._ov_api"]


def test_install_in_process_before_and_after_openvino_was_used(tmp_path):
    path = script(tmp_path, "late.py", """
        import warnings
        warnings.simplefilter("always")
        from openvino import Core as EarlyCore     # this module holds openvino's class before the switch
        core = EarlyCore()                         # and an object of it
        import ovfast
        assert ovfast.install() is True and ovfast.install() is True
        import openvino
        print("after", openvino.Core.__module__, "early", EarlyCore.__module__)
    """)
    done = run([path], tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["after", "ovfast._runtime", "early", "openvino._ov_api"]
    assert "RuntimeWarning" in done.stderr and "__main__: EarlyCore (openvino.Core), core (an openvino.Core)" in done.stderr
    clean = script(tmp_path, "early.py", """
        import warnings
        warnings.simplefilter("error")             # installing first warns about nothing
        import ovfast
        ovfast.install()
        import openvino
        print(openvino.Tensor.__module__)
    """)
    assert run([clean], tmp_path).stdout.strip() == "ovfast._runtime"
    off = run([clean], tmp_path, env={"OVFAST_DISABLE": "1"})
    assert off.stdout.strip() == "openvino._pyopenvino"


@pytest.mark.parametrize("args, message", [
    (["missing.py"], "no such script: 'missing.py'"),
    (["-m", "no_such_module_here"], "no module named 'no_such_module_here'"),
    (["-m", "no_such_package.main"], "no module named 'no_such_package.main'"),
    (["-m"], "-m needs a module name"),
    ([], "name a script"),
    (["--frobnicate", "x.py"], "unknown option '--frobnicate'"),
])
def test_bad_input_is_one_line_and_exit_code_2(tmp_path, args, message):
    done = run(["-m", "ovfast", "run", *args], tmp_path)
    assert done.returncode == 2
    assert done.stderr.strip() == f"ovfast run: error: {message}" or done.stderr.startswith(
        f"ovfast run: error: {message}"), done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_a_module_whose_import_fails_reports_its_own_error(tmp_path):
    (tmp_path / "broken.py").write_text("import openvino\nimport no_such_dependency\n")
    done = run(["-m", "ovfast", "run", "-m", "broken"], tmp_path, env={"PYTHONPATH": str(tmp_path)})
    assert done.returncode == 1 and "No module named 'no_such_dependency'" in done.stderr


def test_check_compares_what_each_runtime_prints(tmp_path):
    same = script(tmp_path, "same.py", "import numpy as np, openvino\nprint(openvino.Tensor(np.arange(3)).data)\n")
    done = run(["-m", "ovfast", "run", "--check", same], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same output: 1 lines" in done.stdout and "openvino exited 0" in done.stdout
    differs = script(tmp_path, "differs.py", "import openvino\nprint('start')\nprint(openvino.Core.__module__)\n")
    done = run(["-m", "ovfast", "run", "--check", differs], tmp_path)
    assert done.returncode == 1
    assert "output differs at line 2" in done.stdout
    assert "openvino: openvino._ov_api" in done.stdout and "ovfast:   ovfast._runtime" in done.stdout
    exits = script(tmp_path, "exits.py", "import sys, openvino\nsys.exit(3 if 'ovfast' in openvino.Core.__module__ else 0)\n")
    done = run(["-m", "ovfast", "run", "--check", exits], tmp_path)
    assert done.returncode == 1 and "exit codes differ: openvino 0, ovfast 3" in done.stdout


def test_a_program_that_leaves_with_jobs_in_flight_ends_under_run(tmp_path):
    path = script(tmp_path, "leaves.py", """
        import sys, numpy as np, openvino, openvino.opset13 as ops
        x = ops.parameter([1, 16, 128, 128], openvino.Type.f32, name="x")
        w = ops.constant(np.full((16, 16, 3, 3), 0.01, np.float32))
        y = ops.convolution(x, w, [1, 1], [1, 1], [1, 1], [1, 1])
        q = openvino.AsyncInferQueue(openvino.Core().compile_model(openvino.Model([y], [x]), "CPU"), 4)
        q.set_callback(lambda request, userdata: None)
        for i in range(8):
            q.start_async({"x": np.ones((1, 16, 128, 128), np.float32)}, i)
        print(type(q).__module__, flush=True)
        sys.exit("leaving with requests in flight")
    """)
    done = run(["-m", "ovfast", "run", path], tmp_path, timeout=60)
    assert done.returncode == 1 and done.stdout.strip() == "ovfast._runtime"
    assert "leaving with requests in flight" in done.stderr


def _with_venv_bin_on_path():
    return {"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}


@pytest.fixture(scope="module")
def relu_ir(tmp_path_factory):
    import numpy as np
    import openvino
    import openvino.opset13 as ops

    path = str(tmp_path_factory.mktemp("bench") / "relu.xml")
    x = ops.parameter([1, 16], np.float32, name="x")
    openvino.save_model(openvino.Model(ops.relu(x), [x]), path)
    return path


def test_benchmark_app_runs_under_run_with_real_latencies(tmp_path, relu_ir):
    done = run(["-m", "ovfast", "run", "benchmark_app", "-m", relu_ir, "-d", "CPU", "-niter", "2000", "-nireq", "4"],
               tmp_path, env=_with_venv_bin_on_path())
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    figures = {}
    for line in done.stdout.splitlines():
        for key in ("Count:", "Median:", "Throughput:"):
            if key in line:
                figures[key] = float(line.split(key)[1].split()[0])
    assert figures["Count:"] == 2000 and figures["Median:"] > 0 and figures["Throughput:"] > 0
    # the same run's queue was ovfast's: benchmark_app's own module, driven the same way, says so
    driver = script(tmp_path, "driver.py", f"""
        import sys
        from openvino.tools.benchmark import benchmark, main
        sys.argv = ["benchmark_app", "-m", {relu_ir!r}, "-d", "CPU", "-niter", "200"]
        code = main.main()
        print("queue", benchmark.AsyncInferQueue.__module__, "core", benchmark.Core.__module__, file=sys.stderr)
        sys.exit(code)
    """)
    switched = run(["-m", "ovfast", "run", driver], tmp_path)
    assert switched.returncode == 0 and "queue ovfast._runtime core ovfast._runtime" in switched.stderr
    plain = run([driver], tmp_path)
    assert plain.returncode == 0 and "queue openvino._ov_api core openvino._ov_api" in plain.stderr


def test_a_console_script_that_is_not_python_is_refused(tmp_path):
    done = run(["-m", "ovfast", "run", "sh"], tmp_path)
    assert done.returncode == 2 and "not a Python script" in done.stderr
