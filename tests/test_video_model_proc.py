"""ovfastinfer model-proc=FILE: DL Streamer's model-proc JSON (schema 2.x). Each converter runs on a stand-in model
whose outputs are known and is checked against a numpy reference written here from DL Streamer's documented rules
(NMS: highest confidence first, a box overlapping a kept one by more than iou_threshold dropped, whatever its
class); the preprocessing against openvino's own PrePostProcessor and numpy on the same frames."""

import json

import gi

gi.require_version("Gst", "1.0")
from gi.repository import Gst  # noqa: E402

import numpy as np  # noqa: E402
import openvino  # noqa: E402
import openvino.opset13 as ops  # noqa: E402
import pytest  # noqa: E402
from openvino.preprocess import ColorFormat, PrePostProcessor, ResizeAlgorithm  # noqa: E402

from test_video import F32, F32_CONFIG, appsrc_frames, bus_error, run_appsrc, save  # noqa: E402
from test_gst_plugin import env, plugin_path, run, tool  # noqa: E402, F401 (fixtures)

# DL Streamer's samples/gstreamer/model_proc/intel/age-gender-recognition-retail-0013.json, as that file is
AGE_GENDER_PROC = {
    "json_schema_version": "2.2.0",
    "input_preproc": [],
    "output_postproc": [
        {"layer_name": "age_conv3", "attribute_name": "age", "converter": "text", "text_precision": 0,
         "text_scale": 100.0},
        {"layer_name": "prob", "attribute_name": "gender", "labels": ["Female", "Male"], "converter": "label",
         "method": "max"},
    ],
}
LABELS = ["person", "car", "dog"]


def write(folder, doc, name="proc.json"):
    path = folder / name
    path.write_text(json.dumps(doc) if not isinstance(doc, str) else doc)
    return str(path)


def constant_model(outputs, h=64, w=64, name="standin"):
    """u8 NHWC [1,h,w,3] -> the given constant f32 outputs {name: array} (each plus 0 x the frame's mean, so the
    frame is read)."""
    x = ops.parameter([1, h, w, 3], openvino.Type.u8, name="image")
    zero = ops.multiply(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([0, 1, 2, 3], np.int64), False),
                        np.float32(0))
    results = []
    for out_name, value in outputs.items():
        r = ops.add(ops.constant(np.asarray(value, np.float32)), zero)
        r.output(0).set_names({out_name})
        results.append(r)
    return openvino.Model(results, [x], name)


def regions_of(description, frames, fmt="BGR", width=64, height=64):
    """Pushes numpy frames through `appsrc ! <description> ! appsink`; per frame, its regions as (label, rect,
    label_id, confidence, {attribute: its fields})."""
    out = []
    for f in appsrc_frames(description, frames, fmt, width, height):
        out.append([(r.label(), tuple(r.rect()), r.label_id(), r.confidence(),
                     {t.name(): {k: t[k] for k in t.fields()} for t in r.tensors()
                      if not t.is_detection() and t.element_type() is None})      # the attributes, not raw outputs
                    for r in f.regions()])
    assert len(out) == len(frames), f"{len(out)} of {len(frames)} frames came out of {description}"
    return out


# --- a numpy reference of the detection converters -------------------------------------------------------------
def nms(boxes, iou):
    """boxes [(x0, y0, x1, y1, confidence, label_id)] -> those kept: highest confidence first, each dropping the
    later ones it overlaps by more than iou (intersection over union), whatever their class."""
    boxes = sorted(boxes, key=lambda b: -b[4])
    kept = []
    for b in boxes:
        if all(overlap(b, k) <= iou for k in kept):
            kept.append(b)
    return kept


def overlap(a, b):
    iw = min(a[2], b[2]) - max(a[0], b[0])
    ih = min(a[3], b[3]) - max(a[1], b[1])
    if iw <= 0 or ih <= 0:
        return 0.0
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def to_regions(boxes, width, height, labels=LABELS):
    """Kept boxes (corners as fractions of the frame) as the regions ovfastinfer makes: clamped to the frame,
    rounded to pixels, none where that leaves no pixel."""
    out = []
    for x0, y0, x1, y1, conf, label_id in boxes:
        x0, y0, x1, y1 = (min(max(v, 0.0), 1.0) for v in (x0, y0, x1, y1))
        px, py = int(x0 * width + 0.5), int(y0 * height + 0.5)
        pw, ph = int(x1 * width + 0.5) - px, int(y1 * height + 0.5) - py
        if pw > 0 and ph > 0:
            out.append((labels[label_id], (px, py, pw, ph), label_id, conf))
    return out


# YOLO proposals in the model's input pixels (64 x 64): centre x, y, width, height and one score per class.
# 0 and 1 overlap by IoU 0.6 (1 dropped at 0.4, kept at 0.7), 0 and 2 by 0.18 (kept), 3 is another class
# over 0 by 0.91 (dropped: NMS ignores classes), 4 is under the threshold, 5 stands alone.
PROPOSALS = [(20, 20, 20, 20, [0.90, 0.05, 0.0]), (25, 20, 20, 20, [0.10, 0.80, 0.0]),
             (30, 28, 20, 20, [0.70, 0.0, 0.0]), (21, 20, 21, 20, [0.0, 0.0, 0.85]),
             (50, 50, 10, 10, [0.30, 0.2, 0.1]), (50, 12, 12, 16, [0.0, 0.0, 0.60])]


def yolo_reference(proposals, threshold, iou, content_w, content_h, objectness=None):
    """yolo_v8 (no objectness: the best class score above the threshold, as DL Streamer's) and yolo_v5/v7's
    decoded rows (objectness x the best class score at or above it), then NMS."""
    boxes = []
    for i, (cx, cy, w, h, scores) in enumerate(proposals):
        label_id = int(np.argmax(scores))
        conf = np.float32(scores[label_id]) * (np.float32(objectness[i]) if objectness is not None else 1)
        if conf >= threshold if objectness is not None else conf > threshold:
            boxes.append(((cx - w / 2) / content_w, (cy - h / 2) / content_h, (cx + w / 2) / content_w,
                          (cy + h / 2) / content_h, float(conf), label_id))
    return nms(boxes, iou)


def yolo_v8_output(proposals):
    rows = [[p[0], p[1], p[2], p[3], *p[4]] for p in proposals]
    return np.array(rows, np.float32).T[None]          # [1, 4 + classes, N]


def assert_regions(got, want):
    assert [(label, rect, lid) for label, rect, lid, _, _ in got] == [(a, b, c) for a, b, c, _ in want]
    for (*_, conf, _), (*_, want_conf) in zip(got, want):
        assert conf == pytest.approx(want_conf, abs=1e-6)


