# What a run's outputs become on its frame: the raw tensors (OvfastTensorMeta) always, and with
# output=detection or output=classification regions of interest with DL Streamer's structures, or with a
# model-proc file what its converters make of them (postproc.pxi).

cdef enum:
    MODE_TENSOR, MODE_DETECTION, MODE_CLASSIFICATION, MODE_MODEL_PROC

cdef struct Converter        # postproc.pxi

cdef struct Area:            # what a run looked at, in pixels: a region of interest, or the whole frame
    int roi_id               # 0 for the whole frame
    guint x, y, w, h

cdef struct Outputs:
    int mode                 # MODE_*
    double threshold         # output=detection: the lowest confidence of a box kept (a property)
    guint width, height      # the frame's
    uint32_t n_labels
    const char** label_names # point into the session's Python bytes
    const char* model_name   # the session's Python bytes
    uint32_t n_out
    const char** out_names   # names and types point into the session's Python bytes (kept by the session)
    const char** out_types
    uint32_t* out_ranks
    int64_t* out_dims
    size_t* out_nbytes
    uint32_t n_conv          # model-proc: its converters (postproc.pxi) and where the frame lies in the model's
    Converter* conv          # input (content_w x content_h pixels at the top left of model_w x model_h)
    double content_w, content_h, model_w, model_h


cdef void _outputs_set(Outputs* o, object session, guint width, guint height):
    """Describes the outputs of a compiled session (with the GIL); the session must outlive the description."""
    cdef uint32_t i, k
    o.mode = session.mode
    o.model_name = <const char*>(<bytes>session.model_name)
    o.width, o.height = width, height
    o.n_labels = len(session.labels)
    o.label_names = <const char**>g_malloc0(sizeof(char*) * (o.n_labels + 1))
    for i, label in enumerate(session.labels):
        o.label_names[i] = <const char*>(<bytes>label)
    outputs = session.outputs            # [(name bytes, type bytes, dims tuple, nbytes)]
    o.n_out = len(outputs)
    o.out_names = <const char**>g_malloc0(sizeof(char*) * 2 * (o.n_out + 1))
    o.out_types = o.out_names + o.n_out + 1
    o.out_ranks = <uint32_t*>g_malloc0(sizeof(uint32_t) * (o.n_out + 1))
    o.out_dims = <int64_t*>g_malloc0(sizeof(int64_t) * OVFAST_TENSOR_MAX_RANK * (o.n_out + 1))
    o.out_nbytes = <size_t*>g_malloc0(sizeof(size_t) * (o.n_out + 1))
    for i, (name, etype, dims, nbytes) in enumerate(outputs):
        o.out_names[i] = <const char*>(<bytes>name)
        o.out_types[i] = <const char*>(<bytes>etype)
        o.out_ranks[i] = len(dims)
        for k in range(len(dims)):
            o.out_dims[i * OVFAST_TENSOR_MAX_RANK + k] = dims[k]
        o.out_nbytes[i] = nbytes
    if o.mode == MODE_MODEL_PROC:
        _converters_set(o, session)


cdef void _outputs_clear(Outputs* o) noexcept nogil:
    """Frees the description; the threshold, a property, stays."""
    g_free(o.out_names)
    g_free(o.out_ranks)
    g_free(o.out_dims)
    g_free(o.out_nbytes)
    g_free(o.label_names)
    o.label_names = NULL
    o.n_labels = 0
    o.out_names = NULL
    o.out_types = NULL
    o.out_ranks = NULL
    o.out_dims = NULL
    o.out_nbytes = NULL
    o.n_out = 0
    _converters_clear(o)


cdef void _decode(Outputs* o, GstBuffer* buf, ovf_pool* pool, int job, const Area* area) noexcept nogil:
    """Puts the outputs of a finished job onto its frame (the buffer, writable)."""
    cdef void* data
    cdef size_t nbytes
    cdef OvfastTensorMeta* m = _attach_outputs(o, buf, pool, job, area.roi_id)
    if o.mode == MODE_MODEL_PROC:
        if m != NULL:
            _convert(o, buf, m, area)
    elif o.mode != MODE_TENSOR and api.job_output(pool, job, 0, &data, &nbytes) == api.OVFAST_OK:
        _interpret(o, buf, data, nbytes, area)


cdef void _interpret(Outputs* o, GstBuffer* buf, const void* first, size_t nbytes, const Area* area) noexcept nogil:
    """output=detection or classification: what the first output (first, nbytes) says, onto the frame."""
    if o.mode == MODE_DETECTION:
        _detections(o, buf, first, nbytes, area)
    elif o.mode == MODE_CLASSIFICATION:
        _classification(o, buf, first, nbytes, area)


