# ovfastinfer: inference on whole frames (or on each region of interest) through ovfast's job pool, driven
# from C with the C-level API (`from ovfast cimport api`) as any embedding library would.
#
# Streaming thread (chain): queues the frame, takes an idle job per run, hands it the frame (copied when
# small, else bound where it lies; the model was compiled with the frame's size, format and stride in its
# preprocessing) and starts it; with region=roi the model may be compiled with two crops (_model.crop_plan),
# each with its pool, and a region's run goes to the one that is cheaper for its size. OpenVINO's callback
# thread (_done): attaches the run's outputs to the frame and gives the job back at once. Source pad task:
# pushes frames in arrival order once all their runs are over. No thread takes the GIL for a frame: Python
# runs only to open the model (NULL -> READY), to compile it for new caps and to close it.

cdef GstElementClass* _infer_parent_class = NULL
cdef GType _infer_type = 0

cdef enum:
    COPY_BELOW = 64 * 1024    # frames smaller than this are copied into the job's input (see _set_input)

cdef enum:
    PROP_0, PROP_MODEL, PROP_DEVICE, PROP_JOBS, PROP_CONFIG, PROP_INTERVAL, PROP_OUTPUT, PROP_REGION, PROP_ROI_LABEL
    PROP_LABELS, PROP_THRESHOLD

cdef enum:
    MODE_TENSOR, MODE_DETECTION, MODE_CLASSIFICATION

cdef struct Entry:
    GstBuffer* buf          # NULL for an event
    GstEvent* event
    int job                 # -1: the frame passes untouched (interval)
    bint mapped
    GstVideoFrame frame
    InferState* st
    int pending             # (under st.lock) runs not over yet: one per region (one for the whole frame)
    bint done               # (under st.lock) every run is over, outputs attached and jobs handed back
    char* error             # how a run failed (g_free), or NULL

cdef struct Run:
    Entry* e
    ovf_pool* pool          # the pool (compiled crop) it runs in
    int roi_id              # the region it runs on, -1 for the whole frame
    guint x, y, w, h        # that region in pixels

cdef struct InferState:
    # properties (under lock)
    char* model
    char* device
    char* config
    char* output
    char* region
    char* roi_label
    char* labels
    double threshold
    guint jobs
    guint interval
    GstPad* sinkpad
    GstPad* srcpad
    GMutex lock
    GCond cond               # the queue changed: its head is ready, it emptied, an entry's run ended
    GCond space              # the queue has room again (the streaming thread waits for it)
    int cond_waiters         # threads waiting on each (under lock): wake only when someone waits, since
    int space_waiters        # GLib's GCond makes a futex call even when nobody does
    GQueue* fifo             # Entry*, in arrival order
    bint flushing
    bint task_started
    GstFlowReturn flow       # what downstream last answered (the chain returns it upstream)
    guint64 frames
    # Python objects, touched only with the GIL: the opened model (READY and up), the compiled session
    PyObject* loaded
    PyObject* session
    ovf_pool* pool
    ovf_pool* big_pool       # region=roi: another crop of the model, for regions of big_from pixels or more
    guint64 big_from
    GstVideoInfo info        # the negotiated frames
    GstCaps* caps            # the caps the session was compiled for
    int mode                 # MODE_*: what the outputs become besides the tensors
    bint per_region          # region=roi: a run per region of interest, cropped inside the model
    GQuark roi_quark         # roi-label: the regions to run on (0: all)
    uint32_t n_labels
    const char** label_names # point into the session's Python bytes
    guint max_queued         # frames between the pads at most (backpressure): 2 x jobs x interval, so that
                             # the streaming thread starts the next runs while the task pushes finished ones
    size_t in_offset         # where the model's input starts after plane 0's start, and how many bytes
    size_t in_nbytes
    uint32_t n_out
    const char** out_names
    const char** out_types
    uint32_t* out_ranks
    int64_t* out_dims
    size_t* out_nbytes


cdef inline InferState* _st(void* element) noexcept nogil:
    return <InferState*>(<OvfInferElement*>element).st


cdef inline void _wait(InferState* st) noexcept nogil:
    st.cond_waiters += 1
    g_cond_wait(&st.cond, &st.lock)
    st.cond_waiters -= 1


cdef inline void _wake(InferState* st) noexcept nogil:
    if st.cond_waiters:
        g_cond_broadcast(&st.cond)


cdef inline void _wake_all(InferState* st) noexcept nogil:
    """Flushing or stopping: everyone waiting on either condition looks again."""
    _wake(st)
    if st.space_waiters:
        g_cond_broadcast(&st.space)


# --- errors on the bus ---------------------------------------------------------------------------------------
cdef void _post(GstElement* el, GQuark domain, int code, const char* text, const char* debug) noexcept nogil:
    ovf_post_error(el, domain, code, text, debug)


