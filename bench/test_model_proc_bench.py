"""A YOLOv8-shaped detector through a model-proc file against what users write without DL Streamer, in one run
(FPS = frames / median):

- ovfast_model_proc: `ovfastdetect model-proc=yolo-v8.json` (preprocessing in the model, decoding and NMS in C
  on OpenVINO's callback thread);
- openvino_probe: a Python pad probe per frame: openvino's compiled(frame) on the same preprocessed model, the
  boxes decoded and NMS'd with numpy, each kept box added as a region (gstgva's add_region).

    pytest bench/test_model_proc_bench.py --benchmark-group-by=group
"""

import json
import os

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import numpy as np  # noqa: E402
import openvino  # noqa: E402
import openvino.opset13 as ops  # noqa: E402
import pytest  # noqa: E402

import ovfast.gst  # noqa: E402
from ovfast.gst import VideoFrame  # noqa: E402
from ovfast.gst.gstgva.util import GST_PAD_PROBE_INFO_BUFFER  # noqa: E402
from test_video_bench import last_pipeline_down, prepare, timed  # noqa: E402, F401  (bench/ is on the path)

FRAMES = 600
SIDE = 128
CLASSES = 80
PROPOSALS = 336
THRESHOLD = 0.5
IOU = 0.4


def yolo_like(side=SIDE):
    """u8 NHWC [1,side,side,3] -> f32 [1, 4 + CLASSES, PROPOSALS]: a small conv net whose features move fixed
    proposals a little, about 30 of them over the threshold, in clusters that NMS thins out."""
    rng = np.random.default_rng(0)
    x = ops.parameter([1, side, side, 3], openvino.Type.u8, name="images")
    y = ops.transpose(ops.convert(x, openvino.Type.f32), np.array([0, 3, 1, 2], np.int64))
    k = ops.constant(rng.standard_normal((16, 3, 3, 3)).astype(np.float32) / 100)
    y = ops.relu(ops.convolution(y, k, [2, 2], [1, 1], [1, 1], [1, 1]))
    feature = ops.reduce_mean(y, np.array([1, 2, 3], np.int64), False)          # [1]
    centres = rng.uniform(10, side - 10, (PROPOSALS, 2))
    half = PROPOSALS // 2         # half the proposals in clusters around 10 centres
    centres[:half] = np.resize(centres[:10], (half, 2)) + rng.normal(0, 2, (half, 2))
    sizes = rng.uniform(8, 30, (PROPOSALS, 2))
    scores = rng.uniform(0, 0.3, (PROPOSALS, CLASSES))
    hot = rng.choice(PROPOSALS, 30, replace=False)
    scores[hot, rng.integers(0, CLASSES, 30)] = rng.uniform(0.55, 0.95, 30)
    table = np.concatenate([centres, sizes, scores], 1).T[None].astype(np.float32)   # [1, 84, N]
    out = ops.add(ops.constant(table), ops.multiply(feature, np.float32(1e-3)))
    out.output(0).set_names({"output0"})
    return openvino.Model([out], [x], "yolo-like")


def caps():
    return f"video/x-raw,format=BGR,width={SIDE},height={SIDE},framerate=1000/1"


def source(n=FRAMES):
    return f"videotestsrc num-buffers={n} pattern=ball ! {caps()}"


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    folder = tmp_path_factory.mktemp("model_proc")
    model = yolo_like()
    path = os.path.join(str(folder), "yolo.xml")
    openvino.save_model(model, path, compress_to_fp16=False)
    proc = os.path.join(str(folder), "yolo.json")
    with open(proc, "w") as f:
        json.dump({"json_schema_version": "2.2.0", "input_preproc": [], "output_postproc": [
            {"converter": "yolo_v8", "iou_threshold": IOU, "labels": [f"c{i}" for i in range(CLASSES)]}]}, f)
    framed, _ = ovfast.gst.frame_model(model, "BGR", SIDE, SIDE, (SIDE * 3,), (0,))
    return path, proc, framed


def test_ovfast_model_proc(benchmark, files):
    path, proc, _ = files
    benchmark.group = "model-proc yolo_v8"
    timed(benchmark, f"{source()} ! ovfastdetect model={path} model-proc={proc} threshold={THRESHOLD} jobs=2 "
                     f"config=PERFORMANCE_HINT=THROUGHPUT ! fakesink sync=false", rounds=3, frames=FRAMES)


def numpy_nms(out):
    """The users' decoding: best class per proposal, threshold, then NMS in confidence order."""
    table = out[0].T                                        # [N, 4 + classes]
    best = table[:, 4:].argmax(1)
    conf = table[np.arange(len(table)), 4 + best]
    keep = np.nonzero(conf >= THRESHOLD)[0]
    keep = keep[np.argsort(-conf[keep])]
    boxes = np.stack([table[keep, 0] - table[keep, 2] / 2, table[keep, 1] - table[keep, 3] / 2,
                      table[keep, 0] + table[keep, 2] / 2, table[keep, 1] + table[keep, 3] / 2], 1)
    kept = []
    alive = np.ones(len(keep), bool)
    for i in range(len(keep)):
        if not alive[i]:
            continue
        kept.append(i)
        iw = np.clip(np.minimum(boxes[i, 2], boxes[:, 2]) - np.maximum(boxes[i, 0], boxes[:, 0]), 0, None)
        ih = np.clip(np.minimum(boxes[i, 3], boxes[:, 3]) - np.maximum(boxes[i, 1], boxes[:, 1]), 0, None)
        inter = iw * ih
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / (area[i] + area - inter)
        alive &= ~(iou > IOU)
        alive[i] = False
    return [(np.clip(boxes[i], 0, SIDE), float(conf[keep[i]]), int(best[keep[i]])) for i in kept]


def test_openvino_probe(benchmark, files):
    _, _, framed = files
    benchmark.group = "model-proc yolo_v8"
    compiled = openvino.Core().compile_model(framed, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    caps_obj = Gst.Caps.from_string(caps())

    def probe(pad, info):
        with GST_PAD_PROBE_INFO_BUFFER(info) as buf:       # writable, as gstgva users take it
            ok, mapping = buf.map(Gst.MapFlags.READ)
            try:
                out = compiled(np.ndarray((1, SIDE, SIDE, 3), np.uint8, mapping.data))[0]
            finally:
                buf.unmap(mapping)
            with VideoFrame(buf, caps_obj) as frame:
                for (x0, y0, x1, y1), conf, label in numpy_nms(out):
                    if x1 > x0 and y1 > y0:
                        frame.add_region(float(x0), float(y0), float(x1 - x0), float(y1 - y0), f"c{label}",
                                         conf)
        return Gst.PadProbeReturn.OK
    timed(benchmark, f"{source()} ! identity name=probe ! fakesink sync=false", probe, rounds=3, frames=FRAMES)
