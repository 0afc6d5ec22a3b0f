# ovfastinfer: inference on whole frames (or on each region of interest) through ovfast's job pool, driven
# from C with the C-level API (`from ovfast cimport api`) as any embedding library would. ovfastdetect and
# ovfastclassify are the same element with other defaults (the end of this file).
#
# Streaming thread (_infer_frame): queues the frame, takes an idle job per run, hands it the frame (copied
# when small, else bound where it lies; the model was compiled with the frame's size, format and stride in
# its preprocessing) and starts it; with region=roi the model may be compiled with two crops
# (_model.crop_plan), each with its pool, and a region's run goes to the one that is cheaper for its size.
# OpenVINO's callback thread (_done): attaches the run's outputs to the frame and gives the job back at once.
# Source pad task: pushes frames in arrival order once all their runs are over. No thread takes the GIL for
# a frame: Python runs only in infer_model.pxi.

cdef enum:
    COPY_BELOW = 64 * 1024    # frames smaller than this are copied into the job's input (see _set_input)

cdef struct Entry:
    Item head
    bint has_runs           # False: the frame passes untouched (interval, no region), or an event
    bint mapped
    GstVideoFrame frame
    InferState* st
    int pending             # (under lock) runs not over yet: one per region (one for the whole frame)
    bint done               # (under lock) every run is over, outputs attached and jobs handed back
    char* error             # how a run failed (g_free), or NULL
    ovf_reclassify_skip* skipped    # reclassify-interval: the regions not run (g_free)
    int n_skipped

cdef struct Run:
    Entry* e
    ovf_pool* pool          # the pool (compiled crop) it runs in
    Area area
    gint object_id          # reclassify-interval: the tracked object on the region, else 0
    guint64 frame           # with object_id: the frame's number


cdef void _entry_free(ElementState* base, Item* item) noexcept nogil:
    """A started entry's job and mapping went back in _done (waited for here); one that never started
    still holds its mapping."""
    cdef Entry* e = <Entry*>item
    if e.has_runs:
        g_mutex_lock(&base.lock)
        while not e.done:
            _wait(base)
        g_mutex_unlock(&base.lock)
    if e.mapped:
        gst_video_frame_unmap(&e.frame)
    g_free(e.error)
    g_free(e.skipped)


cdef int _wait_empty(InferState* st) noexcept nogil:
    """Waits until the task pushed everything queued (before the model changes); -1 when flushing."""
    g_mutex_lock(&st.base.lock)
    while not g_queue_is_empty(st.base.fifo) and not st.base.flushing and st.base.flow == GST_FLOW_OK:
        _wait(&st.base)
    cdef int r = 0 if g_queue_is_empty(st.base.fifo) else -1
    g_mutex_unlock(&st.base.lock)
    return r


