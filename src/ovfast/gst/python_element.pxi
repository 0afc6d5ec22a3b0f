# ovfastpython: calls a user's Python function with a VideoFrame per frame, without stalling the pipeline.
#
# The streaming thread only queues frames (and serialized events, to keep their order); it waits only when
# max-inflight frames are pending. The source pad's task takes every frame queued so far, takes the GIL
# once for the whole batch, calls the function on each (a frame it returns False for is dropped), lets go
# of the GIL and pushes the batch downstream in order.

cdef GstElementClass* _python_parent_class = NULL
cdef GType _python_type = 0

cdef enum:
    PY_PROP_0, PY_PROP_MODULE, PY_PROP_FUNCTION, PY_PROP_CLASS, PY_PROP_KWARGS, PY_PROP_MAX_INFLIGHT

cdef struct PyEntry:
    GstBuffer* buf          # NULL for an event
    GstEvent* event
    GstVideoInfo info       # the frame's caps when it arrived
    bint has_info

cdef struct PyState:
    char* module
    char* function
    char* klass
    char* kwargs
    guint max_inflight
    GstPad* sinkpad
    GstPad* srcpad
    GMutex lock
    GCond cond               # frames queued (the task) / room again (the streaming thread)
    GQueue* fifo
    guint in_batch           # frames the task took and has not pushed yet: pending = queued + these
    bint flushing
    bint task_started
    GstFlowReturn flow
    GstVideoInfo info
    bint has_info
    PyObject* target         # the callable (function, or the bound process_frame of the class's instance)


cdef inline PyState* _pst(void* element) noexcept nogil:
    return <PyState*>(<OvfInferElement*>element).st


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
        g_mutex_lock(&st.lock)
        try:
            args = (_text(st.module), _text(st.function), _text(st.klass), _text(st.kwargs))
        finally:
            g_mutex_unlock(&st.lock)
        try:
            target = _python.python_target(*args)
        except BaseException as exc:
            _post_exception(el, exc, f"ovfastpython: {exc}")
            return -1
        Py_INCREF(target)
        st.target = <PyObject*>target
    return 0


cdef void _py_close(PyState* st) noexcept nogil:
    if st.target != NULL:
        if _python_enter():
            with gil:
                Py_DECREF(<object>st.target)
            _python_leave()
        st.target = NULL


cdef void _py_entry_free(PyEntry* e) noexcept nogil:
    if e.buf != NULL:
        gst_buffer_unref(e.buf)
    if e.event != NULL:
        gst_event_unref(e.event)
    g_free(e)


cdef void _py_drain(PyState* st) noexcept nogil:
    cdef PyEntry* e
    g_mutex_lock(&st.lock)
    while True:
        e = <PyEntry*>g_queue_pop_head(st.fifo)
        if e == NULL:
            break
        _py_entry_free(e)
    g_cond_broadcast(&st.cond)
    g_mutex_unlock(&st.lock)


cdef void _py_enqueue(GstElement* el, PyState* st, PyEntry* e) noexcept nogil:
    _py_start_task(el, st)
    g_mutex_lock(&st.lock)
    g_queue_push_tail(st.fifo, e)
    if st.fifo.length == 1:
        g_cond_broadcast(&st.cond)
    g_mutex_unlock(&st.lock)


cdef int _py_call_batch(GstElement* el, PyState* st, PyEntry** batch, int n, bint* keep) noexcept with gil:
    """Calls the function on each frame of the batch with the GIL taken once; -1 (error posted) if one raised."""
    cdef int i
    cdef VideoFrame frame
    target = <object>st.target
    for i in range(n):
        keep[i] = True
        if batch[i].buf == NULL:
            continue
        frame = _borrowed_frame(batch[i].buf, &batch[i].info if batch[i].has_info else NULL)
        try:
            result = target(frame)
        except BaseException as exc:
            _post_exception(el, exc, f"ovfastpython: {_python.python_target_name(target)} raised "
                                     f"{type(exc).__name__}: {exc}")
            return -1
        finally:
            frame.release()
        keep[i] = result is not False
    return 0


