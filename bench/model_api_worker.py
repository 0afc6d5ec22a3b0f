"""A worker for bench/test_run_bench.py: openvino-model-api on tests/model_api_programs.py's stand-in models,
timed from outside. Started as `python bench/model_api_worker.py` (openvino) or `python -m ovfast run
bench/model_api_worker.py` (ovfast); it prints "ready", then runs one workload per line read from stdin
("<workload> <frames>") and prints "done" after each, so a round costs one pipe round trip beside the work."""

import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import numpy as np  # noqa: E402
from model_api.adapters import OpenvinoAdapter, create_core  # noqa: E402
from model_api.models import SSD, Model  # noqa: E402
from model_api.pipelines import AsyncPipeline  # noqa: E402
from model_api.tilers import DetectionTiler  # noqa: E402

from model_api_programs import build_classifier, build_ssd  # noqa: E402


def main():
    folder = tempfile.mkdtemp(prefix="model_api_worker_")
    classifier_path, ssd_path = build_classifier(folder), build_ssd(folder)
    rng = np.random.default_rng(0)
    frame = rng.integers(0, 256, (96, 128, 3), dtype=np.uint8)
    scene = rng.integers(0, 256, (160, 200, 3), dtype=np.uint8)
    classifier = Model.create_model(classifier_path, device="CPU")
    detector = SSD.create_model(ssd_path, device="CPU")
    adapter = OpenvinoAdapter(create_core(), ssd_path, device="CPU", plugin_config={"PERFORMANCE_HINT": "THROUGHPUT"},
                              max_num_requests=4)
    pipeline = AsyncPipeline(Model.create_model(adapter))
    tiler = DetectionTiler(SSD.create_model(ssd_path, device="CPU"), configuration={"tile_size": 80}, execution_mode="sync")

    def in_pipeline(n):
        for i in range(n):
            if not pipeline.is_ready():
                pipeline.await_any()
            pipeline.submit_data(frame, i)
        pipeline.await_all()
        for i in range(n):
            pipeline.get_result(i)

    workloads = {"classify": lambda n: [classifier(frame) for _ in range(n)],
                 "detect": lambda n: [detector(frame) for _ in range(n)],
                 "pipeline": in_pipeline,
                 "tiles": lambda n: [tiler(scene) for _ in range(n)]}
    print("ready", flush=True)
    for line in sys.stdin:
        name, frames = line.split()
        workloads[name](int(frames))
        print("done", flush=True)


if __name__ == "__main__":
    main()