cdef int _infer_caps(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef InferState* st = _st(el)
    # Frames already queued were started on the model compiled for the old caps: let them out first.
    if _compiled(st) and _wait_empty(st) != 0:
        return -1
    return _negotiate(el, caps)


cdef void _infer_stop(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    _close_session(st)
    st.frames = 0
    ovf_reclassify_free(st.reclassify)      # a new start is a new stream (object ids start over)
    st.reclassify = NULL


# --- a run ends ----------------------------------------------------------------------------------------------
cdef void _done(void* ctx, int job) noexcept nogil:
    """A run is over (OpenVINO's callback thread, where every run of this model ends, one at a time): its
    outputs go onto the buffer and its job back to the pool right here, so the streaming thread can start
    the next runs before the source pad's task gets to this frame. Nothing else touches the frame until all
    its runs are over and it is marked done."""
    cdef Run* run = <Run*>ctx
    cdef Entry* e = run.e
    cdef InferState* st = e.st
    cdef int status = api.job_wait(run.pool, job, 0)    # inside done(): how the run ended, no waiting
    cdef GstVideoRegionOfInterestMeta* roi = NULL
    cdef guint first = 0
    if run.object_id != 0:
        roi = ovf_find_region(e.head.buf, run.area.roi_id)
        first = g_list_length(roi.params) if roi != NULL else 0
    if status == api.OVFAST_OK:
        _decode(&st.out, e.head.buf, run.pool, job, &run.area)
        if roi != NULL:
            ovf_reclassify_record(st.reclassify, run.object_id, run.frame, roi, first)
    elif e.error == NULL:
        e.error = g_strdup_printf("an inference failed: %s", api.last_error())
    api.job_release(run.pool, job)                    # takes effect as this function returns
    g_free(run)
    _run_over(st, e)


cdef void _run_over(InferState* st, Entry* e) noexcept nogil:
    """One run of e is over (or will never start); the last one unmaps the frame and marks it done."""
    g_mutex_lock(&st.base.lock)
    e.pending -= 1
    cdef bint last = e.pending == 0
    g_mutex_unlock(&st.base.lock)
    if not last:
        return
    if e.mapped:
        gst_video_frame_unmap(&e.frame)
        e.mapped = False
    g_mutex_lock(&st.base.lock)
    e.done = True
    # The task waits for the head only; a drain (flushing) waits for entries already taken off the queue.
    if st.base.flushing or g_queue_peek_head(st.base.fifo) == e:
        _wake(&st.base)
    g_mutex_unlock(&st.base.lock)


cdef void _infer_task(gpointer user) noexcept nogil:
    """The source pad's loop: one queued frame or event, in arrival order."""
    cdef GstElement* el = <GstElement*>user
    cdef ElementState* st = _state(el)
    cdef Entry* e
    cdef GstFlowReturn flow
    g_mutex_lock(&st.lock)
    while not st.flushing:
        e = <Entry*>g_queue_peek_head(st.fifo)
        if e != NULL and (not e.has_runs or e.done):
            break
        _wait(st)
    if st.flushing:
        g_mutex_unlock(&st.lock)
        gst_pad_pause_task(st.srcpad)
        return
    g_queue_pop_head(st.fifo)
    _wake_space(st)
    if g_queue_is_empty(st.fifo):
        _wake(st)     # new caps wait for the queue to empty
    flow = st.flow
    g_mutex_unlock(&st.lock)
    if e.n_skipped:
        _reclassify_copy_forward(_st(el), e)
    if e.error != NULL and flow == GST_FLOW_OK:
        # Posted before the streaming thread can see the error flow: upstream posts its own, vaguer
        # "Internal data stream error" once chain() returns it, and the first error on the bus is the one
        # an application reads. (Frames failing after it are dropped without another error.)
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, e.error, NULL)
    g_mutex_lock(&st.lock)
    if e.error != NULL and st.flow == GST_FLOW_OK:
        st.flow = GST_FLOW_ERROR
    flow = st.flow
    g_mutex_unlock(&st.lock)
    if e.head.buf != NULL:
        flow = _push_item(st, &e.head, flow, True)
    else:
        _push_item(st, &e.head, flow, True)
        flow = GST_FLOW_OK      # an event: what downstream answered is not the frames' flow
    g_free(e.error)
    g_free(e.skipped)
    g_free(e)
    if flow != GST_FLOW_OK:
        _frame_refused(el, st, flow)      # ours first, as above


# --- a frame arrives -----------------------------------------------------------------------------------------
cdef GstFlowReturn _infer_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef InferState* st = _st(el)
    cdef Entry* e
    cdef char message[1024]
    if not _compiled(st):
        gst_buffer_unref(buf)
        _post(el, gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION, "a frame arrived before its caps", NULL)
        return GST_FLOW_NOT_NEGOTIATED
    e = <Entry*>g_malloc0(sizeof(Entry))
    e.st = st
    st.frames += 1
    if (st.frames - 1) % st.interval != 0:
        e.head.buf = buf
        _enqueue(el, &e.head)
        return GST_FLOW_OK

    # Make it writable now, while this thread owns it: its runs add metadata to it later.
    e.head.buf = ovf_buffer_make_writable(buf)
    if not gst_video_frame_map(&e.frame, &st.info, e.head.buf, GST_MAP_READ | GST_VIDEO_FRAME_MAP_FLAG_NO_REF):
        _item_free(&st.base, &e.head)
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FORMAT,
              "a frame could not be mapped for reading (smaller than its caps say?)", NULL)
        return GST_FLOW_ERROR
    e.mapped = True
    if _layout_differs(&e.frame, st, message, sizeof(message)):
        _item_free(&st.base, &e.head)
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FORMAT, message, NULL)
        return GST_FLOW_ERROR
    if st.batch != NULL:
        return _start_batched(el, st, e)
    return _start_runs(el, st, e)


