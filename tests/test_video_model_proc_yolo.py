"""model-proc's YOLO converters on raw grid outputs (yolo_v2, yolo_v3, yolo_v4, yolo_v5 with anchors, yolo_x).
Stand-in models give random raw grids as constants; openvino runs them for the reference, which decodes the
grids with numpy by DL Streamer's rules (its yolo_base/yolo_v2..v5/yolo_x converters) and applies the NMS of
test_video_model_proc (class-agnostic)."""

import numpy as np
import openvino
import openvino.opset13 as ops
import pytest

from test_video import F32, F32_CONFIG, bus_error, save
from test_video_model_proc import constant_model, nms, regions_of, to_regions, write

SIZE = 64                   # the stand-ins' input: 64 x 64, grids of 2, 4 and 8 cells (strides 32, 16, 8)
CLASSES = ["person", "car", "dog"]
ANCHORS = [4, 6, 8, 10, 12, 9, 16, 20, 24, 18, 30, 40]      # six width, height pairs in input pixels
MASKS = [4, 5, 2, 3, 0, 1]                                  # the 2x2 grid's anchors first, as DL Streamer's files


def sigmoid(v):
    return 1 / (1 + np.exp(-v))


def raw_grids(seed, sides, boxes, classes, logits):
    """Random raw grids [boxes, side, side, 5 + classes] per side: objectness mostly low, so that a few boxes
    pass; logits: values for a sigmoid and softmax (else x, y, objectness and class scores in [0, 1])."""
    rng = np.random.default_rng(seed)
    grids = []
    for side in sides:
        g = np.empty((boxes, side, side, 5 + classes), np.float32)
        if logits:
            g[..., :2] = rng.normal(0, 1.5, g[..., :2].shape)
            g[..., 4] = rng.normal(-2.5, 2.5, g[..., 4].shape)
            g[..., 5:] = rng.normal(0, 2, g[..., 5:].shape)
        else:
            g[..., :2] = rng.uniform(0, 1, g[..., :2].shape)
            g[..., 4] = rng.uniform(0, 1, g[..., 4].shape) ** 3
            g[..., 5:] = rng.uniform(0, 1, g[..., 5:].shape)
        g[..., 2:4] = rng.normal(0, 0.6, g[..., 2:4].shape)
        grids.append(g)
    return grids


def plant_overlap(grid, logits, v5):
    """Two boxes in neighbouring cells of the grid [A, H, W, 5 + C] that overlap by an IoU about 0.6, the
    second less sure: NMS at 0.5 drops it."""
    size = 3.0 if v5 else 1.5           # about 4.5 anchors wide either way
    for x, sure in ((3, 0.95), (4, 0.9)):
        if logits:
            grid[1, 3, x, :5] = [0, 0, size, size, np.log(sure / (1 - sure))]
            grid[1, 3, x, 5:] = [3.0] + [0.0] * (grid.shape[3] - 6)
        else:
            grid[1, 3, x, :5] = [0.5, 0.5, size, size, sure]
            grid[1, 3, x, 5:] = [0.9] + [0.1] * (grid.shape[3] - 6)


def laid_out(grid, layout):
    """A grid [A, H, W, 5 + C] as a model gives it."""
    a, h, w, f = grid.shape
    if layout == "nchw":         # [1, A*(5+C), H, W]
        return grid.transpose(0, 3, 1, 2).reshape(a * f, h, w)[None]
    if layout == "nhwc":         # [1, H, W, A*(5+C)]
        return grid.transpose(1, 2, 0, 3).reshape(h, w, a * f)[None]
    if layout == "flat":         # [1, A*(5+C)*H*W]
        return grid.transpose(0, 3, 1, 2).reshape(1, -1)
    return grid[None]            # [1, A, H, W, 5+C]