cdef void _post_exception(GstElement* el, object exc, str text=None) noexcept:
    """Posts a Python exception (with the GIL): text (default "ovfastinfer: <exc>") as the message, the
    traceback as the debug text, the domain and code from the exception's class."""
    import traceback
    cdef GQuark domain
    cdef int code
    if isinstance(exc, FileNotFoundError):
        domain, code = gst_resource_error_quark(), GST_RESOURCE_ERROR_NOT_FOUND
    elif isinstance(exc, OSError):
        domain, code = gst_resource_error_quark(), GST_RESOURCE_ERROR_OPEN_READ
    elif isinstance(exc, _model.CapsError):
        domain, code = gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION
    elif isinstance(exc, _model.SettingsError):
        domain, code = gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS
    else:
        domain, code = gst_library_error_quark(), GST_LIBRARY_ERROR_INIT
    message = (text or f"ovfastinfer: {exc}").encode("utf-8", "replace")
    debug = "".join(traceback.format_exception(exc)).encode("utf-8", "replace")
    _post(el, domain, code, message, debug)


# --- the model: open, compile for caps, close (the only places Python runs) --------------------------------
cdef int _open_model(GstElement* el) noexcept nogil:
    cdef int rc = -1
    if _python_enter():          # not once the interpreter exits (python_gate.pxi)
        rc = _open_model_python(el)
        _python_leave()
    return rc


