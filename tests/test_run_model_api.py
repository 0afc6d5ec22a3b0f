"""openvino-model-api, unedited, under `python -m ovfast run`: tests/model_api_programs.py drives its
wrappers (classification, SSD detection), callbacks, infer_batch, AsyncPipeline and the tiler, and prints
every result. Under ovfast it must print exactly what it prints on openvino, and its adapters must hold
ovfast's objects."""

import os
from functools import partial

from test_run import run as run_in

HERE = os.path.dirname(os.path.abspath(__file__))
PROGRAMS = os.path.join(HERE, "model_api_programs.py")
run = partial(run_in, timeout=300)


def test_model_api_prints_the_same_results_on_ovfast(tmp_path):
    plain = run([PROGRAMS], tmp_path)
    switched = run(["-m", "ovfast", "run", PROGRAMS], tmp_path)
    assert plain.returncode == 0, plain.stderr[-3000:]
    assert switched.returncode == 0, switched.stderr[-3000:]
    lines = plain.stdout.splitlines()
    assert len(lines) > 80 and lines[-1] == "done"
    assert switched.stdout == plain.stdout
    runtimes = [line for line in switched.stderr.splitlines() if "runtime:" in line]
    assert len(runtimes) >= 3 and all("ovfast._runtime.CompiledModel" in line and "ovfast._runtime.AsyncInferQueue"
                                      in line for line in runtimes), switched.stderr
    assert all("openvino._ov_api" in line for line in plain.stderr.splitlines() if "runtime:" in line)


def test_check_agrees(tmp_path):
    done = run(["-m", "ovfast", "run", "--check", PROGRAMS], tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "same output" in done.stdout