@pytest.mark.parametrize("iou", [0.4, 0.7])
def test_yolo_v8_nms_keeps_and_drops_as_defined(tmp_path, iou):
    model = save(constant_model({"output0": yolo_v8_output(PROPOSALS)}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "input_preproc": [],
                            "output_postproc": [{"converter": "yolo_v8", "iou_threshold": iou, "labels": LABELS}]})
    frames = [np.full((64, 64, 3), 100, np.uint8)]
    got = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.5", frames)
    want = to_regions(yolo_reference(PROPOSALS, 0.5, iou, 64, 64), 64, 64)
    assert_regions(got[0], want)
    assert (len(want), any(w[2] == 1 for w in want)) == ((3, False) if iou == 0.4 else (4, True))


def test_yolo_v8_keeps_scores_above_the_threshold_only(tmp_path):
    # DL Streamer's yolo_v8 keeps a box whose best score is above the threshold: one exactly at it is dropped
    proposals = PROPOSALS + [(10, 52, 12, 8, [0.0, 0.5, 0.0])]
    model = save(constant_model({"output0": yolo_v8_output(proposals)}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8", "labels": LABELS}]})
    got = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.5", [np.zeros((64, 64, 3), np.uint8)])
    want = to_regions(yolo_reference(proposals, 0.5, 0.4, 64, 64), 64, 64)
    assert_regions(got[0], want)
    assert len(want) == 3
    below = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.49",
                       [np.zeros((64, 64, 3), np.uint8)])
    assert len(below[0]) == 4          # just under it, the box is there


def test_yolo_v8_boxes_map_back_through_a_resize_keeping_the_aspect_ratio(tmp_path):
    # 128 x 64 frames into the 64 x 64 model: the frame fills 64 x 32 at the top, the rest is padding
    model = save(constant_model({"output0": yolo_v8_output(PROPOSALS)}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0",
                            "input_preproc": [{"format": "image", "params": {"resize": "aspect-ratio"}}],
                            "output_postproc": [{"converter": "yolo_v8", "labels": LABELS}]})
    got = regions_of(f"ovfastdetect model={model} model-proc={proc} threshold=0.5",
                     [np.zeros((64, 128, 3), np.uint8)], width=128, height=64)
    assert_regions(got[0], to_regions(yolo_reference(PROPOSALS, 0.5, 0.4, 64, 32), 128, 64))


@pytest.mark.parametrize("converter", ["yolo_v5", "yolo_v7"])
def test_yolo_v5_objectness_scales_the_class_scores(tmp_path, converter):
    # yolo_v5's decoded boxes, and DL Streamer's yolo_v7 that reads the same rows the same way
    objectness = [1.0, 0.9, 0.8, 0.5, 1.0, 0.95]
    rows = [[p[0], p[1], p[2], p[3], o, *p[4]] for p, o in zip(PROPOSALS, objectness)]
    model = save(constant_model({"output": np.array(rows, np.float32)[None]}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": converter, "labels": LABELS, "iou_threshold": 0.4}]})
    got = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.4", [np.zeros((64, 64, 3), np.uint8)])
    assert_regions(got[0], to_regions(yolo_reference(PROPOSALS, 0.4, 0.4, 64, 64, objectness), 64, 64))


def test_yolo_v8_obb_boxes_carry_their_angle(tmp_path):
    # yolo_v8's proposals with an angle row: regions as yolo_v8's (best class above the threshold, NMS on the
    # upright boxes), each with its angle as the detection's rotation
    angles = [0.1, -0.4, 1.2, 0.0, 0.7, -1.5]
    table = np.concatenate([yolo_v8_output(PROPOSALS)[0], np.float32([angles])])[None]
    model = constant_model({"output0": table})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8_obb", "labels": LABELS}]})
    got = []
    for frame in appsrc_frames(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc} threshold=0.5 {F32}",
                               [np.zeros((64, 64, 3), np.uint8)], "BGR", 64, 64):
        got.append([(r.label(), tuple(r.rect()), r.label_id(), r.confidence(), r.detection()["rotation"])
                    for r in frame.regions()])
    out = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(np.zeros((1, 64, 64, 3), np.uint8))[0][0].T
    boxes = [((r[0] - r[2] / 2) / 64, (r[1] - r[3] / 2) / 64, (r[0] + r[2] / 2) / 64, (r[1] + r[3] / 2) / 64,
              float(r[4:-1].max()), int(r[4:-1].argmax()), float(r[-1])) for r in out if r[4:-1].max() > 0.5]
    kept = nms(boxes, 0.4)
    assert_regions([g[:4] + (None,) for g in got[0]], to_regions([k[:6] for k in kept], 64, 64))
    assert [g[4] for g in got[0]] == pytest.approx([k[6] for k in kept], abs=1e-6) and len(kept) == 3


def boxes_with_tensors(model, proc, tensor_format, folder):
    """One black 64 x 64 frame through `ovfastinfer model-proc=proc threshold=0.5`: its regions as (label, rect,
    label_id, confidence, [a dict per tensor of tensor_format: its fields, name, dims and data])."""
    got = []
    for frame in appsrc_frames(f"ovfastinfer model={save(model, folder)} model-proc={proc} threshold=0.5 {F32}",
                               [np.zeros((64, 64, 3), np.uint8)], "BGR", 64, 64):
        got.append([(r.label(), tuple(r.rect()), r.label_id(), r.confidence(),
                     [dict({k: t[k] for k in t.fields()}, name=t.name(), dims=t.dims(), data=t.data())
                      for t in r.tensors() if t.format() == tensor_format]) for r in frame.regions()])
    return got[0]


def test_centerface_faces_and_their_landmarks(tmp_path):
    # 16 x 16 maps of a 64 x 64 input: three sure cells (two side by side: NMS keeps the surer), one at the
    # threshold (dropped: above only), the rest low
    rng = np.random.default_rng(13)
    heat = rng.uniform(0, 0.3, (1, 1, 16, 16))
    heat[0, 0, 5, 5], heat[0, 0, 5, 6], heat[0, 0, 12, 3], heat[0, 0, 1, 14] = 0.9, 0.8, 0.7, 0.5
    outputs = {"heatmap": heat, "scale": rng.normal(1.5, 0.1, (1, 2, 16, 16)),
               "offset": rng.uniform(0, 1, (1, 2, 16, 16)), "landmarks": rng.uniform(0, 1, (1, 10, 16, 16))}
    model = constant_model(outputs)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "centerface", "labels": ["background", "face"]}]})
    got = boxes_with_tensors(model, proc, "landmark_points", tmp_path)
    out = dict(zip(outputs, openvino.Core().compile_model(model, "CPU", F32_CONFIG)(
        np.zeros((1, 64, 64, 3), np.uint8)).values()))
    faces = []
    for row, col in zip(*np.nonzero(out["heatmap"][0, 0] > 0.5)):       # DL Streamer's decoding, in input pixels
        s0, s1 = np.exp(out["scale"][0, :, row, col]) * 4
        o0, o1 = out["offset"][0, :, row, col]
        x = min(max(0.0, (col + o1 + 0.5) * 4 - s1 / 2), 64)
        y = min(max(0.0, (row + o0 + 0.5) * 4 - s0 / 2), 64)
        w, h = min(x + s1, 64) - x, min(y + s0, 64) - y
        marks = out["landmarks"][0, :, row, col]
        points = [v for k in range(5) for v in (marks[2 * k + 1] * s1 / w, marks[2 * k] * s0 / h)]
        faces.append((x / 64, y / 64, (x + w) / 64, (y + h) / 64, float(out["heatmap"][0, 0, row, col]), 1, points))
    kept = nms(faces, 0.4)
    assert len(kept) == 2 and len(faces) == 3
    assert_regions([g[:4] + (None,) for g in got], to_regions([k[:6] for k in kept], 64, 64,
                                                                 ["background", "face"]))
    for (*_, tensors), k in zip(got, kept):
        (t,) = tensors
        assert (t["name"], t["dims"]) == ("centerface", [1, 10])
        assert t["confidence"] == pytest.approx(k[4], abs=1e-6)
        np.testing.assert_allclose(t["data"], k[6], rtol=1e-5)