cdef int _open_model_python(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    with gil:
        try:
            g_mutex_lock(&st.lock)
            try:
                args = (_text(st.model), _text(st.device), _text(st.config), st.jobs, _text(st.output),
                        st.interval, _text(st.region), _text(st.labels))
            finally:
                g_mutex_unlock(&st.lock)
            loaded = _model.load(*args)
        except BaseException as exc:
            _post_exception(el, exc)
            return -1
        Py_INCREF(loaded)
        st.loaded = <PyObject*>loaded
    return 0


cdef inline str _text(const char* s):
    return None if s == NULL else s.decode("utf-8", "replace")


cdef void _free_outputs(InferState* st) noexcept nogil:
    g_free(st.out_names)     # names and types point into the session's Python bytes (kept by the session)
    g_free(st.out_ranks)
    g_free(st.out_dims)
    g_free(st.out_nbytes)
    g_free(st.label_names)
    st.label_names = NULL
    st.n_labels = 0
    st.out_names = NULL
    st.out_types = NULL
    st.out_ranks = NULL
    st.out_dims = NULL
    st.out_nbytes = NULL
    st.n_out = 0


cdef int _close_session(InferState* st) noexcept nogil:
    """Drops the compiled model and its pool; no job may be held (the queue is drained first)."""
    if st.pool != NULL:
        api.pool_unref(st.pool)
        st.pool = NULL
    if st.big_pool != NULL:
        api.pool_unref(st.big_pool)
        st.big_pool = NULL
    if st.caps != NULL:
        gst_caps_unref(st.caps)
        st.caps = NULL
    _free_outputs(st)
    if st.session != NULL:
        if _python_enter():      # at exit it is left to the interpreter's end
            with gil:
                Py_DECREF(<object>st.session)
            _python_leave()
        st.session = NULL
    return 0


cdef int _negotiate(GstElement* el, GstCaps* caps) noexcept nogil:
    """Compiles the model for frames of these caps (preprocessing inside the model) and takes its pool."""
    cdef int rc = -1
    if _python_enter():
        rc = _negotiate_python(el, caps)
        _python_leave()
    return rc


cdef int _negotiate_python(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef InferState* st = _st(el)
    cdef GstVideoInfo info
    cdef uint32_t i, k
    cdef int jobs = 1
    cdef gchar* caps_text
    cdef ovf_pool* pool = NULL
    if not gst_video_info_from_caps(&info, caps):
        caps_text = gst_caps_to_string(caps)
        with gil:
            _post_exception(el, _model.CapsError(f"cannot read video caps {_text(caps_text)}"))
        g_free(caps_text)
        return -1
    if st.pool != NULL and st.caps != NULL and gst_caps_is_equal(st.caps, caps):
        return 0               # the same caps again (a new segment, a reconfiguration): nothing to compile
    _close_session(st)
    st.info = info
    st.caps = gst_caps_ref(caps)
    with gil:
        try:
            fmt = gst_video_format_to_string(GST_VIDEO_INFO_FORMAT(&info)).decode()
            planes = GST_VIDEO_INFO_N_PLANES(&info)
            session = (<object>st.loaded).session(
                fmt, info.width, info.height, tuple(info.stride[i] for i in range(planes)),
                tuple(info.offset[i] for i in range(planes)), info.size)
            pool = api.queue_pool(session.queue)
            st.big_pool = api.queue_pool(session.big_queue) if session.big_queue is not None else NULL
        except BaseException as exc:
            if pool != NULL:
                api.pool_unref(pool)
            _post_exception(el, exc)
            return -1
        Py_INCREF(session)
        st.session = <PyObject*>session
        st.pool = pool
        st.big_from = session.big_from
        api.pool_size(pool, &jobs, NULL, NULL)
        st.max_queued = 2 * jobs * st.interval
        st.mode = session.mode
        st.per_region = session.per_region
        st.n_labels = len(session.labels)
        st.label_names = <const char**>g_malloc0(sizeof(char*) * (st.n_labels + 1))
        for i, label in enumerate(session.labels):
            st.label_names[i] = <const char*>(<bytes>label)
        g_mutex_lock(&st.lock)
        st.roi_quark = g_quark_from_string(st.roi_label) if st.roi_label != NULL and st.roi_label[0] else 0
        g_mutex_unlock(&st.lock)
        st.in_offset = session.input_offset
        st.in_nbytes = session.input_nbytes
        outputs = session.outputs            # [(name bytes, type bytes, dims tuple, nbytes)], kept by session
        st.n_out = len(outputs)
        st.out_names = <const char**>g_malloc0(sizeof(char*) * 2 * (st.n_out + 1))
        st.out_types = st.out_names + st.n_out + 1
        st.out_ranks = <uint32_t*>g_malloc0(sizeof(uint32_t) * (st.n_out + 1))
        st.out_dims = <int64_t*>g_malloc0(sizeof(int64_t) * OVFAST_TENSOR_MAX_RANK * (st.n_out + 1))
        st.out_nbytes = <size_t*>g_malloc0(sizeof(size_t) * (st.n_out + 1))
        for i, (name, etype, dims, nbytes) in enumerate(outputs):
            st.out_names[i] = <const char*>(<bytes>name)
            st.out_types[i] = <const char*>(<bytes>etype)
            st.out_ranks[i] = len(dims)
            for k in range(len(dims)):
                st.out_dims[i * OVFAST_TENSOR_MAX_RANK + k] = dims[k]
            st.out_nbytes[i] = nbytes
    return 0


# --- the queue of frames between the streaming thread and the source pad task ---------------------------
cdef void _entry_free(InferState* st, Entry* e) noexcept nogil:
    """Gives back what an entry holds once its run is over: its buffer or event. A started entry's job and
    mapping went back in _done; one that never started still holds them."""
    if e.job >= 0:
        g_mutex_lock(&st.lock)
        while not e.done:
            _wait(st)
        g_mutex_unlock(&st.lock)
    if e.mapped:
        gst_video_frame_unmap(&e.frame)
    if e.buf != NULL:
        gst_buffer_unref(e.buf)
    if e.event != NULL:
        gst_event_unref(e.event)
    g_free(e.error)
    g_free(e)


cdef void _drain(InferState* st) noexcept nogil:
    """Drops every queued frame and event (flush, stop); the task is not running."""
    cdef Entry* e
    g_mutex_lock(&st.lock)
    while True:
        e = <Entry*>g_queue_pop_head(st.fifo)
        if e == NULL:
            break
        g_mutex_unlock(&st.lock)
        _entry_free(st, e)
        g_mutex_lock(&st.lock)
    _wake_all(st)
    g_mutex_unlock(&st.lock)


cdef void _enqueue(InferState* st, Entry* e) noexcept nogil:
    g_mutex_lock(&st.lock)
    g_queue_push_tail(st.fifo, e)
    if st.fifo.length == 1:     # the task waits for a head only when there was none
        _wake(st)
    g_mutex_unlock(&st.lock)


cdef int _wait_empty(InferState* st) noexcept nogil:
    """Waits until the task pushed everything queued (before the model changes); -1 when flushing."""
    g_mutex_lock(&st.lock)
    while not g_queue_is_empty(st.fifo) and not st.flushing and st.flow == GST_FLOW_OK:
        _wait(st)
    cdef int r = 0 if g_queue_is_empty(st.fifo) else -1
    g_mutex_unlock(&st.lock)
    return r


cdef void _start_task(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    if not st.task_started:
        st.task_started = True
        gst_pad_start_task(st.srcpad, _task, el, NULL)


cdef void _attach_outputs(InferState* st, Entry* e, ovf_pool* pool, int job, int roi_id) noexcept nogil:
    cdef void* data
    cdef size_t nbytes
    cdef uint32_t i
    cdef OvfastTensorMeta* m = _tensor_meta_add(e.buf, roi_id, st.n_out, st.out_names, st.out_types,
                                                st.out_ranks, st.out_dims, st.out_nbytes)
    if m == NULL:
        return
    for i in range(st.n_out):
        if api.job_output(pool, job, i, &data, &nbytes) == api.OVFAST_OK and nbytes == m.tensors[i].nbytes:
            memcpy(<void*>m.tensors[i].data, data, nbytes)


cdef const char* _label(InferState* st, int label_id, char* scratch, size_t size) noexcept nogil:
    """The name labels= gives a class id, else the id as text."""
    if 0 <= label_id < <int>st.n_labels:
        return st.label_names[label_id]
    snprintf(scratch, size, "%d", label_id)
    return scratch


cdef inline double _clamp01(double v) noexcept nogil:
    return 0.0 if v < 0.0 else (1.0 if v > 1.0 else v)


cdef void _detections(InferState* st, Entry* e, int job, Run* run) noexcept nogil:
    """SSD-style boxes [1,1,N,7] (image_id, label, confidence, x_min, y_min, x_max, y_max; normalised to what
    the model saw) above the threshold become regions of the frame, each with a "detection" structure."""
    cdef void* data
    cdef size_t nbytes, i, n
    cdef const float* box
    cdef double x0, y0, x1, y1
    cdef guint px, py, pw, ph
    cdef char scratch[32]
    cdef const char* name
    cdef GstVideoRegionOfInterestMeta* roi
    if api.job_output(run.pool, job, 0, &data, &nbytes) != api.OVFAST_OK:
        return
    n = nbytes // (7 * sizeof(float))
    for i in range(n):
        box = <const float*>data + 7 * i
        if box[0] < 0:          # image_id -1 ends the list
            break
        if box[2] < st.threshold:
            continue
        x0, y0, x1, y1 = _clamp01(box[3]), _clamp01(box[4]), _clamp01(box[5]), _clamp01(box[6])
        if x1 <= x0 or y1 <= y0:
            continue
        px = run.x + <guint>(x0 * run.w + 0.5)
        py = run.y + <guint>(y0 * run.h + 0.5)
        pw = <guint>(x1 * run.w + 0.5) - <guint>(x0 * run.w + 0.5)
        ph = <guint>(y1 * run.h + 0.5) - <guint>(y0 * run.h + 0.5)
        if pw == 0 or ph == 0:
            continue
        name = _label(st, <int>box[1], scratch, sizeof(scratch))
        roi = ovf_add_region(e.buf, name, px, py, pw, ph)
        if roi == NULL:
            continue
        roi.parent_id = run.roi_id
        # normalised to the frame, as DL Streamer's x_min ... are
        ovf_region_detection(roi, name, <int>box[1], box[2], <double>px / st.info.width,
                             <double>py / st.info.height, <double>(px + pw) / st.info.width,
                             <double>(py + ph) / st.info.height)


cdef void _classification(InferState* st, Entry* e, int job, Run* run) noexcept nogil:
    """The best class of [1,C] (or [1,C,1,1]) scores goes onto the region the run was on, or onto a region
    covering the whole frame, as a "classification" structure (label, label_id, confidence)."""
    cdef void* data
    cdef size_t nbytes, i, n
    cdef const float* scores
    cdef int best = 0
    cdef char scratch[32]
    cdef const char* name
    cdef GstVideoRegionOfInterestMeta* roi
    if api.job_output(run.pool, job, 0, &data, &nbytes) != api.OVFAST_OK or nbytes < sizeof(float):
        return
    scores = <const float*>data
    n = nbytes // sizeof(float)
    for i in range(1, n):
        if scores[i] > scores[best]:
            best = <int>i
    name = _label(st, best, scratch, sizeof(scratch))
    if run.roi_id >= 0:
        roi = ovf_find_region(e.buf, run.roi_id)
    else:
        roi = ovf_add_region(e.buf, name, 0, 0, st.info.width, st.info.height)
    if roi != NULL:
        ovf_region_classification(roi, name, best, scores[best])


cdef void _done(void* ctx, int job) noexcept nogil:
    """A run is over (OpenVINO's callback thread, where every run of this model ends, one at a time): its
    outputs go onto the buffer and its job back to the pool right here, so the streaming thread can start
    the next runs before the source pad's task gets to this frame. Nothing else touches the frame until all
    its runs are over and it is marked done."""
    cdef Run* run = <Run*>ctx
    cdef Entry* e = run.e
    cdef InferState* st = e.st
    cdef int status = api.job_wait(run.pool, job, 0)    # inside done(): how the run ended, no waiting
    if status == api.OVFAST_OK:
        _attach_outputs(st, e, run.pool, job, run.roi_id)
        if st.mode == MODE_DETECTION:
            _detections(st, e, job, run)
        elif st.mode == MODE_CLASSIFICATION:
            _classification(st, e, job, run)
    elif e.error == NULL:
        e.error = g_strdup_printf("ovfastinfer: an inference failed: %s", api.last_error())
    api.job_release(run.pool, job)                    # takes effect as this function returns
    g_free(run)
    _run_over(st, e)


cdef void _run_over(InferState* st, Entry* e) noexcept nogil:
    """One run of e is over (or will never start); the last one unmaps the frame and marks it done."""
    g_mutex_lock(&st.lock)
    e.pending -= 1
    cdef bint last = e.pending == 0
    g_mutex_unlock(&st.lock)
    if not last:
        return
    if e.mapped:
        gst_video_frame_unmap(&e.frame)
        e.mapped = False
    g_mutex_lock(&st.lock)
    e.done = True
    # The task waits for the head only; a drain (flushing) waits for entries already taken off the queue.
    if st.flushing or g_queue_peek_head(st.fifo) == e:
        _wake(st)
    g_mutex_unlock(&st.lock)


cdef void _task(gpointer user) noexcept nogil:
    """The source pad's loop: one queued frame or event, in arrival order."""
    cdef GstElement* el = <GstElement*>user
    cdef InferState* st = _st(el)
    cdef Entry* e
    cdef GstFlowReturn flow
    cdef char message[256]
    g_mutex_lock(&st.lock)
    while not st.flushing:
        e = <Entry*>g_queue_peek_head(st.fifo)
        if e != NULL and (e.job < 0 or e.done):
            break
        _wait(st)
    if st.flushing:
        g_mutex_unlock(&st.lock)
        gst_pad_pause_task(st.srcpad)
        return
    g_queue_pop_head(st.fifo)
    if st.space_waiters:
        g_cond_signal(&st.space)
    if st.cond_waiters and g_queue_is_empty(st.fifo):
        g_cond_broadcast(&st.cond)     # new caps wait for the queue to empty
    flow = st.flow
    g_mutex_unlock(&st.lock)
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
    if e.buf != NULL:
        if flow == GST_FLOW_OK:
            flow = gst_pad_push(st.srcpad, e.buf)
        else:
            gst_buffer_unref(e.buf)     # downstream already refused: drop the frames queued behind
        e.buf = NULL
    elif e.event != NULL:
        gst_pad_push_event(st.srcpad, e.event)
        e.event = NULL
        flow = GST_FLOW_OK
    g_free(e.error)
    g_free(e)
    if flow != GST_FLOW_OK:
        if ovf_flow_is_fatal(flow) and flow != GST_FLOW_ERROR and not st.flushing:     # ours first, as above
            snprintf(message, sizeof(message), "ovfastinfer: downstream refused a frame (%s)", gst_flow_get_name(flow))
            _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, message, NULL)
        g_mutex_lock(&st.lock)
        if st.flow == GST_FLOW_OK:
            st.flow = flow
        _wake_all(st)
        g_mutex_unlock(&st.lock)


# --- pads -------------------------------------------------------------------------------------------------
cdef GstFlowReturn _chain(GstPad* pad, GstObject* parent, GstBuffer* buf) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef InferState* st = _st(el)
    cdef Entry* e
    cdef GstFlowReturn flow
    cdef char message[1024]
    # Backpressure: runs end (and give their job back) before the task pushes their frames, so the number of
    # frames between the pads is what keeps a fast source from running ahead of a slow downstream.
    g_mutex_lock(&st.lock)
    while st.fifo.length >= st.max_queued and st.max_queued and not st.flushing and st.flow == GST_FLOW_OK:
        st.space_waiters += 1
        g_cond_wait(&st.space, &st.lock)
        st.space_waiters -= 1
    flow = GST_FLOW_FLUSHING if st.flushing else st.flow
    g_mutex_unlock(&st.lock)
    if flow != GST_FLOW_OK:
        gst_buffer_unref(buf)
        return flow
    if st.pool == NULL:
        gst_buffer_unref(buf)
        _post(el, gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION,
              "ovfastinfer: a frame arrived before its caps", NULL)
        return GST_FLOW_NOT_NEGOTIATED
    _start_task(el)
    e = <Entry*>g_malloc0(sizeof(Entry))
    e.job = -1
    e.st = st
    st.frames += 1
    if (st.frames - 1) % st.interval != 0:
        e.buf = buf
        _enqueue(st, e)
        return GST_FLOW_OK

    # Make it writable now, while this thread owns it: its runs add metadata to it later.
    e.buf = ovf_buffer_make_writable(buf)
    if not gst_video_frame_map(&e.frame, &st.info, e.buf, GST_MAP_READ | GST_VIDEO_FRAME_MAP_FLAG_NO_REF):
        _entry_free(st, e)
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FORMAT,
              "ovfastinfer: a frame could not be mapped for reading (smaller than its caps say?)", NULL)
        return GST_FLOW_ERROR
    e.mapped = True
    if _layout_differs(&e.frame, st, message, sizeof(message)):
        _entry_free(st, e)
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FORMAT, message, NULL)
        return GST_FLOW_ERROR
    return _start_runs(el, st, e)