def read_back(output, layout, boxes, side=None):
    """openvino's output as the grid [A, H, W, 5 + C] again (the inverse of laid_out; flat: of side cells)."""
    if layout == "flat":
        return output[0].reshape(boxes, -1, side, side).transpose(0, 2, 3, 1)
    if layout == "nchw":
        _, af, h, w = output.shape
        return output[0].reshape(boxes, af // boxes, h, w).transpose(0, 2, 3, 1)
    if layout == "nhwc":
        _, h, w, af = output.shape
        return output[0].reshape(h, w, boxes, af // boxes).transpose(2, 0, 1, 3)
    return output[0]


def decode(grids, anchors, threshold, iou, v5=False, use_sigmoid=False, softmax=False, strict=False,
           size=(SIZE, SIZE)):
    """DL Streamer's decoding of raw YOLO grids, then NMS. grids: [A, H, W, 5 + C] per scale; anchors: each
    scale's (width, height) per box in input pixels. A box is kept when its objectness (through a sigmoid with
    output_sigmoid_activation), and that x its best class probability (softmax with do_cls_softmax; a best
    score not above 0 counts as class 0 with 0), reach the threshold (yolo_v2: exceed it); NaN never does, and
    a box with a NaN corner makes no region."""
    below = (lambda v: not v > threshold) if strict else (lambda v: not v >= threshold)
    found = []
    for grid, pairs in zip(grids, anchors):
        a, h, w, _ = grid.shape
        for b in range(a):
            for y in range(h):
                for x in range(w):
                    v = grid[b, y, x].astype(np.float64)
                    objectness = sigmoid(v[4]) if use_sigmoid else v[4]
                    if below(objectness):
                        continue
                    scores = v[5:]
                    if softmax:
                        scores = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
                    best = int(np.argmax(scores))
                    p = scores[best]
                    if p <= 0:
                        best, p = 0, 0.0
                    confidence = objectness * p
                    if below(confidence):
                        continue
                    tx, ty = (sigmoid(v[0]), sigmoid(v[1])) if use_sigmoid else (v[0], v[1])
                    if v5:
                        cx, cy = (x + 2 * tx - 0.5) * size[0] / w, (y + 2 * ty - 0.5) * size[1] / h
                        bw, bh = (2 * sigmoid(v[2])) ** 2 * pairs[b][0], (2 * sigmoid(v[3])) ** 2 * pairs[b][1]
                    else:
                        cx, cy = (x + tx) * size[0] / w, (y + ty) * size[1] / h
                        bw, bh = np.exp(v[2]) * pairs[b][0], np.exp(v[3]) * pairs[b][1]
                    if not np.isfinite(cx + cy + bw + bh):
                        continue
                    found.append(((cx - bw / 2) / size[0], (cy - bh / 2) / size[1], (cx + bw / 2) / size[0],
                                  (cy + bh / 2) / size[1], confidence, best))
    return nms(found, iou)


def scale_anchors(masks, anchors, n_scales, boxes):
    """Each scale's anchors, smallest grid first: mask group k names the anchors of the k-th smallest grid."""
    pairs = [(anchors[2 * i], anchors[2 * i + 1]) for i in range(len(anchors) // 2)]
    return [[pairs[m] for m in masks[k * boxes:(k + 1) * boxes]] for k in range(n_scales)]


def assert_close_regions(got, want, labels=CLASSES):
    """The regions, in order, with their labels; rectangles within a pixel (float32 here, float64 there) and
    confidences within 1e-5."""
    want = to_regions(want, SIZE, SIZE, labels)
    assert [(g[0], g[2]) for g in got] == [(w[0], w[2]) for w in want]
    for g, w in zip(got, want):
        assert np.abs(np.subtract(g[1], w[1])).max() <= 1, (g, w)
        assert g[3] == pytest.approx(w[3], abs=1e-5)


def oracle(model, frame):
    """openvino's outputs of the stand-in on the frame, by output name."""
    compiled = openvino.Core().compile_model(model, "CPU", F32_CONFIG)
    result = compiled(frame[None])
    return {port.get_any_name(): result[port] for port in compiled.outputs}


FRAME = np.full((SIZE, SIZE, 3), 80, np.uint8)


@pytest.mark.parametrize("converter,layout,logits,flags", [
    ("yolo_v3", "nchw", False, {}),
    ("yolo_v3", "flat", False, {}),
    ("yolo_v3", "nchw", True, {"output_sigmoid_activation": True, "do_cls_softmax": True}),
    ("yolo_v4", "nhwc", True, {"output_sigmoid_activation": True, "do_cls_softmax": True}),
    ("yolo_v5", "nchw", True, {"output_sigmoid_activation": True, "do_cls_softmax": True}),
    ("yolo_v5", "five", True, {"output_sigmoid_activation": True}),
])
def test_yolo_on_raw_grids_of_three_scales_equals_numpy(tmp_path, converter, layout, logits, flags):
    grids = raw_grids(3, (8, 2, 4), 2, len(CLASSES), logits)         # the outputs in any order of scale
    plant_overlap(grids[0], logits, converter == "yolo_v5")
    names = [f"scale{g.shape[1]}" for g in grids]
    model = constant_model({n: laid_out(g, layout) for n, g in zip(names, grids)})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "input_preproc": [], "output_postproc": [
        {"converter": converter, "labels": CLASSES, "anchors": ANCHORS, "masks": MASKS, **flags}]})
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc} threshold=0.3 {F32}", [FRAME])
    outputs = oracle(model, FRAME)
    back = sorted((read_back(outputs[n], layout, 2, g.shape[1]) for n, g in zip(names, grids)),
                  key=lambda g: g.shape[1])
    want = decode(back, scale_anchors(MASKS, ANCHORS, 3, 2), 0.3, 0.5, v5=converter == "yolo_v5",
                  use_sigmoid=flags.get("output_sigmoid_activation", False),
                  softmax=flags.get("do_cls_softmax", False))
    assert len(want) >= 3
    assert_close_regions(got[0], want)
    # NMS dropped some: the same boxes without it are more
    assert len(decode(back, scale_anchors(MASKS, ANCHORS, 3, 2), 0.3, 1.0, v5=converter == "yolo_v5",
                      use_sigmoid=flags.get("output_sigmoid_activation", False),
                      softmax=flags.get("do_cls_softmax", False))) > len(want)


def batchable_model(outputs, size=SIZE):
    """constant_model whose outputs carry the batch on their first axis (each plus 0 x its frame's mean), so
    that batch-size can run frames together."""
    x = ops.parameter([1, size, size, 3], openvino.Type.u8, name="image")
    zero = ops.multiply(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2, 3], np.int64), True),
                        np.float32(0))                                                    # [N, 1, 1, 1]
    results = []
    for name, value in outputs.items():
        value = np.asarray(value, np.float32)
        r = ops.add(ops.constant(value), ops.reshape(zero, np.array([-1] + [1] * (value.ndim - 1), np.int64), False))
        r.output(0).set_names({name})
        results.append(r)
    return openvino.Model(results, [x], "batchable")