cdef int _py_take(PyState* st, PyEntry*** batch, bint** keep) noexcept nogil:
    """Takes every queued entry (frames and events, in order) as the next batch; returns how many."""
    cdef int n = 0
    g_mutex_lock(&st.lock)
    batch[0] = <PyEntry**>g_malloc(sizeof(PyEntry*) * (st.fifo.length + 1))
    keep[0] = <bint*>g_malloc(sizeof(bint) * (st.fifo.length + 1))
    while not g_queue_is_empty(st.fifo):
        batch[0][n] = <PyEntry*>g_queue_pop_head(st.fifo)
        n += 1
    st.in_batch = n
    g_mutex_unlock(&st.lock)
    return n


cdef int _py_batch(GstElement* el, PyState* st, PyThreadState** tstate, PyGILState_STATE* gstate) noexcept nogil:
    """Waits for frames, calls the function on all queued so far, pushes them; 0 once flushing.

    The batch is taken once the GIL is held: while another Python thread keeps it (up to the switch
    interval, 5 ms), frames go on arriving, and they join this batch instead of waiting for the next."""
    cdef PyEntry** batch
    cdef bint* keep
    cdef int n, i
    cdef GstFlowReturn flow
    g_mutex_lock(&st.lock)
    while g_queue_is_empty(st.fifo) and not st.flushing:
        g_cond_wait(&st.cond, &st.lock)
    if st.flushing:
        g_mutex_unlock(&st.lock)
        return 0
    flow = st.flow
    g_mutex_unlock(&st.lock)
    if flow == GST_FLOW_OK and not _python_enter():      # the interpreter exits: drop, and stop
        flow = GST_FLOW_FLUSHING
        n = _py_take(st, &batch, &keep)
    elif flow == GST_FLOW_OK:
        if tstate[0] == NULL:
            gstate[0] = PyGILState_Ensure()
        else:
            PyEval_RestoreThread(tstate[0])
        n = _py_take(st, &batch, &keep)
        if _py_call_batch(el, st, batch, n, keep) != 0:
            flow = GST_FLOW_ERROR
        tstate[0] = PyEval_SaveThread()
        _python_leave()
    else:
        n = _py_take(st, &batch, &keep)
    for i in range(n):
        if batch[i].buf != NULL:
            if flow == GST_FLOW_OK and keep[i]:
                flow = gst_pad_push(st.srcpad, batch[i].buf)
            else:
                gst_buffer_unref(batch[i].buf)
            batch[i].buf = NULL
        elif batch[i].event != NULL:
            gst_pad_push_event(st.srcpad, batch[i].event)
            batch[i].event = NULL
        g_free(batch[i])
    g_free(batch)
    g_free(keep)
    g_mutex_lock(&st.lock)
    st.in_batch = 0
    if flow != GST_FLOW_OK and st.flow == GST_FLOW_OK:
        st.flow = flow
    g_cond_broadcast(&st.cond)          # room for the streaming thread
    g_mutex_unlock(&st.lock)
    return 1


cdef void _py_task(gpointer user) noexcept nogil:
    """The source pad's task: batches until flushing, all on one Python thread state, made at the first
    batch and deleted here. Without it, every `with gil` on a thread Python did not start makes a thread
    state and deletes it again; in CPython 3.11 that maps and unmaps its frame stack, and the unmap flushes
    every core's TLB: most of what ovfastpython cost per frame when frames come one at a time (perf)."""
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
    gst_pad_pause_task(st.srcpad)


cdef GstFlowReturn _py_chain(GstPad* pad, GstObject* parent, GstBuffer* buf) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef PyState* st = _pst(el)
    cdef GstFlowReturn flow
    cdef PyEntry* e
    g_mutex_lock(&st.lock)
    while st.fifo.length + st.in_batch >= st.max_inflight and not st.flushing and st.flow == GST_FLOW_OK:
        g_cond_wait(&st.cond, &st.lock)
    flow = GST_FLOW_FLUSHING if st.flushing else st.flow
    g_mutex_unlock(&st.lock)
    if flow != GST_FLOW_OK:
        gst_buffer_unref(buf)
        return flow
    e = <PyEntry*>g_malloc0(sizeof(PyEntry))
    e.buf = ovf_buffer_make_writable(buf)     # the function may add metadata or write the picture
    e.info = st.info
    e.has_info = st.has_info
    _py_enqueue(el, st, e)
    return GST_FLOW_OK


