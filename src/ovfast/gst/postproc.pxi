# model-proc's converters (DL Streamer's output_postproc), run on OpenVINO's callback thread on each run's
# outputs as they lie in the run's OvfastTensorMeta: boxes become regions (SSD, boxes and labels, the YOLOs with
# NMS; YOLO on raw grids: yolo_grids.pxi), scores and values become attributes of the region the run was on,
# keypoints a "keypoints" tensor there (or on each pose box). The plan is made in Python when the model is
# compiled (_model_proc.py); nothing here takes the GIL.

from libc.math cimport expf
from libc.stdlib cimport qsort

cdef extern from "postproc.h" nogil:
    void ovf_region_attribute(GstVideoRegionOfInterestMeta*, const char* attribute, const char* label, int label_id,
                              double confidence, const char* layer, const char* model, const char* converter)
    GstStructure* ovf_keypoints_template(const char* attribute, const char* format, const char** names, guint n_names,
                                         const char** connections, guint n_connections, const char* layer,
                                         const char* model, const char* converter)
    void ovf_region_rotation(GstVideoRegionOfInterestMeta*, double rotation)
    void ovf_region_keypoints(GstVideoRegionOfInterestMeta*, const GstStructure* templ, const float* points, guint n,
                              guint dim, const float* confidences, double confidence)

cdef enum:                   # the detectors first (with NMS from CONV_YOLO_V8 on)
    CONV_SSD, CONV_BOXES_LABELS, CONV_YOLO_V8, CONV_YOLO_V5, CONV_YOLO_GRID, CONV_YOLO_V10, CONV_YOLO_POSE,
    CONV_YOLO_OBB, CONV_CENTERFACE, CONV_YOLO_SEG, CONV_MASK_RCNN, CONV_LABEL, CONV_TEXT, CONV_RAW,
    CONV_KEYPOINTS_HRNET, CONV_KEYPOINTS_3D

cdef enum:                   # the label converter's methods
    METHOD_MAX, METHOD_SOFTMAX, METHOD_INDEX, METHOD_COMPOUND, METHOD_MULTI, METHOD_SOFTMAX_MULTI

cdef struct Converter:
    int kind                 # CONV_*
    uint32_t inputs[4]       # the outputs it reads (boxes_labels: boxes, labels; centerface: its four)
    const char* attribute    # these point into the session's Python bytes
    const char* layer
    const char* name         # the converter's name in the file
    uint32_t n_labels
    const char** labels
    double iou               # NMS: a box overlapping a kept one by more is dropped
    double text_scale
    int text_precision
    int method               # label: METHOD_*
    double label_threshold   # label's compound and multi methods: confidence_threshold
    uint32_t n_grids         # CONV_YOLO_GRID: its scales, flags (YOLO_*), classes and boxes at most
    YoloGrid* grids
    int yolo_flags
    uint32_t classes
    size_t n_proposals
    GstStructure* keypoints  # CONV_KEYPOINTS_*, CONV_YOLO_POSE: the fields every keypoints tensor starts from


cdef void _converters_set(Outputs* o, object session):
    """The session's converter plan into o (with the GIL); the session keeps what it points to."""
    cdef uint32_t i, k
    plan = session.converters
    o.n_conv = len(plan)
    o.conv = <Converter*>g_malloc0(sizeof(Converter) * (o.n_conv + 1))
    o.content_w, o.content_h, o.model_w, o.model_h = session.content
    for i, c in enumerate(plan):
        o.conv[i].kind = c.kind
        for k in range(min(4, len(c.outputs))):
            o.conv[i].inputs[k] = c.outputs[k]
        o.conv[i].attribute = <const char*>(<bytes>c.attribute_b)
        o.conv[i].layer = <const char*>(<bytes>c.layer_b)
        o.conv[i].name = <const char*>(<bytes>c.converter_b)
        o.conv[i].n_labels = len(c.labels_b)
        o.conv[i].labels = <const char**>g_malloc0(sizeof(char*) * (len(c.labels_b) + 1))
        for k in range(len(c.labels_b)):
            o.conv[i].labels[k] = <const char*>(<bytes>c.labels_b[k])
        o.conv[i].iou = c.iou
        o.conv[i].text_scale = c.text_scale
        o.conv[i].text_precision = c.text_precision
        o.conv[i].method = c.method_id
        o.conv[i].label_threshold = c.label_threshold
        if c.grids:
            o.conv[i].n_grids = len(c.grids)
            o.conv[i].grids = _yolo_grids_new(c.grids)
            o.conv[i].yolo_flags = c.grid.flags()
            o.conv[i].classes = c.grid.classes
            o.conv[i].n_proposals = sum(g[1] * g[2] * g[3] for g in c.grids)
        if c.kind in (CONV_KEYPOINTS_HRNET, CONV_KEYPOINTS_3D, CONV_YOLO_POSE, CONV_CENTERFACE, CONV_YOLO_SEG,
                      CONV_MASK_RCNN):
            o.conv[i].keypoints = _keypoints_template(o, &o.conv[i], c)