cdef bint _layout_differs(GstVideoFrame* f, InferState* st, char* message, size_t size) noexcept nogil:
    """True (with the reason in message) if a frame's planes are not where the compiled model reads them:
    a buffer whose video meta gives other strides or offsets than its caps."""
    cdef guint i
    for i in range(GST_VIDEO_INFO_N_PLANES(&st.info)):
        if f.info.stride[i] != st.info.stride[i] or f.info.offset[i] - f.info.offset[0] != st.info.offset[i] - st.info.offset[0]:
            snprintf(message, size, "plane %u of a frame has stride %d at offset %zu, but the model was compiled "
                     "for the caps' stride %d at offset %zu: the upstream element changed the frame layout "
                     "without new caps", i, f.info.stride[i], f.info.offset[i], st.info.stride[i], st.info.offset[i])
            return True
    if f.map[0].size < f.info.offset[0] + st.in_nbytes:
        snprintf(message, size, "a frame has %zu bytes, the model reads %zu", f.map[0].size,
                 f.info.offset[0] + st.in_nbytes)
        return True
    return False


cdef inline bint _picked(const GQuark* quarks, GQuark label) noexcept nogil:
    """Whether a region of this label is one to run on: roi-label names it, or roi-label is empty (NULL)."""
    if quarks == NULL:
        return True
    while quarks[0] != 0:
        if quarks[0] == label:
            return True
        quarks += 1
    return False


cdef int _regions(InferState* st, GstBuffer* buf, Run** runs) noexcept nogil:
    """The regions of interest to run on (those of roi-label's labels, or all), clipped to the frame; *runs is
    g_malloc'd."""
    cdef gpointer state = NULL
    cdef GstMeta* m
    cdef GstVideoRegionOfInterestMeta* roi
    cdef int n = 0, cap = 8
    cdef guint x, y, w, h
    runs[0] = <Run*>g_malloc0(sizeof(Run) * cap)
    while True:
        m = gst_buffer_iterate_meta_filtered(buf, &state, ovf_roi_meta_api())
        if m == NULL:
            break
        roi = <GstVideoRegionOfInterestMeta*>m
        if not _picked(st.roi_quarks, roi.roi_type):
            continue
        x, y = roi.x, roi.y
        if x >= <guint>st.info.width or y >= <guint>st.info.height:
            continue
        w = roi.w if roi.w <= st.info.width - x else st.info.width - x
        h = roi.h if roi.h <= st.info.height - y else st.info.height - y
        if w == 0 or h == 0:
            continue
        if roi.id == 0:         # another element's region, with GStreamer's default id: give it one of ours,
            roi.id = <gint>gst_util_seqnum_next()   # so its tensors are told from the whole frame's (roi_id 0)
        if n == cap:
            cap *= 2
            runs[0] = <Run*>g_realloc(runs[0], sizeof(Run) * cap)
        runs[0][n].area.roi_id = roi.id
        runs[0][n].area.x, runs[0][n].area.y, runs[0][n].area.w, runs[0][n].area.h = x, y, w, h
        n += 1
    return n


