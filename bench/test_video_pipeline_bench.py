"""Issue 27's whole pipeline, at 1 and 4 streams in one process (FPS = frames of all streams / median):

- ovfast: `ovfastdetect ! ovfasttrack ! ovfastclassify reclassify-interval=10 ! ovfastmetaconvert !
  ovfastmetapublish method=file`, the streams sharing each model (model-instance-id);
- python_probe: `identity` with a Python pad probe per stream that does the same work as users write it
  without DL Streamer: openvino's detector on the frame, its rows decoded with numpy, greedy IoU tracking,
  openvino's classifier on each object's crop every 10 frames of that object, gvametaconvert-like JSON with
  json.dumps, a line per frame to a file. Each stream's probe has its own compiled models, as a user would.

    pytest bench/test_video_pipeline_bench.py --benchmark-group-by=group
"""

import json

import gi
import numpy as np
import openvino
import pytest

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

from test_video import save  # noqa: E402  (tests/ is on the path)
from test_video_bench import _previous, fps, last_pipeline_down, play  # noqa: E402,F401  (a fixture)
from test_video_regions import LABELS, classifier, detector  # noqa: E402

# 2000 frames a round, 5 rounds: at 400 a round lasted about 45 ms, and this VM's noise moved the 1-stream ratio
# by 0.4 from run to run.
FRAMES = 2000
ROUNDS = 5
W, H = 320, 240
RECLASSIFY = 10


# The pipeline starts with `videotestsrc` (its default pattern, SMPTE bars: about 70 us a frame here);
# the moving ball takes about 230 us a frame on the streaming thread, a floor both pipelines pay.
PATTERNS = ["smpte", "ball"]


def source(frames, pattern):
    return (f"videotestsrc num-buffers={frames} pattern={pattern} ! "
            f"video/x-raw,format=BGR,width={W},height={H},framerate=1000/1")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pipeline_bench")
    # The detector averages every 8th row and column: over every pixel its inference (170 us a frame here,
    # OpenVINO's reduce over 230 KB) is most of both pipelines' time and the same in both.
    return save(detector(H, W, sample=8), folder, "det"), save(classifier(), folder, "cls")


def prepare(description, probes=()):
    """Untimed: the pipeline built and prerolled; probes[k] on the src pad of the element named probe<k>."""
    while _previous:
        _previous.pop().set_state(Gst.State.NULL)
    p = Gst.parse_launch(description)
    for k, probe in enumerate(probes):
        p.get_by_name(f"probe{k}").get_static_pad("src").add_probe(Gst.PadProbeType.BUFFER, probe)
    assert p.set_state(Gst.State.PAUSED) != Gst.StateChangeReturn.FAILURE
    assert p.get_state(60 * Gst.SECOND)[0] == Gst.StateChangeReturn.SUCCESS
    _previous.append(p)
    return (p,), {}


def iou(a, b):
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[0] + a[2], b[0] + b[2]), min(a[1] + a[3], b[1] + b[3])
    inter = max(0, x1 - x0) * max(0, y1 - y0)
    return inter / (a[2] * a[3] + b[2] * b[3] - inter) if inter else 0.0