def test_yolo_v8_seg_boxes_with_their_masks(tmp_path):
    # boxes [1, 4 + 3 + 4, N] (yolo_v8's proposals, one more over the right edge, 4 mask coefficients each)
    # and prototypes [1, 4, 16, 16] of the 64 x 64 input
    rng = np.random.default_rng(14)
    proposals = PROPOSALS + [(60, 30, 16, 10, [0.0, 0.9, 0.0])]
    coefficients = rng.normal(0, 1, (len(proposals), 4))
    boxes = np.concatenate([yolo_v8_output(proposals)[0], coefficients.T], 0)[None]
    model = constant_model({"boxes": boxes, "masks": rng.normal(0, 1, (1, 4, 16, 16))})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8_seg", "labels": LABELS}]})
    got = boxes_with_tensors(model, proc, "segmentation_mask", tmp_path)
    table, protos = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(np.zeros((1, 64, 64, 3), np.uint8)).values()
    table, protos = table[0].T, protos[0]
    kept = nms([((r[0] - r[2] / 2) / 64, (r[1] - r[3] / 2) / 64, (r[0] + r[2] / 2) / 64, (r[1] + r[3] / 2) / 64,
                 float(r[4:7].max()), int(r[4:7].argmax()), i) for i, r in enumerate(table) if r[4:7].max() > 0.5],
               0.4)
    assert_regions([g[:4] + (None,) for g in got], to_regions([k[:6] for k in kept], 64, 64))
    assert any(table[k[6]][0] + table[k[6]][2] / 2 > 64 for k in kept)        # the box over the edge is kept
    for (*_, tensors), k in zip(got, kept):
        r = table[k[6]]
        # DL Streamer's crop: corner and size in prototype cells, truncated (clamped to the map here)
        x0, y0 = int((r[0] - r[2] / 2) * 16 / 64), int((r[1] - r[3] / 2) * 16 / 64)
        x1, y1 = min(x0 + int(r[2] * 16 / 64), 16), min(y0 + int(r[3] * 16 / 64), 16)
        x0, y0 = max(x0, 0), max(y0, 0)
        composed = np.tensordot(r[7:].astype(np.float64), protos, 1)[y0:y1, x0:x1]
        (t,) = tensors
        assert (t["name"], t["dims"]) == ("mask_yolov8", [x1 - x0, y1 - y0])
        np.testing.assert_allclose(t["data"].reshape(y1 - y0, x1 - x0), 1 / (1 + np.exp(-composed)), rtol=1e-5)


def test_yolo_v8_seg_box_of_no_whole_cells_gets_no_mask(tmp_path):
    # a box 1e30 wide (a region over the whole width, but no cells to crop) and a NaN-centred one next to a
    # usual one: only the usual one gets a mask, and nothing crashes
    proposals = [(32, 10, 1e30, 8, [0.9, 0.0, 0.0]), (float("nan"), 30, 8, 8, [0.0, 0.0, 0.85]),
                 (20, 50, 12, 10, [0.0, 0.8, 0.0])]
    boxes = np.concatenate([yolo_v8_output(proposals)[0], np.ones((4, 3), np.float32)], 0)[None]
    model = constant_model({"boxes": boxes, "masks": np.zeros((1, 4, 16, 16), np.float32)})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8_seg", "labels": LABELS}]})
    got = boxes_with_tensors(model, proc, "segmentation_mask", tmp_path)
    assert [(g[0], g[1][2], len(g[4])) for g in got] == [("person", 64, 0), ("car", 12, 1)]
    np.testing.assert_array_equal(got[1][4][0]["data"], np.full(3 * 2, 0.5, np.float32))    # sigmoid(0)


def test_mask_rcnn_boxes_with_their_masks(tmp_path):
    # boxes [N, 5] (corners in input pixels, confidence), i64 labels [N] (class = label + 1) and masks
    # [N, 7, 9]; boxes 0 and 1 overlap (NMS keeps the surer), 3 is under the threshold
    rng = np.random.default_rng(15)
    corners = np.array([[4, 6, 30, 34, 0.9], [6, 7, 31, 35, 0.8], [36, 30, 60, 62, 0.7], [0, 40, 10, 60, 0.2]],
                       np.float32)
    x = ops.parameter([1, 64, 64, 3], openvino.Type.u8, name="image")
    zero = ops.multiply(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([0, 1, 2, 3], np.int64), False),
                        np.float32(0))
    outputs = {"boxes": ops.add(ops.constant(corners), zero),
               "labels": ops.convert(ops.add(ops.constant(np.float32([0, 1, 1, 0])), zero), openvino.Type.i64),
               "masks": ops.add(ops.constant(rng.uniform(0, 1, (4, 7, 9)).astype(np.float32)), zero)}
    for name, node in outputs.items():
        node.output(0).set_names({name})
    model = openvino.Model(list(outputs.values()), [x], "mask-rcnn")
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "mask_rcnn", "labels": ["background"] + LABELS}]})
    got = boxes_with_tensors(model, proc, "segmentation_mask", tmp_path)
    boxes, labels, masks = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(
        np.zeros((1, 64, 64, 3), np.uint8)).values()
    kept = nms([(b[0] / 64, b[1] / 64, b[2] / 64, b[3] / 64, float(b[4]), int(label) + 1, i)
                for i, (b, label) in enumerate(zip(boxes, labels)) if b[4] >= 0.5], 0.4)
    assert [k[6] for k in kept] == [0, 2]
    assert_regions([g[:4] + (None,) for g in got], to_regions([k[:6] for k in kept], 64, 64,
                                                                 ["background"] + LABELS))
    for (*_, tensors), k in zip(got, kept):
        (t,) = tensors
        assert (t["name"], t["dims"]) == ("mask_rcnn", [7, 9])
        np.testing.assert_array_equal(t["data"], masks[k[6]].ravel())


