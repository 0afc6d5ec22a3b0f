"""DL Streamer's YOLO converters on raw grid outputs (yolo_v2, yolo_v3, yolo_v4, yolo_v5 before its boxes are
decoded, yolo_x): their model-proc fields, checked when the file is read, and the grids each output holds,
resolved against the compiled model's outputs into the plan yolo_grids.pxi runs.

A grid is read through four steps (in floats): between the boxes of a cell, between a box's fields (x, y, w,
h, objectness, class scores), between rows and between columns of cells. That covers every layout below with
one kernel:
  yolo_v2          [1, A*(5+C), H, W] or any shape of that many values (cells_number, else the input / 32)
  yolo_v3, yolo_v5 [1, A*(5+C), H, W]        (per scale)
  yolo_v4          [1, H, W, A*(5+C)]        (per scale: channels last, as the TensorFlow models give it)
  yolo_v3/v4/v5    [1, A, H, W, 5+C]         (per scale: one box per row)
  yolo_v3, yolo_v5 [1, N] or any other shape (per scale: [A*(5+C), H, W] flattened, its grid worked out from
                   cells_number, else the input / 32, as DL Streamer's)
  yolo_x           [1, N, 5+C], N the cells of the strides 8, 16 and 32 in turn
"""

import math

MAX_BOXES = 16              # boxes per cell a grid holds (yolo_grids.pxi's anchors[2 * MAX_BOXES])
GRID_CONVERTERS = ("yolo_v2", "yolo_v3", "yolo_v4", "yolo_v5", "yolo_x")
YOLO_SIGMOID, YOLO_SOFTMAX, YOLO_V5_BOX, YOLO_STRICT = 1, 2, 4, 8     # yolo_grids.pxi's flags
GRID_IOU = 0.5              # DL Streamer's NMS threshold for yolo_v2 to yolo_v5 (yolo_x keeps the common 0.4)
_X_STRIDES = (8, 16, 32)