cdef int _reclassify_filter(InferState* st, Entry* e, Run* runs, int n) noexcept nogil:
    """reclassify-interval: keeps the runs that are due, and notes the tracked regions left out in e (their
    object's last results are copied onto them as the frame leaves); returns how many runs are kept."""
    cdef guint interval
    cdef int i, kept = 0
    cdef gint object_id
    cdef guint64 source
    cdef GstVideoRegionOfInterestMeta* roi
    g_mutex_lock(&st.base.lock)
    interval = st.reclassify_interval
    g_mutex_unlock(&st.base.lock)
    for i in range(n):
        runs[i].object_id = 0
    if interval == 1:
        return n
    if st.reclassify == NULL:
        st.reclassify = ovf_reclassify_new()
    for i in range(n):
        roi = ovf_find_region(e.head.buf, runs[i].area.roi_id)
        object_id = ovf_region_object_id(roi) if roi != NULL else 0
        if object_id != 0 and not ovf_reclassify_due(st.reclassify, object_id, st.frames, interval, &source):
            if e.skipped == NULL:
                e.skipped = <ovf_reclassify_skip*>g_malloc(sizeof(ovf_reclassify_skip) * n)
            e.skipped[e.n_skipped].roi_id = runs[i].area.roi_id
            e.skipped[e.n_skipped].object_id = object_id
            e.skipped[e.n_skipped].source = source
            e.n_skipped += 1
            continue
        runs[kept] = runs[i]
        runs[kept].object_id = object_id
        runs[kept].frame = st.frames
        kept += 1
    return kept


cdef void _reclassify_copy_forward(InferState* st, Entry* e) noexcept nogil:
    """The frame leaves: the regions it did not run get their objects' last results."""
    cdef int i
    cdef GstVideoRegionOfInterestMeta* roi
    if st.reclassify == NULL or not ovf_buffer_is_writable(e.head.buf):
        return
    for i in range(e.n_skipped):
        roi = ovf_find_region(e.head.buf, e.skipped[i].roi_id)
        if roi != NULL:
            ovf_reclassify_copy(st.reclassify, &e.skipped[i], roi)


cdef GstFlowReturn _start_runs(GstElement* el, InferState* st, Entry* e) noexcept nogil:
    """Starts the frame's runs (one, or one per region) and queues it; a frame with no region to run on
    passes untouched."""
    cdef Run* runs
    cdef Run* run
    cdef int n, i, status, job = -1
    cdef char message[1024]
    cdef int64_t* roi
    cdef size_t nbytes
    cdef GstFlowReturn flow = GST_FLOW_OK
    cdef ovf_pool* pool
    if st.per_region:
        # read the regions before any run starts: a finished run adds metadata to this buffer
        n = _regions(st, e.head.buf, &runs)
        n = _reclassify_filter(st, e, runs, n)
        if n == 0:
            g_free(runs)
            gst_video_frame_unmap(&e.frame)
            e.mapped = False
            _enqueue(el, &e.head)
            return GST_FLOW_OK
    else:
        n = 1
        runs = <Run*>g_malloc0(sizeof(Run))
        runs[0].area.roi_id = 0
        runs[0].area.w, runs[0].area.h = st.info.width, st.info.height
    e.pending = n
    e.has_runs = True           # the task waits until it is done
    _enqueue(el, &e.head, False)    # queued before any run starts: _done may come before job_start returns
    for i in range(n):
        pool = st.pool
        if st.big_pool != NULL and <guint64>runs[i].area.w * runs[i].area.h >= st.big_from:
            pool = st.big_pool
        runs[i].pool = pool
        status = api.OVFAST_TIMEOUT
        while status == api.OVFAST_TIMEOUT:
            status = api.job_acquire(pool, 100, &job)
            g_mutex_lock(&st.base.lock)
            flow = GST_FLOW_FLUSHING if st.base.flushing else st.base.flow
            g_mutex_unlock(&st.base.lock)
            if flow != GST_FLOW_OK:
                if status == api.OVFAST_OK:
                    api.job_release(pool, job)
                status = api.OVFAST_CLOSED
        if status == api.OVFAST_OK:
            if st.per_region:   # the whole frame where it lies, and the region's rectangle
                status = api.job_bind(pool, job, False, 0, <char*>e.frame.data[0], st.in_nbytes, NULL, 0)
                if status == api.OVFAST_OK:
                    status = api.job_input(pool, job, 1, <void**>&roi, &nbytes)
                if status == api.OVFAST_OK:
                    roi[0], roi[1], roi[2], roi[3] = runs[i].area.x, runs[i].area.y, runs[i].area.w, runs[i].area.h
            else:
                status = _set_input(st, job, <char*>e.frame.data[0])
        if status == api.OVFAST_OK:
            run = <Run*>g_malloc(sizeof(Run))
            run[0] = runs[i]
            run.e = e
            status = api.job_start(pool, job, _done, run)
            if status == api.OVFAST_OK:
                continue
            g_free(run)
        # this run and the ones after it never start
        if flow == GST_FLOW_OK:
            snprintf(message, sizeof(message), "a frame could not be started: %s", api.last_error())
            _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, message, NULL)
            g_mutex_lock(&st.base.lock)
            st.base.flow = flow = GST_FLOW_ERROR     # the task drops what is queued
            g_mutex_unlock(&st.base.lock)
        if status != api.OVFAST_CLOSED:
            api.job_release(pool, job)
        while i < n:
            _run_over(st, e)
            i += 1
        g_free(runs)
        return flow
    g_free(runs)
    return GST_FLOW_OK


