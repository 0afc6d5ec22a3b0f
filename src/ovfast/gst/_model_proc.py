"""DL Streamer's model-proc files (schema 2.x) for ovfastinfer's model-proc property: `input_preproc` becomes
preprocessing inside the compiled model (OpenVINO's PrePostProcessor and a few ops), `output_postproc` a plan
of converters that the element's C code runs on each run's outputs (postproc.pxi).

Read once when the element opens; nothing here runs per frame."""

import copy
import json
import os
import re

import numpy as np
import openvino
import openvino.opset13 as ops
from openvino.preprocess import ColorFormat

from ovfast.gst._model import CapsError, SettingsError, parse_labels
from ovfast.gst._yolo_grids import GRID_CONVERTERS, GRID_IOU, GridFields

# The converters ovfastinfer runs, by DL Streamer's names, and their numbers in postproc.pxi (CONV_*); yolo_v5
# is CONV_YOLO_GRID when its outputs are raw grids rather than decoded boxes
CONVERTERS = {"detection_output": 0, "ssd": 0, "boxes_labels": 1, "yolo_v8": 2, "yolo_v11": 2, "yolo_v5": 3,
              "yolo_v7": 3, "yolo_v2": 4, "yolo_v3": 4, "yolo_v4": 4, "yolo_x": 4, "yolo_v10": 5, "yolo_v8_pose": 6,
              "yolo_v11_pose": 6, "yolo_v8_obb": 7, "yolo_v11_obb": 7, "centerface": 8, "yolo_v8_seg": 9,
              "yolo_v11_seg": 9, "mask_rcnn": 10, "label": 11, "text": 12, "raw_data_copy": 13, "keypoints_hrnet": 14,
              "keypoints_3d": 15}
CONV_YOLO_GRID = 4
DETECTORS = {"detection_output", "ssd", "boxes_labels", "yolo_v8", "yolo_v11", "yolo_v7", "yolo_v10", "yolo_v8_pose",
             "yolo_v11_pose", "yolo_v8_obb", "yolo_v11_obb", "centerface", "yolo_v8_seg", "yolo_v11_seg",
             "mask_rcnn", *GRID_CONVERTERS}
# the outputs DL Streamer's centerface and yolo_v8_seg read by name, in its order
NAMED_OUTPUTS = {"centerface": ("heatmap", "scale", "offset", "landmarks"), "yolo_v8_seg": ("boxes", "masks"),
                 "yolo_v11_seg": ("boxes", "masks"), "mask_rcnn": ("boxes", "labels", "masks")}
# the points DL Streamer's yolo_v8_pose names (COCO's 17) and draws between, unless the file names others
COCO_POINTS = ["nose", "eye_l", "eye_r", "ear_l", "ear_r", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "wrist_l",
               "wrist_r", "hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r"]
COCO_CONNECTIONS = ["nose", "eye_l", "nose", "eye_r", "ear_l", "shoulder_l", "ear_r", "shoulder_r", "eye_l", "ear_l",
                    "eye_r", "ear_r", "shoulder_l", "shoulder_r", "shoulder_l", "hip_l", "shoulder_r", "hip_r",
                    "hip_l", "hip_r", "shoulder_l", "elbow_l", "shoulder_r", "elbow_r", "elbow_l", "wrist_l",
                    "elbow_r", "wrist_r", "hip_l", "knee_l", "hip_r", "knee_r", "knee_l", "ankle_l", "knee_r",
                    "ankle_r"]

# The fields each part of a file may have (DL Streamer's names); any other is an error naming it
_TOP_FIELDS = {"json_schema_version", "input_preproc", "output_postproc"}
_INPUT_FIELDS = {"layer_name", "format", "precision", "params"}
_PARAMS = {"color_space", "resize", "crop", "range", "mean", "std", "padding", "fill_value"}
_OUTPUT_FIELDS = {"converter", "layer_name", "layer_names", "attribute_name", "labels", "method", "iou_threshold",
                  "text_scale", "text_precision", "classes", "confidence_threshold", "point_names", "point_connections",
                  # the YOLO converters on raw grids (_yolo_grids.py); the decoded-box converters ignore them
                  "anchors", "masks", "output_sigmoid_activation", "do_cls_softmax", "cells_number", "cells_number_x",
                  "cells_number_y", "bbox_number_on_cell"}