def test_yolo_v10_corners_and_labels_modulo_their_count(tmp_path):
    # the proposals as corners, confidence and label; label 4 is class 1 (4 mod 3), one box at the threshold
    rows = [[cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2, max(scores), int(np.argmax(scores)) + 3 * (i % 2)]
            for i, (cx, cy, w, h, scores) in enumerate(PROPOSALS)] + [[0, 0, 30, 30, 0.5, 0]]
    model = save(constant_model({"output0": np.array(rows, np.float32)[None]}), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v10", "labels": LABELS}]})
    got = regions_of(f"ovfastinfer model={model} model-proc={proc} threshold=0.5", [np.zeros((64, 64, 3), np.uint8)])
    boxes = [(r[0] / 64, r[1] / 64, r[2] / 64, r[3] / 64, float(np.float32(r[4])), int(r[5]) % 3) for r in rows
             if np.float32(r[4]) > 0.5]        # above the threshold only, as DL Streamer's yolo_v10
    assert_regions(got[0], to_regions(nms(boxes, 0.4), 64, 64))
    assert any(int(r[5]) >= 3 for r in rows if r[4] > 0.5)


def test_yolo_v8_pose_boxes_with_their_keypoints(tmp_path):
    # [1, 5 + 3 x 17, N]: centre, size, score, then 17 keypoints (x, y, confidence) in input pixels. Proposal 1
    # overlaps 0 (dropped by NMS), 2 is under the threshold, 3 exactly at it (dropped: above only, as DL
    # Streamer's), 4 stands alone.
    rng = np.random.default_rng(12)
    boxes = [(20, 20, 20, 24, 0.9), (22, 21, 20, 24, 0.8), (45, 45, 10, 10, 0.3), (50, 15, 12, 12, 0.5),
             (44, 44, 16, 20, 0.7)]
    rows = [[cx, cy, w, h, score, *np.column_stack([rng.uniform(cx - w / 2, cx + w / 2, 17),
                                                    rng.uniform(cy - h / 2, cy + h / 2, 17),
                                                    rng.uniform(0, 1, 17)]).ravel()]
            for cx, cy, w, h, score in boxes]
    model = constant_model({"output0": np.array(rows, np.float32).T[None]})
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8_pose", "labels": ["person"]}]})
    got = boxes_with_tensors(model, proc, "keypoints", tmp_path)
    table = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(np.zeros((1, 64, 64, 3), np.uint8))[0][0].T
    kept = nms([((r[0] - r[2] / 2) / 64, (r[1] - r[3] / 2) / 64, (r[0] + r[2] / 2) / 64, (r[1] + r[3] / 2) / 64,
                 float(r[4]), 0, i) for i, r in enumerate(table) if r[4] > 0.5], 0.4)
    assert [k[6] for k in kept] == [0, 4]
    assert_regions([g[:4] + (None,) for g in got], to_regions([k[:6] for k in kept], 64, 64, ["person"]))
    for (*_, tensors), k in zip(got, kept):
        r = table[k[6]]
        x0, y0 = r[0] - r[2] / 2, r[1] - r[3] / 2
        points = r[5:].reshape(17, 3)
        (t,) = tensors
        assert (t["name"], t["dims"], t["point_names"][:2], len(t["point_names"])) == ("keypoints", [17, 2],
                                                                                       ["nose", "eye_l"], 17)
        np.testing.assert_allclose(t["confidence"], points[:, 2], rtol=1e-6)
        np.testing.assert_allclose(t["data"].reshape(17, 2), np.column_stack([(points[:, 0] - x0) / r[2],
                                                                          (points[:, 1] - y0) / r[3]]), atol=1e-5)


def test_detection_output_and_boxes_labels(tmp_path):
    ssd = np.array([[[[0, 1, 0.9, 0.1, 0.2, 0.5, 0.6], [0, 2, 0.3, 0, 0, 1, 1], [0, 0, 0.7, 0.5, 0.5, 0.9, 0.8],
                      [-1, 0, 0, 0, 0, 0, 0]]]], np.float32)
    proc = {"json_schema_version": "2.2.0", "output_postproc": [{"converter": "detection_output", "labels": LABELS}]}
    got = regions_of(f"ovfastinfer model={save(constant_model({'boxes': ssd}), tmp_path, 'ssd')} "
                     f"model-proc={write(tmp_path, proc, 'ssd.json')}", [np.zeros((64, 64, 3), np.uint8)])
    want = [(r[3], r[4], r[5], r[6], float(r[2]), int(r[1])) for r in ssd[0, 0, :3] if r[2] >= 0.5]
    assert_regions(got[0], to_regions(sorted(want, key=lambda b: -b[4]), 64, 64))

    boxes = np.array([[4, 8, 30, 40, 0.8], [40, 40, 60, 62, 0.95], [0, 0, 10, 10, 0.2]], np.float32)
    labels = np.array([2, 0, 1], np.float32)
    proc = {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "boxes_labels", "layer_names": ["boxes", "labels"], "labels": LABELS}]}
    got = regions_of(f"ovfastinfer model={save(constant_model({'boxes': boxes, 'labels': labels}), tmp_path, 'bl')} "
                     f"model-proc={write(tmp_path, proc, 'bl.json')}", [np.zeros((64, 64, 3), np.uint8)])
    want = [(b[0] / 64, b[1] / 64, b[2] / 64, b[3] / 64, float(b[4]), int(l)) for b, l in zip(boxes, labels)
            if b[4] >= 0.5]
    assert_regions(got[0], to_regions(sorted(want, key=lambda b: -b[4]), 64, 64))


def age_gender_model(size=16):
    """u8 NHWC -> age_conv3 [1,1,1,1] (the frame's mean / 255) and prob [1,2,1,1] (softmax of the blue and red
    channels' means / 32): two outputs, each with its own attribute."""
    x = ops.parameter([1, size, size, 3], openvino.Type.u8, name="data")
    means = ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2], np.int64), False)   # [1,3]
    age = ops.reshape(ops.divide(ops.reduce_mean(means, np.array([1], np.int64), True), np.float32(255)),
                      np.array([1, 1, 1, 1], np.int64), False)
    pair = ops.gather(means, np.array([0, 2], np.int64), np.int64(1))
    prob = ops.reshape(ops.softmax(ops.divide(pair, np.float32(32)), 1), np.array([1, 2, 1, 1], np.int64), False)
    age.output(0).set_names({"age_conv3"})
    prob.output(0).set_names({"prob"})
    return openvino.Model([age, prob], [x], "age-gender")