cdef GstFlowReturn _start_batched(GstElement* el, InferState* st, Entry* e) noexcept nogil:
    """Queues the frame, then hands it to the session's batcher (batch.pxi), whose answer (_batched_done)
    ends its one run."""
    cdef BatchRun* run = <BatchRun*>g_malloc0(sizeof(BatchRun))
    run.entry = e
    e.pending = 1
    e.has_runs = True
    _enqueue(el, &e.head, False)    # queued first: the answer may come before submit returns
    if _batch_submit(st.batch, e.frame.data[0], &st.out, e.head.buf, run, _batched_done) == 0:
        return GST_FLOW_OK
    g_free(run)
    _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED,
          "a frame could not be given to the batcher (closed, or the frame took no metadata)", NULL)
    g_mutex_lock(&st.base.lock)
    st.base.flow = GST_FLOW_ERROR     # the task drops what is queued
    g_mutex_unlock(&st.base.lock)
    _run_over(st, e)
    return GST_FLOW_ERROR


cdef void _batched_done(void* ctx, int status, const char* error) noexcept nogil:
    """A batched frame is answered (OpenVINO's callback thread or the batcher's): its outputs are in its meta
    already; output=detection or classification reads them."""
    cdef BatchRun* run = <BatchRun*>ctx
    cdef Entry* e = <Entry*>run.entry
    cdef InferState* st = e.st
    cdef Area area
    if status == 0:
        area.roi_id, area.x, area.y, area.w, area.h = 0, 0, 0, st.info.width, st.info.height
        if st.out.mode == MODE_MODEL_PROC:
            _convert(&st.out, e.head.buf, run.meta, &area)
        else:
            _interpret(&st.out, e.head.buf, run.meta.tensors[0].data, run.meta.tensors[0].nbytes, &area)
    elif e.error == NULL:
        e.error = g_strdup_printf("a batched inference failed: %s", error)
    g_free(run)
    _run_over(st, e)


cdef int _set_input(InferState* st, int job, char* frame) noexcept nogil:
    """Gives the job the frame: small frames are copied into the job's own tensor (a copy of a few KiB costs
    less than binding memory to a request and putting its tensor back after the run), larger ones are bound
    where they lie."""
    cdef void* data
    cdef size_t nbytes
    cdef int status
    if st.in_nbytes < COPY_BELOW:
        status = api.job_input(st.pool, job, 0, &data, &nbytes)
        if status == api.OVFAST_OK:
            memcpy(data, frame, st.in_nbytes if st.in_nbytes < nbytes else nbytes)
        return status
    return api.job_bind(st.pool, job, False, 0, frame, st.in_nbytes, NULL, 0)


# --- the elements --------------------------------------------------------------------------------------------
# ovfastinfer, and as DL Streamer splits the job, ovfastdetect (gvadetect's role) and ovfastclassify
# (gvaclassify's): the same element with other defaults, so their launch lines need only the name changed.
cdef enum:
    N_INFER_PROPS = 21

cdef ElementKind _INFER, _DETECT, _CLASSIFY
cdef Prop _INFER_PROPS[N_INFER_PROPS]
cdef Prop _DETECT_PROPS[N_INFER_PROPS]
cdef Prop _CLASSIFY_PROPS[N_INFER_PROPS]