_COLOR = {"BGR": ColorFormat.BGR, "RGB": ColorFormat.RGB, "GRAYSCALE": ColorFormat.GRAY}
_RESIZE = ("no", "no-aspect-ratio", "aspect-ratio")
DEFAULT_IOU = 0.4    # DL Streamer's for converters with NMS
# the label converter's, postproc.pxi's METHOD_*
_METHODS = {"max": 0, "softmax": 1, "index": 2, "compound": 3, "multi": 4, "softmax_multi": 5}
_LABEL_THRESHOLD = 0.5      # DL Streamer's confidence_threshold for label's compound and multi methods


class ModelProcError(SettingsError):
    """A model-proc file ovfastinfer cannot use (its path, field and the expected value are in the message)."""


def _unknown(where, got, known, path):
    extra = sorted(set(got) - known)
    if extra:
        raise ModelProcError(f"model-proc={path!r}: unknown field {extra[0]!r} in {where} (expected one of "
                             f"{', '.join(sorted(known))})")


def _numbers(value, n, what, path):
    if (not isinstance(value, list) or len(value) != n
            or not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value)):
        raise ModelProcError(f"model-proc={path!r}: {what} must be a list of {n} numbers, got {value!r}")
    return [float(v) for v in value]


def _number(entry, key, default, low, high, index, path):
    value = entry.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ModelProcError(f"model-proc={path!r}: {key} of output_postproc[{index}] must be a number from {low:g} "
                             f"to {high:g}, got {value!r}")
    return float(value)


def _points(entry, index, path):
    """A keypoints converter's point_names and point_connections (pairs of those names), checked."""
    names, pairs = entry.get("point_names", []), entry.get("point_connections", [])
    for key, value in (("point_names", names), ("point_connections", pairs)):
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise ModelProcError(f"model-proc={path!r}: {key} of output_postproc[{index}] must be a list of "
                                 f"strings, got {value!r}")
    if len(pairs) % 2:
        raise ModelProcError(f"model-proc={path!r}: point_connections of output_postproc[{index}] must be pairs "
                             f"of point names (an even count), got {len(pairs)}")
    unknown = [v for v in pairs if v not in names]
    if unknown:
        raise ModelProcError(f"model-proc={path!r}: point_connections of output_postproc[{index}] names "
                             f"{unknown[0]!r}, which is not one of its point_names")
    return names, pairs


class Preproc:
    """input_preproc's image entry: colour space, resize, range, mean and std, padding's fill value."""

    def __init__(self, params, path):
        self.color = params.get("color_space", "BGR")
        if self.color not in _COLOR:
            raise ModelProcError(f"model-proc={path!r}: color_space {self.color!r} is not one of BGR, RGB, "
                                 f"GRAYSCALE")
        self.resize = params.get("resize", "no-aspect-ratio")
        if self.resize not in _RESIZE:
            raise ModelProcError(f"model-proc={path!r}: resize {self.resize!r} is not one of {', '.join(_RESIZE)}")
        crop = params.get("crop")
        if crop is not None:
            raise ModelProcError(f"model-proc={path!r}: crop {crop!r} is not supported (ovfastinfer resizes the "
                                 f"whole frame; leave crop out)")
        self.range = _numbers(params["range"], 2, "range", path) if "range" in params else None
        channels = 1 if self.color == "GRAYSCALE" else 3
        self.mean = _numbers(params["mean"], channels, "mean", path) if "mean" in params else None
        self.std = _numbers(params["std"], channels, "std", path) if "std" in params else None
        if self.std and 0.0 in self.std:
            raise ModelProcError(f"model-proc={path!r}: std {self.std} has a 0")
        padding = params.get("padding") or {}
        if not isinstance(padding, dict):
            raise ModelProcError(f"model-proc={path!r}: padding must be an object, got {padding!r}")
        _unknown("input_preproc params.padding", padding, {"stride", "stride_x", "stride_y", "fill_value"}, path)
        fill = padding.get("fill_value", params.get("fill_value", [0, 0, 0]))
        self.fill = _numbers(fill if isinstance(fill, list) else [fill] * 3, 3, "padding's fill_value", path)

    @property
    def normalizes(self):
        return self.range is not None or self.mean is not None or self.std is not None

    def pixel(self, values):
        """u8 pixel values (per channel, in the model's colour order) as the model sees them after range, mean
        and std."""
        v = np.asarray(values, np.float64)
        if self.range:
            v = v / 255.0 * (self.range[1] - self.range[0]) + self.range[0]
        if self.mean:
            v = v - np.asarray(self.mean)
        if self.std:
            v = v / np.asarray(self.std)
        return v

    def normalize(self, pre):
        """The range, mean and std steps on a PrePostProcessor's preprocess() (after the type conversion)."""
        if self.range:
            low, high = self.range
            pre.scale(255.0 / (high - low))
            if low:
                pre.mean(-low)     # after the scale: x / s - (-low)
        if self.mean:
            pre.mean(self.mean)
        if self.std:
            pre.scale(self.std)