def test_age_gender_from_dl_streamers_own_model_proc_file(tmp_path):
    model = age_gender_model()
    path = save(model, tmp_path)
    proc = write(tmp_path, AGE_GENDER_PROC)
    rng = np.random.default_rng(7)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(6)]
    frames[0][..., 0], frames[1][..., 2] = 255, 255          # both genders win at least once
    got = regions_of(f"ovfastclassify model={path} model-proc={proc} inference-region=full-frame {F32}", frames,
                     width=16, height=16)
    compiled = openvino.Core().compile_model(model, "CPU", F32_CONFIG)
    genders = set()
    for regions, frame in zip(got, frames):
        age, prob = compiled(frame[None]).values()
        assert len(regions) == 1
        label, rect, _, _, tensors = regions[0]
        assert rect == (0, 0, 16, 16) and set(tensors) == {"age", "gender"}
        assert tensors["age"]["label"] == f"{float(age.ravel()[0]) * 100:.0f}"
        assert tensors["age"]["layer_name"] == "age_conv3" and tensors["age"]["converter"] == "text"
        best = int(np.argmax(prob.ravel()))
        gender = tensors["gender"]
        assert (gender["label"], gender["label_id"], gender["attribute_name"]) == (["Female", "Male"][best], best,
                                                                                 "gender")
        assert gender["confidence"] == pytest.approx(float(prob.ravel()[best]), abs=1e-6)
        genders.add(gender["label"])
    assert genders == {"Female", "Male"}


def test_label_methods_softmax_and_index(tmp_path):
    logits = np.array([[0.5, 2.0, -1.0, 1.5]], np.float32)
    plate = np.array([[2, 0, 1, 2, -1, 1]], np.float32)        # characters up to the first that names none
    model = save(constant_model({"logits": logits, "plate": plate}, 16, 16), tmp_path)
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "label", "layer_name": "logits", "attribute_name": "kind", "method": "softmax",
         "labels": ["a", "b", "c", "d"]},
        {"converter": "label", "layer_name": "plate", "attribute_name": "plate", "method": "index",
         "labels": ["X", "Y", "Z"]}]})
    got = regions_of(f"ovfastinfer model={model} model-proc={proc}", [np.zeros((16, 16, 3), np.uint8)], width=16,
                     height=16)
    attributes = got[0][0][4]
    soft = np.exp(logits[0] - logits[0].max()) / np.exp(logits[0] - logits[0].max()).sum()
    best = int(np.argmax(soft))
    assert (attributes["kind"]["label"], attributes["kind"]["label_id"]) == ("abcd"[best], best)
    assert attributes["kind"]["confidence"] == pytest.approx(float(soft[best]), abs=1e-6)
    names = []
    for v in plate[0].astype(int):
        if not 0 <= v < 3:
            break
        names.append("XYZ"[v])
    assert attributes["plate"]["label"] == "".join(names) and "label_id" not in attributes["plate"]


# DL Streamer's samples/gstreamer/model_proc/intel/person-attributes-recognition-crossroad-0230.json, as it is
PERSON_ATTRIBUTES_PROC = {
    "json_schema_version": "2.2.0",
    "input_preproc": [],
    "output_postproc": [
        {"layer_name": "453", "attribute_name": "person-attributes",
         "labels": ["M:", "F:", "has_bag", "", "has_backpack", "", "has_hat", "", "has_longsleeves", "",
                    "has_longpants", "", "has_longhair", "", "has_coat_jacket", ""],
         "converter": "label", "method": "compound"},
    ],
}


def brightness_model(name, base, slope, size=16):
    """u8 NHWC -> f32 [1, N] named name: base + slope x the frame's mean / 255 (values that move with the
    frame's brightness)."""
    x = ops.parameter([1, size, size, 3], openvino.Type.u8, name="data")
    mean = ops.divide(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([1, 2, 3], np.int64), True),
                      np.float32(255))                                                   # [1, 1]
    y = ops.add(ops.multiply(ops.reshape(mean, np.array([1, 1], np.int64), False), np.float32([slope])),
                np.float32([base]))
    y.output(0).set_names({name})
    return openvino.Model([y], [x], "attributes")


def multi_reference(values, labels, threshold, method):
    """DL Streamer's label methods compound, multi and softmax_multi: (label text, confidence)."""
    values = np.asarray(values, np.float64)
    if method == "softmax_multi":
        values = np.exp(values - values.max()) / np.exp(values - values.max()).sum()
    text, confidence = "", 0.0
    for j, v in enumerate(values):
        if method == "compound":
            name = labels[2 * j] if v >= threshold else (labels[2 * j + 1] if v > 0 else "")
        else:
            name = labels[j] if v >= threshold else ""
        if name:
            text += (" " if text and not text[-1].isspace() else "") + name
        confidence = max(confidence, v)
    return text, confidence


@pytest.mark.parametrize("method", ["compound", "multi", "softmax_multi"])
def test_label_methods_compound_and_multi(tmp_path, method):
    if method == "compound":
        doc, layer, attribute = PERSON_ATTRIBUTES_PROC, "453", "person-attributes"
        model = brightness_model(layer, [0.9, -0.2, 0.1, 0.45, 0.8, 0.3, -0.5, 0.2],
                                 [-0.6, 0.5, 0.5, 0.2, -0.1, 0.4, 1.2, 0.0])
    else:
        doc, layer, attribute = {"json_schema_version": "2.2.0", "output_postproc": [
            {"converter": "label", "layer_name": "scores", "attribute_name": "tags", "method": method,
             "confidence_threshold": 0.3, "labels": ["a", "b", "c", "d"]}]}, "scores", "tags"
        model = brightness_model(layer, [0.05, 0.5, -1.0, 0.35], [0.5, -0.6, 2.0, 0.0])
    entry = doc["output_postproc"][0]
    frames = [np.full((16, 16, 3), v, np.uint8) for v in (0, 100, 255)]
    got = regions_of(f"ovfastclassify model={save(model, tmp_path)} model-proc={write(tmp_path, doc)} "
                     f"inference-region=full-frame {F32}", frames, width=16, height=16)
    compiled = openvino.Core().compile_model(model, "CPU", F32_CONFIG)
    texts = set()
    for regions, frame in zip(got, frames):
        values = compiled(frame[None])[0][0]
        text, confidence = multi_reference(values, entry["labels"], entry.get("confidence_threshold", 0.5), method)
        result = regions[0][4][attribute]
        assert (result["label"], "label_id" in result) == (text, False), (values, result)
        assert result["confidence"] == pytest.approx(confidence, abs=1e-6)
        texts.add(text)
    assert len(texts) == 3          # each frame's values name other labels


# DL Streamer's samples/gstreamer/model_proc/public/single-human-pose-estimation-0001.json, as it is
POSE_PROC = {"json_schema_version": "2.2.0", "input_preproc": [{"format": "image", "layer_name": "data", "params": {
    "color_space": "BGR", "resize": "aspect-ratio", "padding": {"stride": 8}}}], "output_postproc": [{
        "converter": "keypoints_hrnet",
        "point_names": ["nose", "eye_l", "eye_r", "ear_l", "ear_r", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r",
                        "wrist_l", "wrist_r", "hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r"],
        "point_connections": ["shoulder_l", "shoulder_r", "nose", "eye_l", "nose", "eye_r", "eye_l", "ear_l", "eye_r",
                              "ear_r", "elbow_l", "shoulder_l", "elbow_r", "shoulder_r", "wrist_l", "elbow_l",
                              "wrist_r", "elbow_r", "hip_l", "knee_l", "hip_r", "knee_r", "knee_l", "ankle_l",
                              "knee_r", "ankle_r"]}]}


