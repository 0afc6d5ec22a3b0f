# ovfastfpscounter (gvafpscounter's role): frames per second of every stream of the process and in total,
# printed every `interval` seconds (fpscounter.h, in C on the streaming thread).

cdef extern from "fpscounter.h" nogil:
    ctypedef struct ovf_fps_stream:
        pass
    void ovf_fps_frame(ovf_fps_stream*, double interval)
    void ovf_fps_leave(ovf_fps_stream*)

cdef struct FpsState:
    ElementState base
    double interval          # a property (seconds)
    double active_interval   # read at NULL -> READY
    ovf_fps_stream stream


cdef inline FpsState* _fst(void* element) noexcept nogil:
    return <FpsState*>_state(element)


cdef int _fps_open(GstElement* el) noexcept nogil:
    cdef FpsState* st = _fst(el)
    g_mutex_lock(&st.base.lock)
    st.active_interval = st.interval
    g_mutex_unlock(&st.base.lock)
    return 0


cdef void _fps_stop(GstElement* el) noexcept nogil:
    ovf_fps_leave(&_fst(el).stream)


cdef void _fps_close(GstElement* el) noexcept nogil:
    ovf_fps_leave(&_fst(el).stream)


cdef GstFlowReturn _fps_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef FpsState* st = _fst(el)
    ovf_fps_frame(&st.stream, st.active_interval)
    return _in_place_push(el, buf)


cdef ElementKind _FPSCOUNTER
cdef Prop _FPSCOUNTER_PROPS[1]


cdef int _register_fpscounter(void* plugin) except -1:
    cdef FpsState s
    if _FPSCOUNTER.name == NULL:
        _prop(&_FPSCOUNTER_PROPS[0], "interval", "Interval", "Seconds between two reports of the frames per "
              "second (the first counter of the process to start sets it for all)", PROP_DOUBLE,
              _at(&s, &s.interval), NULL, 0.001, 86400.0, 1.0)
        _in_place_kind(&_FPSCOUNTER, "ovfastfpscounter", "OvfastFpsCounter", "ovfast FPS counter", "Filter/Video",
                       "Prints the frames per second of each stream of the process and in total, every interval "
                       "seconds, in gvafpscounter's format (gvafpscounter's role)", "video/x-raw",
                       sizeof(FpsState))
        _FPSCOUNTER.props, _FPSCOUNTER.n_props = _FPSCOUNTER_PROPS, 1
        _FPSCOUNTER.open, _FPSCOUNTER.stop, _FPSCOUNTER.close = _fps_open, _fps_stop, _fps_close
        _FPSCOUNTER.frame = _fps_frame
    return _register_element(&_FPSCOUNTER, plugin)
