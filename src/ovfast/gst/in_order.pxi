# The source pad's task of the elements that handle one entry at a time in arrival order (ovfasttrack,
# ovfastwatermark, ovfastfpscounter, ovfastmetaconvert, ovfastmetapublish). A frame hook does the cheap work
# on the streaming thread itself (tracking, drawing, counting), then queues the frame; the kind's `work`, if
# it has one, runs on this task instead (JSON, file and network writes), so that the streaming thread never
# waits for it. The skeleton (element.pxi) keeps serialized events in order with the frames.

cdef enum:
    IN_ORDER_QUEUED = 4     # entries between the pads at most: the streaming thread runs ahead this far


cdef void _in_order_task(gpointer user) noexcept nogil:
    """One entry: waits for it, lets the kind's work see it (a frame, or a serialized event: caps, segment,
    EOS), pushes it; pauses the task once flushing."""
    cdef GstElement* el = <GstElement*>user
    cdef ElementState* st = _state(el)
    cdef Item* e
    cdef GstFlowReturn flow
    cdef bint frame
    g_mutex_lock(&st.lock)
    while g_queue_is_empty(st.fifo) and not st.flushing:
        _wait(st)
    if st.flushing:
        g_mutex_unlock(&st.lock)
        gst_pad_pause_task(st.srcpad)
        return
    e = <Item*>g_queue_pop_head(st.fifo)
    st.in_batch = 1
    flow = st.flow
    g_mutex_unlock(&st.lock)
    frame = e.buf != NULL
    if st.kind.work != NULL and (flow == GST_FLOW_OK or not frame):
        if st.kind.work(el, e) != GST_FLOW_OK:      # it posted its error
            flow = GST_FLOW_ERROR
    flow = _push_item(st, e, flow, True)
    _item_free(st, e)
    g_mutex_lock(&st.lock)
    st.in_batch = 0
    _wake_space(st)
    g_mutex_unlock(&st.lock)
    if frame and flow != GST_FLOW_OK:
        _frame_refused(el, st, flow)


cdef GstFlowReturn _in_order_enqueue(GstElement* el, GstBuffer* buf) noexcept nogil:
    """The end of a frame hook: queues the frame for the task."""
    cdef Item* e = <Item*>g_malloc0(_state(el).kind.entry_size)
    e.buf = buf
    _enqueue(el, e)
    return GST_FLOW_OK


cdef void _in_order_kind(ElementKind* kind, const char* name, const char* type_name, const char* longname,
                         const char* klass, const char* description, const char* caps,
                         size_t state_size) noexcept nogil:
    kind.name, kind.type_name, kind.longname, kind.description = name, type_name, longname, description
    kind.klass, kind.template_caps = klass, caps
    kind.state_size, kind.entry_size = state_size, sizeof(Item)
    kind.task = _in_order_task


cdef inline const char* _or_none(const char* text) noexcept nogil:
    """A property's text for an error message."""
    if text == NULL:
        return "(none)"
    return text
