# ovfastinfer's state and its model: opened at NULL -> READY, compiled for each new caps, closed. These are
# the only places ovfastinfer runs Python.

cdef struct InferState:
    ElementState base
    # properties (under base.lock); threshold is out.threshold. DL Streamer's names for the same settings
    # (inference-region, nireq, ...) are properties of their own on the same fields (infer.pxi).
    char* model
    char* device
    char* config
    char* output
    char* region
    char* roi_label
    char* labels
    guint jobs
    guint interval
    char* instance_id        # model-instance-id: elements naming the same one share a session (_instances.py)
    guint batch_size         # above 1: frames run in batches through the session's DynamicBatcher (batch)
    guint batch_timeout      # ms a batch that is not full waits for more frames (0: none, see _model.Loaded)
    char* model_proc         # DL Streamer's model-proc file: preprocessing and converters (_model_proc.py)
    guint64 frames           # frames arrived since READY -> PAUSED (interval counts them)
    # Python objects, touched only with the GIL: the opened model (READY and up), the compiled session
    PyObject* loaded
    PyObject* session
    ovf_pool* pool           # the session's job pool; NULL with a batcher
    BatchApi* batch          # batch-size above 1: the session's DynamicBatcher takes the frames (batch.pxi)
    ovf_pool* big_pool       # region=roi: another crop of the model, for regions of big_from pixels or more
    guint64 big_from
    GstVideoInfo info        # the negotiated frames
    GstCaps* caps            # the caps the session was compiled for
    bint per_region          # region=roi: a run per region of interest, cropped inside the model
    GQuark* roi_quarks       # roi-label's labels, 0-terminated: the regions to run on (NULL: all)
    size_t in_nbytes         # the model's input: this many bytes from plane 0's start
    Outputs out
    guint reclassify_interval    # a property: tracked objects run again every this many frames (1: always)
    ovf_reclassify* reclassify   # what runs on tracked objects said (reclassify.pxi); made at the first frame


cdef inline InferState* _st(void* element) noexcept nogil:
    return <InferState*>_state(element)


cdef inline bint _compiled(InferState* st) noexcept nogil:
    """Whether a session takes frames (caps were negotiated)."""
    return st.pool != NULL or st.batch != NULL


cdef int _open_model(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    cdef int rc = -1
    g_mutex_lock(&st.base.lock)
    # an element of a shared instance may leave the model to another (_instances.py)
    cdef bint no_model = (st.model == NULL or st.model[0] == 0) and (st.instance_id == NULL or st.instance_id[0] == 0)
    g_mutex_unlock(&st.base.lock)
    if no_model:
        _post(el, gst_resource_error_quark(), GST_RESOURCE_ERROR_NOT_FOUND,
              "no model: set the model property to an IR (.xml) or ONNX file", NULL)
        return -1
    if _python_enter():          # not once the interpreter exits (python_gate.pxi)
        rc = _open_model_python(el)
        _python_leave()
    return rc


cdef int _open_model_python(GstElement* el) noexcept nogil:
    cdef InferState* st = _st(el)
    with gil:
        try:
            g_mutex_lock(&st.base.lock)
            try:
                args = (_text(st.model) or "", _text(st.device), _text(st.config), st.jobs, _text(st.output),
                        st.interval, _text(st.region), _text(st.labels), _text(st.roi_label), st.batch_size,
                        st.batch_timeout, _text(st.instance_id) or "", _text(st.model_proc) or "")
            finally:
                g_mutex_unlock(&st.base.lock)
            loaded = _model.load(*args)
        except BaseException as exc:
            _post_exception(el, exc)
            return -1
        Py_INCREF(loaded)
        st.loaded = <PyObject*>loaded
    return 0


cdef void _close_session(InferState* st) noexcept nogil:
    """Drops the compiled model and its pool or batcher; no job or frame may be out (the queue is drained
    first)."""
    st.batch = NULL              # the session's: it goes with the session
    if st.pool != NULL:
        api.pool_unref(st.pool)
        st.pool = NULL
    if st.big_pool != NULL:
        api.pool_unref(st.big_pool)
        st.big_pool = NULL
    if st.caps != NULL:
        gst_caps_unref(st.caps)
        st.caps = NULL
    g_free(st.roi_quarks)
    st.roi_quarks = NULL
    _outputs_clear(&st.out)
    _python_release(&st.session)


cdef void _close_model(GstElement* el) noexcept nogil:
    _python_release(&_st(el).loaded)


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
    cdef uint32_t i
    cdef int jobs = 1
    cdef gchar* caps_text
    cdef ovf_pool* pool = NULL
    if not gst_video_info_from_caps(&info, caps):
        caps_text = gst_caps_to_string(caps)
        with gil:
            _post_exception(el, _model.CapsError(f"cannot read video caps {_text(caps_text)}"))
        g_free(caps_text)
        return -1
    if _compiled(st) and st.caps != NULL and gst_caps_is_equal(st.caps, caps):
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
            Py_INCREF(session)        # released (session.release()) by _close_session from here on
            st.session = <PyObject*>session
            if session.batcher is not None:
                st.batch = _batch_api(session.batch_api)
            else:
                pool = api.queue_pool(session.queue)
                st.big_pool = api.queue_pool(session.big_queue) if session.big_queue is not None else NULL
        except BaseException as exc:
            if pool != NULL:
                api.pool_unref(pool)
            _post_exception(el, exc)
            return -1
        st.pool = pool
        st.big_from = session.big_from
        if pool != NULL:
            api.pool_size(pool, &jobs, NULL, NULL)
        else:
            jobs = max(session.jobs, session.batch_size)    # a batch fills from this many frames of a stream
        # 2 x jobs x interval frames between the pads: the streaming thread starts the next runs while the
        # task pushes finished ones
        st.base.max_queued = 2 * jobs * st.interval
        st.per_region = session.per_region
        labels = session.object_classes
        if labels:
            st.roi_quarks = <GQuark*>g_malloc0(sizeof(GQuark) * (len(labels) + 1))
            for i in range(len(labels)):
                st.roi_quarks[i] = g_quark_from_string(<bytes>labels[i])
        st.in_nbytes = session.input_nbytes
        _outputs_set(&st.out, session, info.width, info.height)
    return 0