cdef void _infer_props(Prop* p, const char* output, const char* region) noexcept nogil:
    """The properties with these defaults: ours, then DL Streamer's names for the same settings, each on the
    same field as ours, so either name reads what the other set."""
    cdef InferState s
    _prop(&p[0], "model", "Model", "Path of the model: OpenVINO IR (.xml, with its .bin beside it) or ONNX",
          PROP_STRING, _at(&s, &s.model))
    _prop(&p[1], "device", "Device", "OpenVINO device to run on (CPU, GPU, AUTO, ...)", PROP_STRING,
          _at(&s, &s.device), "CPU")
    _prop(&p[2], "jobs", "Jobs", "Inferences in flight (0: the compiled model's optimal number)", PROP_UINT,
          _at(&s, &s.jobs), NULL, 0, 1024, 0)
    _prop(&p[3], "config", "Config", "OpenVINO properties for compiling, KEY=VALUE[,KEY=VALUE...] "
          "(e.g. INFERENCE_PRECISION_HINT=f32); without PERFORMANCE_HINT or NUM_STREAMS: THROUGHPUT for the "
          "jobs", PROP_STRING, _at(&s, &s.config))
    _prop(&p[4], "interval", "Interval", "Run on every Nth frame; the others pass untouched", PROP_UINT,
          _at(&s, &s.interval), NULL, 1, 1000000, 1)
    _prop(&p[5], "output", "Output", "What the results become besides the raw outputs (OvfastTensorMeta): "
          "tensor (nothing more), detection (regions of interest from SSD-style [1,1,N,7] boxes), "
          "classification (the best class on the region or frame)", PROP_STRING, _at(&s, &s.output), output)
    _prop(&p[6], "region", "Region", "What the model runs on: frame (the whole frame) or roi (each region of "
          "interest, cropped inside the model); DL Streamer's full-frame and roi-list too", PROP_STRING,
          _at(&s, &s.region), region)
    _prop(&p[7], "roi-label", "Region labels", "With region=roi: only regions with one of these labels, "
          "separated by commas (empty: all)", PROP_STRING, _at(&s, &s.roi_label))
    _prop(&p[8], "labels", "Labels", "Class names for detection and classification: a file with one per "
          "line, or names separated by commas (class ids without a name are written as numbers)",
          PROP_STRING, _at(&s, &s.labels))
    _prop(&p[9], "threshold", "Threshold", "output=detection: the lowest confidence of a box kept",
          PROP_DOUBLE, _at(&s, &s.out.threshold), NULL, 0.0, 1.0, 0.5)
    _prop(&p[10], "inference-region", "Inference region", "DL Streamer's name for region: full-frame (the "
          "whole frame) or roi-list (each region of interest); frame and roi too", PROP_STRING,
          _at(&s, &s.region), region)
    _prop(&p[11], "inference-interval", "Inference interval", "DL Streamer's name for interval: run on every "
          "Nth frame", PROP_UINT, _at(&s, &s.interval), NULL, 1, 1000000, 1)
    _prop(&p[12], "nireq", "Inference requests", "DL Streamer's name for jobs: inferences in flight (0: the "
          "compiled model's optimal number)", PROP_UINT, _at(&s, &s.jobs), NULL, 0, 1024, 0)
    _prop(&p[13], "ie-config", "Inference engine config", "DL Streamer's name for config: OpenVINO properties, "
          "KEY=VALUE[,KEY=VALUE...] (OpenVINO 1 keys as DL Streamer renames them, e.g. CPU_THROUGHPUT_STREAMS)",
          PROP_STRING, _at(&s, &s.config))
    _prop(&p[14], "object-class", "Object classes", "DL Streamer's name for roi-label: with "
          "inference-region=roi-list, only regions with one of these labels, separated by commas (empty: all)",
          PROP_STRING, _at(&s, &s.roi_label))
    _prop(&p[15], "labels-file", "Labels file", "DL Streamer's name for labels: a file with a class name per "
          "line (names separated by commas too)", PROP_STRING, _at(&s, &s.labels))
    # DL Streamer's (gva_base_inference.cpp) model-instance-id and batch-size; batch-timeout is ours
    _prop(&p[16], "model-instance-id", "Model instance id", "Elements of this process with the same id share one "
          "model, compiled once, and its requests (with batch-size above 1 its batches, across streams); the "
          "first with a model gives the settings, an element without one takes them; they take the same caps",
          PROP_STRING, _at(&s, &s.instance_id))
    _prop(&p[17], "batch-size", "Batch size", "Frames run together in one inference, from this element's stream "
          "and those sharing its model-instance-id (0 and 1: one at a time; the whole frame only)", PROP_UINT,
          _at(&s, &s.batch_size), NULL, 0, 1024, 0)
    _prop(&p[18], "batch-timeout", "Batch timeout", "With batch-size above 1: milliseconds a batch that is not "
          "full waits for more frames (0: it starts as soon as an inference request is free, with the frames "
          "waiting then)", PROP_UINT, _at(&s, &s.batch_timeout), NULL, 0, 60000, 0)
    _prop(&p[19], "model-proc", "Model-proc", "DL Streamer's model-proc JSON file (schema 2.x): input_preproc "
          "(color_space, resize, range, mean, std, padding) inside the model; output_postproc's converters "
          "(detection_output, boxes_labels, yolo_v2 to yolo_v11 with their pose, obb and seg variants, yolo_x, "
          "centerface, mask_rcnn, label, text, raw_data_copy, keypoints_hrnet, keypoints_3d) in place of output",
          PROP_STRING, _at(&s, &s.model_proc))
    # gvaclassify's reclassify-interval, with ovfasttrack's object ids
    _prop(&p[20], "reclassify-interval", "Reclassify interval", "With region inference: a region whose tracked "
          "object (an object_id, from ovfasttrack) ran less than this many frames ago is not run again and gets "
          "that run's results (0: only its first time; 1: every frame)", PROP_UINT,
          _at(&s, &s.reclassify_interval), NULL, 0, 4294967295, 1)


