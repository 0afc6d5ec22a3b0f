# What elements that do their work on the streaming thread share (ovfasttrack, ovfastwatermark,
# ovfastfpscounter): each frame is handled in the element's frame hook, then queued; the source pad's task
# sends the queue on in arrival order. The skeleton (element.pxi) keeps events in order with the frames.

cdef enum:
    PASS_QUEUED = 4         # frames between the pads at most: the streaming thread runs ahead this far


cdef void _pass_enqueue(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef Item* e = <Item*>g_malloc0(_state(el).kind.entry_size)
    e.buf = buf
    _enqueue(el, e)


cdef void _pass_task(gpointer user) noexcept nogil:
    """The source pad's loop: the next queued frame or event downstream."""
    cdef GstElement* el = <GstElement*>user
    cdef ElementState* st = _state(el)
    cdef Item* e
    cdef GstFlowReturn flow
    cdef bint frame
    cdef char message[256]
    g_mutex_lock(&st.lock)
    while not st.flushing and g_queue_is_empty(st.fifo):
        _wait(st)
    if st.flushing:
        g_mutex_unlock(&st.lock)
        gst_pad_pause_task(st.srcpad)
        return
    e = <Item*>g_queue_pop_head(st.fifo)
    _wake_space(st)
    flow = st.flow
    g_mutex_unlock(&st.lock)
    frame = e.buf != NULL
    flow = _push_item(st, e, flow, True)
    _item_free(st, e)
    if not frame or flow == GST_FLOW_OK:
        return
    # downstream refused a frame: say so unless it posted its own error, and drop what follows
    if ovf_flow_is_fatal(flow) and flow != GST_FLOW_ERROR and not st.flushing:
        snprintf(message, sizeof(message), "downstream refused a frame (%s)", gst_flow_get_name(flow))
        _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FAILED, message, NULL)
    g_mutex_lock(&st.lock)
    if st.flow == GST_FLOW_OK:
        st.flow = flow
    _wake_all(st)
    g_mutex_unlock(&st.lock)


cdef void _pass_kind(ElementKind* kind, const char* name, const char* type_name, const char* longname,
                     const char* description, const char* caps, size_t state_size) noexcept nogil:
    kind.name, kind.type_name, kind.longname, kind.description = name, type_name, longname, description
    kind.klass = "Filter/Video"
    kind.template_caps = caps
    kind.state_size, kind.entry_size = state_size, sizeof(Item)
    kind.task = _pass_task