@pytest.mark.parametrize("width", [48, 96], ids=["same-aspect", "padded"])
def test_keypoints_hrnet_from_dl_streamers_own_file(tmp_path, width):
    # a 48 x 64 (w x h) stand-in with 17 heatmaps of 12 x 16; 96 x 64 frames fill its top half only
    heatmaps = np.random.default_rng(6).normal(0, 1, (1, 17, 16, 12)).astype(np.float32)
    model = constant_model({"heatmaps": heatmaps}, h=64, w=48, name="pose")
    frames = [np.zeros((64, width, 3), np.uint8)]
    got = []
    for frame in appsrc_frames(f"ovfastinfer model={save(model, tmp_path)} model-proc={write(tmp_path, POSE_PROC)} "
                               f"{F32}", frames, "BGR", width, 64):
        got.append([(t.name(), t.dims(), t.precision_as_string(), t["point_names"], t["point_connections"], t.data())
                    for r in frame.regions() for t in r.tensors() if t.format() == "keypoints"])
    maps = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(frames[0][:64, :48][None])[0][0]
    content_h = 64 * 48 / width                         # the rows the frame fills in the model's input
    want = []
    for m in maps:                                       # each map's highest cell, the first in row order
        row, col = divmod(int(np.argmax(m)), m.shape[1])
        want += [col / m.shape[1], row / m.shape[0] * 64 / content_h]
    (points,) = got[0]          # one region (the whole frame) with one keypoints tensor
    entry = POSE_PROC["output_postproc"][0]
    assert points[:5] == ("heatmaps", [17, 2], "FP32", entry["point_names"], entry["point_connections"])
    np.testing.assert_allclose(points[5], want, rtol=1e-6)


def test_keypoints_3d(tmp_path):
    # [1, K, 3] on a feature map a quarter of the input: x and y times 4 as fractions of the 48 x 64 input
    points = np.random.default_rng(8).uniform(0, 12, (1, 4, 3)).astype(np.float32)
    model = constant_model({"pose3d": points}, h=64, w=48, name="pose3d")
    names = ["neck", "hip", "knee", "ankle"]
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "keypoints_3d", "attribute_name": "skeleton", "point_names": names,
         "point_connections": ["neck", "hip", "hip", "knee", "knee", "ankle"]}]})
    got = []
    for frame in appsrc_frames(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc} {F32}",
                               [np.zeros((64, 48, 3), np.uint8)], "BGR", 48, 64):
        got.append([(t.name(), t.dims(), t["point_names"], t.data()) for r in frame.regions() for t in r.tensors()
                    if t.format() == "keypoints"])
    out = openvino.Core().compile_model(model, "CPU", F32_CONFIG)(np.zeros((1, 64, 48, 3), np.uint8))[0][0]
    want = np.stack([out[:, 0] * 4 / 48, out[:, 1] * 4 / 64, out[:, 2] * 4], axis=1).ravel()
    ((name, dims, point_names, data),) = got[0]
    assert (name, dims, point_names) == ("skeleton", [4, 3], names)
    np.testing.assert_allclose(data, want, rtol=1e-6)


@pytest.mark.parametrize("element_type", [openvino.Type.f64, openvino.Type.i32], ids=["f64", "i32"])
def test_label_reads_f64_and_i32_outputs(tmp_path, element_type):
    # DL Streamer's label converter reads f64 and i32 as well as f32: max and softmax on scores, index on
    # character numbers
    x = ops.parameter([1, 16, 16, 3], openvino.Type.u8, name="data")
    zero = ops.multiply(ops.reduce_mean(ops.convert(x, openvino.Type.f32), np.array([0, 1, 2, 3], np.int64), False),
                        np.float32(0))
    results = []
    for name, value in {"scores": [[3.0, 7.0, -2.0, 5.0]], "plate": [[2, 1, 2, 0, 9, 1]]}.items():
        r = ops.convert(ops.add(ops.constant(np.float32(value)), zero), element_type)
        r.output(0).set_names({name})
        results.append(r)
    model = openvino.Model(results, [x], "typed")
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "label", "layer_name": "scores", "attribute_name": "best", "method": "max",
         "labels": ["a", "b", "c", "d"]},
        {"converter": "label", "layer_name": "scores", "attribute_name": "soft", "method": "softmax",
         "labels": ["a", "b", "c", "d"]},
        {"converter": "label", "layer_name": "plate", "attribute_name": "plate", "method": "index",
         "labels": ["X", "Y", "Z"]}]})
    got = regions_of(f"ovfastinfer model={save(model, tmp_path)} model-proc={proc}", [np.zeros((16, 16, 3), np.uint8)],
                     width=16, height=16)
    scores, plate = openvino.Core().compile_model(model, "CPU")(np.zeros((1, 16, 16, 3), np.uint8)).values()
    assert scores.dtype == element_type.to_dtype()
    attributes = got[0][0][4]
    best = int(np.argmax(scores[0]))
    soft = np.exp(scores[0] - scores[0].max()) / np.exp(scores[0] - scores[0].max()).sum()
    assert (attributes["best"]["label"], attributes["best"]["confidence"]) == ("abcd"[best], float(scores[0][best]))
    assert attributes["soft"]["confidence"] == pytest.approx(float(soft[best]), abs=1e-6)
    assert attributes["plate"]["label"] == "".join("XYZ"[int(v)] for v in plate[0][:4])      # up to the 9


def test_age_gender_on_detected_regions(tmp_path):
    # a detector (yolo_v8 through model-proc) then the classifier on each region it found
    det = save(constant_model({"output0": yolo_v8_output(PROPOSALS)}), tmp_path, "det")
    det_proc = write(tmp_path, {"json_schema_version": "2.2.0",
                                "output_postproc": [{"converter": "yolo_v8", "labels": LABELS}]}, "det.json")
    cls = save(age_gender_model(), tmp_path, "cls")
    got = regions_of(f"ovfastdetect model={det} model-proc={det_proc} ! "
                     f"ovfastclassify model={cls} model-proc={write(tmp_path, AGE_GENDER_PROC)} {F32}",
                     [np.full((64, 64, 3), 90, np.uint8)])
    assert len(got[0]) == 3
    for label, rect, _, _, tensors in got[0]:
        assert set(tensors) == {"age", "gender"} and tensors["age"]["label"] == f"{90 / 255 * 100:.0f}"


# --- preprocessing inside the model --------------------------------------------------------------------------
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
NORMALIZED = {"json_schema_version": "2.2.0", "input_preproc": [{"format": "image", "precision": "FP32", "params": {
    "color_space": "RGB", "range": [0.0, 1.0], "mean": MEAN, "std": STD}}],
    "output_postproc": [{"converter": "raw_data_copy"}]}