def test_batched_runs_decode_each_frame_as_alone(tmp_path):
    # batch-size=3: three outputs of three frames at a time, each frame's grids read from its own slice
    grids = raw_grids(4, (8, 2, 4), 2, len(CLASSES), True)
    model = save(batchable_model({f"scale{g.shape[1]}": laid_out(g, "nchw") for g in grids}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v5", "labels": CLASSES, "anchors": ANCHORS, "masks": MASKS,
         "output_sigmoid_activation": True}]})
    frames = [np.full((SIZE, SIZE, 3), 80, np.uint8)] * 6
    alone = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.3 {F32}", frames[:1])[0]
    batched = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.3 batch-size=3 batch-timeout=50 "
                         f"{F32}", frames)
    assert len(alone) >= 3 and batched == [alone] * 6


# DL Streamer's samples/gstreamer/model_proc/public/yolo-v3-tf.json and yolo-v4-tiny-tf.json, as those files are
YOLO_V3_TF = {"json_schema_version": "2.2.0", "input_preproc": [], "output_postproc": [{
    "converter": "yolo_v3", "iou_threshold": 0.5, "do_cls_softmax": False, "output_sigmoid_activation": False,
    "classes": 80, "anchors": [10.0, 13.0, 16.0, 30.0, 33.0, 23.0, 30.0, 61.0, 62.0, 45.0, 59.0, 119.0, 116.0, 90.0,
                               156.0, 198.0, 373.0, 326.0],
    "masks": [6, 7, 8, 3, 4, 5, 0, 1, 2], "labels": None}]}
YOLO_V4_TINY_TF = {"json_schema_version": "2.2.0", "input_preproc": [], "output_postproc": [{
    "converter": "yolo_v4", "do_cls_softmax": True, "output_sigmoid_activation": True, "iou_threshold": 0.4,
    "classes": 80, "anchors": [23.0, 27.0, 37.0, 58.0, 81.0, 82.0, 81.0, 82.0, 135.0, 169.0, 344.0, 319.0],
    "masks": [3, 4, 5, 0, 1, 2], "labels": None}]}


@pytest.mark.parametrize("doc,sides,layout", [(YOLO_V3_TF, (13, 26, 52), "nchw"), (YOLO_V4_TINY_TF, (13, 26), "nhwc")],
                         ids=["yolo-v3-tf", "yolo-v4-tiny-tf"])
