"""YOLO detectors through a model-proc file against what users write without DL Streamer, in one run per group
(FPS = frames / median):

- ovfast_model_proc: `ovfastdetect model-proc=...` (preprocessing in the model, decoding and NMS in C on
  OpenVINO's callback thread);
- openvino_probe: a Python pad probe per frame: openvino's compiled(frame) on the same preprocessed model, the
  boxes decoded and NMS'd with numpy, each kept box added as a region (gstgva's add_region).

Groups: "model-proc yolo_v8" (decoded proposals [1, 84, N]) and "model-proc yolo_v3" (raw grids of three scales
with anchors, yolo-v3-tf.json's fields, decoded with numpy's vector operations in the probe).

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


def model_files(folder, model, converter):
    """The model's IR and a model-proc file with one output_postproc entry (converter's fields, with this
    bench's NMS threshold and labels) in folder; and the model with ovfastinfer's preprocessing for the probe."""
    path = os.path.join(str(folder), "model.xml")
    openvino.save_model(model, path, compress_to_fp16=False)
    proc = os.path.join(str(folder), "model-proc.json")
    with open(proc, "w") as f:
        json.dump({"json_schema_version": "2.2.0", "input_preproc": [], "output_postproc": [
            {**converter, "iou_threshold": IOU, "labels": [f"c{i}" for i in range(CLASSES)]}]}, f)
    framed, _ = ovfast.gst.frame_model(model, "BGR", SIDE, SIDE, (SIDE * 3,), (0,))
    return path, proc, framed


def run_ovfast(benchmark, files, group):
    path, proc, _ = files
    benchmark.group = group
    timed(benchmark, f"{source()} ! ovfastdetect model={path} model-proc={proc} threshold={THRESHOLD} jobs=2 "
                     f"config=PERFORMANCE_HINT=THROUGHPUT ! fakesink sync=false", rounds=3, frames=FRAMES)


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    return model_files(tmp_path_factory.mktemp("model_proc"), yolo_like(), {"converter": "yolo_v8"})


def test_ovfast_model_proc(benchmark, files):
    run_ovfast(benchmark, files, "model-proc yolo_v8")


def numpy_nms(out):
    """The users' decoding: best class per proposal, threshold, then NMS in confidence order."""
    table = out[0].T                                        # [N, 4 + classes]
    best = table[:, 4:].argmax(1)
    conf = table[np.arange(len(table)), 4 + best]
    return greedy_nms(table[:, 0], table[:, 1], table[:, 2], table[:, 3], conf, best)


def greedy_nms(cx, cy, w, h, conf, best):
    """Boxes at least THRESHOLD, then NMS in confidence order: [(corners, confidence, class)]."""
    keep = np.nonzero(conf >= THRESHOLD)[0]
    keep = keep[np.argsort(-conf[keep])]
    boxes = np.stack([cx[keep] - w[keep] / 2, cy[keep] - h[keep] / 2, cx[keep] + w[keep] / 2,
                      cy[keep] + h[keep] / 2], 1)
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


def region_probe(framed, decode):
    """A pad probe that runs openvino on the frame, decodes its outputs with decode(outputs) and adds the
    boxes as regions, as gstgva users write it."""
    compiled = openvino.Core().compile_model(framed, "CPU", {"PERFORMANCE_HINT": "LATENCY"})
    caps_obj = Gst.Caps.from_string(caps())

    def probe(pad, info):
        with GST_PAD_PROBE_INFO_BUFFER(info) as buf:       # writable, as gstgva users take it
            ok, mapping = buf.map(Gst.MapFlags.READ)
            try:
                outputs = compiled(np.ndarray((1, SIDE, SIDE, 3), np.uint8, mapping.data))
            finally:
                buf.unmap(mapping)
            with VideoFrame(buf, caps_obj) as frame:
                for (x0, y0, x1, y1), conf, label in decode(outputs):
                    if x1 > x0 and y1 > y0:
                        frame.add_region(float(x0), float(y0), float(x1 - x0), float(y1 - y0), f"c{label}",
                                         conf)
        return Gst.PadProbeReturn.OK
    return probe


def test_openvino_probe(benchmark, files):
    _, _, framed = files
    benchmark.group = "model-proc yolo_v8"
    timed(benchmark, f"{source()} ! identity name=probe ! fakesink sync=false",
          region_probe(framed, lambda outputs: numpy_nms(outputs[0])), rounds=3, frames=FRAMES)