class Output:
    """One output_postproc entry, resolved against the compiled model's outputs."""

    def __init__(self, entry, index, path, element_labels):
        _unknown(f"output_postproc[{index}]", entry, _OUTPUT_FIELDS, path)
        self.converter = entry.get("converter")
        if self.converter not in CONVERTERS:
            raise ModelProcError(f"model-proc={path!r}: unknown converter {self.converter!r} in "
                                 f"output_postproc[{index}] (expected one of {', '.join(sorted(CONVERTERS))})")
        layers = entry.get("layer_names") or ([entry["layer_name"]] if "layer_name" in entry else [])
        if not isinstance(layers, list) or not all(isinstance(n, str) for n in layers):
            raise ModelProcError(f"model-proc={path!r}: layer_name(s) of output_postproc[{index}] must be text, "
                                 f"got {layers!r}")
        self.layers = layers
        self.attribute = entry.get("attribute_name", "")
        if not isinstance(self.attribute, str):
            raise ModelProcError(f"model-proc={path!r}: attribute_name of output_postproc[{index}] must be text, "
                                 f"got {self.attribute!r}")
        labels = entry.get("labels")
        if isinstance(labels, str):     # a file, found beside the model-proc unless the path says otherwise
            where = labels if os.path.isabs(labels) or os.path.exists(labels) else os.path.join(
                os.path.dirname(path), labels)
            if not os.path.isfile(where):
                raise ModelProcError(f"model-proc={path!r}: labels {labels!r} of output_postproc[{index}] is not a "
                                     f"file (give a list of strings, or a file with one label per line)")
            labels = parse_labels(where)
        elif labels is None:
            labels = list(element_labels)
        elif not isinstance(labels, list) or not all(isinstance(v, str) for v in labels):
            raise ModelProcError(f"model-proc={path!r}: labels of output_postproc[{index}] must be a list of "
                                 f"strings or a file, got {labels!r}")
        self.labels = labels
        self.method = entry.get("method", "max")
        if self.converter == "label" and self.method not in _METHODS:
            raise ModelProcError(f"model-proc={path!r}: label method {self.method!r} of output_postproc[{index}] "
                                 f"is not supported (expected one of {', '.join(_METHODS)})")
        self.method_id = _METHODS.get(self.method, 0)
        self.iou = _number(entry, "iou_threshold", DEFAULT_IOU, 0.0, 1.0, index, path)
        if "confidence_threshold" in entry and self.converter != "label":
            raise ModelProcError(f"model-proc={path!r}: confidence_threshold of output_postproc[{index}] "
                                 f"({self.converter}) is read by the label converter only (a detector's is the "
                                 f"element's threshold property)")
        self.label_threshold = _number(entry, "confidence_threshold", _LABEL_THRESHOLD, -1e30, 1e30, index, path)
        self.text_scale = _number(entry, "text_scale", 1.0, -1e30, 1e30, index, path)
        self.text_precision = int(_number(entry, "text_precision", 2, 0, 10, index, path))
        self.classes = int(_number(entry, "classes", 0, 0, 1e6, index, path))
        self.iou_given = "iou_threshold" in entry
        self.grid = None            # the YOLO fields of a converter on raw grids (_yolo_grids.py)
        if self.converter in GRID_CONVERTERS and (self.converter != "yolo_v5" or "anchors" in entry):
            self.grid = GridFields(entry, self.converter, labels,
                                   f"model-proc={path!r}: output_postproc[{index}] ({self.converter})", ModelProcError)
            if self.converter not in ("yolo_v5", "yolo_x") and not self.iou_given:
                self.iou = GRID_IOU
        self.grids = []
        self.point_names, self.point_connections = _points(entry, index, path)
        self.index = index
        self.outputs = ()          # output indices, set by resolve()

    def resolve(self, names, shapes, types, path, content):
        """Picks the model's outputs this converter reads and checks their shapes fit it (CapsError otherwise).
        content: (content width, content height, model width, model height), as ModelProc.frame_model's."""
        where = f"model-proc={path!r}: output_postproc[{self.index}] ({self.converter})"
        flat = [n[0] if n else f"output{i}" for i, n in enumerate(names)]
        picked = []
        for layer in self.layers:
            found = [i for i, n in enumerate(names) if layer in n]
            if not found:
                raise CapsError(f"{where} names layer {layer!r}, but the model's outputs are {flat}")
            picked.append(found[0])
        if self.converter == "boxes_labels" and len(picked) < 2:
            by = {n: i for i, ns in enumerate(names) for n in ns}
            picked = [by[n] for n in ("boxes", "labels") if n in by] if len(names) >= 2 else picked
            if len(picked) < 2:
                picked = [0, 1] if len(names) >= 2 else picked
        if self.converter in NAMED_OUTPUTS and not picked:
            by = {n: i for i, ns in enumerate(names) for n in ns}
            wanted = NAMED_OUTPUTS[self.converter]
            if not all(n in by for n in wanted):
                raise CapsError(f"{where} reads the outputs {', '.join(wanted)} (or the {len(wanted)} that "
                                f"layer_names gives, in that order); the model's outputs are {flat}")
            picked = [by[n] for n in wanted]
        if not picked:
            if self.converter == "raw_data_copy" or (self.grid and self.converter != "yolo_x"):
                picked = list(range(len(names)))     # a YOLO on raw grids reads every scale
            else:
                picked = [0]
        dims = [shapes[i] for i in picked]
        kinds = [types[i] for i in picked]
        c = self.converter
        shape = dims[0]

        def refuse(expected):
            raise CapsError(f"{where} reads {expected}; the model's output {flat[picked[0]]!r} is "
                            f"{kinds[0]}{list(shape)}")
        if c in ("detection_output", "ssd"):
            if len(shape) != 4 or shape[3] != 7 or kinds[0] != "f32":
                refuse("f32 boxes [1,1,N,7]")
        elif c == "boxes_labels":
            if len(picked) < 2:
                raise CapsError(f"{where} reads two outputs (boxes [N,5] and labels [N]); the model has {flat}")
            if len(dims[0]) < 2 or dims[0][-1] != 5 or kinds[0] != "f32":
                refuse("f32 boxes [..., N, 5]")
            if int(np.prod(dims[1])) != dims[0][-2] or kinds[1] not in ("f32", "i32", "i64"):
                raise CapsError(f"{where}: labels output {flat[picked[1]]!r} is {kinds[1]}{list(dims[1])}, expected "
                                f"one label per box ({dims[0][-2]}) as f32, i32 or i64")
        elif c in ("yolo_v8", "yolo_v11"):
            if (len(shape) != 3 or shape[0] != 1 or shape[1] < 5 or kinds[0] != "f32"
                    or (self.classes and shape[1] != 4 + self.classes)):
                refuse(f"f32 [1, 4 + classes{f' ({self.classes})' if self.classes else ''}, boxes] (x, y, w, h, "
                       f"class scores per box)")
        elif self.grid and (c != "yolo_v5" or len(shape) != 3):
            self.grids = self.grid.grids(picked, flat, shapes, types, content, CapsError)
            if c == "yolo_v5" and not self.iou_given:
                self.iou = GRID_IOU
        elif c in ("yolo_v5", "yolo_v7"):
            if (len(shape) != 3 or shape[0] != 1 or shape[2] < 6 or kinds[0] != "f32"
                    or (self.classes and shape[2] != 5 + self.classes)):
                refuse(f"f32 [1, boxes, 5 + classes{f' ({self.classes})' if self.classes else ''}] (decoded boxes: "
                       f"x, y, w, h, objectness, class scores)"
                       + (" or raw grids [1, A*(5+C), H, W] with anchors" if c == "yolo_v5" else ""))
        elif c in ("yolo_v8_pose", "yolo_v11_pose"):
            if (len(shape) != 3 or shape[0] != 1 or shape[1] < 8 or (shape[1] - 5) % 3 or kinds[0] != "f32"
                    or (self.point_names and shape[1] != 5 + 3 * len(self.point_names))):
                refuse(f"f32 [1, 5 + 3 x keypoints{f' ({len(self.point_names)})' if self.point_names else ''}, "
                       f"boxes] (centre, size, score, then x, y, confidence per keypoint)")
            if not self.point_names and shape[1] == 5 + 3 * len(COCO_POINTS):
                self.point_names, self.point_connections = COCO_POINTS, COCO_CONNECTIONS
        elif c in ("yolo_v8_obb", "yolo_v11_obb"):
            if (len(shape) != 3 or shape[0] != 1 or shape[1] < 6 or kinds[0] != "f32"
                    or (self.classes and shape[1] != 5 + self.classes)):
                refuse(f"f32 [1, 4 + classes{f' ({self.classes})' if self.classes else ''} + 1, boxes] (centre, "
                       f"size, class scores, angle)")
        elif c == "centerface":
            want = [(1, 1), (1, 2), (1, 2), (1, 10)]
            if len(picked) != 4 or any(len(d) != 4 or tuple(d[:2]) != w or tuple(d[2:]) != tuple(dims[0][2:])
                                       or k != "f32" for d, w, k in zip(dims, want, kinds)):
                raise CapsError(f"{where} reads f32 heatmap [1,1,H,W], scale [1,2,H,W], offset [1,2,H,W] and "
                                f"landmarks [1,10,H,W]; the model's are "
                                f"{[f'{flat[i]}: {k}{list(d)}' for i, d, k in zip(picked, dims, kinds)]}")
        elif c in ("yolo_v8_seg", "yolo_v11_seg"):
            masks = dims[1][1] if len(picked) == 2 and len(dims[1]) == 4 else 0
            if (len(picked) != 2 or len(shape) != 3 or shape[0] != 1 or not masks or shape[1] < 5 + masks
                    or kinds[0] != "f32" or kinds[1] != "f32"
                    or (self.classes and shape[1] != 4 + self.classes + masks)):
                raise CapsError(f"{where} reads f32 boxes [1, 4 + classes + M, N] (centre, size, class scores, M "
                                f"mask coefficients) and masks [1, M, H, W]; the model's are "
                                f"{[f'{flat[i]}: {k}{list(d)}' for i, d, k in zip(picked, dims, kinds)]}")
        elif c == "mask_rcnn":
            n = shape[-2] if len(shape) >= 2 else 0
            if (len(picked) != 3 or len(shape) < 2 or shape[-1] != 5 or kinds[0] != "f32" or int(np.prod(dims[1])) != n
                    or kinds[1] not in ("i64", "i32") or len(dims[2]) < 3 or dims[2][-3] != n
                    or int(np.prod(dims[2])) != n * dims[2][-1] * dims[2][-2] or kinds[2] != "f32"):
                raise CapsError(f"{where} reads f32 boxes [N, 5] (corners, confidence), i64 or i32 labels [N] and "
                                f"f32 masks [N, H, W]; the model's are "
                                f"{[f'{flat[i]}: {k}{list(d)}' for i, d, k in zip(picked, dims, kinds)]}")
        elif c == "yolo_v10":
            if len(shape) != 3 or shape[0] != 1 or shape[2] < 6 or kinds[0] != "f32":
                refuse("f32 [1, boxes, 6] (x_min, y_min, x_max, y_max, confidence, label)")
            if not self.labels:
                raise ModelProcError(f"{where} names its classes by labels (the label number is taken modulo their "
                                     f"count, as DL Streamer's): give labels in the file or the element's labels")
        elif c in ("keypoints_hrnet", "keypoints_3d"):       # heatmaps [1, K, H, W] or points [1, K, 3]
            hrnet = c == "keypoints_hrnet"
            if (len(shape) != (4 if hrnet else 3) or shape[0] != 1 or kinds[0] != "f32" or (not hrnet and shape[2] != 3)
                    or (self.point_names and shape[1] != len(self.point_names))):
                points = f" ({len(self.point_names)}, its point_names)" if self.point_names else ""
                refuse(f"f32 heatmaps [1, points{points}, H, W]" if hrnet else f"f32 points [1, points{points}, 3]")
        elif c == "label" and self.method == "index":
            if kinds[0] not in ("f32", "f64", "i32"):
                refuse("f32, f64 or i32 label indices")
        elif c in ("label", "text"):
            if kinds[0] not in (("f32", "f64", "i32") if c == "label" else ("f32",)):
                refuse("f32, f64 or i32 scores" if c == "label" else "f32 values")
            per = 2 if self.method == "compound" else 1
            if c == "label" and self.method in ("compound", "multi", "softmax_multi") and (
                    len(self.labels) != per * int(np.prod(shape))):
                raise CapsError(f"{where}: method {self.method} names {'two labels' if per == 2 else 'a label'} "
                                f"per value; the output {flat[picked[0]]!r} has {int(np.prod(shape))} values "
                                f"(f32{list(shape)}) and there are {len(self.labels)} labels")
        self.outputs = tuple(picked)
        layer = names[picked[0]][0] if names[picked[0]] else f"output{picked[0]}"
        # DL Streamer's names for the tensors these converters hang on each box
        attribute = self.attribute or {"centerface": "centerface", "yolo_v8_seg": "mask_yolov8",
                                       "yolo_v11_seg": "mask_yolov8", "mask_rcnn": "mask_rcnn"}.get(
            c, "keypoints" if c.endswith("_pose") else re.sub(r"[^A-Za-z0-9/_.:+-]", "_", layer))
        if not re.match(r"[A-Za-z][A-Za-z0-9/_.:+-]*$", attribute):
            if self.attribute:
                raise ModelProcError(f"model-proc={path!r}: attribute_name {self.attribute!r} of "
                                     f"output_postproc[{self.index}] must start with a letter, then letters, "
                                     f"digits and / _ . : + -")
            attribute = "output_" + attribute
        # what postproc.pxi reads (the session keeps these bytes)
        self.kind = CONV_YOLO_GRID if self.grids else CONVERTERS[c]
        self.attribute_b, self.layer_b, self.converter_b = attribute.encode(), layer.encode(), c.encode()
        self.labels_b = [label.encode() for label in self.labels]
        self.point_names_b = [v.encode() for v in self.point_names]
        self.point_connections_b = [v.encode() for v in self.point_connections]
        self.points_format_b = {"centerface": b"landmark_points", "yolo_v8_seg": b"segmentation_mask",
                                "yolo_v11_seg": b"segmentation_mask", "mask_rcnn": b"segmentation_mask"}.get(
            c, b"keypoints")
        return self


