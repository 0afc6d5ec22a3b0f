# ovfastwatermark (gvawatermark's role): draws the regions of interest (box, label, object id) into the frames,
# in C on the streaming thread (watermark.h).

cdef extern from "<gst/gst.h>" nogil:
    GstMeta* gst_buffer_get_meta(GstBuffer*, GType)

cdef extern from "watermark.h" nogil:
    void ovf_watermark(GstVideoFrame*, GstBuffer*)

cdef struct WatermarkState:
    ElementState base
    GstVideoInfo info        # the negotiated frames (the streaming thread's)
    bint has_info


cdef inline WatermarkState* _wst(void* element) noexcept nogil:
    return <WatermarkState*>_state(element)


cdef int _watermark_open(GstElement* el) noexcept nogil:
    return 0


cdef void _watermark_close(GstElement* el) noexcept nogil:
    pass


cdef int _watermark_caps(GstElement* el, GstCaps* caps) noexcept nogil:
    cdef WatermarkState* st = _wst(el)
    if not gst_video_info_from_caps(&st.info, caps):
        _post(el, gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION, "the caps are not raw video", NULL)
        return -1
    st.has_info = True
    return 0


cdef GstFlowReturn _watermark_frame(GstElement* el, GstBuffer* buf) noexcept nogil:
    cdef WatermarkState* st = _wst(el)
    cdef GstVideoFrame frame
    if not st.has_info:
        gst_buffer_unref(buf)
        _post(el, gst_core_error_quark(), GST_CORE_ERROR_NEGOTIATION, "a frame arrived before its caps", NULL)
        return GST_FLOW_NOT_NEGOTIATED
    buf = ovf_buffer_make_writable(buf)
    if gst_buffer_get_meta(buf, ovf_roi_meta_api()) != NULL:      # frames without regions are not mapped
        if not gst_video_frame_map(&frame, &st.info, buf, GST_MAP_READWRITE):
            gst_buffer_unref(buf)
            _post(el, gst_stream_error_quark(), GST_STREAM_ERROR_FORMAT,
                  "a frame could not be mapped for writing (smaller than its caps say?)", NULL)
            return GST_FLOW_ERROR
        ovf_watermark(&frame, buf)
        gst_video_frame_unmap(&frame)
    return _in_place_push(el, buf)


cdef ElementKind _WATERMARK


cdef int _register_watermark(void* plugin) except -1:
    if _WATERMARK.name == NULL:
        _in_place_kind(&_WATERMARK, "ovfastwatermark", "OvfastWatermark", "ovfast watermark", "Filter/Video",
                       "Draws the regions of interest into the frames: boxes, labels and object ids "
                       "(gvawatermark's role)", "video/x-raw, format=(string){ BGR, RGB, BGRx, NV12, I420 }, "
                       "width=(int)[1, 2147483647], height=(int)[1, 2147483647]", sizeof(WatermarkState))
        _WATERMARK.open, _WATERMARK.close = _watermark_open, _watermark_close
        _WATERMARK.caps_changed, _WATERMARK.frame = _watermark_caps, _watermark_frame
    return _register_element(&_WATERMARK, plugin)