cdef gboolean _py_sink_event(GstPad* pad, GstObject* parent, GstEvent* event) noexcept nogil:
    cdef GstElement* el = <GstElement*>parent
    cdef PyState* st = _pst(el)
    cdef GstCaps* caps
    cdef PyEntry* e
    cdef GstEventType kind = ovf_event_type(event)
    if kind == GST_EVENT_FLUSH_START:
        g_mutex_lock(&st.lock)
        st.flushing = True
        g_cond_broadcast(&st.cond)
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        gst_pad_pause_task(st.srcpad)
        return True
    if kind == GST_EVENT_FLUSH_STOP:
        _py_drain(st)
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        g_mutex_unlock(&st.lock)
        gst_pad_push_event(st.srcpad, event)
        st.task_started = False
        _py_start_task(el, st)
        return True
    if kind == GST_EVENT_CAPS:
        gst_event_parse_caps(event, &caps)
        st.has_info = gst_video_info_from_caps(&st.info, caps)
    if not ovf_event_is_serialized(event):
        return gst_pad_event_default(pad, parent, event)
    e = <PyEntry*>g_malloc0(sizeof(PyEntry))
    e.event = event
    _py_enqueue(el, st, e)
    return True


cdef void _py_start_task(GstElement* el, PyState* st) noexcept nogil:
    if not st.task_started:
        st.task_started = True
        gst_pad_start_task(st.srcpad, _py_task, el, NULL)


cdef GstStateChangeReturn _py_change_state(GstElement* el, GstStateChange transition) noexcept nogil:
    cdef PyState* st = _pst(el)
    cdef GstStateChangeReturn ret
    if transition == GST_STATE_CHANGE_NULL_TO_READY:
        if _py_open(el) != 0:
            return GST_STATE_CHANGE_FAILURE
    elif transition == GST_STATE_CHANGE_READY_TO_PAUSED:
        g_mutex_lock(&st.lock)
        st.flushing = False
        st.flow = GST_FLOW_OK
        g_mutex_unlock(&st.lock)
    elif transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        g_mutex_lock(&st.lock)
        st.flushing = True
        g_cond_broadcast(&st.cond)
        g_mutex_unlock(&st.lock)
        gst_pad_stop_task(st.srcpad)
        st.task_started = False
    ret = _python_parent_class.change_state(el, transition)
    if transition == GST_STATE_CHANGE_PAUSED_TO_READY:
        _py_drain(st)
    elif transition == GST_STATE_CHANGE_READY_TO_NULL:
        _py_close(st)
    return ret


cdef void _py_set_property(GObject* obj, guint prop, const GValue* value, GParamSpec* spec) noexcept nogil:
    cdef PyState* st = _pst(obj)
    g_mutex_lock(&st.lock)
    if prop == PY_PROP_MODULE:
        _replace(&st.module, value)
    elif prop == PY_PROP_FUNCTION:
        _replace(&st.function, value)
    elif prop == PY_PROP_CLASS:
        _replace(&st.klass, value)
    elif prop == PY_PROP_KWARGS:
        _replace(&st.kwargs, value)
    elif prop == PY_PROP_MAX_INFLIGHT:
        st.max_inflight = g_value_get_uint(value)
    g_mutex_unlock(&st.lock)


cdef void _py_get_property(GObject* obj, guint prop, GValue* value, GParamSpec* spec) noexcept nogil:
    cdef PyState* st = _pst(obj)
    g_mutex_lock(&st.lock)
    if prop == PY_PROP_MODULE:
        g_value_set_string(value, st.module)
    elif prop == PY_PROP_FUNCTION:
        g_value_set_string(value, st.function)
    elif prop == PY_PROP_CLASS:
        g_value_set_string(value, st.klass)
    elif prop == PY_PROP_KWARGS:
        g_value_set_string(value, st.kwargs)
    elif prop == PY_PROP_MAX_INFLIGHT:
        g_value_set_uint(value, st.max_inflight)
    g_mutex_unlock(&st.lock)