class GridFields:
    """The YOLO fields of one output_postproc entry, as DL Streamer reads them: anchors (width, height pairs in
    input pixels; yolo_v2: in cells), masks (the anchors of each scale, the smallest grid's first),
    bbox_number_on_cell, cells_number or cells_number_x and cells_number_y (the smallest grid),
    output_sigmoid_activation, do_cls_softmax and classes (else the number of labels)."""

    def __init__(self, entry, converter, labels, where, error):
        self.converter = converter
        self.where = where

        def flag(key):
            value = entry.get(key, False)
            if not isinstance(value, bool):
                raise error(f"{where}: {key} must be true or false, got {value!r}")
            return value

        def count(key, low=1):
            value = entry.get(key)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < low):
                raise error(f"{where}: {key} must be a whole number of at least {low}, got {value!r}")
            return value

        self.sigmoid, self.softmax = flag("output_sigmoid_activation"), flag("do_cls_softmax")
        classes = count("classes")
        if classes is None:
            classes = len(labels)
        elif labels and classes > len(labels):
            raise error(f"{where}: classes {classes} is more than its {len(labels)} labels (give a label per class)")
        if not classes:
            raise error(f"{where}: the number of classes is unknown: give classes or labels")
        self.classes = classes
        anchors = entry.get("anchors")
        if converter == "yolo_x":
            anchors = []
        elif (not isinstance(anchors, list) or not anchors or len(anchors) % 2
              or not all(isinstance(v, (int, float)) and not isinstance(v, bool) and v > 0 for v in anchors)):
            raise error(f"{where}: anchors must be a list of width, height pairs (positive numbers), got {anchors!r}")
        self.anchors = [float(v) for v in anchors]
        self.boxes = count("bbox_number_on_cell")
        if self.boxes is not None and self.boxes > MAX_BOXES:
            raise error(f"{where}: bbox_number_on_cell {self.boxes} is more than {MAX_BOXES}")
        masks = entry.get("masks") if converter != "yolo_x" else None      # yolo_x has no anchors
        if converter in ("yolo_v3", "yolo_v4", "yolo_v5") and masks is None:
            raise error(f"{where}: masks (the anchors of each output, smallest grid first) is missing")
        if masks is not None and (not isinstance(masks, list) or not masks or not all(
                isinstance(v, int) and not isinstance(v, bool) and 0 <= v < len(self.anchors) // 2 for v in masks)):
            raise error(f"{where}: masks must be a list of anchor numbers from 0 to {len(self.anchors) // 2 - 1}, "
                        f"got {masks!r}")
        self.masks = masks
        has_xy = "cells_number_x" in entry or "cells_number_y" in entry
        if has_xy and "cells_number" in entry:
            raise error(f"{where}: set cells_number or cells_number_x and cells_number_y, not both")
        if has_xy and not ("cells_number_x" in entry and "cells_number_y" in entry):
            raise error(f"{where}: set both cells_number_x and cells_number_y (or cells_number)")
        side = count("cells_number")
        self.cells = (side, side) if side else ((count("cells_number_x"), count("cells_number_y")) if has_xy else None)

    def flags(self):
        if self.converter == "yolo_x":
            return 0
        return ((YOLO_SIGMOID if self.sigmoid else 0) | (YOLO_SOFTMAX if self.softmax else 0)
                | (YOLO_V5_BOX if self.converter == "yolo_v5" else 0)
                | (YOLO_STRICT if self.converter == "yolo_v2" else 0))

    def grids(self, picked, flat, dims, kinds, content, error):
        """The grids of the picked outputs: [(output, w, h, boxes, offset, sb, se, sy, sx, cell_w, cell_h,
        anchors)] with the anchors in the model's input pixels. error: the exception for a model whose outputs
        do not fit."""
        where, c, fields = self.where, self.converter, 5 + self.classes
        model_w, model_h = content[2], content[3]
        for i in picked:
            if kinds[i] != "f32":
                raise error(f"{where} reads f32 outputs; the model's output {flat[i]!r} is {kinds[i]}{list(dims[i])}")
        if c == "yolo_x":
            return self._x_grids(picked, flat, dims, model_w, model_h, error)
        if c == "yolo_v2":
            return self._v2_grids(picked, flat, dims, model_w, model_h, error)
        n = len(picked)
        boxes = self.boxes or len(self.anchors) // (2 * n)
        if boxes < 1 or boxes > MAX_BOXES or len(self.anchors) != 2 * boxes * n:
            raise error(f"{where}: {len(self.anchors)} anchors for {n} output{'s' if n > 1 else ''} of "
                        f"{self.boxes or '?'} boxes a cell; expected bbox_number_on_cell x outputs x 2")
        if len(self.masks) != boxes * n:
            raise error(f"{where}: {len(self.masks)} masks for {n} output{'s' if n > 1 else ''} of {boxes} boxes "
                        f"a cell; expected bbox_number_on_cell x outputs ({boxes * n})")
        shapes = []
        for i in picked:
            d = dims[i]
            if len(d) == 5 and d[0] == 1 and d[1] == boxes and d[4] == fields:
                h, w = d[2], d[3]
                steps = (h * w * fields, 1, w * fields, fields)
            elif len(d) == 4 and d[0] == 1 and c == "yolo_v4" and d[3] == boxes * fields:
                h, w = d[1], d[2]
                steps = (fields, 1, w * boxes * fields, boxes * fields)
            elif len(d) == 4 and d[0] == 1 and c != "yolo_v4" and d[1] == boxes * fields:
                h, w = d[2], d[3]
                steps = (h * w * fields, h * w, w, 1)
            elif len(d) < 4 and c != "yolo_v4" and self._flat_grid(d, boxes, model_w, model_h):
                w, h = self._flat_grid(d, boxes, model_w, model_h)
                steps = (h * w * fields, h * w, w, 1)
            else:
                grid = "[1, H, W, A*(5+C)]" if c == "yolo_v4" else "[1, A*(5+C), H, W] (or that flattened)"
                raise error(f"{where} reads raw grids {grid} or [1, A, H, W, 5+C] with A={boxes} boxes a cell and "
                            f"C={self.classes} classes; the model's output {flat[i]!r} is f32{list(d)}")
            shapes.append((i, w, h, steps))
        smallest = min(shapes, key=lambda s: s[1] * s[2])
        if self.cells and self.cells != (smallest[1], smallest[2]):
            raise error(f"{where}: cells_number {self.cells[0]}x{self.cells[1]} is not the smallest grid, "
                        f"{smallest[1]}x{smallest[2]} (output {flat[smallest[0]]!r})")
        base = min(smallest[1], smallest[2])
        sides = [base << k for k in range(n)]
        grids = []
        for i, w, h, steps in shapes:
            side = min(w, h)
            if side not in sides:      # the masks' scales double from the smallest grid, as DL Streamer's
                raise error(f"{where}: output {flat[i]!r} has a {w}x{h} grid; the masks are for grids of "
                            f"{', '.join(map(str, sides))} cells")
            group = self.masks[sides.index(side) * boxes:(sides.index(side) + 1) * boxes]
            anchors = [v for m in group for v in self.anchors[2 * m:2 * m + 2]]
            grids.append((i, w, h, boxes, 0, *steps, model_w / w, model_h / h, anchors))
        return grids

    def _flat_grid(self, dims, boxes, model_w, model_h):
        """A flattened scale's grid (w, h): the smallest grid's cells times the whole factor k that makes
        w * h * boxes * (5 + classes) its size, as DL Streamer's; None if there is none."""
        base_w, base_h = self.cells or (int(model_w) // 32, int(model_h) // 32)
        per = base_w * base_h * boxes * (5 + self.classes)
        size = math.prod(dims)
        k = math.isqrt(size // per) if per and size % per == 0 else 0
        return (base_w * k, base_h * k) if k and k * k * per == size else None

    def _v2_grids(self, picked, flat, dims, model_w, model_h, error):
        where, fields = self.where, 5 + self.classes
        if len(picked) != 1:
            raise error(f"{where} reads one output; it was given {[flat[i] for i in picked]} (set layer_name)")
        i = picked[0]
        d = dims[i]
        boxes = self.boxes or len(self.anchors) // 2
        if len(self.anchors) != 2 * boxes:
            raise error(f"{where}: {len(self.anchors)} anchors for {boxes} boxes a cell; expected 2 x "
                        f"bbox_number_on_cell")
        if len(d) == 4 and d[0] == 1 and d[1] == boxes * fields:
            h, w = d[2], d[3]
            if self.cells and self.cells != (w, h):
                raise error(f"{where}: cells_number {self.cells[0]}x{self.cells[1]} but the output {flat[i]!r} "
                            f"is a {w}x{h} grid, f32{list(d)}")
        else:
            w, h = self.cells or (int(model_w) // 32, int(model_h) // 32)
            if math.prod(d) != w * h * boxes * fields:
                raise error(f"{where} reads a region layer of {w}x{h} cells x {boxes} boxes x (5 + {self.classes}) "
                            f"values ({w * h * boxes * fields}); the model's output {flat[i]!r} is f32{list(d)} "
                            f"(set cells_number)")
        cell_w, cell_h = model_w / w, model_h / h        # yolo_v2's anchors are in cells
        anchors = [v * (cell_w if k % 2 == 0 else cell_h) for k, v in enumerate(self.anchors)]
        return [(i, w, h, boxes, 0, h * w * fields, h * w, w, 1, cell_w, cell_h, anchors)]

    def _x_grids(self, picked, flat, dims, model_w, model_h, error):
        where, fields = self.where, 5 + self.classes
        i = picked[0]
        d = dims[i]
        cells = [(int(model_w) // s, int(model_h) // s) for s in _X_STRIDES]
        n = sum(w * h for w, h in cells)
        if len(picked) != 1 or len(d) != 3 or d[0] != 1 or d[1] != n or d[2] != fields:
            raise error(f"{where} reads one output f32[1, {n}, {fields}] (the cells of strides 8, 16 and 32 of a "
                        f"{int(model_w)}x{int(model_h)} input, x, y, w, h, objectness and {self.classes} class "
                        f"scores each); the model's output {flat[i]!r} is f32{list(d)}")
        grids, offset = [], 0
        for s, (w, h) in zip(_X_STRIDES, cells):
            grids.append((i, w, h, 1, offset, 0, 1, w * fields, fields, float(s), float(s), [float(s), float(s)]))
            offset += w * h * fields
        return grids