cdef void _converters_clear(Outputs* o) noexcept nogil:
    cdef uint32_t i
    for i in range(o.n_conv):
        g_free(o.conv[i].labels)
        g_free(o.conv[i].grids)
        if o.conv[i].keypoints != NULL:
            gst_structure_free(o.conv[i].keypoints)
    g_free(o.conv)
    o.conv = NULL
    o.n_conv = 0


cdef GstStructure* _keypoints_template(Outputs* o, Converter* conv, object c):
    """A keypoints converter's fields with its point_names and point_connections (with the GIL)."""
    cdef const char** names = <const char**>g_malloc0(sizeof(char*) * (len(c.point_names_b) + 1))
    cdef const char** pairs = <const char**>g_malloc0(sizeof(char*) * (len(c.point_connections_b) + 1))
    cdef size_t k
    for k in range(len(c.point_names_b)):
        names[k] = <const char*>(<bytes>c.point_names_b[k])
    for k in range(len(c.point_connections_b)):
        pairs[k] = <const char*>(<bytes>c.point_connections_b[k])
    templ = ovf_keypoints_template(conv.attribute, <const char*>(<bytes>c.points_format_b), names,
                                   len(c.point_names_b), pairs, len(c.point_connections_b),
                                   conv.layer, o.model_name, conv.name)
    g_free(names)
    g_free(pairs)
    return templ


