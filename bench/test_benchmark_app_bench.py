"""openvino's benchmark_app, unchanged, on the compute-bound conv net: as installed (openvino) and under
`python -m ovfast run` (ovfast's runtime), in each API and hint mode. Each round runs both, one after the
other, so a ratio is taken round by round; the figure is the tool's own "Throughput: ... FPS".

    pytest bench/test_benchmark_app_bench.py --benchmark-group-by=group
"""

import os
import re
import shutil
import statistics
import subprocess
import sys

import pytest


SECONDS = 4
ROUNDS = 5
MODES = [("async", "throughput"), ("async", "latency"), ("sync", "latency"), ("sync", "throughput")]


@pytest.fixture(scope="module")
def tool():
    found = shutil.which("benchmark_app") or os.path.join(os.path.dirname(sys.executable), "benchmark_app")
    if not os.path.exists(found):
        pytest.skip("openvino's benchmark_app is not installed")
    return found


def fps(argv):
    env = {k: v for k, v in os.environ.items() if k != "OVFAST_RUN"}
    out = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    found = re.search(r"Throughput:\s+([0-9.]+) FPS", out.stdout + out.stderr)
    assert found, out.stdout[-2000:]
    return float(found.group(1))


@pytest.mark.parametrize("api,hint", MODES, ids=[f"{a}-{h}" for a, h in MODES])
def test_benchmark_app(benchmark, tool, conv_ir, api, hint):
    args = ["-m", conv_ir, "-d", "CPU", "-api", api, "-hint", hint, "-t", str(SECONDS)]
    runs = {"openvino": [], "ovfast": []}

    def round_of_both():
        runs["openvino"].append(fps([tool] + args))
        runs["ovfast"].append(fps([sys.executable, "-m", "ovfast", "run", tool] + args))

    benchmark.group = f"benchmark_app on the conv net, -api {api} -hint {hint}, {SECONDS} s"
    benchmark.pedantic(round_of_both, rounds=ROUNDS, iterations=1)
    ratios = [f / o for o, f in zip(runs["openvino"], runs["ovfast"])]
    benchmark.extra_info.update({"openvino_fps": statistics.median(runs["openvino"]),
                                 "ovfast_fps": statistics.median(runs["ovfast"]),
                                 "fps_ratio": statistics.median(ratios)})
