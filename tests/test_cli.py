"""`python -m ovfast benchmark` end to end, in a subprocess as users run it."""

import importlib.metadata
import json
import subprocess
import sys

import openvino
import pytest

from models import add_model, dynamic_model

MODES = ("sync", "pool", "map")


def run_cli(tmp_path, *args, code=None):
    # cwd is a temporary folder, so `-m ovfast` finds the installed package, not a source checkout
    cmd = [sys.executable, "-m", "ovfast", "benchmark", *args] if code is None else [sys.executable, "-c", code]
    return subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True, timeout=300)


def check_figures(figures, libs):
    for lib in libs:
        f = figures[lib]
        assert f["items"] > 0 and f["seconds"] > 0
        assert f["throughput"] == pytest.approx(f["items"] / f["seconds"], rel=1e-3)
        lat = f["latency_ms"]
        assert 0 < lat["median"] <= lat["p90"] <= lat["p99"]


def test_builtin_model_both_libraries_json_and_plot(tmp_path):
    out = tmp_path / "figures.json"
    png = tmp_path / "figures.png"
    proc = run_cli(tmp_path, "-t", "0.4", "--json", str(out), "--plot", str(png))
    assert proc.returncode == 0, proc.stderr
    assert f"openvino {openvino.get_version()}" in proc.stdout and "device: CPU" in proc.stdout
    for label in ("sync calls", "job pool (start_async)", "whole batch (map)"):
        assert sum(line.startswith(label) for line in proc.stdout.splitlines()) == 2   # ovfast and openvino
    report = json.loads(out.read_text())
    assert report["openvino"] == openvino.get_version() and report["model"] == "builtin"
    assert report["jobs"] >= 1 and report["batch_size"] >= 32
    for mode in MODES:
        figures = report["modes"][mode]
        check_figures(figures, ("ovfast", "openvino"))
        assert figures["ratio"] == pytest.approx(figures["ovfast"]["throughput"] / figures["openvino"]["throughput"])
        # both libraries got their share of the time
        assert figures["ovfast"]["seconds"] >= 0.3 and figures["openvino"]["seconds"] >= 0.3
    assert report["modes"]["map"]["ovfast"]["items"] % report["batch_size"] == 0
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Traceback" not in proc.stderr


def test_model_file_with_shape_and_no_compare(tmp_path):
    xml = tmp_path / "dyn.xml"
    openvino.save_model(dynamic_model(), str(xml))
    out = tmp_path / "f.json"
    proc = run_cli(tmp_path, str(xml), "--shape", "x=3,4", "--no-compare", "--jobs", "3", "-t", "0.2",
                   "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    assert "x[3, 4] float32" in proc.stdout
    report = json.loads(out.read_text())
    assert report["jobs"] == 3 and report["model"] == str(xml)
    for mode in MODES:
        assert set(report["modes"][mode]) == {"ovfast"}
        check_figures(report["modes"][mode], ("ovfast",))


def test_static_model_file(tmp_path):
    xml = tmp_path / "add.xml"
    openvino.save_model(add_model(), str(xml))
    proc = run_cli(tmp_path, str(xml), "-t", "0.1", "--no-compare")
    assert proc.returncode == 0, proc.stderr
    assert "a[8] float32, b[8] float32" in proc.stdout


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    d = tmp_path_factory.mktemp("cli")
    openvino.save_model(dynamic_model(), str(d / "dyn.xml"))
    openvino.save_model(add_model(), str(d / "add.xml"))
    (d / "garbage.xml").write_text("not a model\n")
    return d


@pytest.mark.parametrize("args, message", [
    (["missing.xml"], "model file 'missing.xml' not found"),
    (["{d}/garbage.xml"], "openvino cannot read"),
    (["{d}/dyn.xml"], "input 'x' has a dynamic shape [?,4]: give it with --shape x=DIMS"),
    (["{d}/dyn.xml", "--shape", "x=1,a"], "--shape 'x=1,a' is malformed: expected NAME=DIMS"),
    (["{d}/dyn.xml", "--shape", "4"], "--shape '4' is malformed"),
    (["{d}/dyn.xml", "--shape", "y=1,4"], "the model has no input 'y'; its inputs are ['x']"),
    (["{d}/add.xml", "--shape", "a=4"], "cannot reshape the model with a=4"),   # a[4] + b[8]
    (["-d", "NOPE"], "unknown device 'NOPE'"),
    (["-d", "CPU.7"], "cannot compile for device 'CPU.7'"),
    (["-t", "0"], "expected a number > 0"),
    (["--jobs", "-1"], "expected a number >= 0"),
    (["--json", "/no/such/folder/f.json"], "folder /no/such/folder does not exist"),
    (["--frobnicate"], "unrecognized arguments: --frobnicate"),
])
def test_bad_input_one_line_exit_2(tmp_path, files, args, message):
    proc = run_cli(tmp_path, *[a.format(d=files) for a in args])
    assert proc.returncode == 2
    errors = [line for line in proc.stderr.splitlines() if line.startswith("ovfast benchmark: error: ")]
    assert len(errors) == 1 and message in errors[0], proc.stderr
    assert "Traceback" not in proc.stderr and proc.stdout == ""


def test_plot_without_matplotlib_says_how_to_get_it(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from ovfast.benchmark import main\n"
            "sys.exit(main(['benchmark', '--plot', 'x.png']))")
    proc = run_cli(tmp_path, code=code)
    assert proc.returncode == 2
    assert "--plot needs matplotlib: pip install 'ovfast[plot]'" in proc.stderr
    assert not (tmp_path / "x.png").exists()


def test_console_script_is_installed():
    scripts = {ep.name: ep.value for ep in importlib.metadata.entry_points(group="console_scripts")}
    assert scripts.get("ovfast") == "ovfast.benchmark:main_exit"