# --- yolo_v3 on raw grids: three scales of [1, 3 * 85, s, s] (yolo-v3-tf's anchors and masks) ----------------
ANCHORS = [10, 13, 16, 30, 33, 23, 30, 61, 62, 45, 59, 119, 116, 90, 156, 198, 373, 326]
MASKS = [6, 7, 8, 3, 4, 5, 0, 1, 2]
SCALES = (SIDE // 32, SIDE // 16, SIDE // 8)


def yolo_v3_like(side=SIDE):
    """u8 NHWC [1,side,side,3] -> three raw grids f32 [1, 3 * (5 + CLASSES), s, s] (values after YOLO's region
    layer: x, y and scores in [0, 1]), about 30 boxes over the threshold in clusters, moved a little by a
    small conv net's features."""
    rng = np.random.default_rng(1)
    x = ops.parameter([1, side, side, 3], openvino.Type.u8, name="images")
    y = ops.transpose(ops.convert(x, openvino.Type.f32), np.array([0, 3, 1, 2], np.int64))
    k = ops.constant(rng.standard_normal((16, 3, 3, 3)).astype(np.float32) / 100)
    y = ops.relu(ops.convolution(y, k, [2, 2], [1, 1], [1, 1], [1, 1]))
    feature = ops.reduce_mean(y, np.array([1, 2, 3], np.int64), False)
    results = []
    for s in SCALES:
        grid = np.empty((3, 5 + CLASSES, s, s), np.float32)
        grid[:, :2] = rng.uniform(0, 1, (3, 2, s, s))
        grid[:, 2:4] = rng.normal(0, 0.3, (3, 2, s, s))
        grid[:, 4] = rng.uniform(0, 0.2, (3, s, s))
        grid[:, 5:] = rng.uniform(0, 0.3, (3, CLASSES, s, s))
        hot = rng.choice(3 * s * s, max(2, 30 * s * s // sum(t * t for t in SCALES)), replace=False)
        b, cy, cx = np.unravel_index(hot, (3, s, s))
        grid[b, 4, cy, cx] = rng.uniform(0.8, 1.0, len(hot))
        grid[b, 5 + rng.integers(0, CLASSES, len(hot)), cy, cx] = rng.uniform(0.7, 0.95, len(hot))
        out = ops.add(ops.constant(grid.reshape(1, -1, s, s)), ops.multiply(feature, np.float32(1e-3)))
        out.output(0).set_names({f"conv{s}"})
        results.append(out)
    return openvino.Model(results, [x], "yolo-v3-like")


@pytest.fixture(scope="module")
def v3_files(tmp_path_factory):
    return model_files(tmp_path_factory.mktemp("model_proc_v3"), yolo_v3_like(),
                       {"converter": "yolo_v3", "classes": CLASSES, "anchors": ANCHORS, "masks": MASKS})


def test_ovfast_model_proc_yolo_v3(benchmark, v3_files):
    run_ovfast(benchmark, v3_files, "model-proc yolo_v3")


def numpy_yolo_v3(outputs):
    """The users' decoding of raw grids, vectorised per scale: cell offsets and anchors, objectness x best class
    score, then NMS over all scales."""
    parts = []
    for k, s in enumerate(sorted(SCALES)):           # masks: the smallest grid's anchors first
        g = next(v for v in outputs.values() if v.shape[-1] == s)[0].reshape(3, 5 + CLASSES, s, s)
        anchors = np.array([ANCHORS[2 * m:2 * m + 2] for m in MASKS[3 * k:3 * k + 3]], np.float32)
        cols, rows = np.meshgrid(np.arange(s), np.arange(s))
        best = g[:, 5:].argmax(1)
        score = g[:, 4] * np.take_along_axis(g[:, 5:], best[:, None], 1)[:, 0]
        parts.append(((cols + g[:, 0]) / s * SIDE, (rows + g[:, 1]) / s * SIDE,
                      np.exp(g[:, 2]) * anchors[:, 0, None, None], np.exp(g[:, 3]) * anchors[:, 1, None, None],
                      score, best))
    return greedy_nms(*(np.concatenate([p[i].ravel() for p in parts]) for i in range(6)))


def test_openvino_probe_yolo_v3(benchmark, v3_files):
    _, _, framed = v3_files
    benchmark.group = "model-proc yolo_v3"
    timed(benchmark, f"{source()} ! identity name=probe ! fakesink sync=false", region_probe(framed, numpy_yolo_v3),
          rounds=3, frames=FRAMES)