class ModelProc:
    """A model-proc file, checked: its preprocessing (Preproc or None) and its converters (Output)."""

    def __init__(self, path, element_labels=()):
        self.path = path
        try:
            with open(path, encoding="utf-8") as f:
                doc = json.load(f)
        except FileNotFoundError:
            raise FileNotFoundError(f"model-proc={path!r}: no such file (give DL Streamer's model-proc JSON)")
        except (OSError, UnicodeDecodeError) as exc:
            raise OSError(f"model-proc={path!r} could not be read: {exc}") from exc
        except json.JSONDecodeError as exc:
            raise ModelProcError(f"model-proc={path!r} is not JSON: {exc}") from exc
        if not isinstance(doc, dict):
            raise ModelProcError(f"model-proc={path!r}: expected a JSON object with json_schema_version, "
                                 f"input_preproc and output_postproc")
        _unknown("the file", doc, _TOP_FIELDS, path)
        version = str(doc.get("json_schema_version", ""))
        if not version.startswith("2."):
            raise ModelProcError(f"model-proc={path!r}: json_schema_version {version!r} is not 2.x")
        self.preproc = None
        for i, entry in enumerate(doc.get("input_preproc") or []):
            _unknown(f"input_preproc[{i}]", entry, _INPUT_FIELDS, path)
            fmt = entry.get("format", "image")
            if fmt != "image":
                raise ModelProcError(f"model-proc={path!r}: input_preproc[{i}] format {fmt!r} is not supported "
                                     f"(ovfastinfer feeds one image input)")
            params = entry.get("params") or {}
            _unknown(f"input_preproc[{i}].params", params, _PARAMS, path)
            self.preproc = Preproc(params, path)
        posts = doc.get("output_postproc") or []
        if not isinstance(posts, list):
            raise ModelProcError(f"model-proc={path!r}: output_postproc must be a list, got {posts!r}")
        self.outputs = [Output(entry, i, path, element_labels) for i, entry in enumerate(posts)]
        detectors = [o for o in self.outputs if o.converter in DETECTORS]
        if len(detectors) > 1:
            raise ModelProcError(f"model-proc={path!r}: {len(detectors)} detection converters; one model gives "
                                 f"one set of boxes")

    def frame_model(self, model, fmt, width, height, strides, offsets):
        """frame_model (_model.py) with this file's preprocessing: (model, input bytes, content) where content
        is (content width, content height, model width, model height): the part of the model's input the
        frame fills (smaller with resize=aspect-ratio, the rest padded)."""
        from ovfast.gst._model import _model_layout, frame_model
        layout, shape = _model_layout(model)
        mh, mw = shape[layout.index("H")], shape[layout.index("W")]
        # a dynamic size takes the frame's
        full_w, full_h = (mw.get_length() if mw.is_static else width), (mh.get_length() if mh.is_static else height)
        p = self.preproc
        if p is not None and p.resize == "no" and (width, height) != (full_w, full_h):
            raise CapsError(f"model-proc={self.path!r}: resize 'no', but the frames are {width}x{height} and the "
                            f"model takes {full_w}x{full_h}: scale the frames (videoscale) or set resize")
        if p is None or (p.resize != "aspect-ratio" and not p.normalizes and p.color == "BGR"):
            built, nbytes = frame_model(model, fmt, width, height, strides, offsets)
            return built, nbytes, (full_w, full_h, full_w, full_h)
        if p.normalizes and model.input().get_element_type() != openvino.Type.f32:
            raise CapsError(f"model-proc={self.path!r}: range, mean and std need a model with an f32 input; "
                            f"this one takes {model.input().get_element_type().get_type_name()}")
        cw, ch = full_w, full_h
        if p.resize == "aspect-ratio" and mw.is_static and mh.is_static:
            scale = min(full_w / width, full_h / height)
            cw, ch = max(1, round(width * scale)), max(1, round(height * scale))
            if (cw, ch) != (full_w, full_h):
                model = _padded(model, layout, cw, ch, p.pixel(p.fill))    # fill_value: in the model's colour order
        built, nbytes = frame_model(model, fmt, width, height, strides, offsets, model_color=_COLOR[p.color],
                                    normalize=p.normalize if p.normalizes else None)
        return built, nbytes, (cw, ch, full_w, full_h)

    def plan(self, outputs, content):
        """Resolves the converters against a compiled model's outputs [(name bytes, type bytes, dims, nbytes)]:
        the converters in order (a detector first), each with its output indices."""
        all_names = [[n.decode()] for n, _, _, _ in outputs]
        shapes = [d for _, _, d, _ in outputs]
        types = [t.decode() for _, t, _, _ in outputs]
        plan = []
        for o in self.outputs:     # a copy per session: each keeps the bytes its C plan points into
            plan.append(copy.copy(o).resolve(all_names, shapes, types, self.path, content))
        plan.sort(key=lambda o: o.converter not in DETECTORS)
        return plan


