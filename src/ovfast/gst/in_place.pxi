# Elements that work on each frame in place, on the thread that brings it, and send it on at once, as
# GStreamer's in-place transforms do: ovfasttrack, ovfastwatermark, ovfastfpscounter, ovfastmetaconvert and
# ovfastmetapublish. Their work is short C code with no GIL (file writes are flushed, MQTT messages are
# handed to libmosquitto's thread), so a queue and a task of their own would cost more than the work: about
# two thread switches and 14 us of CPU a frame on a 2-core machine. Serialized events keep their order with
# the frames because one thread brings both.


cdef GstFlowReturn _in_place_push(GstElement* el, GstBuffer* buf) noexcept nogil:
    """The end of a frame hook: the frame downstream. A refusal is the element's error on the bus."""
    cdef ElementState* st = _state(el)
    cdef GstFlowReturn flow = gst_pad_push(st.srcpad, buf)
    if flow != GST_FLOW_OK:
        return _frame_refused(el, st, flow)
    return GST_FLOW_OK


cdef void _in_place_kind(ElementKind* kind, const char* name, const char* type_name, const char* longname,
                         const char* klass, const char* description, const char* caps,
                         size_t state_size) noexcept nogil:
    kind.name, kind.type_name, kind.longname, kind.description = name, type_name, longname, description
    kind.klass, kind.template_caps = klass, caps
    kind.state_size, kind.entry_size = state_size, sizeof(Item)


cdef inline const char* _or_none(const char* text) noexcept nogil:
    """A property's text for an error message."""
    if text == NULL:
        return "(none)"
    return text