def identity_model(h=16, w=16):
    """f32 NCHW [1,3,h,w] -> twice that, named "pixels": what the preprocessing fed it, doubled (an op that
    cannot be optimised away)."""
    x = ops.parameter([1, 3, h, w], openvino.Type.f32, name="input")
    y = ops.multiply(x, np.float32(2))
    y.output(0).set_names({"pixels"})
    return openvino.Model([y], [x], "identity")


def test_rgb_mean_and_std_equal_numpy_and_openvinos_preprocessing(tmp_path):
    path = save(identity_model(), tmp_path)
    rng = np.random.default_rng(1)
    frames = [rng.integers(0, 256, (16, 16, 3), dtype=np.uint8) for _ in range(3)]
    got, error = run_appsrc(f"ovfastinfer model={path} model-proc={write(tmp_path, NORMALIZED)} {F32}", frames, "BGR",
                            16, 16)
    assert error is None and len(got) == 3
    for (_, tensors, _), frame in zip(got, frames):
        rgb = frame[..., ::-1].astype(np.float32) / 255
        want = ((rgb - np.float32(MEAN)) / np.float32(STD)).transpose(2, 0, 1)[None]
        np.testing.assert_allclose(tensors["pixels"] / 2, want, rtol=1e-5, atol=1e-5)


def ppp_normalized(model, width, height):
    """openvino's PrePostProcessor for BGR frames of width x height onto an NCHW f32 model in RGB, range [0, 1],
    MEAN and STD (written here, not ovfast's)."""
    ppp = PrePostProcessor(model)
    ppp.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC")) \
        .set_color_format(ColorFormat.BGR).set_spatial_static_shape(height, width)
    ppp.input().model().set_layout(openvino.Layout("NCHW"))
    ppp.input().preprocess().convert_element_type(openvino.Type.f32).convert_color(ColorFormat.RGB) \
        .resize(ResizeAlgorithm.RESIZE_LINEAR).scale(255.0).mean(MEAN).scale(STD)
    return openvino.Core().compile_model(ppp.build(), "CPU", F32_CONFIG)


def test_aspect_ratio_resize_pads_with_the_fill_value(tmp_path):
    doc = json.loads(json.dumps(NORMALIZED))
    doc["input_preproc"][0]["params"].update(resize="aspect-ratio", padding={"fill_value": [10, 200, 30]})
    path = save(identity_model(), tmp_path)
    frames = [np.random.default_rng(2).integers(0, 256, (16, 32, 3), dtype=np.uint8)]
    got, error = run_appsrc(f"ovfastinfer model={path} model-proc={write(tmp_path, doc)} {F32}", frames, "BGR", 32, 16)
    assert error is None
    pixels = got[0][1]["pixels"] / 2
    # the frame, resized to 16 x 8 keeping its aspect ratio, on the top rows; the fill value below
    want_top = ppp_normalized(identity_model(8, 16), 32, 16)(frames[0][None])[0] / 2
    np.testing.assert_allclose(pixels[:, :, :8], want_top, rtol=1e-4, atol=1e-4)
    fill = (np.float32([10, 200, 30]) / 255 - np.float32(MEAN)) / np.float32(STD)
    np.testing.assert_allclose(pixels[0, :, 8:], np.broadcast_to(fill[:, None, None], (3, 8, 16)), rtol=1e-5,
                               atol=1e-5)


def gray_model(h=16, w=16, element_type=openvino.Type.f32):
    """[1,1,h,w] (f32 or u8) -> twice that as f32, named "pixels": the one channel the preprocessing fed it."""
    x = ops.parameter([1, 1, h, w], element_type, name="input")
    y = ops.multiply(ops.convert(x, openvino.Type.f32), np.float32(2))
    y.output(0).set_names({"pixels"})
    return openvino.Model([y], [x], "gray")


def ppp_gray(model, fmt, width, height):
    """openvino's PrePostProcessor for fmt frames onto a one-channel model, grey (written here, not ovfast's)."""
    ppp = PrePostProcessor(model)
    color = {"BGR": ColorFormat.BGR, "BGRx": ColorFormat.BGRX, "I420": ColorFormat.I420_SINGLE_PLANE}[fmt]
    ppp.input().tensor().set_element_type(openvino.Type.u8).set_layout(openvino.Layout("NHWC")) \
        .set_color_format(color).set_spatial_static_shape(height, width)
    ppp.input().model().set_layout(openvino.Layout("NCHW"))
    pre = ppp.input().preprocess()
    if model.input().get_element_type() != openvino.Type.u8:
        pre.convert_element_type(model.input().get_element_type())
    if fmt == "BGRx":
        pre.convert_color(ColorFormat.BGR)
    pre.convert_color(ColorFormat.GRAY)
    return openvino.Core().compile_model(ppp.build(), "CPU", F32_CONFIG)


@pytest.mark.parametrize("fmt", ["BGR", "BGRx", "I420"])
@pytest.mark.parametrize("element_type", [openvino.Type.f32, openvino.Type.u8], ids=["f32", "u8"])
def test_grayscale_from_colour_frames(tmp_path, fmt, element_type):
    doc = {"json_schema_version": "2.2.0", "input_preproc": [{"format": "image", "params": {
        "color_space": "GRAYSCALE"}}], "output_postproc": [{"converter": "raw_data_copy"}]}
    model = gray_model(element_type=element_type)
    rng = np.random.default_rng(4)
    shape = {"BGR": (16, 16, 3), "BGRx": (16, 16, 4), "I420": (24, 16)}[fmt]
    frames = [rng.integers(0, 256, shape, dtype=np.uint8) for _ in range(2)]
    got, error = run_appsrc(f"ovfastinfer model={save(model, tmp_path)} model-proc={write(tmp_path, doc)} {F32}",
                            frames, fmt, 16, 16)
    assert error is None and len(got) == 2
    oracle = ppp_gray(model, fmt, 16, 16)
    for (_, tensors, _), frame in zip(got, frames):
        np.testing.assert_array_equal(tensors["pixels"], oracle(frame.reshape(1, *shape[:2], -1))[0])
        if fmt == "I420":       # grey is the luma plane
            want = frame[:16].astype(np.float64)
        else:                   # BT.601's weights, within what OpenVINO's fixed-point weights give
            want = 0.114 * frame[..., 0] + 0.587 * frame[..., 1] + 0.299 * frame[..., 2]
        np.testing.assert_allclose(tensors["pixels"][0, 0] / 2, want, atol=1.0)