cdef OvfastTensorMeta* _attach_outputs(Outputs* o, GstBuffer* buf, ovf_pool* pool, int job, int roi_id) noexcept nogil:
    cdef void* data
    cdef size_t nbytes
    cdef uint32_t i
    cdef OvfastTensorMeta* m = _tensor_meta_add(buf, roi_id, o.n_out, o.out_names, o.out_types,
                                                o.out_ranks, o.out_dims, o.out_nbytes, o.model_name)
    if m == NULL:
        return NULL
    for i in range(o.n_out):
        if api.job_output(pool, job, i, &data, &nbytes) == api.OVFAST_OK and nbytes == m.tensors[i].nbytes:
            memcpy(<void*>m.tensors[i].data, data, nbytes)
    return m


cdef const char* _label(Outputs* o, int label_id, char* scratch, size_t size) noexcept nogil:
    """The name labels= gives a class id, else the id as text."""
    if 0 <= label_id < <int>o.n_labels:
        return o.label_names[label_id]
    snprintf(scratch, size, "%d", label_id)
    return scratch


cdef inline double _clamp01(double v) noexcept nogil:
    return 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)


cdef void _detections(Outputs* o, GstBuffer* buf, const void* data, size_t nbytes, const Area* area) noexcept nogil:
    """SSD-style boxes [1,1,N,7] (image_id, label, confidence, x_min, y_min, x_max, y_max; normalised to what
    the model saw) above the threshold become regions of the frame, each with a "detection" structure."""
    cdef size_t i, n
    cdef const float* box
    cdef char scratch[32]
    n = nbytes // (7 * sizeof(float))
    for i in range(n):
        box = <const float*>data + 7 * i
        if box[0] < 0:          # image_id -1 ends the list
            break
        if not (box[2] >= o.threshold):     # NaN too
            continue
        _box_region(o, buf, area, <int>box[1], _label(o, <int>box[1], scratch, sizeof(scratch)), box[2],
                    box[3], box[4], box[5], box[6])


cdef GstVideoRegionOfInterestMeta* _box_region(Outputs* o, GstBuffer* buf, const Area* area, int label_id,
                                               const char* name, double confidence, double x0, double y0, double x1,
                                               double y1) noexcept nogil:
    """A box (corners as fractions of the area the run looked at, clamped to it) onto the frame as a region
    with a "detection" structure; none (NULL) if it is empty in whole pixels."""
    cdef guint px, py, pw, ph
    cdef GstVideoRegionOfInterestMeta* roi
    x0, y0, x1, y1 = _clamp01(x0), _clamp01(y0), _clamp01(x1), _clamp01(y1)
    if not (x1 > x0 and y1 > y0):      # NaN corners too
        return NULL
    px = area.x + <guint>(x0 * area.w + 0.5)
    py = area.y + <guint>(y0 * area.h + 0.5)
    pw = <guint>(x1 * area.w + 0.5) - <guint>(x0 * area.w + 0.5)
    ph = <guint>(y1 * area.h + 0.5) - <guint>(y0 * area.h + 0.5)
    if pw == 0 or ph == 0:
        return NULL
    roi = ovf_add_region(buf, name, px, py, pw, ph)
    if roi == NULL:
        return NULL
    roi.parent_id = area.roi_id      # 0 (no parent) for the whole frame
    # normalised to the frame, as DL Streamer's x_min ... are
    ovf_region_detection(roi, name, label_id, confidence, <double>px / o.width, <double>py / o.height,
                         <double>(px + pw) / o.width, <double>(py + ph) / o.height)
    return roi


cdef void _classification(Outputs* o, GstBuffer* buf, const void* data, size_t nbytes,
                          const Area* area) noexcept nogil:
    """The best class of [1,C] (or [1,C,1,1]) scores goes onto the region the run was on, or onto a region
    covering the whole frame, as a "classification" structure (label, label_id, confidence)."""
    cdef size_t i, n
    cdef const float* scores
    cdef int best = 0
    cdef char scratch[32]
    cdef const char* name
    cdef GstVideoRegionOfInterestMeta* roi
    if nbytes < sizeof(float):
        return
    scores = <const float*>data
    n = nbytes // sizeof(float)
    for i in range(1, n):
        if scores[i] > scores[best]:
            best = <int>i
    name = _label(o, best, scratch, sizeof(scratch))
    if area.roi_id != 0:
        roi = ovf_find_region(buf, area.roi_id)
    else:
        roi = ovf_add_region(buf, name, 0, 0, o.width, o.height)
    if roi != NULL:
        ovf_region_classification(roi, name, best, scores[best])
