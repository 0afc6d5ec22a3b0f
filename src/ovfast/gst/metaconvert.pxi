# ovfastmetaconvert (gvametaconvert's role): each frame's regions, results and tensors as one JSON message in
# gvametaconvert's schema (metaconvert.h builds it in C), attached to the frame as an OvfastJSONMeta, which
# VideoFrame.messages() and ovfastmetapublish read. Its properties are gvametaconvert's.

from libc.string cimport strcmp

cdef extern from "metaconvert.h" nogil:
    ctypedef struct GstSegment:
        pass
    void gst_event_copy_segment(GstEvent*, GstSegment*)
    int GST_FORMAT_TIME
    int GST_EVENT_SEGMENT
    char* ovf_frame_json(GstBuffer*, int width, int height, GstClockTime stream_time, gboolean tensor_data,
                         gboolean add_empty, int indent, const char* source)
    GstClockTime ovf_stream_time(const GstSegment*, GstBuffer*)

cdef struct ConvertState:
    ElementState base
    char* format
    gboolean add_tensor_data
    gboolean add_empty_results
    gint json_indent
    char* source
    GstSegment segment      # the stream's, for each frame's timestamp
    int width, height       # the frame's, from its caps


cdef inline ConvertState* _cst(void* element) noexcept nogil:
    return <ConvertState*>_state(element)


cdef int _convert_open(GstElement* el) noexcept nogil:
    cdef ConvertState* st = _cst(el)
    cdef char* text = NULL
    g_mutex_lock(&st.base.lock)
    if st.format == NULL or strcmp(st.format, "json") != 0:
        text = g_strdup_printf("format=%s: ovfastmetaconvert writes format=json (gvametaconvert's JSON schema)",
                               _or_none(st.format))
    g_mutex_unlock(&st.base.lock)
    if text != NULL:               # posted without the lock: a bus handler may read the properties
        _post(el, gst_library_error_quark(), GST_LIBRARY_ERROR_SETTINGS, text, NULL)
        g_free(text)
        return -1
    return 0


cdef void _convert_close(GstElement* el) noexcept nogil:
    pass


cdef int _convert_caps(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef ConvertState* st = _cst(el)
    cdef GstVideoInfo info
    if gst_video_info_from_caps(&info, caps):
        st.width, st.height = info.width, info.height
    return 0


cdef void _convert_serialized(GstElement* el, GstEvent* event) noexcept nogil:
    if ovf_event_type(event) == GST_EVENT_SEGMENT:
        gst_event_copy_segment(event, &_cst(el).segment)


cdef GstFlowReturn _convert_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef ConvertState* st = _cst(el)
    cdef char* message
    buf = ovf_buffer_make_writable(buf)      # the message is added to it
    g_mutex_lock(&st.base.lock)      # properties may change while playing
    message = ovf_frame_json(buf, st.width, st.height, ovf_stream_time(&st.segment, buf), st.add_tensor_data,
                             st.add_empty_results, st.json_indent, st.source)
    g_mutex_unlock(&st.base.lock)
    if message != NULL:
        _json_meta_add(buf, message)
        g_free(message)
    return _in_place_push(el, buf)


cdef ElementKind _CONVERT
cdef Prop _CONVERT_PROPS[5]


cdef int _register_metaconvert(void* plugin) except -1:
    cdef ConvertState s
    cdef Prop* p = _CONVERT_PROPS
    if _CONVERT.name == NULL:
        _prop(&p[0], "format", "Format", "The message's format: json (gvametaconvert's JSON schema)", PROP_STRING,
              _at(&s, &s.format), "json")
        _prop(&p[1], "add-tensor-data", "Add tensor data", "Add each object's and the frame's tensors (results "
              "and model outputs with their data) under \"tensors\"", PROP_BOOL, _at(&s, &s.add_tensor_data))
        _prop(&p[2], "add-empty-results", "Add empty results", "Attach a message to frames without results too",
              PROP_BOOL, _at(&s, &s.add_empty_results))
        _prop(&p[3], "json-indent", "JSON indent", "Spaces per level of the JSON (-1: one line, no spaces)",
              PROP_INT, _at(&s, &s.json_indent), NULL, -1, 10, -1)
        _prop(&p[4], "source", "Source", "The message's \"source\" (e.g. the stream's URI); left out when empty",
              PROP_STRING, _at(&s, &s.source))
        _CONVERT.props, _CONVERT.n_props = p, 5
        _in_place_kind(&_CONVERT, "ovfastmetaconvert", "OvfastMetaConvert", "ovfast metaconvert",
                       "Filter/Metadata", "Converts a frame's regions, results and tensors to a JSON message "
                       "(gvametaconvert's schema)", "video/x-raw", sizeof(ConvertState))
        _CONVERT.open, _CONVERT.close = _convert_open, _convert_close
        _CONVERT.caps_changed, _CONVERT.serialized = _convert_caps, _convert_serialized
        _CONVERT.frame = _convert_frame
    return _register_element(&_CONVERT, plugin)