cdef int _regions(InferState* st, GstBuffer* buf, Run** runs) noexcept nogil:
    """The regions of interest to run on (roi-label's, or all), clipped to the frame; *runs is g_malloc'd."""
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
        if st.roi_quark and roi.roi_type != st.roi_quark:
            continue
        x, y = roi.x, roi.y
        if x >= <guint>st.info.width or y >= <guint>st.info.height:
            continue
        w = roi.w if roi.w <= st.info.width - x else st.info.width - x
        h = roi.h if roi.h <= st.info.height - y else st.info.height - y
        if w == 0 or h == 0:
            continue
        if n == cap:
            cap *= 2
            runs[0] = <Run*>g_realloc(runs[0], sizeof(Run) * cap)
        runs[0][n].roi_id = roi.id
        runs[0][n].x, runs[0][n].y, runs[0][n].w, runs[0][n].h = x, y, w, h
        n += 1
    return n


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
        n = _regions(st, e.buf, &runs)
        if n == 0:
            g_free(runs)
            gst_video_frame_unmap(&e.frame)
            e.mapped = False
            _enqueue(st, e)
            return GST_FLOW_OK
    else:
        n = 1
        runs = <Run*>g_malloc0(sizeof(Run))
        runs[0].roi_id = -1
        runs[0].w, runs[0].h = st.info.width, st.info.height
    e.pending = n
    e.job = 0                   # has runs: the task waits until it is done
    _enqueue(st, e)             # queued before any run starts: _done may come before job_start returns
    for i in range(n):
        pool = st.pool
        if st.big_pool != NULL and <guint64>runs[i].w * runs[i].h >= st.big_from:
            pool = st.big_pool
        runs[i].pool = pool
        status = api.OVFAST_TIMEOUT
        while status == api.OVFAST_TIMEOUT:
            status = api.job_acquire(pool, 100, &job)
            g_mutex_lock(&st.lock)
            flow = GST_FLOW_FLUSHING if st.flushing else st.flow
            g_mutex_unlock(&st.lock)
            if flow != GST_FLOW_OK:
                if status == api.OVFAST_OK:
                    api.job_release(pool, job)
                status = api.OVFAST_CLOSED
        if status == api.OVFAST_OK:
            if st.per_region:   # the whole frame where it lies, and the region's rectangle
                status = api.job_bind(pool, job, False, 0, <char*>e.frame.data[0] + st.in_offset, st.in_nbytes,
                                      NULL, 0)
                if status == api.OVFAST_OK:
                    status = api.job_input(pool, job, 1, <void**>&roi, &nbytes)
                if status == api.OVFAST_OK:
                    roi[0], roi[1], roi[2], roi[3] = runs[i].x, runs[i].y, runs[i].w, runs[i].h
            else:
                status = _set_input(st, job, <char*>e.frame.data[0] + st.in_offset)
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
            snprintf(message, sizeof(message), "ovfastinfer: a frame could not be started: %s", api.last_error())
            _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, message, NULL)
            g_mutex_lock(&st.lock)
            st.flow = flow = GST_FLOW_ERROR     # the task drops what is queued
            g_mutex_unlock(&st.lock)
        if status != api.OVFAST_CLOSED:
            api.job_release(pool, job)
        while i < n:
            _run_over(st, e)
            i += 1
        g_free(runs)
        return flow
    g_free(runs)
    return GST_FLOW_OK


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