cdef void _py_finalize(GObject* obj) noexcept nogil:
    cdef PyState* st = _pst(obj)
    _py_drain(st)
    _py_close(st)
    g_free(st.module)
    g_free(st.function)
    g_free(st.klass)
    g_free(st.kwargs)
    g_queue_free(st.fifo)
    g_mutex_clear(&st.lock)
    g_cond_clear(&st.cond)
    g_free(st)
    (<OvfInferElement*>obj).st = NULL
    ovf_object_class(_python_parent_class).finalize(obj)


cdef void _python_class_init(gpointer klass, gpointer data) noexcept nogil:
    global _python_parent_class
    _python_parent_class = <GstElementClass*>g_type_class_peek_parent(klass)
    cdef GObjectClass* oc = ovf_object_class(klass)
    cdef GstElementClass* ec = ovf_element_class(klass)
    oc.set_property = _py_set_property
    oc.get_property = _py_get_property
    oc.finalize = _py_finalize
    ec.change_state = _py_change_state
    g_object_class_install_property(oc, PY_PROP_MODULE, g_param_spec_string(
        "module", "Module", "Path of the Python file that holds the function or class", NULL, _RW))
    g_object_class_install_property(oc, PY_PROP_FUNCTION, g_param_spec_string(
        "function", "Function", "The function called with a VideoFrame per frame (or the method of class=)",
        "process_frame", _RW))
    g_object_class_install_property(oc, PY_PROP_CLASS, g_param_spec_string(
        "class", "Class", "A class of the module: made once with kwargs, then its function= method is called "
        "per frame", NULL, _RW))
    g_object_class_install_property(oc, PY_PROP_KWARGS, g_param_spec_string(
        "kwargs", "Keyword arguments", "A JSON object: the class's constructor arguments, or the function's "
        "extra keyword arguments", NULL, _RW))
    g_object_class_install_property(oc, PY_PROP_MAX_INFLIGHT, g_param_spec_uint(
        "max-inflight", "Frames in flight", "Frames queued for Python before the streaming thread waits", 1,
        100000, 16, _RW))
    gst_element_class_set_static_metadata(
        ec, "ovfast Python", "Filter/Video",
        "Calls a Python function per frame with an ovfast.gst.VideoFrame, in batches on its own thread",
        "ovfast")
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "sink", GST_PAD_SINK, GST_PAD_ALWAYS, gst_caps_from_string("video/x-raw")))
    gst_element_class_add_pad_template(ec, gst_pad_template_new(
        "src", GST_PAD_SRC, GST_PAD_ALWAYS, gst_caps_from_string("video/x-raw")))


cdef void _python_instance_init(GTypeInstance* instance, gpointer klass) noexcept nogil:
    cdef OvfInferElement* self = <OvfInferElement*>instance
    cdef PyState* st = <PyState*>g_malloc0(sizeof(PyState))
    cdef GstElementClass* ec = ovf_element_class(klass)
    self.st = st
    g_mutex_init(&st.lock)
    g_cond_init(&st.cond)
    st.fifo = g_queue_new()
    st.function = g_strdup("process_frame")
    st.max_inflight = 16
    st.flow = GST_FLOW_OK
    st.sinkpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "sink"), "sink")
    st.srcpad = gst_pad_new_from_template(gst_element_class_get_pad_template(ec, "src"), "src")
    gst_pad_set_chain_function_full(st.sinkpad, _py_chain, NULL, NULL)
    gst_pad_set_event_function_full(st.sinkpad, _py_sink_event, NULL, NULL)
    ovf_pad_proxy(st.sinkpad)
    ovf_pad_proxy(st.srcpad)
    gst_element_add_pad(<GstElement*>self, st.sinkpad)
    gst_element_add_pad(<GstElement*>self, st.srcpad)


cdef int _register_python() except -1:
    global _python_type
    cdef GTypeInfo info
    if _python_type == 0:
        _python_type = g_type_from_name("OvfastPython")
    if _python_type == 0:
        memset(&info, 0, sizeof(info))
        info.class_size = sizeof(OvfInferElementClass)
        info.class_init = _python_class_init
        info.instance_size = sizeof(OvfInferElement)
        info.instance_init = _python_instance_init
        _python_type = g_type_register_static(gst_element_get_type(), "OvfastPython", &info, 0)
    if not gst_element_register(NULL, "ovfastpython", 0, _python_type):
        raise RuntimeError("GStreamer refused to register the ovfastpython element")
    return 0
