# ovfastpython: calls a user's Python function with a VideoFrame per frame, without stalling the pipeline.
#
# The streaming thread only queues frames (and serialized events, to keep their order); it waits only when
# max-inflight frames are pending. The source pad's task takes every frame queued so far, takes the GIL
# once for the whole batch, calls the function on each (a frame it returns a false value for is dropped, as
# gvapython drops it), lets go of the GIL and pushes the batch downstream in order. The properties are
# gvapython's (module, class, function, arg, kwarg), with ovfast's kwargs and max-inflight.

cdef struct PyEntry:
    Item head
    GstVideoInfo info       # the frame's caps when it arrived
    bint has_info

cdef struct PyState:
    ElementState base       # base.max_queued is max-inflight
    char* module
    char* function
    char* klass
    char* kwargs
    char* arg                # gvapython's: a JSON array (accumulated)
    char* kwarg              # gvapython's: a JSON object (merged)
    bint warned_none         # a frame was dropped because the function returned None (said once)
    GstVideoInfo info
    bint has_info
    PyObject* target         # the callable (function, or the bound process_frame of the class's instance)


cdef inline PyState* _pst(void* element) noexcept nogil:
    return <PyState*>_state(element)


cdef int _py_open(GstElement* el) noexcept nogil:
    """Imports the module and finds the function or the class (NULL -> READY)."""
    cdef int rc = -1
    if _python_enter():          # not once the interpreter exits (python_gate.pxi)
        rc = _py_open_python(el)
        _python_leave()
    return rc


cdef int _py_open_python(GstElement* el) noexcept nogil:
    cdef PyState* st = _pst(el)
    with gil:
        g_mutex_lock(&st.base.lock)
        try:
            args = (_text(st.module), _text(st.function), _text(st.klass), _text(st.kwargs), _text(st.arg),
                    _text(st.kwarg))
        finally:
            g_mutex_unlock(&st.base.lock)
        try:
            target = _python.python_target(*args)
        except BaseException as exc:
            _post_exception(el, exc)
            return -1
        Py_INCREF(target)
        st.target = <PyObject*>target
    return 0


cdef void _py_close(GstElement* el) noexcept nogil:
    _python_drop(&_pst(el).target)


cdef int _py_call_batch(GstElement* el, PyState* st, PyEntry** batch, int n, bint* keep) noexcept with gil:
    """Calls the function on each frame of the batch with the GIL taken once; returns n, or the index of the
    entry whose call raised (error posted): the frames before it are over and go on."""
    cdef int i
    cdef VideoFrame frame
    target = <object>st.target
    for i in range(n):
        keep[i] = True
        if batch[i].head.buf == NULL:
            continue
        frame = _borrowed_frame(batch[i].head.buf, &batch[i].info if batch[i].has_info else NULL)
        try:
            result = target(frame)
            keep[i] = bool(result)          # gvapython's rule: a frame the function returns a false value for is dropped
        except BaseException as exc:
            _post_exception(el, exc, f"{_python.python_target_name(target)} raised {type(exc).__name__}: {exc}")
            return i
        finally:
            frame.release()
        if result is None and not st.warned_none:
            st.warned_none = True
            ovf_post_warning(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED,
                             f"{_python.python_target_name(target)} returned None, so the frame was dropped (as "
                             f"gvapython does); return True to pass frames on".encode("utf-8", "replace"))
    return n


cdef int _py_take(PyState* st, PyEntry*** batch, bint** keep) noexcept nogil:
    """Takes every queued entry (frames and events, in order) as the next batch; returns how many."""
    cdef int n = 0
    g_mutex_lock(&st.base.lock)
    batch[0] = <PyEntry**>g_malloc(sizeof(PyEntry*) * (st.base.fifo.length + 1))
    keep[0] = <bint*>g_malloc(sizeof(bint) * (st.base.fifo.length + 1))
    while not g_queue_is_empty(st.base.fifo):
        batch[0][n] = <PyEntry*>g_queue_pop_head(st.base.fifo)
        n += 1
    st.base.in_batch = n
    g_mutex_unlock(&st.base.lock)
    return n