cdef void _infer_kind(ElementKind* kind, Prop* props, const char* output, const char* region, const char* name,
                      const char* type_name, const char* longname, const char* description) noexcept nogil:
    """An element on ovfastinfer's hooks whose output and region default to these."""
    _infer_props(props, output, region)
    kind.props, kind.n_props = props, N_INFER_PROPS
    kind.type_name, kind.longname, kind.description = type_name, longname, description
    kind.klass = "Filter/Video/Analyzer"
    kind.template_caps = ("video/x-raw, format=(string){ BGR, RGB, BGRx, RGBx, NV12, I420, GRAY8 }, "
                          "width=(int)[1, 2147483647], height=(int)[1, 2147483647]")
    kind.state_size, kind.entry_size = sizeof(InferState), sizeof(Entry)
    kind.open, kind.stop, kind.close = _open_model, _infer_stop, _close_model
    kind.caps_changed, kind.frame, kind.task = _infer_caps, _infer_frame, _infer_task
    kind.entry_free = _entry_free
    kind.name = name


cdef int _register_infer(void* plugin) except -1:
    """Registers ovfastinfer, ovfastdetect and ovfastclassify."""
    if _INFER.name == NULL:
        _infer_kind(&_INFER, _INFER_PROPS, "tensor", "frame", "ovfastinfer", "OvfastInfer", "ovfast inference",
                    "Runs an OpenVINO model on video frames through ovfast's job pool and attaches the output "
                    "tensors")
        # gvadetect: a detector on whole frames (gva_base_inference.cpp's default inference-region)
        _infer_kind(&_DETECT, _DETECT_PROPS, "detection", "frame", "ovfastdetect", "OvfastDetect",
                    "ovfast detection", "Runs an OpenVINO detection model (SSD-style [1,1,N,7] boxes) on video "
                    "frames and adds a region of interest per box: ovfastinfer with output=detection")
        # gvaclassify: a classifier on every region (its init sets inference-region=roi-list, no object-class)
        _infer_kind(&_CLASSIFY, _CLASSIFY_PROPS, "classification", "roi", "ovfastclassify", "OvfastClassify",
                    "ovfast classification", "Runs an OpenVINO classification model on each region of interest "
                    "and adds the best class to it: ovfastinfer with output=classification and region=roi")
    _register_element(&_INFER, plugin)
    _register_element(&_DETECT, plugin)
    _register_element(&_CLASSIFY, plugin)
    return 0
