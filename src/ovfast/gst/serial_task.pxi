# The source pad's task of an element that works on one entry at a time in arrival order (ovfastmetaconvert,
# ovfastmetapublish): it takes the queue's head, lets the element's work function see it (a frame or a
# serialized event: caps, segment, EOS), and sends it on. The streaming thread only queues, so the work
# (JSON, file and network writes) never runs on it.

ctypedef GstFlowReturn (*SerialWork)(GstElement*, Item*) noexcept nogil   # not OK: error posted, stop


cdef void _serial_step(GstElement* el, SerialWork work) noexcept nogil:
    """One entry: waits for it, works on it, pushes it; pauses the task once flushing."""
    cdef ElementState* st = _state(el)
    cdef Item* e
    cdef GstFlowReturn flow
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
    if flow == GST_FLOW_OK or e.buf == NULL:
        if work(el, e) != GST_FLOW_OK:
            flow = GST_FLOW_ERROR
    flow = _push_item(st, e, flow, True)
    _item_free(st, e)
    g_mutex_lock(&st.lock)
    st.in_batch = 0
    if flow != GST_FLOW_OK and st.flow == GST_FLOW_OK:
        st.flow = flow
    _wake_space(st)
    g_mutex_unlock(&st.lock)


cdef GstFlowReturn _serial_enqueue(GstElement* el, GstBuffer* buf, bint writable) noexcept nogil:
    """The frame hook: queues the frame (made writable where the work adds metadata)."""
    cdef Item* e = <Item*>g_malloc0(_state(el).kind.entry_size)
    e.buf = ovf_buffer_make_writable(buf) if writable else buf
    _enqueue(el, e)
    return GST_FLOW_OK


cdef inline const char* _or_none(const char* text) noexcept nogil:
    """A property's text for an error message."""
    if text == NULL:
        return "(none)"
    return text