def test_grayscale_needs_a_one_channel_model(tmp_path):
    doc = {"json_schema_version": "2.2.0", "input_preproc": [{"params": {"color_space": "GRAYSCALE"}}]}
    text = bus_error(f"{SRC} ! ovfastinfer model={save(identity_model(), tmp_path)} model-proc="
                     f"{write(tmp_path, doc)} ! fakesink")
    assert "color_space GRAYSCALE feeds one channel" in text and "takes 3" in text, text
    doc["input_preproc"][0]["params"]["mean"] = [0.5, 0.5, 0.5]
    text = bus_error(f"{SRC} ! ovfastinfer model={save(gray_model(), tmp_path)} model-proc="
                     f"{write(tmp_path, doc)} ! fakesink")
    assert "mean must be a list of 1 numbers" in text, text


# --- bad input: a clear error on the bus naming it -----------------------------------------------------------
SRC = "videotestsrc num-buffers=3 ! video/x-raw,format=BGR,width=64,height=64"


@pytest.fixture(scope="module")
def yolo(tmp_path_factory):
    return save(constant_model({"output0": yolo_v8_output(PROPOSALS)}), tmp_path_factory.mktemp("yolo"))


@pytest.mark.parametrize("doc,words", [
    ({"json_schema_version": "2.2.0", "output_postproc": [{"converter": "yolo_v42"}]},
     ["unknown converter 'yolo_v42'", "yolo_v8"]),
    ({"json_schema_version": "2.2.0", "output_postproc": [{"converter": "yolo_v8", "iou": 0.3}]},
     ["unknown field 'iou'", "output_postproc[0]", "iou_threshold"]),
    ({"json_schema_version": "2.2.0", "input_preproc": [{"params": {"colour_space": "RGB"}}]},
     ["unknown field 'colour_space'", "color_space"]),
    ({"json_schema_version": "2.2.0", "input_preproc": [{"params": {"color_space": "HSV"}}]},
     ["color_space 'HSV'", "BGR, RGB, GRAYSCALE"]),
    ({"json_schema_version": "1.0", "output_postproc": []}, ["json_schema_version '1.0'", "2.x"]),
    ("{not json", ["is not JSON"]),
    ({"json_schema_version": "2.2.0", "output_postproc": [{"converter": "yolo_v8", "confidence_threshold": 0.3}]},
     ["confidence_threshold of output_postproc[0] (yolo_v8)", "threshold property"]),
    ({"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "keypoints_hrnet", "point_names": ["a", "b"], "point_connections": ["a", "c"]}]},
     ["point_connections of output_postproc[0] names 'c'", "point_names"]),
])
def test_a_bad_model_proc_is_a_bus_error_naming_it(tmp_path, yolo, doc, words):
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={write(tmp_path, doc)} ! fakesink")
    assert text and text.startswith("ovfastinfer: model-proc=") and all(w in text for w in words), text


def test_a_converter_that_does_not_fit_the_models_output(tmp_path, yolo):
    ssd = save(constant_model({"boxes": np.zeros((1, 1, 4, 7), np.float32)}), tmp_path, "ssd")
    for model, converter, words in [(yolo, "detection_output", "[1,1,N,7]"), (ssd, "yolo_v8", "4 + classes"),
                                    (ssd, "yolo_v5", "5 + classes"), (yolo, "boxes_labels", "two outputs"),
                                    (ssd, "yolo_v7", "5 + classes"), (ssd, "yolo_v10", "[1, boxes, 6]"),
                                    (ssd, "yolo_v8_pose", "5 + 3 x keypoints"), (ssd, "yolo_v8_obb", "+ 1, boxes"),
                                    (ssd, "centerface", "reads the outputs heatmap, scale, offset, landmarks"),
                                    (ssd, "yolo_v8_seg", "reads the outputs boxes, masks"),
                                    (ssd, "mask_rcnn", "reads the outputs boxes, labels, masks")]:
        proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [{"converter": converter}]})
        text = bus_error(f"{SRC} ! ovfastinfer model={model} model-proc={proc} ! fakesink")
        assert f"({converter})" in text and words in text and ("output0" if model == yolo else "boxes") in text, text
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "label", "layer_name": "prob"}]})
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={proc} ! fakesink")
    assert "names layer 'prob'" in text and "output0" in text, text
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "label", "method": "compound", "labels": ["yes", "no"]}]})
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={proc} ! fakesink")
    assert "method compound names two labels per value" in text and "has 42 values" in text, text
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "keypoints_hrnet", "point_names": ["a", "b"]}]})
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={proc} ! fakesink")
    assert "(keypoints_hrnet) reads f32 heatmaps [1, points (2, its point_names), H, W]" in text, text
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [{"converter": "keypoints_3d"}]})
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={proc} ! fakesink")
    assert "(keypoints_3d) reads f32 points [1, points, 3]" in text and "f32[1, 7, 6]" in text, text
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [{"converter": "yolo_v10"}]})
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={proc} ! fakesink")
    assert "(yolo_v10) names its classes by labels" in text, text
    assert "no such file" in bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={tmp_path}/none.json ! fakesink")


def test_gst_launch_runs_a_model_proc_through_the_plugin(env, yolo, tmp_path):  # noqa: F811
    proc = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [
        {"converter": "yolo_v8", "labels": LABELS}]})
    out = run([tool("gst-launch-1.0"), "-q", *f"{SRC} ! ovfastdetect model={yolo} model-proc={proc} ! "
               f"fakesink".split()], env)
    assert out.returncode == 0, out.stderr[-4000:]
    bad = write(tmp_path, {"json_schema_version": "2.2.0", "output_postproc": [{"converter": "yolo_v42"}]}, "bad.json")
    out = run([tool("gst-launch-1.0"), "-q", *f"{SRC} ! ovfastdetect model={yolo} model-proc={bad} ! "
               f"fakesink".split()], env)
    assert out.returncode != 0 and "unknown converter 'yolo_v42'" in out.stderr + out.stdout


def test_preprocessing_the_element_cannot_do_is_refused(tmp_path, yolo):
    rgb = write(tmp_path, {"json_schema_version": "2.2.0", "input_preproc": [{"params": {"color_space": "RGB"}}]})
    text = bus_error(f"{SRC} ! ovfastclassify model={yolo} model-proc={rgb} ! fakesink")
    assert "input_preproc is done on whole frames" in text and "region=roi" in text, text
    no_resize = write(tmp_path, {"json_schema_version": "2.2.0", "input_preproc": [{"params": {"resize": "no"}}]},
                      "no.json")
    text = bus_error(f"videotestsrc num-buffers=2 ! video/x-raw,format=BGR,width=32,height=32 ! "
                     f"ovfastinfer model={yolo} model-proc={no_resize} ! fakesink")
    assert "resize 'no'" in text and "32x32" in text and "64x64" in text, text
    u8 = write(tmp_path, {"json_schema_version": "2.2.0", "input_preproc": [{"params": {"mean": [1, 2, 3]}}]},
               "u8.json")
    text = bus_error(f"{SRC} ! ovfastinfer model={yolo} model-proc={u8} ! fakesink")
    assert "need a model with an f32 input" in text and "u8" in text, text