def test_dl_streamers_own_yolo_files_on_416_pixel_grids(tmp_path, doc, sides, layout):
    entry = doc["output_postproc"][0]
    logits = entry["output_sigmoid_activation"]
    grids = raw_grids(11, sides, 3, 80, logits)
    names = [f"conv{s}" for s in sides]
    model = constant_model({n: laid_out(g, layout) for n, g in zip(names, grids)}, 416, 416)
    frame = np.zeros((416, 416, 3), np.uint8)
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc={write(tmp_path, doc)} threshold=0.5 "
                     f"{F32}", [frame], width=416, height=416)
    outputs = oracle(model, frame)
    back = [read_back(outputs[n], layout, 3) for n in names]
    want = decode(back, scale_anchors(entry["masks"], entry["anchors"], len(sides), 3), 0.5,
                  entry["iou_threshold"], use_sigmoid=logits, softmax=entry["do_cls_softmax"], size=(416, 416))
    assert len(want) >= 3
    # labels null and no labels= on the element: a class is named by its number
    want = to_regions(want, 416, 416, [str(i) for i in range(80)])
    assert [(g[0], g[2]) for g in got[0]] == [(w[0], w[2]) for w in want]
    for g, w in zip(got[0], want):
        assert np.abs(np.subtract(g[1], w[1])).max() <= 1 and g[3] == pytest.approx(w[3], abs=1e-5)


def test_nan_outputs_make_no_boxes(tmp_path):
    # NaN objectness in some cells, NaN x, width or first class score in sure cells: none becomes a region
    grids = raw_grids(3, (8, 2, 4), 2, len(CLASSES), False)
    plant_overlap(grids[0], False, False)
    g = grids[0]
    g[0, 0, :4, 4] = np.nan
    g[1, 3, 3, 0] = np.nan                      # the surer box of the planted pair: its partner stays
    g[0, 5, 5, 4], g[0, 5, 5, 2] = 0.99, np.nan
    g[1, 6, 6, 4], g[1, 6, 6, 5] = 0.99, np.nan
    names = [f"scale{x.shape[1]}" for x in grids]
    model = constant_model({n: laid_out(x, "nchw") for n, x in zip(names, grids)})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v3", "labels": CLASSES, "anchors": ANCHORS, "masks": MASKS}]})
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc} threshold=0.3 {F32}", [FRAME])
    outputs = oracle(model, FRAME)
    back = sorted((read_back(outputs[n], "nchw", 2) for n in names), key=lambda x: x.shape[1])
    assert np.isnan(back[2]).sum() >= 7                      # openvino passes the NaNs through
    want = decode(back, scale_anchors(MASKS, ANCHORS, 3, 2), 0.3, 0.5)
    assert len(want) >= 3
    assert_close_regions(got[0], want)


@pytest.mark.parametrize("shape", ["flat", "grid"])
def test_yolo_v2_region_output(tmp_path, shape):
    # one output of 4 x 4 cells x 2 boxes; anchors in cells; yolo_v2 keeps scores above the threshold only
    grid = raw_grids(5, (4,), 2, len(CLASSES), False)[0]
    grid[0, 1, 2, 4], grid[0, 1, 2, 5:] = 1.0, [0.5, 0.25, 0.125]          # exactly the threshold: dropped
    anchors = [1.0, 1.5, 2.5, 2.0]
    value = laid_out(grid, "nchw")
    model = constant_model({"region": value.reshape(1, -1) if shape == "flat" else value})
    entry = {"converter": "yolo_v2", "labels": CLASSES, "anchors": anchors, "bbox_number_on_cell": 2}
    if shape == "flat":
        entry["cells_number"] = 4
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc="
                     f"{write(tmp_path, {'json_schema_version': '2.2.0', 'output_postproc': [entry]})} threshold=0.5 "
                     f"{F32}", [FRAME])
    back = read_back(oracle(model, FRAME)["region"].reshape(value.shape), "nchw", 2)
    cell = SIZE / 4
    want = decode([back], [[(anchors[0] * cell, anchors[1] * cell), (anchors[2] * cell, anchors[3] * cell)]], 0.5,
                  0.5, strict=True)
    assert len(want) >= 2 and not any(w[4] == 0.5 for w in want)
    assert_close_regions(got[0], want)