cdef int _py_batch(GstElement* el, PyState* st, PyThreadState** tstate, PyGILState_STATE* gstate) noexcept nogil:
    """Waits for frames, calls the function on all queued so far, pushes them; 0 once flushing.

    The batch is taken once the GIL is held: while another Python thread keeps it (up to the switch
    interval, 5 ms), frames go on arriving, and they join this batch instead of waiting for the next."""
    cdef PyEntry** batch
    cdef bint* keep
    cdef int n, i, failed = -1
    cdef GstFlowReturn flow
    g_mutex_lock(&st.base.lock)
    while g_queue_is_empty(st.base.fifo) and not st.base.flushing:
        _wait(&st.base)
    if st.base.flushing:
        g_mutex_unlock(&st.base.lock)
        return 0
    flow = st.base.flow
    g_mutex_unlock(&st.base.lock)
    if flow == GST_FLOW_OK and not _python_enter():      # the interpreter exits: drop, and stop
        flow = GST_FLOW_FLUSHING
        n = _py_take(st, &batch, &keep)
    elif flow == GST_FLOW_OK:
        if tstate[0] == NULL:
            gstate[0] = PyGILState_Ensure()
        else:
            PyEval_RestoreThread(tstate[0])
        n = _py_take(st, &batch, &keep)
        failed = _py_call_batch(el, st, batch, n, keep)
        tstate[0] = PyEval_SaveThread()
        _python_leave()
    else:
        n = _py_take(st, &batch, &keep)
    for i in range(n):
        if i == failed:
            flow = GST_FLOW_ERROR
        flow = _push_item(&st.base, &batch[i].head, flow, keep[i])
        g_free(batch[i])
    g_free(batch)
    g_free(keep)
    g_mutex_lock(&st.base.lock)
    st.base.in_batch = 0
    _wake_space(&st.base)
    g_mutex_unlock(&st.base.lock)
    if flow != GST_FLOW_OK:
        _frame_refused(el, &st.base, flow)      # as the other elements: ours on the bus before upstream's
    return 1


cdef void _py_task(gpointer user) noexcept nogil:
    """The source pad's task: batches until flushing, all on one Python thread state, made at the first
    batch and deleted here. Without it, every `with gil` on a thread Python did not start makes a thread
    state and deletes it again; in CPython 3.11 that maps and unmaps its frame stack, and the unmap flushes
    every core's TLB: most of what ovfastpython cost per frame when frames come one at a time."""
    cdef GstElement* el = <GstElement*>user
    cdef PyState* st = _pst(el)
    cdef PyThreadState* tstate = NULL
    cdef PyGILState_STATE gstate
    while _py_batch(el, st, &tstate, &gstate):
        pass
    if tstate != NULL and _python_enter():     # at exit the interpreter deletes it
        PyEval_RestoreThread(tstate)
        PyGILState_Release(gstate)
        _python_leave()
    gst_pad_pause_task(st.base.srcpad)


cdef GstFlowReturn _py_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef PyState* st = _pst(el)
    cdef PyEntry* e = <PyEntry*>g_malloc0(sizeof(PyEntry))
    e.head.buf = ovf_buffer_make_writable(buf)     # the function may add metadata or write the picture
    e.info = st.info
    e.has_info = st.has_info
    _enqueue(el, &e.head)
    return GST_FLOW_OK


cdef int _py_caps(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef PyState* st = _pst(el)
    st.has_info = gst_video_info_from_caps(&st.info, caps)
    return 0


# --- the element ---------------------------------------------------------------------------------------------
cdef ElementKind _PYTHON
cdef Prop _PYTHON_PROPS[7]


cdef int _register_python(void* plugin) except -1:
    cdef PyState s
    cdef Prop* p = _PYTHON_PROPS
    if _PYTHON.name == NULL:
        _prop(&p[0], "module", "Module", "Path of the Python file that holds the function or class (.py may be left "
              "out; its folder goes on sys.path), or a module name", PROP_STRING, _at(&s, &s.module))
        _prop(&p[1], "function", "Function", "The function called with a VideoFrame per frame (or the method of "
              "class=)", PROP_STRING, _at(&s, &s.function), "process_frame")
        _prop(&p[2], "class", "Class", "A class of the module: made once with kwargs, then its function= method is "
              "called per frame", PROP_STRING, _at(&s, &s.klass))
        _prop(&p[3], "kwargs", "Keyword arguments", "A JSON object: the class's constructor arguments, or the "
              "function's extra keyword arguments", PROP_STRING, _at(&s, &s.kwargs))
        _prop(&p[4], "max-inflight", "Frames in flight", "Frames queued for Python before the streaming thread "
              "waits", PROP_UINT, _at(&s, &s.base.max_queued), NULL, 1, 100000, 16)
        _prop(&p[5], "arg", "Argument", "gvapython's: a JSON value (or array) passed to the class's constructor "
              "as positional arguments; set several times, the values join one array", PROP_JSON_LIST,
              _at(&s, &s.arg), "[]")
        _prop(&p[6], "kwarg", "Keyword argument", "gvapython's: a JSON object of keyword arguments for the "
              "class's constructor; set several times, the objects merge", PROP_JSON_OBJECT, _at(&s, &s.kwarg), "{}")
        _PYTHON.props, _PYTHON.n_props = p, 7
        _PYTHON.type_name, _PYTHON.longname, _PYTHON.klass = "OvfastPython", "ovfast Python", "Filter/Video"
        _PYTHON.description = "Calls a Python function per frame with an ovfast.gst.VideoFrame, in batches on its own thread"
        _PYTHON.template_caps = "video/x-raw"
        _PYTHON.state_size, _PYTHON.entry_size = sizeof(PyState), sizeof(PyEntry)
        _PYTHON.open, _PYTHON.close = _py_open, _py_close
        _PYTHON.caps_changed, _PYTHON.frame, _PYTHON.task = _py_caps, _py_frame, _py_task
        _PYTHON.name = "ovfastpython"
    return _register_element(&_PYTHON, plugin)