cdef bint _layout_differs(GstVideoFrame* f, InferState* st, char* message, size_t size) noexcept nogil:
    """True (with the reason in message) if a frame's planes are not where the compiled model reads them:
    a buffer whose video meta gives other strides or offsets than its caps."""
    cdef guint i
    for i in range(GST_VIDEO_INFO_N_PLANES(&st.info)):
        if f.info.stride[i] != st.info.stride[i] or f.info.offset[i] - f.info.offset[0] != st.info.offset[i] - st.info.offset[0]:
            snprintf(message, size, "ovfastinfer: plane %u of a frame has stride %d at offset %zu, but the model was "
                     "compiled for the caps' stride %d at offset %zu: the upstream element changed the frame layout "
                     "without new caps", i, f.info.stride[i], f.info.offset[i], st.info.stride[i], st.info.offset[i])
            return True
    if f.map[0].size < f.info.offset[0] + st.in_offset + st.in_nbytes:
        snprintf(message, size, "ovfastinfer: a frame has %zu bytes, the model reads %zu", f.map[0].size,
                 f.info.offset[0] + st.in_offset + st.in_nbytes)
        return True
    return False


cdef gboolean _sink_event(GstPad* pad, GstObject* parent, GstEvent* event) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef InferState* st = _st(el)
    cdef GstCaps* caps
    cdef Entry* e
    cdef GstEventType kind = ovf_event_type(event)
    if kind == GST_EVENT_FLUSH_START:
        g_mutex_lock(&st.lock)
        st.flushing = True
        _wake_all(st)
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        gst_pad_pause_task(st.srcpad)      # returns once the loop is out
        return True
    if kind == GST_EVENT_FLUSH_STOP:
        _drain(st)
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        st.task_started = False
        _start_task(el)
        return True
    if kind == GST_EVENT_CAPS:
        # Frames already queued were started on the model compiled for the old caps: let them out first.
        if st.pool != NULL and _wait_empty(st) != 0:
            gst_event_unref(event)
            return False
        gst_event_parse_caps(event, &caps)
        if _negotiate(el, caps) != 0:
            gst_event_unref(event)
            return False
    if not ovf_event_is_serialized(event):
        return gst_pad_event_default(pad, parent, event)
    # Serialized events (caps, segment, EOS, ...) go out in order with the frames around them.
    _start_task(el)
    e = <Entry*>g_malloc0(sizeof(Entry))
    e.job = -1
    e.event = event
    _enqueue(st, e)
    return True