def test_yolo_x(tmp_path):
    # [1, 8*8 + 4*4 + 2*2, 5 + C]: the cells of strides 8, 16 and 32 in turn, sizes exp(w) x the stride
    rng = np.random.default_rng(9)
    rows = np.concatenate([rng.uniform(0, 1, (84, 2)), rng.normal(0, 0.5, (84, 2)), rng.uniform(0, 1, (84, 1)) ** 3,
                           rng.uniform(0, 1, (84, 3))], axis=1).astype(np.float32)
    model = constant_model({"output": rows[None]})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_x", "classes": 3, "labels": CLASSES, "iou_threshold": 0.4}]})
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc} threshold=0.3 {F32}", [FRAME])
    out = oracle(model, FRAME)["output"][0]
    grids, anchors, start = [], [], 0
    for stride in (8, 16, 32):
        side = SIZE // stride
        grids.append(out[start:start + side * side].reshape(1, side, side, 8))
        anchors.append([(stride, stride)])
        start += side * side
    want = decode(grids, anchors, 0.3, 0.4)
    assert len(want) >= 3
    assert_close_regions(got[0], want)


# --- bad fields and shapes: a bus error naming the file, the entry and what was expected ----------------------
SRC = f"videotestsrc num-buffers=2 ! video/x-raw,format=BGR,width={SIZE},height={SIZE}"
BASE = {"converter": "yolo_v3", "labels": CLASSES, "anchors": ANCHORS, "masks": MASKS}


@pytest.fixture(scope="module")
def grid_model(tmp_path_factory):
    grids = raw_grids(1, (2, 4, 8), 2, len(CLASSES), False)
    return save(constant_model({f"scale{g.shape[1]}": laid_out(g, "nchw") for g in grids}),
                tmp_path_factory.mktemp("grids"))


@pytest.mark.parametrize("change,words", [
    ({"anchors": None}, ["anchors must be a list of width, height pairs"]),
    ({"anchors": [10, 13, 16]}, ["anchors must be a list", "[10, 13, 16]"]),
    ({"masks": None}, ["masks (the anchors of each output"]),
    ({"masks": [0, 1, 2, 3, 4, 9]}, ["masks must be a list of anchor numbers from 0 to 5"]),
    ({"output_sigmoid_activation": "yes"}, ["output_sigmoid_activation must be true or false"]),
    ({"classes": 5}, ["classes 5 is more than its 3 labels"]),
    ({"cells_number": 2, "cells_number_x": 2}, ["cells_number or cells_number_x and cells_number_y"]),
    ({"bbox_number_on_cell": 0}, ["bbox_number_on_cell must be a whole number of at least 1"]),
    # these need the model: its outputs do not fit the fields
    ({"cells_number": 13}, ["cells_number 13x13 is not the smallest grid, 2x2", "scale2"]),
    ({"masks": [0, 1, 2, 3]}, ["4 masks for 3 outputs of 2 boxes a cell", "(6)"]),
    ({"anchors": ANCHORS + [1, 2]}, ["14 anchors for 3 outputs", "bbox_number_on_cell x outputs x 2"]),
    ({"converter": "yolo_v4"}, ["(yolo_v4) reads raw grids [1, H, W, A*(5+C)]", "f32[1, 16, 2, 2]"]),
    ({"classes": 2, "labels": None}, ["C=2 classes", "f32[1, 16, 2, 2]"]),
    ({"layer_names": ["scale2", "scale8"], "anchors": ANCHORS[:8], "masks": [0, 1, 2, 3]},
     ["output 'scale8' has a 8x8 grid", "grids of 2, 4 cells"]),
    ({"converter": "yolo_x", "classes": 3}, ["(yolo_x) reads one output f32[1, 84, 8]", "f32[1, 16, 2, 2]"]),
    ({"converter": "yolo_v5", "anchors": None, "masks": None}, ["(yolo_v5)", "raw grids [1, A*(5+C), H, W] with "
                                                                             "anchors"]),
])
def test_bad_yolo_fields_and_shapes_are_bus_errors_naming_them(tmp_path, grid_model, change, words):
    entry = {k: v for k, v in {**BASE, **change}.items() if v is not None or k == "labels"}
    if entry.get("labels") is None:
        entry.pop("labels", None)
    path = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [entry]})
    text = bus_error(f"{SRC} ! ovfastinfer model={grid_model} model-proc={path} ! fakesink")
    assert text and f"model-proc={path!r}" in text and "output_postproc[0]" in text, text
    assert all(w in text for w in words), text