def _padded(model, layout, cw, ch, fill):
    """The model with an input of cw x ch pixels (its layout and type) whose image is padded on the right and
    bottom to the model's size with `fill` (per channel, as the model sees it): resize=aspect-ratio then
    resizes the frame to cw x ch only."""
    model = model.clone()
    old = model.get_parameters()[0]
    shape = list(old.get_partial_shape().to_shape())
    h_axis, w_axis, c_axis = layout.index("H"), layout.index("W"), layout.index("C")
    mh, mw, channels = shape[h_axis], shape[w_axis], shape[c_axis]
    small = list(shape)
    small[h_axis], small[w_axis] = ch, cw
    etype = old.get_element_type()
    dtype = np.float32 if etype == openvino.Type.f32 else np.uint8
    x = ops.parameter(small, etype, name=old.get_friendly_name())
    fill = np.asarray(fill, dtype)[:channels]

    def block(h, w):
        s = list(shape)
        s[h_axis], s[w_axis] = h, w
        b = np.zeros(s, dtype)
        index = [slice(None)] * len(s)
        for c in range(channels):
            index[c_axis] = c
            b[tuple(index)] = fill[c]
        return ops.constant(b)
    y = x.output(0)
    if cw < mw:
        y = ops.concat([y, block(ch, mw - cw)], w_axis).output(0)
    if ch < mh:
        y = ops.concat([y, block(mh - ch, mw)], h_axis).output(0)
    for target in list(old.output(0).get_target_inputs()):
        target.replace_source_output(y)
    x.output(0).set_names(old.output(0).get_names())
    padded = openvino.Model(model.get_results(), model.get_sinks(), [x], model.get_variables(),
                            model.get_friendly_name())
    layout_set = openvino.layout_helpers.get_layout(old.output(0))
    if not layout_set.empty:
        openvino.layout_helpers.set_layout(x.output(0), layout_set)
    return padded
