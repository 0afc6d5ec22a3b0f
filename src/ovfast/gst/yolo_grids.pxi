# DL Streamer's YOLO converters on raw grid outputs (yolo_v2, v3, v4, v5 and yolo_x) into candidate boxes, on
# OpenVINO's callback thread. _yolo_grids.py resolves each output into grids (its layout as four steps, its
# cells and anchors) when the model is compiled; one loop reads them all. NMS follows, in postproc.pxi.

from libc.math cimport expf

cdef enum:
    MAX_BOXES = 16           # boxes per cell (_yolo_grids.py's)

cdef enum:                   # a converter's YOLO flags (_yolo_grids.py's)
    YOLO_SIGMOID = 1         # output_sigmoid_activation: objectness, x and y through a sigmoid
    YOLO_SOFTMAX = 2         # do_cls_softmax: the class scores through a softmax
    YOLO_V5_BOX = 4          # yolo_v5's box: centre 2s(x) - 0.5 into the cell, size (2s(w))^2 x the anchor
    YOLO_STRICT = 8          # yolo_v2 keeps scores above the threshold, the others at or above

cdef struct Candidate:       # a box before NMS: corners as fractions of the frame area the run looked at
    float x0, y0, x1, y1
    float confidence
    int label_id
    uint32_t index           # yolo_v8_pose: its proposal, for its keypoints

cdef struct YoloGrid:        # one scale: an output, or one stride's part of yolo_x's output
    uint32_t output          # the run's tensor it reads
    uint32_t w, h, boxes     # cells across and down, boxes per cell
    size_t offset            # in floats: where it starts, then the steps between a cell's boxes, a box's
    size_t sb, se, sy, sx    # fields (x, y, w, h, objectness, classes), rows and columns of cells
    float cell_w, cell_h     # a cell's size in the model's input pixels
    float anchors[2 * MAX_BOXES]     # each box's width and height in the model's input pixels


cdef YoloGrid* _yolo_grids_new(list grids):
    """The plan's grids (tuples from _yolo_grids.py) as C structs (with the GIL); g_free them."""
    cdef YoloGrid* out = <YoloGrid*>g_malloc0(sizeof(YoloGrid) * (len(grids) + 1))
    cdef size_t i, k
    for i, g in enumerate(grids):
        (out[i].output, out[i].w, out[i].h, out[i].boxes, out[i].offset, out[i].sb, out[i].se, out[i].sy,
         out[i].sx, out[i].cell_w, out[i].cell_h) = g[:11]
        for k in range(min(len(g[11]), 2 * MAX_BOXES)):
            out[i].anchors[k] = g[11][k]
    return out


cdef inline float _sigmoid(float x) noexcept nogil:
    return 1.0 / (1.0 + expf(-x))


cdef inline bint _below(float score, double threshold, bint strict) noexcept nogil:
    return not (score > threshold) if strict else not (score >= threshold)     # NaN is below


cdef size_t _yolo_grids(Outputs* o, const YoloGrid* grids, uint32_t n_grids, int flags, uint32_t classes,
                        const OvfastTensorMeta* m, Candidate* boxes) noexcept nogil:
    """Every box of the grids whose objectness, and objectness x its best class score, reach the threshold,
    into boxes (room for one per box of every cell). As DL Streamer's: the best class is the first highest
    score, taken as 0 when no score is above 0; the softmax does not change which class it is."""
    cdef uint32_t g, x, y, b, k, best
    cdef size_t base, count = 0
    cdef const YoloGrid* grid
    cdef const float* d
    cdef float objectness, top, score, total, rx, ry, cx, cy, w, h
    cdef bint sigmoid = flags & YOLO_SIGMOID, strict = flags & YOLO_STRICT
    for g in range(n_grids):
        grid = &grids[g]
        d = <const float*>m.tensors[grid.output].data + grid.offset
        for y in range(grid.h):
            for x in range(grid.w):
                for b in range(grid.boxes):
                    base = b * grid.sb + y * grid.sy + x * grid.sx
                    objectness = d[base + 4 * grid.se]
                    if sigmoid:
                        objectness = _sigmoid(objectness)
                    if _below(objectness, o.threshold, strict):
                        continue
                    best, top = 0, d[base + 5 * grid.se]
                    for k in range(1, classes):
                        score = d[base + (5 + k) * grid.se]
                        if score > top:
                            best, top = k, score
                    if flags & YOLO_SOFTMAX:       # the best class's share: 1 / sum(exp(score - best score))
                        total = 0.0
                        for k in range(classes):
                            total += expf(d[base + (5 + k) * grid.se] - top)
                        top = 1.0 / total
                    elif top <= 0:
                        best, top = 0, 0.0
                    score = objectness * top
                    if _below(score, o.threshold, strict):
                        continue
                    rx, ry = d[base], d[base + grid.se]
                    if sigmoid:
                        rx, ry = _sigmoid(rx), _sigmoid(ry)
                    if flags & YOLO_V5_BOX:
                        cx, cy = (x + 2 * rx - 0.5) * grid.cell_w, (y + 2 * ry - 0.5) * grid.cell_h
                        w = 2 * _sigmoid(d[base + 2 * grid.se])
                        h = 2 * _sigmoid(d[base + 3 * grid.se])
                        w, h = w * w * grid.anchors[2 * b], h * h * grid.anchors[2 * b + 1]
                    else:
                        cx, cy = (x + rx) * grid.cell_w, (y + ry) * grid.cell_h
                        w = expf(d[base + 2 * grid.se]) * grid.anchors[2 * b]
                        h = expf(d[base + 3 * grid.se]) * grid.anchors[2 * b + 1]
                    boxes[count].x0, boxes[count].x1 = (cx - w / 2) / o.content_w, (cx + w / 2) / o.content_w
                    boxes[count].y0, boxes[count].y1 = (cy - h / 2) / o.content_h, (cy + h / 2) / o.content_h
                    boxes[count].confidence, boxes[count].label_id = score, <int>best
                    count += 1
    return count