# --- state changes --------------------------------------------------------------------------------------------
cdef int _check_properties(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    g_mutex_lock(&st.lock)
    cdef bint no_model = st.model == NULL or st.model[0] == 0
    g_mutex_unlock(&st.lock)
    if no_model:
        _post(el, gst_resource_error_quark(), GST_RESOURCE_ERROR_NOT_FOUND,
              "ovfastinfer: no model: set the model property to an IR (.xml) or ONNX file", NULL)
        return -1
    return 0


cdef void _stop_streaming(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    g_mutex_lock(&st.lock)
    st.flushing = True
    _wake_all(st)
    g_mutex_unlock(&st.lock)
    gst_pad_stop_task(st.srcpad)
    st.task_started = False


cdef GstStateChangeReturn _change_state(GstElement* el, GstStateChange transition) noexcept nogil:
    cdef InferState* st = _st(el)
    cdef GstStateChangeReturn ret
    if transition == GST_STATE_CHANGE_NULL_TO_READY:
        if _check_properties(el) != 0 or _open_model(el) != 0:
            return GST_STATE_CHANGE_FAILURE
    elif transition == GST_STATE_CHANGE_READY_TO_PAUSED:
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        st.frames = 0
        g_mutex_unlock(&st.lock)
    elif transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        _stop_streaming(el)     # before the pads go down: the chain may wait for a job
    ret = _infer_parent_class.change_state(el, transition)
    if transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        _drain(st)              # the streaming thread has left the chain: every job can be given back
        _close_session(st)
    elif transition == GST_STATE_CHANGE_READY_TO_NULL:
        _close_loaded(st)
    return ret


cdef void _close_loaded(InferState* st) noexcept nogil:
    if st.loaded != NULL:
        if _python_enter():
            with gil:
                Py_DECREF(<object>st.loaded)
            _python_leave()
        st.loaded = NULL


# --- properties -----------------------------------------------------------------------------------------------
cdef void _replace(char** slot, const GValue* value) noexcept nogil:
    g_free(slot[0])
    slot[0] = g_value_dup_string(value)


cdef void _set_property(GObject* obj, guint prop, const GValue* value, GParamSpec* spec) noexcept nogil:
    cdef InferState* st = _st(obj)
    g_mutex_lock(&st.lock)
    if prop == PROP_MODEL:
        _replace(&st.model, value)
    elif prop == PROP_DEVICE:
        _replace(&st.device, value)
    elif prop == PROP_CONFIG:
        _replace(&st.config, value)
    elif prop == PROP_OUTPUT:
        _replace(&st.output, value)
    elif prop == PROP_REGION:
        _replace(&st.region, value)
    elif prop == PROP_ROI_LABEL:
        _replace(&st.roi_label, value)
    elif prop == PROP_LABELS:
        _replace(&st.labels, value)
    elif prop == PROP_THRESHOLD:
        st.threshold = g_value_get_double(value)
    elif prop == PROP_JOBS:
        st.jobs = g_value_get_uint(value)
    elif prop == PROP_INTERVAL:
        st.interval = g_value_get_uint(value)
    g_mutex_unlock(&st.lock)


cdef void _get_property(GObject* obj, guint prop, GValue* value, GParamSpec* spec) noexcept nogil:
    cdef InferState* st = _st(obj)
    g_mutex_lock(&st.lock)
    if prop == PROP_MODEL:
        g_value_set_string(value, st.model)
    elif prop == PROP_DEVICE:
        g_value_set_string(value, st.device)
    elif prop == PROP_CONFIG:
        g_value_set_string(value, st.config)
    elif prop == PROP_OUTPUT:
        g_value_set_string(value, st.output)
    elif prop == PROP_REGION:
        g_value_set_string(value, st.region)
    elif prop == PROP_ROI_LABEL:
        g_value_set_string(value, st.roi_label)
    elif prop == PROP_LABELS:
        g_value_set_string(value, st.labels)
    elif prop == PROP_THRESHOLD:
        g_value_set_double(value, st.threshold)
    elif prop == PROP_JOBS:
        g_value_set_uint(value, st.jobs)
    elif prop == PROP_INTERVAL:
        g_value_set_uint(value, st.interval)
    g_mutex_unlock(&st.lock)


cdef void _finalize(GObject* obj) noexcept nogil:
    cdef InferState* st = _st(obj)
    _close_session(st)
    _close_loaded(st)
    g_free(st.model)
    g_free(st.device)
    g_free(st.config)
    g_free(st.output)
    g_free(st.region)
    g_free(st.roi_label)
    g_free(st.labels)
    g_queue_free(st.fifo)
    g_mutex_clear(&st.lock)
    g_cond_clear(&st.cond)
    g_cond_clear(&st.space)
    g_free(st)
    (<OvfInferElement*>obj).st = NULL
    ovf_object_class(_infer_parent_class).finalize(obj)


# --- the GObject type -------------------------------------------------------------------------------------------
cdef const char* _FORMATS = "video/x-raw, format=(string){ BGR, RGB, BGRx, RGBx, NV12, I420, GRAY8 }, " \
                            "width=(int)[1, 2147483647], height=(int)[1, 2147483647]"
cdef GParamFlags _RW = <GParamFlags>(G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS)


cdef void _infer_class_init(gpointer klass, gpointer data) noexcept nogil:
    global _infer_parent_class
    _infer_parent_class = <GstElementClass*>g_type_class_peek_parent(klass)
    cdef GObjectClass* oc = ovf_object_class(klass)
    cdef GstElementClass* ec = ovf_element_class(klass)
    oc.set_property = _set_property
    oc.get_property = _get_property
    oc.finalize = _finalize
    ec.change_state = _change_state
    g_object_class_install_property(oc, PROP_MODEL, g_param_spec_string(
        "model", "Model", "Path of the model: OpenVINO IR (.xml, with its .bin beside it) or ONNX", NULL, _RW))
    g_object_class_install_property(oc, PROP_DEVICE, g_param_spec_string(
        "device", "Device", "OpenVINO device to run on (CPU, GPU, AUTO, ...)", "CPU", _RW))
    g_object_class_install_property(oc, PROP_JOBS, g_param_spec_uint(
        "jobs", "Jobs", "Inferences in flight (0: the compiled model's optimal number)", 0, 1024, 0, _RW))
    g_object_class_install_property(oc, PROP_CONFIG, g_param_spec_string(
        "config", "Config", "OpenVINO properties for compiling, KEY=VALUE[,KEY=VALUE...] "
        "(e.g. INFERENCE_PRECISION_HINT=f32); without PERFORMANCE_HINT or NUM_STREAMS: THROUGHPUT for the jobs",
        NULL, _RW))
    g_object_class_install_property(oc, PROP_INTERVAL, g_param_spec_uint(
        "interval", "Interval", "Run on every Nth frame; the others pass untouched", 1, 1000000, 1, _RW))
    g_object_class_install_property(oc, PROP_OUTPUT, g_param_spec_string(
        "output", "Output", "What the results become besides the raw outputs (OvfastTensorMeta): tensor (nothing "
        "more), detection (regions of interest from SSD-style [1,1,N,7] boxes), classification (the best class "
        "on the region or frame)", "tensor", _RW))
    g_object_class_install_property(oc, PROP_REGION, g_param_spec_string(
        "region", "Region", "What the model runs on: frame (the whole frame) or roi (each region of interest, "
        "cropped inside the model)", "frame", _RW))
    g_object_class_install_property(oc, PROP_ROI_LABEL, g_param_spec_string(
        "roi-label", "Region label", "With region=roi: only regions with this label (empty: all)", NULL, _RW))
    g_object_class_install_property(oc, PROP_LABELS, g_param_spec_string(
        "labels", "Labels", "Class names for detection and classification: a file with one per line, or names "
        "separated by commas (class ids without a name are written as numbers)", NULL, _RW))
    g_object_class_install_property(oc, PROP_THRESHOLD, g_param_spec_double(
        "threshold", "Threshold", "output=detection: the lowest confidence of a box kept", 0.0, 1.0, 0.5, _RW))
    gst_element_class_set_static_metadata(
        ec, "ovfast inference", "Filter/Video/Analyzer",
        "Runs an OpenVINO model on video frames through ovfast's job pool and attaches the output tensors",
        "ovfast")
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "sink", GST_PAD_SINK, GST_PAD_ALWAYS, gst_caps_from_string(_FORMATS)))
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "src", GST_PAD_SRC, GST_PAD_ALWAYS, gst_caps_from_string(_FORMATS)))