def python_probe(det_path, cls_path, out):
    """The per-frame work in Python with openvino, writing JSON lines to `out`."""
    det = openvino.compile_model(det_path, "CPU")
    cls = openvino.compile_model(cls_path, "CPU")
    labels = LABELS.split(",")
    objects, next_id, frame_no = {}, [1], [0]   # id -> [label, rect, frame classified, result]

    def probe(pad, info):
        buf = info.get_buffer()
        ok, mapped = buf.map(Gst.MapFlags.READ)
        try:
            frame = np.frombuffer(mapped.data, np.uint8, H * W * 3).reshape(H, W, 3)
            rows = det(frame[None])[0].reshape(-1, 7)
            regions = []
            for image_id, label, conf, x0, y0, x1, y1 in rows:
                if image_id < 0:
                    break
                x, y = int(x0 * W), int(y0 * H)
                regions.append((int(label), float(conf), (x, y, max(1, int(x1 * W) - x), max(1, int(y1 * H) - y))))
            pairs = sorted(((iou(r[2], o[1]), i, oid) for i, r in enumerate(regions)
                            for oid, o in objects.items() if o[0] == r[0]), reverse=True)
            taken, ids = set(), {}
            for score, i, oid in pairs:
                if score >= 0.3 and i not in ids and oid not in taken:
                    ids[i] = oid
                    taken.add(oid)
            found = []
            for i, (label, conf, rect) in enumerate(regions):
                if i not in ids:
                    ids[i], next_id[0] = next_id[0], next_id[0] + 1
                    objects[ids[i]] = [label, rect, -RECLASSIFY, None]
                o = objects[ids[i]]
                o[1] = rect
                if frame_no[0] - o[2] >= RECLASSIFY:
                    x, y, w, h = rect
                    ys = y + (np.arange(16) * h) // 16
                    xs = x + (np.arange(16) * w) // 16
                    scores = cls(frame[ys][:, xs][None])[0][0]
                    o[2], o[3] = frame_no[0], (int(scores.argmax()), float(scores.max()))
                x, y, w, h = rect
                found.append({"x": x, "y": y, "w": w, "h": h, "id": ids[i], "roi_type": labels[label],
                              "detection": {"bounding_box": {"x_min": x / W, "y_min": y / H, "x_max": (x + w) / W,
                                                             "y_max": (y + h) / H},
                                            "confidence": conf, "label_id": label, "label": labels[label]},
                              "classification": {"label": str(o[3][0]), "label_id": o[3][0],
                                                 "confidence": o[3][1]}})
            out.write(json.dumps({"objects": found, "resolution": {"width": W, "height": H},
                                  "timestamp": buf.pts}, sort_keys=True) + "\n")
            out.flush()
        finally:
            buf.unmap(mapped)
        frame_no[0] += 1
        return Gst.PadProbeReturn.OK
    return probe


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("streams", [1, 4])
def test_ovfast_pipeline(benchmark, models, streams, pattern, tmp_path):
    det, cls = models
    benchmark.group = f"detect, track, classify, publish: {streams} stream(s), pattern={pattern}"
    description = " ".join(
        f"{source(FRAMES, pattern)} ! ovfastdetect model={det} labels={LABELS} threshold=0 model-instance-id=det ! "
        f"ovfasttrack ! ovfastclassify model={cls} model-instance-id=cls reclassify-interval={RECLASSIFY} ! "
        f"ovfastmetaconvert ! ovfastmetapublish file-path={tmp_path}/s{k}.jsonl file-format=json-lines ! "
        f"fakesink sync=false" for k in range(streams))
    benchmark.pedantic(play, setup=lambda: prepare(description), rounds=ROUNDS, warmup_rounds=1)
    fps(benchmark, FRAMES * streams)
    with open(tmp_path / "s0.jsonl") as f:   # the last round's messages: one a frame, with the objects
        assert json.loads(f.readline())["objects"]


@pytest.mark.parametrize("pattern", PATTERNS)
@pytest.mark.parametrize("streams", [1, 4])
def test_python_probe_pipeline(benchmark, models, streams, pattern, tmp_path):
    det, cls = models
    benchmark.group = f"detect, track, classify, publish: {streams} stream(s), pattern={pattern}"
    description = " ".join(f"{source(FRAMES, pattern)} ! identity name=probe{k} ! fakesink sync=false" for k in range(streams))
    files = []

    def setup():
        while files:
            files.pop().close()
        files.extend(open(tmp_path / f"p{k}.jsonl", "w") for k in range(streams))
        return prepare(description, [python_probe(det, cls, f) for f in files])
    try:
        benchmark.pedantic(play, setup=setup, rounds=ROUNDS, warmup_rounds=1)
    finally:
        while files:
            files.pop().close()
    fps(benchmark, FRAMES * streams)
