"""Libraries under `python -m ovfast run`: openvino-model-api's programs on openvino and on ovfast, in one
run (frames per second in extra_info). Each runtime has a worker process (bench/model_api_worker.py) that
keeps its models compiled; a round sends it one workload and waits for it.

    pytest bench/test_run_bench.py --benchmark-group-by=group
"""

import os
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "model_api_worker.py")
WORKLOADS = {"classify": 200, "detect": 200, "pipeline": 400, "tiles": 20}
LABELS = {"classify": "ClassificationModel(frame) x200, 96x128",
          "detect": "SSD(frame) x200, 96x128",
          "pipeline": "AsyncPipeline(SSD) x400, 4 requests, THROUGHPUT",
          "tiles": "DetectionTiler(SSD) x20, 160x200 scene, 80 px tiles"}


class Worker:
    def __init__(self, argv):
        env = {k: v for k, v in os.environ.items() if k != "OVFAST_RUN"}
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout.readline().strip() == "ready"

    def run(self, workload, frames):
        self.proc.stdin.write(f"{workload} {frames}\n")
        self.proc.stdin.flush()
        assert self.proc.stdout.readline().strip() == "done"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


@pytest.fixture(scope="module")
def workers():
    started = {"openvino": Worker([sys.executable, WORKER]),
               "ovfast": Worker([sys.executable, "-m", "ovfast", "run", WORKER])}
    yield started
    for worker in started.values():
        worker.close()


@pytest.mark.parametrize("workload", WORKLOADS)
@pytest.mark.parametrize("runtime", ["openvino", "ovfast"])
def test_model_api(benchmark, workers, runtime, workload):
    frames = WORKLOADS[workload]
    benchmark.group = f"model_api under ovfast run: {LABELS[workload]}"
    benchmark.name = f"test_{runtime}_model_api_{workload}"
    benchmark.pedantic(workers[runtime].run, args=(workload, frames), rounds=9, warmup_rounds=1)
    benchmark.extra_info["fps"] = frames / benchmark.stats.stats.median