cdef void _keypoints_hrnet(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi,
                           const OvfastTensor* t) noexcept nogil:
    """keypoints_hrnet: heatmaps [1, K, H, W] -> K points, each its heatmap's highest cell (the first in row
    order), as DL Streamer's: (column / W, row / H), scaled to the part of the model's input the frame or
    region fills (the same where nothing was padded)."""
    cdef size_t k, i, best, n = <size_t>t.dims[1], h = <size_t>t.dims[2], w = <size_t>t.dims[3]
    cdef const float* heat
    cdef float* points = <float*>g_malloc(sizeof(float) * 2 * (n if n else 1))
    for k in range(n):
        heat = <const float*>t.data + k * h * w
        best = 0
        for i in range(1, h * w):
            if heat[i] > heat[best]:
                best = i
        points[2 * k] = <float>(<double>(best % w) / w * o.model_w / o.content_w)
        points[2 * k + 1] = <float>(<double>(best // w) / h * o.model_h / o.content_h)
    if c.keypoints != NULL:
        ovf_region_keypoints(roi, c.keypoints, points, <guint>n, 2, NULL, -1.0)
    g_free(points)


cdef void _keypoints_3d(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi,
                        const OvfastTensor* t) noexcept nogil:
    """keypoints_3d: points [1, K, 3] on a feature map a quarter of the input's size, as DL Streamer's: x and y
    times 4 as fractions of the part of the model's input the frame or region fills, z times 4."""
    cdef size_t k, n = <size_t>t.dims[1]
    cdef const float* d = <const float*>t.data
    cdef float* points = <float*>g_malloc(sizeof(float) * 3 * (n if n else 1))
    for k in range(n):
        points[3 * k] = <float>(d[3 * k] * 4.0 / o.content_w)
        points[3 * k + 1] = <float>(d[3 * k + 1] * 4.0 / o.content_h)
        points[3 * k + 2] = d[3 * k + 2] * 4
    if c.keypoints != NULL:
        ovf_region_keypoints(roi, c.keypoints, points, <guint>n, 3, NULL, -1.0)
    g_free(points)


cdef const char* _conv_label(Outputs* o, Converter* c, int label_id, char* scratch, size_t size) noexcept nogil:
    """The converter's labels name a class id, else the element's labels, else the id as text."""
    if c.n_labels and 0 <= label_id < <int>c.n_labels:
        return c.labels[label_id]
    return _label(o, label_id, scratch, size)


cdef int _by_confidence(const void* a, const void* b) noexcept nogil:
    cdef float ca = (<const Candidate*>a).confidence, cb = (<const Candidate*>b).confidence
    return -1 if ca > cb else (1 if ca < cb else 0)


cdef void _boxes_out(Outputs* o, Converter* c, GstBuffer* buf, const Area* area, Candidate* boxes, size_t n,
                     bint nms, const OvfastTensorMeta* m) noexcept nogil:
    """Puts the boxes onto the frame as regions, highest confidence first; with nms a box overlapping one kept
    before it by more than the converter's IoU threshold is dropped (whatever its class, as DL Streamer's)."""
    cdef size_t i, j
    cdef double iw, ih, inter, union_area
    cdef char scratch[32]
    cdef char* dropped
    cdef GstVideoRegionOfInterestMeta* roi
    cdef const OvfastTensor* t = &m.tensors[c.inputs[0]]
    cdef const OvfastTensor* p
    if n == 0:
        return
    qsort(boxes, n, sizeof(Candidate), _by_confidence)
    dropped = <char*>g_malloc0(n)
    for i in range(n):
        if dropped[i]:
            continue
        roi = _box_region(o, buf, area, boxes[i].label_id, _conv_label(o, c, boxes[i].label_id, scratch,
                          sizeof(scratch)), boxes[i].confidence, boxes[i].x0, boxes[i].y0, boxes[i].x1, boxes[i].y1)
        if roi != NULL and c.kind == CONV_YOLO_POSE:
            _pose_keypoints(c, roi, t, boxes[i].index)
        elif roi != NULL and c.kind == CONV_YOLO_OBB:      # the angle is the last row
            ovf_region_rotation(roi, (<const float*>t.data)[(t.dims[1] - 1) * t.dims[2] + boxes[i].index])
        elif roi != NULL and c.kind == CONV_CENTERFACE:
            _centerface_landmarks(o, c, roi, m, boxes[i].index, boxes[i].confidence)
        elif roi != NULL and c.kind == CONV_YOLO_SEG:
            _seg_mask(o, c, roi, m, boxes[i].index)
        elif roi != NULL and c.kind == CONV_MASK_RCNN and c.keypoints != NULL:     # the box's mask as it is
            p = &m.tensors[c.inputs[2]]
            ovf_region_keypoints(roi, c.keypoints, <const float*>p.data + boxes[i].index * p.dims[p.rank - 2]
                                 * p.dims[p.rank - 1], <guint>p.dims[p.rank - 2], <guint>p.dims[p.rank - 1], NULL,
                                 -1.0)
        if not nms:
            continue
        for j in range(i + 1, n):
            if dropped[j]:
                continue
            iw = min(boxes[i].x1, boxes[j].x1) - max(boxes[i].x0, boxes[j].x0)
            ih = min(boxes[i].y1, boxes[j].y1) - max(boxes[i].y0, boxes[j].y0)
            if iw <= 0 or ih <= 0:
                continue
            inter = iw * ih
            union_area = ((boxes[i].x1 - boxes[i].x0) * (boxes[i].y1 - boxes[i].y0)
                          + (boxes[j].x1 - boxes[j].x0) * (boxes[j].y1 - boxes[j].y0) - inter)
            if union_area > 0 and inter / union_area > c.iou:
                dropped[j] = 1
    g_free(dropped)


cdef size_t _yolo(Outputs* o, Converter* c, const OvfastTensor* t, bint v8, Candidate* boxes) noexcept nogil:
    """YOLO boxes reaching the threshold into boxes (room for every proposal): v8 [1, 4 + classes, N] with
    centre, size and class scores in the model's input pixels, above it as DL Streamer's yolo_v8; v5
    [1, N, 5 + classes] with an objectness that scales the class scores, at or above it as its yolo_v7."""
    cdef const float* d = <const float*>t.data
    cdef size_t i, k, n, classes, best, count = 0
    cdef float score, top, cx, cy, w, h
    if v8:
        n, classes = <size_t>t.dims[2], <size_t>t.dims[1] - 4
    else:
        n, classes = <size_t>t.dims[1], <size_t>t.dims[2] - 5
    for i in range(n):
        best, top = 0, -1.0
        for k in range(classes):
            score = d[(4 + k) * n + i] if v8 else d[i * (5 + classes) + 5 + k]
            if score > top:
                best, top = k, score
        if v8:
            cx, cy, w, h = d[i], d[n + i], d[2 * n + i], d[3 * n + i]
        else:
            cx, cy, w, h = d[i * (5 + classes)], d[i * (5 + classes) + 1], d[i * (5 + classes) + 2], d[i * (5 + classes) + 3]
            top *= d[i * (5 + classes) + 4]
        if not (top > o.threshold if v8 else top >= o.threshold):        # NaN too
            continue
        boxes[count].x0, boxes[count].x1 = (cx - w / 2) / o.content_w, (cx + w / 2) / o.content_w
        boxes[count].y0, boxes[count].y1 = (cy - h / 2) / o.content_h, (cy + h / 2) / o.content_h
        boxes[count].confidence, boxes[count].label_id = top, <int>best
        count += 1
    return count


cdef size_t _yolo_columns(Outputs* o, const OvfastTensor* t, size_t classes, Candidate* boxes) noexcept nogil:
    """The yolo_v8 variants' tables [1, rows, N], a box per column: centre and size in the model's input pixels,
    `classes` class scores, then the variant's rows (yolo_v8_pose: keypoints after its one score, _obb: the
    angle, _seg: mask coefficients). Each box whose best class (the first highest) scores above the threshold,
    as DL Streamer's, with its column as its index."""
    cdef size_t i, k, best, n = <size_t>t.dims[2], count = 0
    cdef const float* d = <const float*>t.data
    for i in range(n):
        best = 0
        for k in range(1, classes):
            if d[(4 + k) * n + i] > d[(4 + best) * n + i]:
                best = k
        if not (d[(4 + best) * n + i] > o.threshold):        # NaN too
            continue
        boxes[count].x0 = (d[i] - d[2 * n + i] / 2) / o.content_w
        boxes[count].x1 = (d[i] + d[2 * n + i] / 2) / o.content_w
        boxes[count].y0 = (d[n + i] - d[3 * n + i] / 2) / o.content_h
        boxes[count].y1 = (d[n + i] + d[3 * n + i] / 2) / o.content_h
        boxes[count].confidence, boxes[count].label_id = d[(4 + best) * n + i], <int>best
        boxes[count].index = <uint32_t>i
        count += 1
    return count


cdef size_t _mask_rcnn(Outputs* o, Converter* c, const OvfastTensorMeta* m, Candidate* boxes) noexcept nogil:
    """mask_rcnn with three outputs, as DL Streamer's: boxes [..., N, 5] (corners in the model's input pixels,
    confidence), labels [N] (the class is the label + 1) and masks [..., N, H, W]: the boxes at or above the
    threshold (their masks go onto the regions NMS keeps)."""
    cdef const OvfastTensor* t = &m.tensors[c.inputs[0]]
    cdef const OvfastTensor* labels = &m.tensors[c.inputs[1]]
    cdef size_t i, count = 0, n = <size_t>t.dims[t.rank - 2]
    cdef const float* r
    cdef int64_t label
    for i in range(n):
        r = <const float*>t.data + 5 * i
        if not (r[4] >= o.threshold):       # NaN too
            continue
        if labels.element_type[0] == c'i' and labels.element_type[1] == c'6':
            label = (<const int64_t*>labels.data)[i]
        else:
            label = (<const int32_t*>labels.data)[i]
        boxes[count].x0, boxes[count].y0 = r[0] / o.content_w, r[1] / o.content_h
        boxes[count].x1, boxes[count].y1 = r[2] / o.content_w, r[3] / o.content_h
        boxes[count].confidence, boxes[count].label_id = r[4], <int>(label + 1)
        boxes[count].index = <uint32_t>i
        count += 1
    return count


cdef void _seg_mask(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi, const OvfastTensorMeta* m,
                    size_t i) noexcept nogil:
    """A yolo_v8_seg box's mask onto its region, as DL Streamer's: the coefficients times the prototypes over
    the box's cells of the prototype map (its corner and size truncated to whole cells; clamped to the map,
    where DL Streamer's would fail), through a sigmoid; a "segmentation_mask" tensor of dims [columns, rows]."""
    cdef const OvfastTensor* t = &m.tensors[c.inputs[0]]
    cdef const OvfastTensor* p = &m.tensors[c.inputs[1]]
    cdef const float* d = <const float*>t.data
    cdef const float* protos = <const float*>p.data
    cdef size_t n = <size_t>t.dims[2], masks = <size_t>p.dims[1], mh = <size_t>p.dims[2], mw = <size_t>p.dims[3]
    cdef size_t first = <size_t>t.dims[1] - masks, k, r, col
    cdef float w = d[2 * n + i], h = d[3 * n + i]
    cdef long x0, y0, cw, ch
    cdef float value
    cdef float* mask
    if not (-1e7 < d[i] < 1e7 and -1e7 < d[n + i] < 1e7 and w < 1e7 and h < 1e7):     # NaN too: no whole cells
        return
    x0, y0 = <long>((d[i] - w / 2) * mw / o.model_w), <long>((d[n + i] - h / 2) * mh / o.model_h)
    cw, ch = <long>(w * mw / o.model_w), <long>(h * mh / o.model_h)
    if x0 < 0:
        cw, x0 = cw + x0, 0
    if y0 < 0:
        ch, y0 = ch + y0, 0
    cw = min(cw, <long>mw - x0)
    ch = min(ch, <long>mh - y0)
    if cw <= 0 or ch <= 0 or c.keypoints == NULL:
        return
    mask = <float*>g_malloc(sizeof(float) * cw * ch)
    for r in range(<size_t>ch):
        for col in range(<size_t>cw):
            value = 0
            for k in range(masks):
                value += d[(first + k) * n + i] * protos[k * mh * mw + (y0 + r) * mw + x0 + col]
            mask[r * cw + col] = 1.0 / (1.0 + expf(-value))
    ovf_region_keypoints(roi, c.keypoints, mask, <guint>cw, <guint>ch, NULL, -1.0)
    g_free(mask)


cdef inline void _centerface_box(Outputs* o, const OvfastTensorMeta* m, Converter* c, size_t i,
                                 float* box) noexcept nogil:
    """centerface's box at heatmap cell i, as DL Streamer's: x, y, w, h in the model's input pixels (the maps
    are a quarter of the input; the box is clamped to it), and the face's size s1 x s0 before the clamp."""
    cdef const OvfastTensor* heat = &m.tensors[c.inputs[0]]
    cdef const float* scale = <const float*>m.tensors[c.inputs[1]].data
    cdef const float* offset = <const float*>m.tensors[c.inputs[2]].data
    cdef size_t w = <size_t>heat.dims[3], area = <size_t>heat.dims[2] * w
    cdef float s0 = expf(scale[i]) * 4, s1 = expf(scale[area + i]) * 4
    box[0] = min(max(0.0, (i % w + offset[area + i] + 0.5) * 4 - s1 / 2), o.model_w)
    box[1] = min(max(0.0, (i // w + offset[i] + 0.5) * 4 - s0 / 2), o.model_h)
    box[2] = min(box[0] + s1, o.model_w) - box[0]
    box[3] = min(box[1] + s0, o.model_h) - box[1]
    box[4], box[5] = s1, s0


cdef size_t _centerface(Outputs* o, Converter* c, const OvfastTensorMeta* m, Candidate* boxes) noexcept nogil:
    """centerface (heatmap [1,1,H,W], scale and offset [1,2,H,W], landmarks [1,10,H,W]): a face at each cell
    whose heatmap is above the threshold, class 1 as DL Streamer's (its threshold is fixed at 0.5, the
    element's default; here it is the element's)."""
    cdef const float* heat = <const float*>m.tensors[c.inputs[0]].data
    cdef size_t i, count = 0, n = <size_t>(m.tensors[c.inputs[0]].dims[2] * m.tensors[c.inputs[0]].dims[3])
    cdef float box[6]
    for i in range(n):
        if not (heat[i] > o.threshold):       # NaN too
            continue
        _centerface_box(o, m, c, i, box)
        boxes[count].x0, boxes[count].y0 = box[0] / o.content_w, box[1] / o.content_h
        boxes[count].x1, boxes[count].y1 = (box[0] + box[2]) / o.content_w, (box[1] + box[3]) / o.content_h
        boxes[count].confidence, boxes[count].label_id, boxes[count].index = heat[i], 1, <uint32_t>i
        count += 1
    return count


cdef void _centerface_landmarks(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi,
                                const OvfastTensorMeta* m, size_t i, double confidence) noexcept nogil:
    """A centerface face's five landmarks onto its region, as DL Streamer's: a "landmark_points" tensor of 10
    values, each point (x, y) from the landmarks map scaled by the face's size over its clamped box's."""
    cdef const float* marks = <const float*>m.tensors[c.inputs[3]].data
    cdef size_t k, area = <size_t>(m.tensors[c.inputs[0]].dims[2] * m.tensors[c.inputs[0]].dims[3])
    cdef float box[6]
    cdef float points[10]
    _centerface_box(o, m, c, i, box)
    for k in range(5):
        points[2 * k] = marks[(2 * k + 1) * area + i] * box[4] / box[2]
        points[2 * k + 1] = marks[(2 * k) * area + i] * box[5] / box[3]
    if c.keypoints != NULL:
        ovf_region_keypoints(roi, c.keypoints, points, 1, 10, NULL, confidence)


cdef void _pose_keypoints(Converter* c, GstVideoRegionOfInterestMeta* roi, const OvfastTensor* t,
                          size_t i) noexcept nogil:
    """A yolo_v8_pose box's keypoints onto its region, as DL Streamer's: (x, y) as fractions of the box (before
    it was clamped to the frame), and each keypoint's confidence."""
    cdef size_t k, n = <size_t>t.dims[2], points = (<size_t>t.dims[1] - 5) // 3
    cdef const float* d = <const float*>t.data
    cdef float w = d[2 * n + i], h = d[3 * n + i]
    cdef float x0 = d[i] - w / 2, y0 = d[n + i] - h / 2
    cdef float* xy = <float*>g_malloc(sizeof(float) * 3 * (points if points else 1))
    cdef float* confidences = xy + 2 * points
    for k in range(points):
        xy[2 * k] = (d[(5 + 3 * k) * n + i] - x0) / w
        xy[2 * k + 1] = (d[(6 + 3 * k) * n + i] - y0) / h
        confidences[k] = d[(7 + 3 * k) * n + i]
    if c.keypoints != NULL:
        ovf_region_keypoints(roi, c.keypoints, xy, <guint>points, 2, confidences, -1.0)
    g_free(xy)


cdef size_t _yolo_v10(Outputs* o, Converter* c, const OvfastTensor* t, Candidate* boxes) noexcept nogil:
    """yolo_v10 rows [1, N, 6+] (corners in the model's input pixels, confidence, label) above the threshold,
    as DL Streamer's: the label number modulo the labels' count (a negative one is skipped)."""
    cdef size_t i, n = <size_t>t.dims[1], size = <size_t>t.dims[2], count = 0
    cdef const float* r
    for i in range(n):
        r = <const float*>t.data + size * i
        if not (r[4] > o.threshold) or not (0 <= r[5] < 2147483648.0) or c.n_labels == 0:      # NaN too
            continue
        boxes[count].x0, boxes[count].y0 = r[0] / o.content_w, r[1] / o.content_h
        boxes[count].x1, boxes[count].y1 = r[2] / o.content_w, r[3] / o.content_h
        boxes[count].confidence, boxes[count].label_id = r[4], <int>(<size_t>r[5] % c.n_labels)
        count += 1
    return count


cdef size_t _ssd(Outputs* o, const OvfastTensor* t, Candidate* boxes) noexcept nogil:
    """SSD rows [1,1,N,7] (normalised to the model's input) at least the threshold, up to image_id -1."""
    cdef size_t i, n = <size_t>t.dims[2], count = 0
    cdef const float* r
    cdef double sx = o.model_w / o.content_w, sy = o.model_h / o.content_h
    for i in range(n):
        r = <const float*>t.data + 7 * i
        if r[0] < 0:
            break
        if not (r[2] >= o.threshold):       # NaN too
            continue
        boxes[count].x0, boxes[count].y0, boxes[count].x1, boxes[count].y1 = r[3] * sx, r[4] * sy, r[5] * sx, r[6] * sy
        boxes[count].confidence, boxes[count].label_id = r[2], <int>r[1]
        count += 1
    return count


cdef size_t _boxes_labels(Outputs* o, const OvfastTensor* t, const OvfastTensor* labels,
                          Candidate* boxes) noexcept nogil:
    """Boxes [..., N, 5] (x_min, y_min, x_max, y_max, confidence in the model's input pixels) with one label
    each in labels (f32, i32 or i64) at least the threshold."""
    cdef size_t i, n = <size_t>t.dims[t.rank - 2], count = 0
    cdef const float* r
    cdef int label_id
    for i in range(n):
        r = <const float*>t.data + 5 * i
        if not (r[4] >= o.threshold):       # NaN too
            continue
        if labels.element_type[0] == c'i' and labels.element_type[1] == c'6':
            label_id = <int>(<const int64_t*>labels.data)[i]
        elif labels.element_type[0] == c'i':
            label_id = (<const int32_t*>labels.data)[i]
        else:
            label_id = <int>(<const float*>labels.data)[i]
        boxes[count].x0, boxes[count].y0 = r[0] / o.content_w, r[1] / o.content_h
        boxes[count].x1, boxes[count].y1 = r[2] / o.content_w, r[3] / o.content_h
        boxes[count].confidence, boxes[count].label_id = r[4], label_id
        count += 1
    return count


cdef float* _label_values(const OvfastTensor* t, size_t* n) noexcept nogil:
    """A label output's values as f32: f64 and i32 ones copied into a new buffer (g_free it); NULL for f32,
    read where they lie. n: how many."""
    cdef size_t k
    cdef float* out
    cdef bint f64 = t.element_type[0] == c'f' and t.element_type[1] == c'6'
    if t.element_type[0] == c'f' and not f64:
        n[0] = t.nbytes // sizeof(float)
        return NULL
    n[0] = t.nbytes // (8 if f64 else 4)
    out = <float*>g_malloc(sizeof(float) * (n[0] if n[0] else 1))
    for k in range(n[0]):
        out[k] = <float>(<const double*>t.data)[k] if f64 else <float>(<const int32_t*>t.data)[k]
    return out


cdef void _index_label(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi, const float* values,
                       size_t n) noexcept nogil:
    """label method=index (a licence plate's characters): the labels of the output's values one after another,
    up to the first that names none; nothing when no value is above 0, as DL Streamer's."""
    cdef size_t k, size, length = 0
    cdef int value, top = 0
    cdef char text[256]
    for k in range(n):
        if not (0 <= values[k] < c.n_labels):      # NaN too
            break
        value = <int>values[k]
        top = value if value > top else top
        size = strlen(c.labels[value])
        if length + size < sizeof(text):      # a longer text is cut at a whole label
            memcpy(text + length, c.labels[value], size)
            length += size
    text[length] = 0
    if top > 0:
        ovf_region_attribute(roi, c.attribute, text, -1, -1.0, c.layer, o.model_name, c.name)


cdef void _multi_label(Outputs* o, Converter* c, GstVideoRegionOfInterestMeta* roi, const float* scores,
                       size_t n) noexcept nogil:
    """label method=multi, softmax_multi (a softmax first) and compound, as DL Streamer's: the labels of the
    values at or above confidence_threshold (compound: of each value's pair of labels, the first at or above
    it, the second above 0 and below it), space-separated; the confidence is the highest value (0 at
    least), and there is no label_id."""
    cdef size_t k, size, length = 0
    cdef float top = scores[0], total = 0.0, value, confidence = 0.0
    cdef const char* name
    cdef char text[512]
    if c.method == METHOD_SOFTMAX_MULTI:
        for k in range(1, n):
            top = scores[k] if scores[k] > top else top
        for k in range(n):
            total += expf(scores[k] - top)
    for k in range(n):
        value = expf(scores[k] - top) / total if c.method == METHOD_SOFTMAX_MULTI else scores[k]
        name = NULL
        if c.method == METHOD_COMPOUND:
            name = c.labels[2 * k] if value >= c.label_threshold else (c.labels[2 * k + 1] if value > 0 else NULL)
        elif value >= c.label_threshold:
            name = c.labels[k]
        if value >= confidence:
            confidence = value
        if name == NULL or name[0] == 0:
            continue
        size = strlen(name)
        if length + 1 + size >= sizeof(text):      # a longer text is cut at a whole label
            continue
        if length and text[length - 1] not in b" \t\n\r\v\f":      # as isspace()
            text[length] = c' '
            length += 1
        memcpy(text + length, name, size)
        length += size
    text[length] = 0
    ovf_region_attribute(roi, c.attribute, text, -1, confidence, c.layer, o.model_name, c.name)


cdef GstVideoRegionOfInterestMeta* _attribute_region(Outputs* o, GstBuffer* buf, const Area* area,
                                                     GstVideoRegionOfInterestMeta** frame_region) noexcept nogil:
    """Where an attribute goes: the region the run was on, or one region covering the whole frame (made once
    per run, shared by the run's attributes)."""
    if area.roi_id != 0:
        return ovf_find_region(buf, area.roi_id)
    if frame_region[0] == NULL:
        frame_region[0] = ovf_add_region(buf, o.model_name, 0, 0, o.width, o.height)
    return frame_region[0]


cdef void _convert(Outputs* o, GstBuffer* buf, const OvfastTensorMeta* m, const Area* area) noexcept nogil:
    """Runs the plan's converters on a run's outputs (m), onto its frame (the buffer, writable)."""
    cdef uint32_t i
    cdef size_t k, n, best
    cdef Converter* c
    cdef const OvfastTensor* t
    cdef const float* scores
    cdef float* converted
    cdef Candidate* boxes
    cdef GstVideoRegionOfInterestMeta* frame_region = NULL
    cdef GstVideoRegionOfInterestMeta* roi
    cdef char scratch[64]
    cdef double confidence, total
    for i in range(o.n_conv):
        c = &o.conv[i]
        t = &m.tensors[c.inputs[0]]
        if c.kind == CONV_RAW:
            continue                # the raw outputs are on the frame already (OvfastTensorMeta)
        if c.kind <= CONV_MASK_RCNN:
            n = c.n_proposals if c.kind == CONV_YOLO_GRID else t.nbytes // sizeof(float)     # room for all
            boxes = <Candidate*>g_malloc(sizeof(Candidate) * (n if n else 1))
            if c.kind == CONV_SSD:
                n = _ssd(o, t, boxes)
            elif c.kind == CONV_BOXES_LABELS:
                n = _boxes_labels(o, t, &m.tensors[c.inputs[1]], boxes)
            elif c.kind == CONV_YOLO_GRID:
                n = _yolo_grids(o, c.grids, c.n_grids, c.yolo_flags, c.classes, m, boxes)
            elif c.kind == CONV_YOLO_V10:
                n = _yolo_v10(o, c, t, boxes)
            elif c.kind == CONV_YOLO_POSE:          # one class
                n = _yolo_columns(o, t, 1, boxes)
            elif c.kind == CONV_YOLO_OBB:           # all rows but the angle's
                n = _yolo_columns(o, t, <size_t>t.dims[1] - 5, boxes)
            elif c.kind == CONV_CENTERFACE:
                n = _centerface(o, c, m, boxes)
            elif c.kind == CONV_YOLO_SEG:           # all rows but the mask coefficients
                n = _yolo_columns(o, t, <size_t>(t.dims[1] - 4 - m.tensors[c.inputs[1]].dims[1]), boxes)
            elif c.kind == CONV_MASK_RCNN:
                n = _mask_rcnn(o, c, m, boxes)
            else:
                n = _yolo(o, c, t, c.kind == CONV_YOLO_V8, boxes)
            _boxes_out(o, c, buf, area, boxes, n, c.kind >= CONV_YOLO_V8, m)
            g_free(boxes)
            continue
        converted = _label_values(t, &n) if c.kind == CONV_LABEL else NULL     # f64 and i32 scores as f32
        if c.kind != CONV_LABEL:
            n = t.nbytes // sizeof(float)
        scores = converted if converted != NULL else <const float*>t.data
        roi = _attribute_region(o, buf, area, &frame_region) if n else NULL
        if roi == NULL:
            pass
        elif c.kind == CONV_LABEL and c.method == METHOD_INDEX:
            _index_label(o, c, roi, scores, n)
        elif c.kind == CONV_LABEL and c.method >= METHOD_COMPOUND:
            _multi_label(o, c, roi, scores, n)
        elif c.kind == CONV_KEYPOINTS_HRNET:
            _keypoints_hrnet(o, c, roi, t)
        elif c.kind == CONV_KEYPOINTS_3D:
            _keypoints_3d(o, c, roi, t)
        elif c.kind == CONV_LABEL:
            best = 0
            for k in range(1, n):
                if scores[k] > scores[best]:
                    best = k
            confidence = scores[best]
            if c.method == METHOD_SOFTMAX:     # the best class's share of exp(score), as DL Streamer's softmax
                total = 0.0
                for k in range(n):
                    total += expf(scores[k] - scores[best])
                confidence = 1.0 / total
            ovf_region_attribute(roi, c.attribute, _conv_label(o, c, <int>best, scratch, sizeof(scratch)),
                                 <int>best, confidence, c.layer, o.model_name, c.name)
        else:                       # CONV_TEXT: the first value, scaled, as text
            snprintf(scratch, sizeof(scratch), "%.*f", c.text_precision, scores[0] * c.text_scale)
            ovf_region_attribute(roi, c.attribute, scratch, -1, -1.0, c.layer, o.model_name, c.name)
        g_free(converted)