cdef void _infer_instance_init(GTypeInstance* instance, gpointer klass) noexcept nogil:
    cdef OvfInferElement* self = <OvfInferElement*>instance
    cdef InferState* st = <InferState*>g_malloc0(sizeof(InferState))
    cdef GstElementClass* ec = ovf_element_class(klass)
    self.st = st
    g_mutex_init(&st.lock)
    g_cond_init(&st.cond)
    g_cond_init(&st.space)
    st.fifo = g_queue_new()
    st.device = g_strdup("CPU")
    st.output = g_strdup("tensor")
    st.region = g_strdup("frame")
    st.threshold = 0.5
    st.interval = 1
    st.flow = GST_FLOW_OK
    st.sinkpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "sink"), "sink")
    st.srcpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "src"), "src")
    gst_pad_set_chain_function_full(st.sinkpad, _chain, NULL, NULL)
    gst_pad_set_event_function_full(st.sinkpad, _sink_event, NULL, NULL)
    ovf_pad_proxy(st.sinkpad)
    ovf_pad_proxy(st.srcpad)
    gst_element_add_pad(<GstElement*>self, st.sinkpad)
    gst_element_add_pad(<GstElement*>self, st.srcpad)


cdef int _register_infer() except -1:
    global _infer_type
    cdef GTypeInfo info
    if _infer_type == 0:
        _infer_type = g_type_from_name("OvfastInfer")
    if _infer_type == 0:
        memset(&info, 0, sizeof(info))
        info.class_size = sizeof(OvfInferElementClass)
        info.class_init = _infer_class_init
        info.instance_size = sizeof(OvfInferElement)
        info.instance_init = _infer_instance_init
        _infer_type = g_type_register_static(gst_element_get_type(), "OvfastInfer", &info, 0)
    if not gst_element_register(NULL, "ovfastinfer", 0, _infer_type):
        raise RuntimeError("GStreamer refused to register the ovfastinfer element")
    return 0
